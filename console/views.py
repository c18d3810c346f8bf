"""Views of the web console: server-rendered pages, htmx partials and chart data.

Thin by design: reads call the apps' selectors and reports (scoped exactly as the API scopes them);
every write is dispatched to the API's own view in-process (`console.api.call`) with the session's
token, so permissions, validation, idempotency, audit and error messages are the API's. Forms carry
an idempotency key made when the form is rendered, so a double submit is a replay, not a second order.
"""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_POST
from rest_framework.exceptions import Throttled

from accounts import lockout
from accounts import services as account_services
from accounts.models import GOVERNMENT_KINDS, Membership, Organization
from core.errors import ApiError
from ledger import selectors as ledger_selectors
from ledger.earmark import FUND_OF_KIND, FUNDS
from ledger.models import Asset, Checkpoint, LedgerTransaction, MerkleLeaf
from marketplace.models import Market
from oversight import reports
from oversight.models import Alert
from oversight.scope import scope_of
from trading.common import pricing
from trading.listings.services import sealed_bids_hidden
from trading.listings.views import visible_listings
from trading.models import Bid, Listing, SettlementOutbox, WebhookDelivery
from trading.orderbook import selectors as trading_selectors

from . import api, selectors
from .session import acting_membership, acting_token, sign_in
from .templatetags.console import is_en

OVERSIGHT_KINDS = ("regulator", "provincial_authority", "exchange_operator")
TRADING_KINDS = ("enterprise", "county_government", "city_government", "provincial_authority")


def _t(zh: str, en: str) -> str:
    return en if is_en() else zh


def home_for(membership: Membership | None) -> str:
    if membership is None:
        return reverse("console:markets")
    kind = membership.organization.kind
    if kind == "exchange_operator":
        return reverse("console:operator")
    if kind == "regulator" or kind == "provincial_authority":
        return reverse("console:regulator")
    if kind in GOVERNMENT_KINDS:
        return reverse("console:county")
    return reverse("console:desk")


def member_required(kinds=None):
    def deco(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            m = acting_membership(request)
            if m is None:
                return redirect(f"{reverse('console:login')}?next={request.get_full_path()}")
            if kinds is not None and m.organization.kind not in kinds:
                messages.error(request, _t("当前机构无权访问该页面。",
                                           "Your acting organization may not open that page."))
                return redirect(home_for(m))
            request.membership = m
            return view(request, *args, **kwargs)
        return wrapped
    return deco


def ctx(request, **extra) -> dict:
    m = acting_membership(request)
    others = []
    if m is not None:
        others = list(Membership.objects.select_related("organization")
                      .filter(user_id=m.user_id, is_active=True).exclude(pk=m.pk))
    invited = 0
    if m is not None:  # the nav shows the invited user's own pending invitations (console.views_members)
        from accounts.models import MembershipInvitation

        invited = MembershipInvitation.objects.filter(user_id=m.user_id, status="pending").count()
    return {"membership": m, "other_memberships": others, "idem": uuid.uuid4().hex, "en": is_en(),
            "home": home_for(m), "pending_invitations": invited, **extra}


def _done(request, result: api.ApiResult, ok_zh: str, ok_en: str, *, queued: tuple[str, str] | None = None):
    """Say how an API call went; `queued` (zh, en): what to say for a 202 of the matching engine (#19), a
    request accepted but not yet taken within the console's wait."""
    if queued and result.ok and result.status == 202:
        messages.success(request, _t(*queued))
        return False
    if result.ok:
        messages.success(request, _t(ok_zh, ok_en))
    else:
        messages.error(request, result.message or _t("操作失败", "The request failed"))
    return result.ok


def _proposed(request, result: api.ApiResult, what_zh: str):
    """A money or issuance form: the API answers 202 with a pending request (maker-checker) or 201 when one
    person suffices (below the single-person amount)."""
    what_en = {"资金划转": "Cash movement", "发放": "Issuance"}.get(what_zh, what_zh)
    if result.ok and result.status == 202:
        number = result.data.get("id")
        messages.success(request, _t(f"{what_zh}申请已提交（编号 {number}），等待另一位复核人确认后记账。",
                                     f"{what_en} request {number} submitted: it awaits confirmation "
                                     "by a second person before it is posted."))
        return True
    return _done(request, result, f"{what_zh}已记账", f"{what_en} posted")


# --- sign in / out, language --------------------------------------------------------------------------

def login_view(request):
    memberships = []
    form = {"username": request.POST.get("username", ""), "organization": request.POST.get("organization", "")}
    error = None
    if request.method == "POST":
        org = form["organization"]
        address = lockout.client_address(request)
        try:
            secret, token = account_services.login(
                username=form["username"], password=request.POST.get("password", ""),
                organization_id=int(org) if org.isdigit() else None, request_id=getattr(request, "request_id", ""),
                address=address)
        except (ApiError, Throttled) as exc:
            # the same lockout and the same bounded refusal audit as the API's login (accounts.views.LoginView)
            if getattr(exc, "code", "") != "ambiguous_organization":  # that one is the form's next step
                account_services.login_refused(username=form["username"], address=address, exc=exc,
                                               request_id=getattr(request, "request_id", ""))
            if isinstance(exc, Throttled):
                wait = int(exc.wait or 0)
                error = _t(f"登录失败次数过多，请 {wait} 秒后再试。",
                           f"Too many failed sign-ins: try again in {wait} s.")
                return render(request, "console/login.html",
                              ctx(request, form=form, memberships=[], error=error, next=request.POST.get("next", "")),
                              status=429)
            error = exc.message
            if exc.code == "ambiguous_organization":
                # the password was right: offer the memberships to choose from
                memberships = list(Membership.objects.select_related("organization").filter(
                    user__username=form["username"], is_active=True).order_by("organization__name_zh"))
                error = _t("请选择以哪个机构的身份登录。", "Choose the organization you act for.")
        else:
            sign_in(request, secret)
            nxt = request.POST.get("next") or ""
            return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else home_for(token.membership))
    return render(request, "console/login.html", ctx(request, form=form, memberships=memberships, error=error,
                                                     next=request.GET.get("next", request.POST.get("next", ""))))


