"""Demo data of paired assistance (`seed_demo` calls `seed_assistance()` after oversight): three pairs
(Fuqing → Songxi, Minhou → Yongding, Fuzhou city → Zhao'an), each with version 1 of its agreement
(12 million yuan a year from last year on) approved by the provincial regulator; payments over last year
and this year, proposed and confirmed by two people of the payer; Fuzhou → Zhao'an falls short last year,
so the year-end task raises its `assistance_shortfall` alert. Two farmland support commitments against
farmland trades (Fuqing and Minhou each buy 50 mu of Songxi's quantity quota from its fixed-price
listing): Minhou's infrastructure commitment is fulfilled in kind, Fuqing's cash commitment is open.

Everything goes through the services (ledger balanced, `verify_ledger` clean). Idempotent: payments by
their idempotency keys, the rest by looking first; deterministic (fixed amounts, keys and names)."""
from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.demo import DEMO_PASSWORD, demo_password_hash, seed_accounts
from accounts.models import Membership, Organization, User
from accounts.services import membership_create, user_create
from ledger.models import Asset
from ledger.services import cash_deposit
from trading.listings.services import listing_buy, listing_create
from trading.models import Listing, Trade
from trading.settlement.services import trade_settle

from . import services
from .models import AssistancePair, SupportCommitment
from .yearend import year_end

YUAN = 100
WAN = 10_000 * YUAN  # 万元
MINIMUM = 1200 * WAN  # the plan's figure: 12 million yuan a year

# extra demo people: a second person in each paying government (maker–checker needs two)
PEOPLE = [
    ("fuqing_admin", "福清市管理员", "fuqing", "admin"),
    ("fuqing_approver", "福清市审核员", "fuqing", "approver"),
    ("fuzhou_city_trader", "福州市政府经办人", "fz_city", "trader"),
    ("fuzhou_city_approver", "福州市政府审核员", "fz_city", "approver"),
]
# (payer, payee, [(year offset, amount, purpose), …]): offset -1 = last year, 0 = this year
PAIRS = [
    ("fuqing", "songxi", [(-1, 600 * WAN, "industry_transfer"), (-1, 600 * WAN, "public_services"),
                          (0, 700 * WAN, "industry_transfer")]),
    ("minhou", "yongding", [(-1, 800 * WAN, "infrastructure"), (-1, 450 * WAN, "public_services"),
                            (0, 300 * WAN, "infrastructure")]),
    ("fz_city", "zhaoan", [(-1, 500 * WAN, "industry_transfer"), (-1, 450 * WAN, "infrastructure"),
                           (0, 200 * WAN, "public_services")]),  # 950 万 of 1,200 万 last year: short
]
PROPOSER = {"fuqing": "fuqing_admin", "minhou": "minhou_trader", "fz_city": "fuzhou_city_trader"}
ADMIN = {"fuqing": "fuqing_admin", "minhou": "minhou_admin", "fz_city": "fuzhou_city_admin"}
CHECKER = {"fuqing": "fuqing_approver", "minhou": "minhou_approver", "fz_city": "fuzhou_city_approver"}


def _people(orgs: dict) -> None:
    actor = Actor.system()
    for username, display, key, role in PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(actor=actor, username=username, password=DEMO_PASSWORD, display_name=display,
                               password_hash=demo_password_hash())
        if not Membership.objects.filter(user=user, organization=orgs[key]).exists():
            membership_create(actor=actor, user=user, organization=orgs[key], role=role)


def _member(username: str, org: Organization) -> Membership:
    return Membership.objects.select_related("organization__jurisdiction").get(user__username=username,
                                                                               organization=org)


def _deposit(org: Organization, amount: int, key: str) -> None:
    cash_deposit(actor=Actor.system(), organization=org, amount=amount, bank_reference=key, idempotency_key=key)


def _pair(orgs, payer_key: str, payee_key: str, year: int) -> AssistancePair:
    payer, payee = orgs[payer_key], orgs[payee_key]
    pair = AssistancePair.objects.filter(payer=payer, payee=payee).first()
    if pair is None:
        proposer = _member(ADMIN[payer_key], payer)
        agreement = services.pair_propose(membership=proposer, payer=payer, payee=payee, annual_minimum=MINIMUM,
                                          effective_year=year, description="山海协作对口帮扶协议（演示）")
        pair = agreement.pair
    pending = pair.agreements.filter(status="pending", version=1).first()
    if pending is not None:
        approver = _member("regulator_fj_approver", orgs["prov_regulator"])
        services.agreement_approve(membership=approver, agreement_id=pending.pk)
    return pair


