"""The world of the authorization matrix and the API fuzzing (tests/system/): organizations A, B, C, the
county, the regulators and the operator, with B's objects that other roles must not reach. `build_world()`
writes it; the module-scoped `world` fixture of tests/system/conftest.py wraps it in a rolled-back
transaction."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

T = 1000  # one tonne in minor units (scale 3)
PRICE = 2_850_000  # ¥28,500.00 per tonne, in fen
PASSWORD = "Str0ng-pass-phrase!"


@dataclass
class World:
    orgs: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)  # role -> Membership (anon: absent)
    secrets: dict = field(default_factory=dict)  # role -> bearer secret
    ids: dict = field(default_factory=dict)  # object name -> id (or code)
    objects: dict = field(default_factory=dict)

    def client(self, role: str, *, language="en") -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        client.raise_request_exception = False  # a 5xx is a result to report, not a crash of the test
        if role != "anon":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.secrets[role]}")
        return client


def _seq():
    return uuid.uuid4().hex[:10]


def build_world() -> World:
    """Organizations A (Fuzhou enterprise), B (Xiamen enterprise, owner of the objects), C (Xiamen
    enterprise, B's counterparty), the Minhou county government, the Fuzhou and provincial regulators, the
    exchange operator; B's order, trade, membership, webhook, deposit, negotiated listing, approval
    request and alert; a Fuzhou market where A holds rights and cash (for the fuzzing participant)."""
    from accounts.actor import Actor
    from accounts.models import AuditEvent, Basin, Membership, MembershipInvitation, Organization, User
    from accounts.services import token_issue
    from accounts.uscc import make_uscc
    from ledger.models import VerificationRun
    from ledger.movements import movement_propose
    from ledger.services import asset_create, cash_deposit, rights_issue
    from marketplace.models import RulebookVersion
    from marketplace.proposals import market_propose
    from marketplace.services import market_create
    from oversight.models import Alert, ApprovalRequest
    from trading.listings.services import listing_bid, listing_create
    from trading.models import WebhookEndpoint
    from trading.orderbook.services import order_place

    w = World()
    counter = iter(range(1, 10_000))
    base = int(uuid.uuid4().int % 10**6)

    def org(kind, region, *, jurisdiction=None, name=None, **extra):
        n = next(counter)
        return Organization.objects.create(
            kind=kind, name_zh=name or f"{kind}-{n}", name_en="", region_id=region,
            uscc=make_uscc(f"359{base:06d}{n:06d}"), jurisdiction_id=jurisdiction, **extra)

    def member(organization, role):
        user = User.objects.create_user(username=f"mx-{_seq()}", password=None)
        return Membership.objects.create(user=user, organization=organization, role=role)

    def actor(m):
        return Actor(user_id=m.user_id, organization_id=m.organization_id, role=m.role,
                     organization_kind=m.organization.kind)

    operator = Organization.objects.filter(kind="exchange_operator").first() or org(
        "exchange_operator", "350000", name="海峡资源环境交易中心")
    w.orgs = {
        "A": org("enterprise", "350102", name="福州甲企业", discharge_permit_no="P-A-0001"),
        "B": org("enterprise", "350203", name="厦门乙企业", discharge_permit_no="P-B-0001"),
        "C": org("enterprise", "350206", name="厦门丙企业", discharge_permit_no="P-C-0001"),
        "county": org("county_government", "350121", name="闽侯县人民政府"),
        "xm_issuer": org("county_government", "350203", name="厦门思明区人民政府"),
        "city": org("regulator", "350100", jurisdiction="350100", name="福州市生态环境局"),
        "province": org("regulator", "350000", jurisdiction="350000", name="福建省生态环境厅"),
        "operator": operator,
    }
    o = w.orgs
    w.members = {
        "trader": member(o["A"], "trader"), "viewer": member(o["A"], "viewer"),
        "county": member(o["county"], "admin"), "city": member(o["city"], "approver"),
        "province": member(o["province"], "approver"), "operator": member(o["operator"], "admin"),
        "owner": member(o["B"], "trader"), "owner_admin": member(o["B"], "admin"),
    }
    w.members["A_admin"] = member(o["A"], "admin")
    w.members["party"] = c_trader = member(o["C"], "trader")
    w.secrets = {role: token_issue(membership=m)[0] for role, m in w.members.items()}

    # instruments and markets: a Xiamen one (B sells to C) and a Fuzhou one (A holds rights there)
    def market(region, issuer, code):
        asset = asset_create(actor=Actor.system(), code=f"{code}-{_seq()}", right_type_id="emission",
                             subtype="SO2", unit="t", scale=3, vintage=2026, origin_region_id=region, issuer=issuer)
        return market_create(actor=Actor.system(), asset=asset, code=f"{code}-{_seq()}", lot_size=T,
                             price_band_bps=None)

    xm_market = market("350203", o["xm_issuer"], "mx-xm")
    fz_market = market("350121", o["county"], "mx-fz")

    def deposit(organization, yuan):
        key = f"mx-dep-{_seq()}"
        return cash_deposit(actor=Actor.system(), organization=organization, amount=yuan * 100,
                            bank_reference=key, idempotency_key=key)

    def issue(m, issuer, organization, quantity):
        rights_issue(actor=Actor.system(), issuer=issuer, asset=m.asset, recipient=organization, amount=quantity,
                     idempotency_key=f"mx-iss-{_seq()}")

    b_deposit = deposit(o["B"], 1_000_000)
    # a pending maker–checker deposit for B, proposed by an operator trader (another person than "operator"),
    # a finished ledger verification, and an invitation of B's trader ("owner") to C
    op_trader = member(o["operator"], "trader")
    movement, _, _ = movement_propose(membership=op_trader, kind="deposit", idempotency_key=f"mx-mv-{_seq()}",
                                      request={"asset": "CNY", "organization": o["B"].id, "amount": 100_00,
                                               "bank_reference": "mx-pending"})
    verification = VerificationRun.objects.create(status="ok", active=None, report=None)
    invitation = MembershipInvitation.objects.create(user=w.members["owner"].user, organization=o["C"],
                                                     role="viewer")
    deposit(o["C"], 1_000_000)
    a_deposit = deposit(o["A"], 1_000_000)
    issue(xm_market, o["xm_issuer"], o["B"], 50 * T)
    issue(fz_market, o["county"], o["A"], 50 * T)

    # B sells 2 t, C buys 1 t: a trade (B seller, C buyer) and B's order resting with 1 t
    sell = order_place(actor=actor(w.members["owner"]), organization=o["B"], market_id=xm_market.id, side="sell",
                       price=PRICE, quantity=2 * T)
    bought = order_place(actor=actor(c_trader), organization=o["C"], market_id=xm_market.id, side="buy",
                         price=PRICE, quantity=T)
    trade = bought.trades[0]
    # A sells 2 t in the Fuzhou market, C buys 1 t: the fuzzing participant has a trade and a resting order
    a_sell = order_place(actor=actor(w.members["trader"]), organization=o["A"], market_id=fz_market.id,
                         side="sell", price=PRICE, quantity=2 * T)
    a_trade = order_place(actor=actor(c_trader), organization=o["C"], market_id=fz_market.id, side="buy",
                          price=PRICE, quantity=T).trades[0]
    # C offers Xiamen rights to everyone: a fixed-price listing and an English auction
    issue(xm_market, o["xm_issuer"], o["C"], 20 * T)
    c_provenance = {"reduction_measure": "RTO 改造", "discharge_permit_no": "P-C-0001"}
    c_fixed = listing_create(actor=actor(c_trader), seller=o["C"], kind="fixed_price", asset_id=xm_market.asset_id,
                             quantity=5 * T, price=PRICE, divisible=True, min_purchase=T, provenance=c_provenance,
                             title="挂牌转让")
    c_auction = listing_create(actor=actor(c_trader), seller=o["C"], kind="english", asset_id=xm_market.asset_id,
                               quantity=5 * T, reserve_price=PRICE, min_increment=10_000,
                               end_at=timezone.now() + timedelta(days=7), provenance=c_provenance, title="竞价")

    listing = listing_create(actor=actor(w.members["owner"]), seller=o["B"], kind="negotiated",
                             asset_id=xm_market.asset_id, quantity=2 * T, price=PRICE, named_buyer_id=o["C"].id,
                             end_at=timezone.now() + timedelta(days=7),
                             provenance={"reduction_measure": "SCR 脱硝改造", "discharge_permit_no": "P-B-0001"},
                             title="协议转让")
    # a sealed-bid auction by B with C's bid in it, and B's bid in C's English auction
    sealed = listing_create(actor=actor(w.members["owner"]), seller=o["B"], kind="sealed",
                            asset_id=xm_market.asset_id, quantity=2 * T, reserve_price=PRICE,
                            end_at=timezone.now() + timedelta(days=7),
                            provenance={"reduction_measure": "SCR 脱硝改造", "discharge_permit_no": "P-B-0001"},
                            title="密封竞价")
    sealed_bid = listing_bid(actor=actor(c_trader), bidder=o["C"], listing_id=sealed.id, amount=PRICE + 10_000).bid
    english_bid = listing_bid(actor=actor(w.members["owner"]), bidder=o["B"], listing_id=c_auction.id,
                              amount=PRICE).bid
    b_viewer = member(o["B"], "viewer")
    webhook = WebhookEndpoint.objects.create(organization=o["B"], url="https://hooks.example.com/b",
                                             secret="s" * 40, events=[])
    now = timezone.now()
    approval = ApprovalRequest.objects.create(
        trade=trade, rule_codes=["S-SCOPE-002"], jurisdiction="350200", required_approvals=2,
        proposer_user_ids=[w.members["owner"].user_id, c_trader.user_id], region_codes=["350203", "350206"],
        pending_since=now, deadline=now + timedelta(days=3), escalate_at=now + timedelta(days=1))
    alert = Alert.objects.create(kind="off_vwap", severity="medium", fingerprint=f"mx-{_seq()}",
                                 summary="matrix: printed far from VWAP", organization_ids=[o["B"].id],
                                 trade_ids=[trade.id], asset_id=xm_market.asset_id, region_codes=["350203"])
    # --- assistance: a Xiamen (xm_issuer) → Songxi pair with version 1 approved, version 2 pending; a pending
    # payment of the payer; a support commitment of C (buyer) to B (seller) recorded against B's trade
    from assistance import services as assistance_services
    from assistance.models import SupportCommitment

    songxi = org("county_government", "350724", name="松溪县人民政府")
    xm_admin, xm_trader = member(o["xm_issuer"], "admin"), member(o["xm_issuer"], "trader")
    deposit(o["xm_issuer"], 1_000_000)
    pair_v1 = assistance_services.pair_propose(membership=xm_admin, payer=o["xm_issuer"], payee=songxi,
                                               annual_minimum=12_000_000_00, effective_year=now.year)
    assistance_services.agreement_approve(membership=member(o["province"], "approver"), agreement_id=pair_v1.pk)
    pair_v2 = assistance_services.agreement_propose(membership=xm_admin, pair=pair_v1.pair,
                                                    annual_minimum=13_000_000_00, effective_year=now.year + 1)
    assistance_payment, _ = assistance_services.payment_propose(
        membership=xm_trader, idempotency_key=f"mx-asst-{_seq()}", pair=pair_v1.pair, amount=100_00,
        purpose_code="infrastructure", description="matrix", today=timezone.localdate())
    commitment = SupportCommitment.objects.create(trade=trade, supporter=o["C"], beneficiary=o["B"], kind="cash",
                                                  amount=100_00, due_date=timezone.localdate(),
                                                  description="matrix")
    w.ids.update({"assistance_pair": pair_v1.pair_id, "assistance_agreement": pair_v2.pk,
                  "assistance_payment": assistance_payment.pk, "assistance_commitment": commitment.pk})
    # --- end assistance

    # --- compensation (issue #17, branch comptrust): a Fujian-internal basin agreement between the Minhou county
    # government ("county", upstream) and the Siming district government (xm_issuer, downstream) at a section
    # of its own reported by a monitoring station: version 1 signed by both and approved by two people of the
    # provincial regulator (none of them the matrix's columns), version 2 awaiting the signatures (Siming has
    # signed, Minhou not); the 2024 period funded (escrow held) and assessed, its assessment's four-eyes
    # approval pending with no decision yet; twelve monthly measurements; an open objection by Siming's admin
    from accounts.models import Region
    from compensation import services as comp_services
    from compensation.models import CompensationApproval, Indicator, MonitoringSection
    from compensation.models import Period as CompPeriod
    from compensation.reference import ensure_reference as comp_reference

    comp_reference(Region, Basin, Indicator)  # the indicator catalog (data migration 0002)
    deposit(o["county"], 1_000)
    county_admin2 = member(o["county"], "admin")  # proposes (so the "county" column may still sign version 2)
    station = org("monitoring_station", "350000", name="矩阵监测站")
    station_admin = member(station, "admin")
    section = MonitoringSection.objects.create(code=f"mx-sec-{_seq()}", name_zh="矩阵断面", upstream_region_id="350121",
                                               downstream_region_id="350203", station=station)
    comp_spec = dict(
        formula_kind="compliance_tiers",
        terms={"section": section.code, "tiers": [
            {"min_rate": "0.9", "payer": "downstream", "payee": "upstream", "amount": "100.00"},
            {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "100.00"}]},
        parties=[{"organization": o["county"].id, "role": "upstream", "contribution": "100.00"},
                 {"organization": o["xm_issuer"].id, "role": "downstream", "contribution": "100.00"}],
        sections=[section.code], indicators=[{"indicator": "nh3n", "target_class": 3, "limit": "1.0"}],
        periods=[{"start": "2024-01-01", "end": "2024-12-31"}])
    comp_v1 = comp_services.version_create(membership=county_admin2, code=f"mx-comp-{_seq()}", name_zh="矩阵流域补偿",
                                           **comp_spec)
    for signer in (county_admin2, xm_admin):
        comp_services.version_sign(membership=signer, version_id=comp_v1.pk)
    for decider in (member(o["province"], "approver"), member(o["province"], "admin")):
        comp_services.approval_decide(membership=decider, decision="approve",
                                      approval_id=CompensationApproval.objects.get(version=comp_v1).pk)
    comp_measurements = comp_services.measurements_submit(membership=station_admin, rows=[
        {"section": section.code, "indicator": "nh3n", "month": f"2024-{m:02d}", "value": "0.5", "unit": "mg/L"}
        for m in range(1, 13)])
    comp_period = CompPeriod.objects.get(version=comp_v1)
    comp_services.period_fund(period_id=comp_period.pk)
    comp_assessment = comp_services.period_assess(period_id=comp_period.pk)
    assert comp_assessment is not None and comp_assessment.status == "pending"
    comp_objection = comp_services.objection_raise(membership=xm_admin, assessment_id=comp_assessment.pk,
                                                   reason="matrix")
    comp_v2 = comp_services.version_create(membership=county_admin2, agreement=comp_v1.agreement, **comp_spec)
    comp_services.version_sign(membership=xm_admin, version_id=comp_v2.pk)
    w.ids.update({"comp_agreement": comp_v1.agreement_id, "comp_agreement_code": comp_v1.agreement.code,
                  "comp_version": comp_v2.pk, "comp_section": section.pk, "comp_period": comp_period.pk,
                  "comp_measurement": comp_measurements[0].pk, "comp_assessment": comp_assessment.pk,
                  "comp_approval": comp_assessment.approval.pk, "comp_objection": comp_objection.pk})
    # --- end compensation

    rulebook = RulebookVersion.objects.order_by("-version").first()
    if rulebook is None:
        rulebook = RulebookVersion.objects.create(version=1, effective_from=now - timedelta(days=365),
                                                  description="matrix")
    listing_event = AuditEvent.objects.get(object_type="listing", object_id=str(listing.id), action="listing.create")
    # a market proposal by a second operator admin (the matrix's operator may confirm it: four eyes)
    market_proposal = market_propose(actor=actor(member(o["operator"], "admin")), market=xm_market,
                                     config={"fee_bps": 7}, reason="matrix")

    w.ids = {
        **w.ids,
        "B": o["B"].id, "A": o["A"].id, "C": o["C"].id, "county": o["county"].id,
        "membership": b_viewer.id, "transaction": b_deposit.transaction_id, "market": xm_market.id,
        "fz_market": fz_market.id, "order": sell.order.id, "trade": trade.id, "listing": listing.id,
        "webhook": webhook.id, "approval": approval.id, "alert": alert.id, "rulebook": rulebook.version,
        "region": "350203", "basin": Basin.objects.order_by("code").values_list("code", flat=True).first(),
        "asset_code": xm_market.asset.code, "fz_asset_code": fz_market.asset.code,
        "audit_event": listing_event.id, "movement": movement.id, "verification": verification.id,
        "invitation": invitation.id,
        "market_proposal": market_proposal.id,
        # the fuzzing participant's (A's) own things, and C's public listings
        "A_order": a_sell.order.id, "A_trade": a_trade.id, "A_transaction": a_deposit.transaction_id,
        "A_membership": w.members["trader"].id, "fz_asset": fz_market.asset_id, "c_fixed": c_fixed.id,
        "c_auction": c_auction.id, "sealed": sealed.id, "sealed_bid": sealed_bid.id, "english_bid": english_bid.id,
    }
    w.objects = {"xm_market": xm_market, "fz_market": fz_market, "trade": trade}
    return w


def forget_process_caches():
    from ledger.posting import forget_cached_accounts
    from ledger.services import forget_cached

    forget_cached()
    forget_cached_accounts()