@require_POST
def logout_view(request):
    token = acting_token(request)
    if token is not None:
        from accounts.actor import Actor

        m = token.membership
        account_services.token_revoke(actor=Actor(user_id=m.user_id, organization_id=m.organization_id, role=m.role,
                                                  organization_kind=m.organization.kind), token=token)
    request.session.flush()
    return redirect("console:markets")


@require_POST
@member_required()
def switch_view(request):
    """Act for another organization of the same person: a token for that membership (the old one is revoked)."""
    from accounts.actor import Actor

    current = acting_token(request)
    target = Membership.objects.select_related("organization").filter(
        pk=request.POST.get("membership") or 0, user_id=request.membership.user_id, is_active=True).first()
    if target is None:
        raise Http404
    if not target.organization.is_active:
        messages.error(request, ApiError("organization_suspended").message)
        return redirect(home_for(request.membership))
    secret, _ = account_services.token_issue(membership=target, request_id=getattr(request, "request_id", ""))
    m = current.membership
    account_services.token_revoke(actor=Actor(user_id=m.user_id, organization_id=m.organization_id, role=m.role,
                                              organization_kind=m.organization.kind), token=current)
    sign_in(request, secret)
    return redirect(home_for(target))


# --- market (public) -----------------------------------------------------------------------------------

def markets_view(request):
    return render(request, "console/markets.html", ctx(request, rows=selectors.market_overview()))


def _market(pk: int) -> Market:
    market = Market.objects.select_related("asset").filter(pk=pk).first()
    if market is None:
        raise Http404
    return market


def market_view(request, pk: int):
    market = _market(pk)
    return render(request, "console/market.html", ctx(request, market=market, asset=market.asset,
                                                      trades=trading_selectors.recent_trades(market, limit=20)))


def market_trades_partial(request, pk: int):
    market = _market(pk)
    return render(request, "console/_trades.html", {"trades": trading_selectors.recent_trades(market, limit=20),
                                                    "asset": market.asset, "en": is_en()})


def market_data(request, pk: int):
    market = _market(pk)
    return JsonResponse({"candles": selectors.candle_series(market), "depth": trading_selectors.book_depth(market),
                         "unit": market.asset.unit})


# --- enterprise desk ----------------------------------------------------------------------------------

@member_required(TRADING_KINDS)
def desk_view(request):
    m = request.membership
    holdings = ledger_selectors.holding_list(membership=m)
    # live orders: resting in the book, and (on a market matched by the engine, #19) accepted and queued for
    # matching — their escrow is already held, and they can be cancelled
    orders = list(trading_selectors.orders_of(m.organization_id).filter(status__in=("open", "accepted"))[:50])
    trades = _my_trades(m, 30)
    statement = list(ledger_selectors.statement_lines(membership=m).order_by("-id")[:20])
    markets = Market.objects.select_related("asset").filter(status="open").order_by("code")
    return render(request, "console/desk.html", ctx(request, holdings=holdings, orders=orders, trades=trades,
                                                    statement=statement,
                                                    markets=markets,
                                                    selected=request.GET.get("market", "")))


