"""The central government's reward and several sections, through the services and the ledger: the
Ministry of Finance is a party of its own (role `rewarder`) that signs, whose reward is escrowed when the
period opens like every contribution, paid into the upstream party's earmarked fund on approval when
the result qualifies, and released otherwise; the version's terms are checked (reward without a
rewarder, a rewarder named as a compensation payer, an escrow short of the largest reward, unknown
sections, a bottom tier with an annual condition)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Region
from compensation import formulas, services
from compensation.models import Assessment, CompensationApproval, MonitoringSection, Period
from compensation.reference import ensure_central_region
from core.errors import DomainError
from core.money import from_minor, to_minor
from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger

from .conftest import approve_all, at
from .test_cycle import cash

TIERS = [{"min_rate": "0.9", "min_annual_rate": "1", "payer": "downstream", "payee": "upstream", "amount": "100.00",
          "reward": "30.00"},
         {"min_rate": "0.75", "payer": "downstream", "payee": "upstream", "amount": "50.00", "reward": "15.00"},
         {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "100.00"}]


@pytest.fixture
def central(world, make_org, make_member, fund):
    ensure_central_region(Region)
    mof = make_org("provincial_authority", "110000", name="财政部")
    fund(mof, cny=1_000_00)
    second = MonitoringSection.objects.create(code="shiku-boundary", name_zh="石窟河省界断面",
                                              basin_id="tingjiang_hanjiang", upstream_region_id="350824",
                                              downstream_region_id="441400", station=world.station)
    return {"mof": mof, "admin": make_member(mof, "admin"), "section": second}


def spec(w, c, **over):
    body = dict(formula_kind="compliance_tiers",
                terms={"sections": [w.section.code, c["section"].code], "tiers": TIERS},
                parties=[{"organization": w.up.id, "role": "upstream", "contribution": "100.00"},
                         {"organization": w.down.id, "role": "downstream", "contribution": "100.00"},
                         {"organization": c["mof"].id, "role": "rewarder", "contribution": "30.00"}],
                sections=[w.section.code, c["section"].code],
                indicators=[{"indicator": "nh3n", "target_class": 3, "limit": "1.0"}],
                periods=[{"start": "2024-01-01", "end": "2024-12-31"}])
    body.update(over)
    return body


def in_force(w, c, **over):
    v = services.version_create(membership=w.up_admin, code="ting2", name_zh="汀江-韩江（双指标）",
                                **spec(w, c, **over))
    for m in (w.up_admin, w.down_admin, c["admin"]):
        services.version_sign(membership=m, version_id=v.pk)
    approve_all(w, CompensationApproval.objects.get(version=v), now=at(date(2023, 12, 1)))
    v.refresh_from_db()
    assert v.status == "in_force"
    return v


def submit(w, c, bad: dict):
    """NH3-N for 2024 at both sections; `bad` maps (section, month) to a value."""
    rows = [{"section": s, "indicator": "nh3n", "month": f"2024-{m:02d}", "unit": "mg/L",
             "value": bad.get((s, m), "0.500")} for s in (w.section.code, c["section"].code) for m in range(1, 13)]
    services.measurements_submit(membership=w.station_member, rows=rows, today=date(2025, 1, 1))


def settle(w, v) -> Assessment:
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=v)
    approve_all(w, a.approval, now=a.objection_until + timedelta(seconds=1))
    a.refresh_from_db()
    assert a.status == "settled"
    return a


@pytest.mark.django_db
def test_the_reward_is_escrowed_signed_for_and_paid_to_upstream(world, central):
    w, c = world, central
    v = in_force(w, c)
    assert set(v.signatures.values_list("organization_id", flat=True)) == {w.up.id, w.down.id, c["mof"].id}
    # the central government's seat is not a region of the agreement: the approval stays Fujian's and Guangdong's
    approval = CompensationApproval.objects.get(version=v)
    assert "110000" not in approval.region_codes and "350800" in approval.region_codes
    submit(w, c, {})
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    mof0 = cash(c["mof"])["participant"]
    assert mof0[1] == 3000  # the reward's escrow is held when the period opens
    # 24/24 section-months, both annual means 0.5 ≤ 1.0 → the top tier: 100 from Guangdong, 30 from the ministry
    a = settle(w, v)
    assert a.transfers == [{"payer": w.down.id, "payee": w.up.id, "amount": 10000},
                           {"payer": c["mof"].id, "payee": w.up.id, "amount": 3000, "kind": "central_reward"}]
    assert cash(w.up)["earmarked"] == (13000, 0)
    assert cash(c["mof"])["participant"] == (mof0[0], 0)
    assert verify_ledger().ok


@pytest.mark.django_db
def test_the_annual_indicator_lowers_the_tier_and_the_reward_and_the_rest_is_released(world, central):
    w, c = world, central
    v = in_force(w, c)
    # two spill months at the second section (6.5 mg/L): monthly 22/24 = 0.9167 ≥ 0.9, but that section's annual
    # mean (10 × 0.5 + 2 × 6.5) / 12 = 1.5 > 1.0: annual rate 1/2 → the 0.75 tier: 50 and a reward of 15
    submit(w, c, {(c["section"].code, 6): "6.500", (c["section"].code, 8): "6.500"})
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    up0, mof0 = cash(w.up)["participant"], cash(c["mof"])["participant"]
    a = settle(w, v)
    rates = a.steps[2]["values"]
    assert (rates["rate_exact"], rates["annual_rate_exact"]) == ("11/12", "1/2")
    assert a.steps[1]["values"]["shiku-boundary"]["annual"]["indicators"]["nh3n"]["mean_exact"] == "3/2"
    assert a.transfers == [{"payer": w.down.id, "payee": w.up.id, "amount": 5000},
                           {"payer": c["mof"].id, "payee": w.up.id, "amount": 1500, "kind": "central_reward"}]
    assert cash(c["mof"])["participant"] == (mof0[0] + 1500, 0)  # half the reward's escrow comes back
    assert cash(w.up)["participant"] == (up0[0] + 10000, 0)
    release = LedgerTransaction.objects.get(pk=a.settlement_transactions[1])
    assert release.kind == "compensation_release"
    assert verify_ledger().ok


@pytest.mark.django_db
def test_no_reward_when_the_water_worsens(world, central):
    w, c = world, central
    v = in_force(w, c)
    bad = {(s, m): "1.200" for s in (w.section.code, c["section"].code) for m in range(1, 8)}  # 10/24 < 0.75
    submit(w, c, bad)
    a = settle(w, v)
    assert a.transfers == [{"payer": w.up.id, "payee": w.down.id, "amount": 10000}]  # two-way: upstream pays
    assert cash(c["mof"])["participant"][1] == 0 and cash(w.down)["earmarked"] == (10000, 0)
    assert Period.objects.get(version=v).status == "settled"


@pytest.mark.django_db
@pytest.mark.parametrize("change, code, field", [
    ("no_rewarder", "invalid_agreement", "terms.tiers[0].reward"),
    ("short_escrow", "escrow_does_not_cover", "parties"),
    ("rewarder_pays_compensation", "invalid_agreement", "terms.tiers[0]"),
    ("unknown_section", "invalid_agreement", "terms.sections"),
    ("bottom_tier_annual", "invalid_agreement", "terms.tiers"),
    ("bad_combine", "invalid_agreement", "terms.combine"),
    ("annual_above_one", "invalid_agreement", "terms.tiers[0].min_annual_rate"),
])
def test_the_terms_are_checked(world, central, change, code, field):
    w, c = world, central
    body = spec(w, c)
    tiers = [dict(t) for t in TIERS]
    if change == "no_rewarder":
        body["parties"] = body["parties"][:2]
    elif change == "short_escrow":
        body["parties"][2]["contribution"] = "29.99"
    elif change == "rewarder_pays_compensation":
        tiers[0]["payer"] = "rewarder"
    elif change == "unknown_section":
        body["terms"] = {**body["terms"], "sections": [w.section.code, "nowhere"]}
    elif change == "bottom_tier_annual":
        tiers[2]["min_annual_rate"] = "0.5"
    elif change == "bad_combine":
        body["terms"] = {**body["terms"], "combine": "average"}
    elif change == "annual_above_one":
        tiers[0]["min_annual_rate"] = "1.5"
    body["terms"] = {**body["terms"], "tiers": tiers}
    with pytest.raises(DomainError) as e:
        services.version_create(membership=w.up_admin, code="x", name_zh="x", **body)
    assert e.value.code == code and field in e.value.fields, e.value.fields


@pytest.mark.django_db
def test_per_section_worst_case_needs_n_times_the_escrow(world, central):
    w, c = world, central
    body = spec(w, c, terms={"sections": [w.section.code, c["section"].code], "combine": "per_section",
                             "tiers": TIERS})
    with pytest.raises(DomainError) as e:  # two sections assessed separately: up to 2 × 100 and 2 × 30
        services.version_create(membership=w.up_admin, code="x", name_zh="x", **body)
    assert e.value.code == "escrow_does_not_cover"
    body["parties"] = [{**p, "contribution": "200.00" if p["role"] != "rewarder" else "60.00"} for p in body["parties"]]
    v = services.version_create(membership=w.up_admin, code="x", name_zh="x", **body)
    assert v.terms["combine"] == "per_section" and v.terms["tiers"][0]["reward"] == 3000


@pytest.mark.django_db
def test_over_http_the_rewarder_signs_and_the_terms_show_yuan(world, central, client_for):
    w, c = world, central
    body = {"code": "ting-http", "name_zh": "汀江-韩江", "basin": "tingjiang_hanjiang", **spec(w, c)}
    r = client_for(w.up_admin).post("/api/v1/compensation/agreements", body, format="json")
    assert r.status_code == 201, r.content
    version = r.json()["versions"][0]
    assert version["terms"]["tiers"][0]["reward"] == "30.00" and version["terms"]["tiers"][0]["min_annual_rate"] == "1"
    assert version["terms"]["sections"] == [w.section.code, c["section"].code]
    assert {p["role"] for p in version["parties"]} == {"upstream", "downstream", "rewarder"}
    url = f"/api/v1/compensation/versions/{version['id']}/sign"
    for m in (w.up_admin, w.down_admin):
        assert client_for(m).post(url, {}, format="json").status_code == 200
    assert not CompensationApproval.objects.filter(version_id=version["id"]).exists()  # the ministry has not signed
    assert client_for(c["admin"]).post(url, {}, format="json").status_code == 200
    assert CompensationApproval.objects.filter(version_id=version["id"]).exists()


_case = iter(range(10**6))
yuan = st.integers(0, 99_999).map(lambda fen: f"{fen // 100}.{fen % 100:02d}")
tier_st = st.fixed_dictionaries({"min_rate": st.sampled_from(["0.25", "0.5", "0.75", "0.9", "1"]),
                                 "payer": st.sampled_from(["upstream", "downstream"]), "amount": yuan,
                                 "reward": yuan},
                                optional={"min_annual_rate": st.sampled_from(["0.5", "1"])})


@pytest.mark.django_db
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.lists(tier_st, max_size=3),
       base=st.integers(1, 99_999).map(lambda f: f"{f // 100}.{f % 100:02d}"),
       combine=st.sampled_from(["pooled", "per_section"]),
       values=st.lists(st.sampled_from([None, "0.500", "1.000", "1.001", "6.500"]), min_size=24, max_size=24))
def test_the_escrow_held_on_the_ledger_covers_every_settled_outcome(world, central, fund, extra, base, combine,
                                                                    values):
    """Through the services: contributions set to exactly the worst case, random data (gaps, values at and
    just above the limit, spills), settled on the ledger — the held escrow always pays (no shortfall), every
    hold is released or paid, and the ledger verifies."""
    w, c, n = world, central, next(_case)
    fund(c["mof"], cny=10_000_00)
    sections = []
    for i in range(2):
        sections.append(MonitoringSection.objects.create(
            code=f"hyp-{n}-{i}", name_zh=f"断面{n}-{i}", upstream_region_id="350824", downstream_region_id="441400",
            station=w.station).code)
    tiers = [{"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": base}] + [
        {**t, "payee": "upstream" if t["payer"] == "downstream" else "downstream"} for t in extra]
    terms = {"sections": sections, "combine": combine, "tiers": tiers}
    roles = {"upstream": [w.up.id], "downstream": [w.down.id], "rewarder": [c["mof"].id]}
    fen_terms = {**terms, "tiers": [{**t, "amount": to_minor(Decimal(t["amount"]), 2),
                                     "reward": to_minor(Decimal(t.get("reward", "0")), 2)} for t in tiers]}
    worst = formulas.worst_case_payments("compliance_tiers", fen_terms, roles)
    parties = [{"organization": org.id, "role": role, "contribution": from_minor(worst.get(org.id, 0), 2)}
               for org, role in ((w.up, "upstream"), (w.down, "downstream"), (c["mof"], "rewarder"))]
    v = services.version_create(membership=w.up_admin, code=f"hyp-{n}", name_zh="性质", formula_kind="compliance_tiers",
                                terms=terms, parties=parties, sections=sections,
                                indicators=[{"indicator": "nh3n", "limit": "1.0"}],
                                periods=[{"start": "2024-01-01", "end": "2024-12-31"}])
    for m in (w.up_admin, w.down_admin, c["admin"]):
        services.version_sign(membership=m, version_id=v.pk)
    approve_all(w, CompensationApproval.objects.get(version=v), now=at(date(2023, 12, 1)))
    rows = [{"section": s, "indicator": "nh3n", "month": f"2024-{m:02d}", "unit": "mg/L",
             "value": values[i * 12 + m - 1]}
            for i, s in enumerate(sections) for m in range(1, 13) if values[i * 12 + m - 1] is not None]
    if rows:
        services.measurements_submit(membership=w.station_member, rows=rows, today=date(2025, 1, 1))
    period = Period.objects.get(version=v)
    services.period_fund(period_id=period.pk, now=at(date(2024, 1, 1)))
    a = services.period_assess(period_id=period.pk, now=at(date(2025, 1, 2)))
    approve_all(w, a.approval, now=a.objection_until + timedelta(seconds=1))
    a.refresh_from_db()
    assert a.status == "settled"
    held = sum(p.contribution for p in v.parties.all())
    paid = sum(t["amount"] for t in a.transfers)
    moved = LedgerTransaction.objects.filter(pk__in=a.settlement_transactions)
    assert paid <= held and moved.count() == (1 if paid else 0) + (1 if paid < held else 0)
    for org in (w.up, w.down, c["mof"]):
        assert cash(org)["participant"][1] == 0  # nothing left held: every fen of escrow paid or released
    assert verify_ledger().ok
