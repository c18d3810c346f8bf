"""Console pages of issue #18's market tools: package bids (an enterprise composes a package over up to
four markets or fixed-price listings and sees each package's outcome) and the government reserve (the
operator's, regulators' and reserve bodies' view: designations, holdings, buy-backs, tenders, releases).
Both go through the API in-process (`console.api`): the same permissions, validation and messages."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import GOVERNMENT_KINDS, TRADING_KINDS
from marketplace.models import Market
from trading.models import Listing

from . import api
from .views import _done, _t, ctx, member_required

LEG_SLOTS = 4
RESERVE_READERS = ("exchange_operator", "regulator", *sorted(GOVERNMENT_KINDS))


def _choices():
    markets = list(Market.objects.filter(status="open").select_related("asset").order_by("code")
                   .values_list("id", "code", "asset__unit"))
    listings = list(Listing.objects.filter(status="open", kind="fixed_price").order_by("id")
                    .values_list("id", "title", "price")[:50])
    return markets, listings


@member_required(TRADING_KINDS)
def packages_view(request):
    markets, listings = _choices()
    result = api.call(request, "GET", "/api/v1/packages")
    packages = result.data.get("results", []) if result.ok else []
    return render(request, "console/packages.html", ctx(request, markets=markets, listings=listings,
                                                        packages=packages, slots=range(LEG_SLOTS)))


@require_POST
@member_required(TRADING_KINDS)
def package_place_view(request):
    legs = []
    for n in range(LEG_SLOTS):
        target = request.POST.get(f"leg{n}-target", "")
        quantity = request.POST.get(f"leg{n}-quantity", "").strip()
        if not target or not quantity:
            continue
        kind, _, ident = target.partition(":")
        leg = {"quantity": quantity}
        leg["market" if kind == "m" else "listing"] = int(ident) if ident.isdigit() else 0
        limit = request.POST.get(f"leg{n}-limit", "").strip()
        if limit:
            leg["limit_price"] = limit
        legs.append(leg)
    body = {"legs": legs}
    total = request.POST.get("total_limit", "").strip()
    if total:
        body["total_limit"] = total
    result = api.call(request, "POST", "/api/v1/packages", body, idempotency_key=request.POST.get("idem"))
    if result.ok and result.data.get("status") == "unfilled":
        reason = result.data.get("reason")
        messages.warning(request, _t(f"组合竞买未成交（{reason}），冻结资金已全部释放",
                                     f"The package did not fill ({reason}); its escrow was released in full"))
    else:
        _done(request, result, "组合竞买全部成交，已一笔交收", "The package filled and settled as one transaction")
    return redirect("console:packages")


@member_required(RESERVE_READERS)
def reserve_view(request):
    result = api.call(request, "GET", "/api/v1/reserve/overview")
    reserves = result.data.get("reserves", []) if result.ok else []
    return render(request, "console/reserve.html", ctx(request, reserves=reserves,
                                                       can_export=request.membership.organization.kind in (
                                                           "exchange_operator", "regulator")))


@member_required(("exchange_operator", "regulator"))
def reserve_export_view(request):
    result = api.call(request, "GET", "/api/v1/reserve/export")
    return result.response