@member_required(TRADING_KINDS)
def order_preview(request):
    """htmx: the fee and the escrow an order would hold, computed by the order book's own pricing."""
    from decimal import Decimal, InvalidOperation

    from core.money import to_minor

    market = Market.objects.select_related("asset").filter(pk=request.GET.get("market") or 0).first()
    out = {"ok": False}
    if market is not None:
        try:
            price = to_minor(Decimal(request.GET.get("price", "")), 2)
            quantity = to_minor(Decimal(request.GET.get("quantity", "")), market.asset.scale)
        except (InvalidOperation, ValueError):
            price = quantity = None
        if price and quantity and price > 0 and quantity > 0:
            value = pricing.trade_value(price, quantity, market.asset.scale)
            fee = pricing.total_fee(value, bps=market.fee_bps, minimum=market.fee_min)
            side = request.GET.get("side", "buy")
            hold = (pricing.buy_hold_needed(limit=price, remaining=quantity, filled_value=0, scale=market.asset.scale,
                                            bps=market.fee_bps, minimum=market.fee_min) if side == "buy" else quantity)
            out = {"ok": True, "value": value, "fee": fee, "hold": hold, "side": side, "market": market,
                   "asset": market.asset}
    return render(request, "console/_preview.html", {**out, "en": is_en()})


# on a market matched by the engine (#19) the console waits for the engine's result, as a person expects
ENGINE_WAIT = "wait=5"


@require_POST
@member_required(TRADING_KINDS)
def order_place_view(request):
    data = {k: request.POST.get(k, "") for k in ("market", "side", "price", "quantity", "time_in_force")}
    data["market"] = int(data["market"]) if data["market"].isdigit() else 0
    data["time_in_force"] = data["time_in_force"] or "gtc"
    result = api.call(request, "POST", "/api/v1/orders", data, idempotency_key=request.POST.get("idem"),
                      prefer=ENGINE_WAIT)
    if _done(request, result, "委托已提交", "Order placed",
             queued=("委托已受理，排队等待撮合（资金或指标已冻结）。",
                     "Order accepted and queued for matching (its escrow is held).")) and result.data.get("fills"):
        messages.info(request, _t(f"已成交 {len(result.data['fills'])} 笔", f"{len(result.data['fills'])} fill(s)"))
    return redirect(f"{reverse('console:desk')}?market={data['market']}")


@require_POST
@member_required(TRADING_KINDS)
def order_cancel_view(request, pk: int):
    result = api.call(request, "POST", f"/api/v1/orders/{pk}/cancel", {}, idempotency_key=request.POST.get("idem"),
                      prefer=ENGINE_WAIT)
    _done(request, result, "委托已撤销", "Order cancelled",
          queued=("撤单请求已受理，等待撮合引擎处理。", "Cancellation queued for the matching engine."))
    return redirect("console:desk")


# --- listings: browse, buy, bid --------------------------------------------------------------------------

def _listing_rows(qs):
    rows = list(qs)
    assets = {a.id: a for a in Asset.objects.filter(pk__in={row.asset_id for row in rows})}
    for row in rows:
        row.asset = assets.get(row.asset_id)
    return rows


@member_required()
def listings_view(request):
    # the listings API's own visibility rule (a negotiated offer is seen by its two parties only)
    qs = visible_listings(request.membership).select_related("named_buyer").filter(status="open")[:100]
    return render(request, "console/listings.html", ctx(request, listings=_listing_rows(qs)))


@member_required()
def listing_view(request, pk: int):
    result = api.call(request, "GET", f"/api/v1/listings/{pk}")
    if result.status == 404:
        raise Http404
    listing = Listing.objects.select_related("seller", "named_buyer").get(pk=pk)
    listing.asset = Asset.objects.get(pk=listing.asset_id)
    bids = api.call(request, "GET", f"/api/v1/listings/{pk}/bids")
    return render(request, "console/listing.html", ctx(request, listing=listing, api_listing=result.data,
                                                       bids=bids.data if bids.ok else [],
                                                       now=timezone.now()))


@require_POST
@member_required(TRADING_KINDS)
def listing_buy_view(request, pk: int):
    result = api.call(request, "POST", f"/api/v1/listings/{pk}/buy", {"quantity": request.POST.get("quantity", "")},
                      idempotency_key=request.POST.get("idem"))
    _done(request, result, "已购买，等待结算", "Bought; settlement follows")
    return redirect("console:trades" if result.ok else reverse("console:listing", args=[pk]))


@require_POST
@member_required(TRADING_KINDS)
def listing_bid_view(request, pk: int):
    result = api.call(request, "POST", f"/api/v1/listings/{pk}/bids", {"price": request.POST.get("price", "")},
                      idempotency_key=request.POST.get("idem"))
    if _done(request, result, "出价成功", "Bid placed") and result.data.get("extended"):
        messages.info(request, _t("出价落在结束前的防狙击窗口内，竞价结束时间已顺延。",
                                  "Your bid fell in the anti-sniping window: the auction end was extended."))
    return redirect("console:listing", pk=pk)


