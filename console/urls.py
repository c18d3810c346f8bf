"""Routes of the web console, mounted at / (the API stays under /api/v1/)."""
from django.urls import path, re_path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.markets_view, name="markets"),
    path("favicon.ico", views.favicon),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("switch/", views.switch_view, name="switch"),
    path("language/", views.set_language_view, name="language"),
    path("markets/<int:pk>/", views.market_view, name="market"),
    path("markets/<int:pk>/trades/", views.market_trades_partial, name="market-trades"),
    path("markets/<int:pk>/data.json", views.market_data, name="market-data"),
    path("desk/", views.desk_view, name="desk"),
    path("desk/preview/", views.order_preview, name="order-preview"),
    path("desk/orders/", views.order_place_view, name="order-place"),
    path("desk/orders/<int:pk>/cancel/", views.order_cancel_view, name="order-cancel"),
    path("desk/trades/", views.trades_view, name="trades"),
    path("listings/", views.listings_view, name="listings"),
    path("listings/new/", views.listing_create_view, name="listing-create"),
    path("listings/<int:pk>/", views.listing_view, name="listing"),
    path("listings/<int:pk>/buy/", views.listing_buy_view, name="listing-buy"),
    path("listings/<int:pk>/bid/", views.listing_bid_view, name="listing-bid"),
    path("listings/<int:pk>/accept/", views.listing_accept_view, name="listing-accept"),
    path("listings/<int:pk>/cancel/", views.listing_cancel_view, name="listing-cancel"),
    path("county/", views.county_view, name="county"),
    path("county/payouts/", views.payout_view, name="payout"),
    path("regulator/", views.regulator_view, name="regulator"),
    path("regulator/data.json", views.regulator_data, name="regulator-data"),
    path("regulator/approvals/<int:pk>/<str:decision>/", views.approval_decide_view, name="approval-decide"),
    path("regulator/trades/", views.trade_search_view, name="trade-search"),
    re_path(r"^regulator/exports/trades\.(?P<fmt>csv|jsonl)$", views.trade_export_view, name="trade-export"),
    path("regulator/trades/<int:pk>/", views.dossier_view, name="dossier"),
    path("operator/", views.operator_view, name="operator"),
    path("operator/markets/<int:pk>/configure/", views.market_propose_view, name="market-configure"),
    path("operator/markets/<int:pk>/<str:action>/", views.market_status_view, name="market-status"),
    path("operator/cash/<str:direction>/", views.cash_view, name="cash"),
    path("operator/issuances/", views.issuance_view, name="issuance"),
    path("operator/markets/propose/", views.market_propose_view, name="market-propose"),
    path("operator/proposals/<int:pk>/<str:decision>/", views.proposal_decide_view, name="proposal-decide"),
    path("operator/organizations/<int:pk>/", views.organization_view, name="organization"),
    path("operator/organizations/<int:pk>/invite/", views.member_invite_view, name="member-invite"),
    path("movements/<int:pk>/<str:decision>/", views.movement_decide_view, name="movement-decide"),
]