def _pay(pair: AssistancePair, payer_key: str, year: int, amount: int, purpose: str, n: int, today: date) -> None:
    proposer = _member(PROPOSER[payer_key], pair.payer)
    payment, _ = services.payment_propose(membership=proposer, idempotency_key=f"demo-assistance-{pair.pk}-{n}",
                                          pair=pair, year=year, amount=amount, purpose_code=purpose,
                                          description=f"{year} 年度山海协作帮扶资金", today=today)
    if payment.status == "pending":
        services.payment_confirm(membership=_member(CHECKER[payer_key], pair.payer), payment_id=payment.pk)


def _farmland_trade(orgs, buyer_key: str) -> Trade | None:
    """A settled trade of 50 mu of Songxi's quantity quota bought by `buyer_key` (once)."""
    songxi, buyer = orgs["songxi"], orgs[buyer_key]
    asset = Asset.objects.filter(code="FL-QTY-2026-350724").first()
    if asset is None:
        return None
    existing = Trade.objects.filter(buyer=buyer, seller=songxi, asset_id=asset.pk, status="settled").first()
    if existing is not None:
        return existing
    listing = (Listing.objects.filter(seller=songxi, asset_id=asset.pk, kind="fixed_price", status="open",
                                      remaining__gte=50 * 100).order_by("id").first())
    seller_actor = Actor(user_id=None, organization_id=songxi.id, role="trader", organization_kind=songxi.kind)
    if listing is None:
        listing = listing_create(actor=seller_actor, seller=songxi, kind="fixed_price", asset_id=asset.pk,
                                 quantity=100 * 100, price=45_000 * YUAN, divisible=True, min_purchase=50 * 100,
                                 title="松溪县补充耕地数量指标 100 亩（山海协作）",
                                 provenance={"project_id": "SX-TDZZ-2025-014",
                                             "acceptance_document": "松自然资验〔2025〕14号"})
    _deposit(buyer, 250 * WAN, f"demo-assistance-farmland-{buyer_key}")
    trade = listing_buy(actor=Actor(user_id=None, organization_id=buyer.id, role="trader",
                                    organization_kind=buyer.kind), buyer=buyer, listing_id=listing.pk,
                        quantity=50 * 100).trade
    trade_settle(trade_id=trade.id)
    trade.refresh_from_db()
    return trade if trade.status == "settled" else None


def _commitments(orgs, today: date) -> None:
    if SupportCommitment.objects.filter(beneficiary=orgs["songxi"], description__startswith="演示").exists():
        return
    fuqing_trade, minhou_trade = _farmland_trade(orgs, "fuqing"), _farmland_trade(orgs, "minhou")
    if fuqing_trade is not None:
        services.commitment_create(membership=_member("fuqing_admin", orgs["fuqing"]), trade=fuqing_trade,
                                   kind="cash", amount=80 * WAN, due_date=today + timedelta(days=90),
                                   description="演示：耕地指标购入方对口帮扶资金 80 万元")
    if minhou_trade is not None:
        infra = services.commitment_create(
            membership=_member("minhou_admin", orgs["minhou"]), trade=minhou_trade, kind="infrastructure",
            amount=150 * WAN, due_date=today + timedelta(days=30),
            description="演示：援建松溪县高标准农田机耕路 3.2 公里")
        services.fulfilment_record(membership=_member("minhou_trader", orgs["minhou"]), commitment_id=infra.pk,
                                   amount=150 * WAN, description="机耕路竣工并移交",
                                   evidence={"document": "松溪县农业农村局竣工验收单（演示）",
                                             "length_km": "3.2"})


@transaction.atomic  # all or nothing: a failed seeding is retried whole next time
def seed_assistance() -> None:
    orgs = seed_accounts()
    _people(orgs)
    today = timezone.localdate()
    last = today.year - 1
    for payer_key, _, _ in PAIRS:
        _deposit(orgs[payer_key], 3000 * WAN, f"demo-assistance-funds-{payer_key}")
    for payer_key, payee_key, payments in PAIRS:
        pair = _pair(orgs, payer_key, payee_key, last)
        for n, (offset, amount, purpose) in enumerate(payments):
            _pay(pair, payer_key, today.year + offset, amount, purpose, n, today)
    year_end(today=today)  # closes last year: Fuzhou → Zhao'an's shortfall becomes an alert
    _commitments(orgs, today)