@require_POST
@member_required(TRADING_KINDS)
def listing_accept_view(request, pk: int):
    result = api.call(request, "POST", f"/api/v1/listings/{pk}/accept", {}, idempotency_key=request.POST.get("idem"))
    _done(request, result, "已接受协议转让", "Offer accepted")
    return redirect("console:listing", pk=pk)


@member_required(TRADING_KINDS)
def trades_view(request):
    return render(request, "console/trades.html", ctx(request, trades=_my_trades(request.membership, 100)))


def _my_trades(m: Membership, limit: int) -> list:
    trades = list(trading_selectors.trades_of(m.organization_id)[:limit])
    assets = {a.id: a for a in Asset.objects.filter(pk__in={t.asset_id for t in trades})}
    for t in trades:
        t.scale = assets[t.asset_id].scale if t.asset_id in assets else 0
        t.asset_code = assets[t.asset_id].code if t.asset_id in assets else ""
        t.side_for_me = "buy" if t.buyer_id == m.organization_id else "sell"
    return trades


# --- county government ----------------------------------------------------------------------------------

@member_required(TRADING_KINDS)
def county_view(request):
    m = request.membership
    mine = _listing_rows(Listing.objects.select_related("named_buyer").filter(seller_id=m.organization_id)
                         .order_by("-id")[:50])
    bids = list(Bid.objects.select_related("bidder").filter(listing__seller_id=m.organization_id)
                .order_by("-id")[:50])
    scale_of = {row.id: row.asset.scale if row.asset else 0 for row in mine}
    hidden = {row.id for row in mine if sealed_bids_hidden(row)}  # the listings API's own rule
    bids = [b for b in bids if b.listing_id not in hidden]
    for b in bids:
        b.scale = scale_of.get(b.listing_id, 0)
    holdings = [a for a in ledger_selectors.holding_list(membership=m)]
    assets = [a.asset for a in holdings if a.asset.kind == "right" and a.available > 0]
    funds = [{"fund": FUNDS[FUND_OF_KIND[a.kind]], "account": a} for a in holdings if a.kind in FUND_OF_KIND]
    funds.sort(key=lambda f: list(FUNDS).index(f["fund"].code))
    buyers = Organization.objects.filter(kind="enterprise", status="active").order_by("name_zh")
    now = timezone.localtime()
    issued = Asset.objects.filter(issuer_id=m.organization_id, kind="right").order_by("code")
    notices = reports.public_notices(organization_id=m.organization_id)
    notice_assets = {a.id: a for a in Asset.objects.filter(pk__in={n["trade"].asset_id for n in notices})}
    titles = dict(Listing.objects.filter(pk__in={n["trade"].listing_id for n in notices if n["trade"].listing_id})
                  .values_list("id", "title"))
    for n in notices:
        n["asset"] = notice_assets.get(n["trade"].asset_id)
        n["title"] = titles.get(n["trade"].listing_id, "")
    return render(request, "console/county.html", ctx(
        request, listings=mine, bids=bids, assets=assets, funds=funds, buyers=buyers, holdings=holdings, issued=issued,
        notices=notices, movements=_pending_movements(request, Organization.objects.all()) if issued else [],
        default_end=(now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")))


@require_POST
@member_required(TRADING_KINDS)
def listing_create_view(request):
    p = request.POST
    kind = p.get("kind", "fixed_price")
    data = {"kind": kind, "asset": int(p.get("asset") or 0), "quantity": p.get("quantity", ""),
            "title": p.get("title", "")}
    if kind in ("fixed_price", "negotiated"):
        data["price"] = p.get("price", "")
    if kind == "fixed_price":
        data["divisible"] = bool(p.get("divisible"))
        if p.get("min_purchase"):
            data["min_purchase"] = p["min_purchase"]
    if kind in ("english", "sealed"):
        data["reserve_price"] = p.get("reserve_price", "")
        if kind == "english":
            data["min_increment"] = p.get("min_increment") or "1"
            data["anti_snipe_minutes"] = int(p.get("anti_snipe_minutes") or 0)
        data["start_at"] = timezone.now().isoformat()
    if p.get("end_at"):
        from django.utils.dateparse import parse_datetime

        end = parse_datetime(p["end_at"])
        if end is not None:
            data["end_at"] = (timezone.make_aware(end) if timezone.is_naive(end) else end).isoformat()
    if kind == "negotiated":
        data["named_buyer"] = int(p.get("named_buyer") or 0) or None
    if p.get("project_id") or p.get("acceptance_document"):
        data["provenance"] = {"project_id": p.get("project_id", ""),
                              "acceptance_document": p.get("acceptance_document", "")}
    result = api.call(request, "POST", "/api/v1/listings", data, idempotency_key=p.get("idem"))
    _done(request, result, "挂牌已发布", "Listing published")
    return redirect("console:county")


@require_POST
@member_required(TRADING_KINDS)
def listing_cancel_view(request, pk: int):
    result = api.call(request, "POST", f"/api/v1/listings/{pk}/cancel", {}, idempotency_key=request.POST.get("idem"))
    _done(request, result, "挂牌已撤销", "Listing withdrawn")
    return redirect("console:county")


@require_POST
@member_required(TRADING_KINDS)
def payout_view(request):
    result = api.call(request, "POST", "/api/v1/settlement/earmarked-payouts",
                      {"amount": request.POST.get("amount", ""), "fund": request.POST.get("fund") or "farmland",
                       "purpose_code": request.POST.get("purpose_code", ""),
                       "description": request.POST.get("description", ""),
                       "bank_reference": request.POST.get("bank_reference", "")},
                      idempotency_key=request.POST.get("idem"))
    _done(request, result, "专项资金支出已记账", "Payout recorded")
    return redirect("console:county")


# --- regulator --------------------------------------------------------------------------------------------

RIGHT_TYPES = [("", "全部", "all"), ("emission", "排污权", "emission"), ("water", "水权", "water"),
               ("farmland", "耕地指标", "farmland"), ("energy", "用能权", "energy-use"),
               ("carbon", "碳排放权", "carbon"), ("power_generation", "发电权", "power generation")]


def _period(request) -> tuple[date, date, str]:
    days = request.GET.get("period", "90")
    days = days if days in ("7", "30", "90", "365") else "90"
    until = timezone.localdate()
    return until - timedelta(days=int(days)), until, days


@member_required(OVERSIGHT_KINDS)
def regulator_view(request):
    scope = scope_of(request.membership)
    approvals = reports.pending_approvals(scope)
    alerts = list(scope.by_region_codes(Alert.objects.all()).order_by("-detected_at")[:20])
    since, until, days = _period(request)
    concentration = reports.concentration(scope, top=3)  # account balances: bounded by holders, not trades
    return render(request, "console/regulator.html", ctx(
        request, approvals=approvals, alerts=alerts, right_types=RIGHT_TYPES, days=days, concentration=concentration,
        right_type=request.GET.get("right_type", "")))


@member_required(OVERSIGHT_KINDS)
def regulator_data(request):
    """Chart data: flows between cities (Sankey) and volume/VWAP per right type and month, from the roll-ups."""
    scope = scope_of(request.membership)
    since, until, _ = _period(request)
    right_type = request.GET.get("right_type") or None
    if right_type not in {rt for rt, _, _ in RIGHT_TYPES if rt}:
        right_type = None
    flows = reports.flow_matrix(scope, level="city", since=since, until=until, right_type=right_type)
    volume = reports.volume_report(scope, period="month", level="province", right_type=right_type,
                                   since=until - timedelta(days=365), until=until)
    names = selectors.region_names([f["origin"] for f in flows] + [f["destination"] for f in flows])
    out_label, in_label = _t("（出让）", " (from)"), _t("（受让）", " (to)")
    links: dict[tuple[str, str], float] = {}
    for f in flows:
        key = (names.get(f["origin"], f["origin"]) + out_label,
               names.get(f["destination"], f["destination"]) + in_label)
        links[key] = links.get(key, 0) + float(f["value"])  # chart geometry only; the table shows exact strings
    nodes = sorted({n for pair in links for n in pair})
    return JsonResponse({
        "sankey": {"nodes": [{"name": n} for n in nodes],
                   "links": [{"source": s, "target": t, "value": v} for (s, t), v in links.items()]},
        "flows": [{**f, "origin_name": names.get(f["origin"], f["origin"]),
                   "destination_name": names.get(f["destination"], f["destination"])} for f in flows],
        "volume": volume,
    })


@require_POST
@member_required(OVERSIGHT_KINDS)
def approval_decide_view(request, pk: int, decision: str):
    if decision not in ("approve", "reject", "object"):
        raise Http404
    body = ({"comment": request.POST.get("reason", "")} if decision == "approve"
            else {"reason": request.POST.get("reason", "")})
    result = api.call(request, "POST", f"/api/v1/oversight/approvals/{pk}/{decision}", body)
    _done(request, result, {"approve": "已同意", "reject": "已驳回", "object": "已提出异议"}[decision],
          {"approve": "Approved", "reject": "Rejected", "object": "Objection recorded"}[decision])
    return redirect("console:regulator")


TRADE_FILTERS = ("right_type", "status", "origin", "since", "until", "organization")


@member_required(OVERSIGHT_KINDS)
def trade_search_view(request):
    query = {k: request.GET[k] for k in TRADE_FILTERS if request.GET.get(k)}
    result = api.call(request, "GET", "/api/v1/oversight/trades", query=query)
    rows = [dict(r) for r in result.data.get("results", [])] if result.ok else []
    if not result.ok:
        messages.error(request, result.message)
    names = dict(Organization.objects.filter(pk__in={r[k] for r in rows for k in ("buyer", "seller")})
                 .values_list("id", "name_en" if is_en() else "name_zh"))
    for r in rows:
        r["buyer_name"], r["seller_name"] = names.get(r["buyer"], r["buyer"]), names.get(r["seller"], r["seller"])
    from urllib.parse import urlencode

    return render(request, "console/trade_search.html", ctx(request, rows=rows, query=query, qs=urlencode(query),
                                                            right_types=RIGHT_TYPES))


@member_required(OVERSIGHT_KINDS)
def trade_export_view(request, fmt: str):
    query = {k: request.GET[k] for k in TRADE_FILTERS if request.GET.get(k)}
    result = api.call(request, "GET", f"/api/v1/oversight/exports/trades.{fmt}", query=query)
    return result.response


@member_required(OVERSIGHT_KINDS)
def dossier_view(request, pk: int):
    import json

    result = api.call(request, "GET", f"/api/v1/oversight/trades/{pk}")
    if result.status == 404:
        raise Http404
    dossier = result.data
    from rest_framework.utils.encoders import JSONEncoder

    # the proof and the signed checkpoint are fetched by the page's script (console.views_proof) and re-checked there
    return render(request, "console/dossier.html", ctx(
        request, dossier=dossier, dossier_json=json.dumps(dossier, cls=JSONEncoder, ensure_ascii=False, indent=1)))


# --- operator ----------------------------------------------------------------------------------------------

@member_required(("exchange_operator",))
def operator_view(request):
    from django.db import connection

    markets = Market.objects.select_related("asset").prefetch_related("session_windows").order_by("code")
    with connection.cursor() as cur:  # the outbox_pending partial index: only pending rows are read
        cur.execute(f"SELECT count(*), min(created_at) FROM {SettlementOutbox._meta.db_table} "
                    "WHERE status = 'pending'")
        pending, oldest = cur.fetchone()
        cur.execute(f"SELECT max(created_at) FROM {Checkpoint._meta.db_table}")
        last_seal = cur.fetchone()[0]
        cur.execute(f"""SELECT min(t.created_at) FROM {LedgerTransaction._meta.db_table} t
                        WHERE t.id > coalesce((SELECT max(transaction_id) FROM {MerkleLeaf._meta.db_table}), 0)""")
        oldest_unsealed = cur.fetchone()[0]
    now = timezone.now()
    health = {"pending": pending, "outbox_age": int((now - oldest).total_seconds()) if oldest else 0,
              "last_seal": last_seal,
              "seal_lag": int((now - oldest_unsealed).total_seconds()) if oldest_unsealed else 0}
    gave_up = list(WebhookDelivery.objects.select_related("endpoint__organization").filter(status="gave_up")
                   .order_by("-id")[:20])
    orgs = Organization.objects.select_related("region").order_by("kind", "name_zh")
    rights = Asset.objects.filter(kind="right").order_by("code")
    return render(request, "console/operator.html", ctx(
        request, markets=markets, health=health, gave_up=gave_up, orgs=orgs, assets=rights,
        movements=_pending_movements(request, orgs), proposals=_pending_proposals(request),
        free_assets=rights.filter(market__isnull=True)))


MOVEMENT_KINDS = {"deposit": ("入金", "deposit"), "withdraw": ("出金", "withdrawal"),
                  "transfer": ("划转", "transfer"), "issue": ("发放", "issuance")}


def _pending_movements(request, orgs) -> list[dict]:
    """Pending maker-checker requests, as the API lists them to the acting organization (ledger.movements)."""
    result = api.call(request, "GET", "/api/v1/movement-requests", query={"status": "pending"})
    if not result.ok:
        return []
    rows = result.data.get("results", []) if isinstance(result.data, dict) else list(result.data)
    names = {o.pk: (o.name_en if is_en() else o.name_zh) for o in orgs}
    out = []
    for r in rows:
        r = dict(r)
        zh, en = MOVEMENT_KINDS.get(r["kind"], (r["kind"], r["kind"]))
        r["kind_label"] = _t(zh, en)
        r["organization_names"] = ", ".join(names.get(i, str(i)) for i in r.get("organizations") or [])
        out.append(r)
    return out


@require_POST
@member_required()
def movement_decide_view(request, pk: int, decision: str):
    """Confirm or reject a pending deposit / withdrawal / issuance: the API decides who may (never the proposer)."""
    if decision not in ("confirm", "reject"):
        raise Http404
    body = {} if decision == "confirm" else {"reason": request.POST.get("reason", "")}
    result = api.call(request, "POST", f"/api/v1/movement-requests/{pk}/{decision}", body)
    _done(request, result, {"confirm": "已确认并记账", "reject": "已驳回"}[decision],
          {"confirm": "Confirmed and posted", "reject": "Rejected"}[decision])
    return redirect(home_for(request.membership))


@require_POST
@member_required(("exchange_operator",))
def market_status_view(request, pk: int, action: str):
    if action not in ("halt", "resume"):
        raise Http404
    result = api.call(request, "POST", f"/api/v1/markets/{pk}/{action}", {"reason": request.POST.get("reason", "")})
    _done(request, result, "市场状态已更新", "Market status changed")
    return redirect("console:operator")


@require_POST
@member_required(("exchange_operator",))
def cash_view(request, direction: str):
    if direction not in ("deposits", "withdrawals"):
        raise Http404
    body = {"organization": int(request.POST.get("organization") or 0), "amount": request.POST.get("amount", ""),
            "bank_reference": request.POST.get("bank_reference", "")}
    result = api.call(request, "POST", f"/api/v1/cash/{direction}", body, idempotency_key=request.POST.get("idem"))
    _proposed(request, result, "资金划转")
    return redirect("console:operator")


@require_POST
@member_required(("exchange_operator", "county_government", "city_government", "provincial_authority"))
def issuance_view(request):
    """Issuance by the operator or by an issuing government (the API decides who may issue what)."""
    p = request.POST
    body = {"asset": p.get("asset", ""), "recipient": int(p.get("recipient") or 0), "amount": p.get("amount", "")}
    evidence = {k: p[k] for k in ("project_id", "area_mu", "acceptance_document") if p.get(k)}
    if evidence:
        body["evidence"] = evidence
    result = api.call(request, "POST", "/api/v1/issuances", body, idempotency_key=p.get("idem"))
    _proposed(request, result, "发放")
    return redirect(home_for(request.membership))


# --- webhook settings (the organization's admins; the API's WebhookEndpointViewSet decides) ------------------

@member_required()
def webhooks_view(request):
    return _webhooks_page(request, None)


def _webhooks_page(request, secret: dict | None):
    result = api.call(request, "GET", "/api/v1/webhooks")
    if not result.ok:
        messages.error(request, result.message)
    endpoints = list(result.data) if result.ok else []
    for ep in endpoints:
        # the participant's view of deliveries: the generic error only (the detail is the operator's)
        got = api.call(request, "GET", f"/api/v1/webhooks/{ep['id']}/deliveries")
        ep["deliveries"] = list(got.data)[:20] if got.ok else []
    return render(request, "console/webhooks.html", ctx(request, endpoints=endpoints, secret=secret,
                                                        events=("matched", "settled", "failed")))


def _show_secret(request, result: api.ApiResult):
    """The new secret is rendered in this response only (never stored in the session or shown again)."""
    return _webhooks_page(request, {"id": result.data["id"], "secret": result.data["secret"]})


@require_POST
@member_required()
def webhook_register_view(request):
    body = {"url": request.POST.get("url", "").strip(), "events": request.POST.getlist("events")}
    result = api.call(request, "POST", "/api/v1/webhooks", body)
    if _done(request, result, "Webhook 已登记，密钥只显示这一次", "Webhook registered: the secret is shown only once"):
        return _show_secret(request, result)
    return redirect("console:webhooks")


@require_POST
@member_required()
def webhook_action_view(request, pk: int, action: str):
    if action == "rotate":
        body = {}
        if request.POST.get("overlap_seconds", "").isdigit():
            body["overlap_seconds"] = int(request.POST["overlap_seconds"])
        result = api.call(request, "POST", f"/api/v1/webhooks/{pk}/rotate-secret", body)
        if _done(request, result, "密钥已更换，新密钥只显示这一次", "Secret rotated: the new one is shown only once"):
            return _show_secret(request, result)
    elif action == "delete":
        result = api.call(request, "DELETE", f"/api/v1/webhooks/{pk}")
        _done(request, result, "Webhook 已删除", "Webhook deleted")
    else:
        raise Http404
    return redirect("console:webhooks")


# --- operator: markets through four-eyes proposals ----------------------------------------------------------

MARKET_FIELDS = ("code", "name_zh", "name_en", "tick_size", "lot_size", "price_band_bps", "reference_price", "fee_bps",
                 "fee_min", "reason")


def _pending_proposals(request) -> list:
    result = api.call(request, "GET", "/api/v1/market-proposals", query={"status": "pending"})
    if not result.ok:
        return []
    return result.data.get("results", []) if isinstance(result.data, dict) else list(result.data)


def _market_schedule(p) -> dict:
    """Trading hours and settlement from the form, in the API's field names (blank: unchanged / default).
    `hours` = always: around the clock; sessions: the windows given (start, end, ISO weekdays)."""
    out: dict = {}
    if p.get("hours") == "always":
        out.update(always_open=True, session_windows=[])
    elif p.get("hours") == "sessions":
        windows = [{"start": s.strip(), "end": e.strip(), "weekdays": (d.strip() or "12345")}
                   for s, e, d in zip(p.getlist("sw_start"), p.getlist("sw_end"), p.getlist("sw_days"), strict=False)
                   if s.strip() or e.strip()]
        out.update(always_open=False, session_windows=windows)
    if p.get("settlement_mode") in ("rtgs", "eod"):
        out["settlement_mode"] = p["settlement_mode"]
        if p["settlement_mode"] == "eod" and p.get("eod_cutoff", "").strip():
            out["eod_cutoff"] = p["eod_cutoff"].strip()
    return out


@require_POST
@member_required(("exchange_operator",))
def market_propose_view(request, configure: bool = False):
    """Propose a market (or a new configuration of the posted `market`): the API's four-eyes proposal (202)."""
    p = request.POST
    pk = (int(p["market"]) if p.get("market", "").isdigit() else 0) if configure else None
    data = {k: p[k].strip() for k in MARKET_FIELDS if p.get(k, "").strip()}
    for k in ("price_band_bps", "fee_bps"):
        if k in data:
            data[k] = int(data[k]) if data[k].isdigit() else data[k]
    data.update(_market_schedule(p))
    if pk is None:
        data["asset"] = p.get("asset", "")
        result = api.call(request, "POST", "/api/v1/markets", data)
    else:
        data.pop("code", None)
        result = api.call(request, "PATCH", f"/api/v1/markets/{pk}", data)
    if result.ok:
        messages.success(request, _t(f"市场提议已提交（编号 {result.data.get('id')}），等待另一位运营人员确认后生效。",
                                     f"Market proposal {result.data.get('id')} submitted: it takes effect when a "
                                     "second operator person confirms it."))
    else:
        _done(request, result, "", "")
    return redirect("console:operator")


@require_POST
@member_required(("exchange_operator",))
def proposal_decide_view(request, pk: int, decision: str):
    if decision not in ("confirm", "reject"):
        raise Http404
    body = {} if decision == "confirm" else {"reason": request.POST.get("reason", "")}
    result = api.call(request, "POST", f"/api/v1/market-proposals/{pk}/{decision}", body)
    _done(request, result, {"confirm": "市场提议已确认并生效", "reject": "市场提议已驳回"}[decision],
          {"confirm": "Market proposal confirmed and applied", "reject": "Market proposal rejected"}[decision])
    return redirect("console:operator")


# --- operator: an organization's members and invitations ------------------------------------------------------

@member_required(("exchange_operator",))
def organization_view(request, pk: int):
    from accounts import selectors as account_selectors

    org = Organization.objects.select_related("region").filter(pk=pk).first()
    if org is None:
        raise Http404
    result = api.call(request, "GET", "/api/v1/memberships", query={"organization": pk})
    if not result.ok:
        messages.error(request, result.message)
    members = (result.data.get("results", []) if isinstance(result.data, dict) else result.data) if result.ok else []
    invitations = account_selectors.pending_invitations_of(membership=request.membership, organization_id=pk)
    return render(request, "console/organization.html", ctx(request, org=org, members=members, operator=True,
                                                            invitations=list(invitations), roles=ROLES))


ROLES = [("admin", "管理员", "admin"), ("trader", "交易员", "trader"), ("approver", "审核员", "approver"),
         ("viewer", "查询员", "viewer")]


@require_POST
@member_required(("exchange_operator",))
def member_invite_view(request, pk: int):
    """Invite an existing user (no password: the API attaches, i.e. invites, and never says whether the name exists)."""
    body = {"organization": pk, "role": request.POST.get("role", ""), "username": request.POST.get("username", "")}
    result = api.call(request, "POST", "/api/v1/memberships", body)
    if result.ok and result.status == 202:
        messages.success(request, _t("邀请已发出：对方接受后成为成员（若该用户存在）。",
                                     "Invitation sent: the user becomes a member once they accept (if the user "
                                     "exists)."))
    else:
        _done(request, result, "成员已添加", "Member added")
    return redirect("console:organization", pk=pk)


def set_language_view(request):
    """The language switch: a cookie read by LocaleMiddleware (Chinese unless English is chosen)."""
    from django.conf import settings

    lang = request.POST.get("language") or request.GET.get("language") or "zh-hans"
    lang = lang if lang in dict(settings.LANGUAGES) else "zh-hans"
    nxt = request.POST.get("next") or request.GET.get("next") or "/"
    response = redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax")
    translation.activate(lang)
    return response


def favicon(request):
    return HttpResponse(status=204)

