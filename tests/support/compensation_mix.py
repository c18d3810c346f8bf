"""Compensation and paired assistance in the invariant suite's mix (tests/system/test_invariants.py).

`CompensationMix` builds, through the services: a cross-provincial agreement (Longyan upstream, Guangdong
downstream; Fujian's and Guangdong's regulators decide, two people each) and a Fujian-internal one
(Zhangzhou → Xiamen; Fujian's regulator), each with twelve monthly periods of 2024 (compliance tiers:
a compliant month → the downstream pays the upstream ¥600, otherwise the upstream pays ¥400; ¥1,000
escrowed per party and period), monthly data drawn from the seed, and parties funded for only five periods
at once (funding fails and is retried: escrow before exposure); plus an approved paired-assistance pair
whose payer proposes and confirms payments (maker–checker). Parties get no cash during the run beyond what
settlements and releases give back.

`op(rng)` is one random step a client thread runs among the trading operations: fund a period, assess
one (objection window already over), decide an approval (a random regulator person: many are refused,
which exercises the four-eyes rules under concurrency), settle an approved assessment, propose / confirm /
reject an assistance payment. `tick()` (the sweeper thread, every second) sends the Celery tick: the
worker, SIGKILLed at random, funds, assesses and settles too. Refusals are DomainErrors (the caller
counts them); anything else is a bug.

After the run: `drain()` funds, assesses, approves and settles to a fixed point; `exposure()`
adds the escrow of funded, unsettled periods to what must be held; `check()` asserts exactly-once: one
`compensation_hold` per funded period, the settlement transactions of a settled assessment and none for
any other, at most one settled assessment per period, one `assistance_payment` per confirmed payment.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.errors import DomainError

SH = ZoneInfo("Asia/Shanghai")
CONTRIBUTION = 1_000_00  # fen per party and period
ASSESS_NOW = datetime.combine(date(2025, 1, 2), time(10), tzinfo=SH)  # the objection window closes 2025-01-12
LIVE = ("funded", "assessed")  # a period whose escrow is held


class CompensationMix:
    def __init__(self, make_org, make_member, fund, seed: int):
        from accounts.models import Basin, Region
        from assistance import services as assistance_services
        from compensation import services
        from compensation.models import CompensationApproval, Indicator, MonitoringSection
        from compensation.reference import ensure_reference

        ensure_reference(Region, Basin, Indicator)
        rng = random.Random(seed)
        self.services = services
        longyan, guangdong = make_org("city_government", "350800"), make_org("provincial_authority", "440000")
        zhangzhou, xiamen = make_org("city_government", "350600"), make_org("city_government", "350200")
        self.parties = [longyan, guangdong, zhangzhou, xiamen]
        for org in self.parties:
            fund(org, cny=5 * CONTRIBUTION)
        admins = {org.id: make_member(org, "admin") for org in self.parties}
        station = make_org("monitoring_station", "350000")
        station_member = make_member(station, "admin")
        fj, gd = make_org("regulator", "350000"), make_org("regulator", "440000")
        self.deciders = [make_member(fj, "approver"), make_member(fj, "admin"), make_member(gd, "approver"),
                         make_member(gd, "admin")]
        self.agreement_ids = []
        months = [date(2024, m, 1) for m in range(1, 13)]
        periods = [{"start": m.isoformat(), "end": (date(2024 + (m.month == 12), m.month % 12 + 1, 1)
                                                      - timedelta(days=1)).isoformat()} for m in months]
        rows = []
        for code, (up, down, upstream_region, downstream_region) in {
                "mix-ting": (longyan, guangdong, "350800", "441400"),
                "mix-jiulong": (zhangzhou, xiamen, "350600", "350200")}.items():
            section = MonitoringSection.objects.create(code=f"{code}-section", name_zh=code,
                                                       upstream_region_id=upstream_region,
                                                       downstream_region_id=downstream_region, station=station)
            version = services.version_create(
                membership=admins[up.id], code=code, name_zh=code, formula_kind="compliance_tiers",
                terms={"section": section.code, "tiers": [
                    {"min_rate": "0.9", "payer": "downstream", "payee": "upstream", "amount": "600.00"},
                    {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "400.00"}]},
                parties=[{"organization": up.id, "role": "upstream", "contribution": "1000.00"},
                         {"organization": down.id, "role": "downstream", "contribution": "1000.00"}],
                sections=[section.code], indicators=[{"indicator": "nh3n", "target_class": 3, "limit": "1.0"}],
                periods=periods)
            for org in (up, down):
                services.version_sign(membership=admins[org.id], version_id=version.pk)
            self._approve(CompensationApproval.objects.get(version=version))
            self.agreement_ids.append(version.agreement_id)
            rows += [{"section": section.code, "indicator": "nh3n", "month": m.isoformat()[:7], "unit": "mg/L",
                      "value": rng.choice(["0.500", "0.800", "1.500"])} for m in months]
        services.measurements_submit(membership=station_member, rows=rows, today=date(2025, 1, 1))

        # paired assistance: Jinjiang pays Changting; a trader proposes, an admin confirms
        payer, payee = make_org("county_government", "350582"), make_org("county_government", "350821")
        fund(payer, cny=50_000_000_00)
        proposal = assistance_services.pair_propose(membership=make_member(payer, "admin"), payer=payer,
                                                    payee=payee, annual_minimum=12_000_000_00,
                                                    effective_year=timezone.localdate().year)
        assistance_services.agreement_approve(membership=self.deciders[0], agreement_id=proposal.pk)
        self.pair = proposal.pair
        self.maker, self.checker = make_member(payer, "trader"), make_member(payer, "admin")

    # --- one random step -----------------------------------------------------------------------------

    def op(self, rng: random.Random) -> str:
        from assistance import services as assistance_services
        from assistance.models import AssistancePayment
        from compensation.models import Assessment, CompensationApproval, Period
        s = self.services
        x = rng.random()
        periods = Period.objects.filter(agreement_id__in=self.agreement_ids)
        if x < 0.15:
            pk = periods.filter(status="scheduled").values_list("id", flat=True).order_by("?").first()
            if pk:
                s.period_fund(period_id=pk)
            return "comp_fund"
        if x < 0.30:
            pk = periods.filter(status="funded").values_list("id", flat=True).order_by("?").first()
            if pk:
                s.period_assess(period_id=pk, now=ASSESS_NOW)
            return "comp_assess"
        if x < 0.55:
            pk = (CompensationApproval.objects.filter(status="pending", assessment__period__in=periods)
                  .values_list("id", flat=True).order_by("?").first())
            if pk:
                decision = "reject" if rng.random() < 0.05 else "approve"
                s.approval_decide(membership=rng.choice(self.deciders), approval_id=pk, decision=decision,
                                  reason="invariant suite")
            return "comp_decide"
        if x < 0.65:
            pk = (Assessment.objects.filter(status="approved", period__in=periods).values_list("id", flat=True)
                  .order_by("?").first())
            if pk:
                s.assessment_settle(assessment_id=pk, now=timezone.now() + timedelta(days=s.OBJECTION_DAYS + 1))
            return "comp_settle"
        if x < 0.80:
            assistance_services.payment_propose(
                membership=self.maker, idempotency_key=f"mix-{rng.getrandbits(48)}", pair=self.pair,
                amount=rng.randint(1, 500) * 100, purpose_code="infrastructure", description="invariant suite")
            return "assistance_propose"
        pk = (AssistancePayment.objects.filter(pair=self.pair, status="pending").values_list("id", flat=True)
              .order_by("?").first())
        if pk:
            if rng.random() < 0.1:
                assistance_services.payment_reject(membership=self.checker, payment_id=pk, reason="invariant suite")
            else:
                assistance_services.payment_confirm(membership=self.checker, payment_id=pk)
        return "assistance_decide"

    @staticmethod
    def tick() -> None:
        """The clock, as beat sends it: the worker (SIGKILLed at random) funds, assesses and settles with the
        real time. Raises when the broker is down (the caller, like beat, just tries again)."""
        from compensation.tasks import compensation_tick

        compensation_tick.delay()

    # --- after the run -------------------------------------------------------------------------------

    def _approve(self, approval) -> None:
        for m in self.deciders:
            try:
                self.services.approval_decide(membership=m, approval_id=approval.pk, decision="approve")
            except DomainError:
                pass  # not this person's (another province's approval, already given, closed)

    def drain(self) -> None:
        """To a fixed point: fund what can be funded, assess, approve (four eyes per province), settle, again
        while that changes anything. Afterwards every period is settled or cannot be funded, so a tick the
        worker still runs changes no balance while the final checks read them."""
        from compensation.models import Assessment, CompensationApproval, Period

        s = self.services
        periods = Period.objects.filter(agreement_id__in=self.agreement_ids)
        while True:
            before = list(periods.order_by("id").values_list("status", flat=True))
            for pk in periods.filter(status="scheduled").values_list("id", flat=True):
                s.period_fund(period_id=pk)
            for pk in periods.filter(status="funded").values_list("id", flat=True):
                s.period_assess(period_id=pk, now=ASSESS_NOW)
            for approval in CompensationApproval.objects.filter(status="pending", assessment__period__in=periods):
                self._approve(approval)
            later = timezone.now() + timedelta(days=s.OBJECTION_DAYS + 1)
            for pk in Assessment.objects.filter(status="approved", period__in=periods).values_list("id", flat=True):
                s.assessment_settle(assessment_id=pk, now=later)
            if list(periods.order_by("id").values_list("status", flat=True)) == before:
                return

    def exposure(self, out: dict, cny_id: int) -> None:
        """The escrow each party must hold: its contribution for every funded, unsettled period."""
        from compensation.models import AgreementParty, Period

        for version_id in Period.objects.filter(agreement_id__in=self.agreement_ids, status__in=LIVE).values_list(
                "version_id", flat=True):
            for org_id, contribution in AgreementParty.objects.filter(version_id=version_id).values_list(
                    "organization_id", "contribution"):
                out[(org_id, cny_id)] += contribution

    def check(self) -> dict:
        from assistance.models import AssistancePayment
        from compensation.models import Assessment, Period
        from ledger.models import LedgerTransaction

        def by_reference(kinds, reference_type):
            found = defaultdict(list)
            for ref, tx in LedgerTransaction.objects.filter(kind__in=kinds, reference_type=reference_type) \
                    .values_list("reference_id", "id"):
                found[int(ref)].append(tx)
            return found

        holds = by_reference(["compensation_hold"], "compensation_period")
        settlements = by_reference(["compensation_transfer", "compensation_release"], "compensation_assessment")
        periods = Period.objects.filter(agreement_id__in=self.agreement_ids)
        settled_per_period = Counter(Assessment.objects.filter(period__in=periods, status="settled")
                                     .values_list("period_id", flat=True))
        statuses = Counter()
        for p in periods:
            statuses[p.status] += 1
            funded = p.status in (*LIVE, "settled")
            assert len(holds[p.pk]) == (1 if funded else 0), (p.pk, p.status, holds[p.pk])
            assert p.hold_transactions == holds[p.pk], (p.pk, p.hold_transactions, holds[p.pk])
            assert settled_per_period[p.pk] == (1 if p.status == "settled" else 0), (p.pk, p.status)
        for a in Assessment.objects.filter(period__in=periods):
            expected = sorted(a.settlement_transactions) if a.status == "settled" else []
            assert sorted(settlements[a.pk]) == expected, (a.pk, a.status, settlements[a.pk], expected)
            if a.status == "settled":
                assert len(expected) == len(set(expected)) >= 1, (a.pk, expected)
        payments = by_reference(["assistance_payment"], "assistance_pair")[self.pair.pk]
        confirmed = list(AssistancePayment.objects.filter(pair=self.pair, status="confirmed")
                         .values_list("transaction_id", flat=True))
        assert sorted(payments) == sorted(confirmed) and len(set(confirmed)) == len(confirmed), (payments, confirmed)
        assert not AssistancePayment.objects.filter(pair=self.pair).exclude(status="confirmed").filter(
            transaction__isnull=False).exists()
        by_tick = Assessment.objects.filter(period__in=periods, computed_at__gt=ASSESS_NOW + timedelta(days=1))
        return {"periods": dict(statuses), "assessments": Assessment.objects.filter(period__in=periods).count(),
                "assessed_by_the_worker": by_tick.count(), "assistance_confirmed": len(confirmed)}
