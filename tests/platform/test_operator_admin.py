"""The operator's admin: a site header, read-only changelists for markets, orders, trades, listings,
approvals, webhooks and rulebooks that render and show amounts in the asset's unit and in yuan, and refuse
change; market proposals are made in the admin and confirmed there by a second person."""
import pytest
from django.test import Client

from accounts.models import User
from marketplace.models import Market, MarketProposal
from trading.models import Trade, WebhookEndpoint

from tests.support.rules import YUAN

T = 1000
CHANGELISTS = ["marketplace/market", "marketplace/marketproposal", "marketplace/rulebookversion", "trading/order",
               "trading/trade", "trading/listing", "trading/webhookendpoint", "trading/webhookdelivery",
               "oversight/approvalrequest", "oversight/alert", "ledger/account"]


def _staff(member) -> Client:
    User.objects.filter(pk=member.user_id).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(member.user)
    return client


@pytest.mark.django_db
def test_changelists_render_with_formatted_amounts_and_refuse_change(world, make_member):
    m = world.market(subtype="SO2", region="350121", price_band_bps=None)
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 12 * T + 500)
    trade = world.cross(a, b, m, 28_500 * YUAN, 1 * T).trades[0]
    WebhookEndpoint.objects.create(organization=a, url="https://hooks.example.com/a", secret="s" * 40, events=[])
    admin = _staff(make_member(world.operator, "admin"))

    home = admin.get("/admin/")
    assert home.status_code == 200 and "Exchange operator admin" in home.content.decode()
    for path in CHANGELISTS:
        r = admin.get(f"/admin/{path}/")
        assert r.status_code == 200, path
    trades = admin.get("/admin/trading/trade/").content.decode()
    assert "¥28,500.00" in trades and "1.000 t" in trades
    orders = admin.get("/admin/trading/order/").content.decode()
    assert "¥28,500.00" in orders and "1.000 t" in orders
    accounts = admin.get("/admin/ledger/account/").content.decode()
    assert "11.500 t" in accounts  # a's rights left after the sale, not 11500

    # read-only: no add page, no change by POST, no delete
    assert admin.get("/admin/trading/trade/add/").status_code == 403
    r = admin.post(f"/admin/trading/trade/{trade.id}/change/", {"price": "1", "status": "settled"})
    assert r.status_code == 403
    assert Trade.objects.get(pk=trade.id).price == 28_500 * YUAN
    assert admin.post(f"/admin/marketplace/market/{m.id}/delete/", {"post": "yes"}).status_code == 403
    assert Market.objects.filter(pk=m.id).exists()


@pytest.mark.django_db
def test_a_market_proposed_in_the_admin_is_confirmed_by_another_person(world, make_member):
    m = world.market(subtype="NOx", region="350121", price_band_bps=None)
    maker = _staff(make_member(world.operator, "admin"))
    checker = _staff(world.operator_approver)
    r = maker.post("/admin/marketplace/marketproposal/add/",
                   {"asset": m.asset_id, "market": m.id, "config": '{"fee_bps": 9}', "reason": "admin test"})
    assert r.status_code == 302, r.content.decode()[:2000]
    proposal = MarketProposal.objects.get()
    assert proposal.status == "pending" and Market.objects.get(pk=m.id).fee_bps == 0

    action = {"action": "confirm", "_selected_action": [proposal.id]}
    maker.post("/admin/marketplace/marketproposal/", action)  # the proposer: refused (four eyes)
    assert MarketProposal.objects.get().status == "pending"
    checker.post("/admin/marketplace/marketproposal/", action)
    assert MarketProposal.objects.get().status == "applied" and Market.objects.get(pk=m.id).fee_bps == 9
