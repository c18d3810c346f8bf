"""Each formula kind against hand-computed cases (boundaries, missing months), the two-way direction, and
the escrow covering every outcome (Hypothesis). Pure functions: no database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.formulas import Target, compute, months, worst_case_payments

UP, DOWN = 11, 22
ROLES = {"upstream": [UP], "downstream": [DOWN]}
YEAR = months(date(2024, 1, 1), date(2024, 12, 31))
TIERS = {"section": "s", "tiers": [
    {"min_rate": "0.9", "payer": "downstream", "payee": "upstream", "amount": 10000},
    {"min_rate": "0.75", "payer": "downstream", "payee": "upstream", "amount": 5000},
    {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": 10000}]}
LIMITS = [Target("nh3n", limit=Decimal("1.0")), Target("tp", limit=Decimal("0.2"))]


def year_data(bad: int = 0, missing: int = 0, *, nh3n="0.5", at_limit=False):
    data = {}
    for i, m in enumerate(YEAR):
        if i < missing:
            continue
        data[("s", "nh3n", m)] = (Decimal("1.0") if at_limit
                                  else (Decimal("1.2") if i < missing + bad else Decimal(nh3n)))
        data[("s", "tp", m)] = Decimal("0.2") if at_limit else Decimal("0.1")
    return data


def tiers(data, **terms):
    return compute("compliance_tiers", terms={**TIERS, **terms}, targets=LIMITS, data=data, period_months=YEAR,
                   roles=ROLES)


def test_months_of_a_year_and_across_years():
    assert len(YEAR) == 12 and YEAR[0] == date(2024, 1, 1) and YEAR[-1] == date(2024, 12, 1)
    assert months(date(2024, 11, 15), date(2025, 2, 1)) == [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1),
                                                            date(2025, 2, 1)]


def test_all_compliant_downstream_pays_upstream():
    r = tiers(year_data())
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 10000}]
    assert r.steps[2]["values"]["rate"] == "1.0000"


def test_a_value_at_the_limit_complies():
    assert tiers(year_data(at_limit=True)).transfers[0]["payer"] == DOWN


def test_boundary_rates():
    # 11/12 = 0.9167 ≥ 0.9: the top tier; 10/12 = 0.8333: the middle; 9/12 = 0.75 exactly: still the middle;
    # 8/12 = 0.6667: upstream pays (two-way)
    assert tiers(year_data(bad=1)).transfers == [{"payer": DOWN, "payee": UP, "amount": 10000}]
    assert tiers(year_data(bad=2)).transfers == [{"payer": DOWN, "payee": UP, "amount": 5000}]
    r = tiers(year_data(bad=3))
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 5000}]
    assert r.steps[2]["values"]["rate_exact"] == "3/4"
    assert tiers(year_data(bad=4)).transfers == [{"payer": UP, "payee": DOWN, "amount": 10000}]


def test_exact_rate_not_rounded():
    # 0.9 exactly must reach the 0.9 tier: 9/10 with ten counted months (two excluded as missing)
    r = tiers(year_data(bad=1, missing=2), missing_month="excluded")
    assert r.steps[2]["values"]["rate_exact"] == "9/10"
    assert r.transfers[0]["amount"] == 10000


def test_missing_months_count_as_non_compliant_by_default():
    # 2 months missing, none bad: 10/12 → middle tier; excluded: 10/10 → top tier
    assert tiers(year_data(missing=2)).transfers[0]["amount"] == 5000
    assert tiers(year_data(missing=2), missing_month="excluded").transfers[0]["amount"] == 10000
    months_state = tiers(year_data(missing=2)).steps[1]["values"]["months"]
    assert [m["state"] for m in months_state[:3]] == ["missing", "missing", "compliant"]


def test_a_month_missing_one_indicator_is_missing():
    data = year_data()
    del data[("s", "tp", YEAR[5])]
    r = tiers(data)
    assert r.steps[1]["values"]["months"][5]["state"] == "missing"
    assert r.steps[2]["values"]["compliant"] == 11


def test_no_data_at_all_is_insufficient_with_excluded_months():
    r = tiers({}, missing_month="excluded")
    assert r.outcome == "insufficient_data" and r.transfers == []
    # counted as non-compliant, an empty year is 0/12: upstream pays
    assert tiers({}).transfers == [{"payer": UP, "payee": DOWN, "amount": 10000}]


# --- composite index: P = K × Σ kᵢ·Cᵢ/C0ᵢ -----------------------------------------------------------------

CI_TARGETS = [Target("codmn", baseline=Decimal("3.0"), weight=Decimal("0.25")),
              Target("nh3n", baseline=Decimal("0.5"), weight=Decimal("0.25")),
              Target("tp", baseline=Decimal("0.1"), weight=Decimal("0.25")),
              Target("bod5", baseline=Decimal("2.0"), weight=Decimal("0.25"))]
CI_TERMS = {"section": "s", "stability_coefficient": "0.85",
            "good": {"payer": "downstream", "payee": "upstream", "amount": 3000},
            "bad": {"payer": "upstream", "payee": "downstream", "amount": 3000}}


def ci_data(factor: str, months_=YEAR):
    f = Decimal(factor)
    base = {"codmn": Decimal("3.0"), "nh3n": Decimal("0.5"), "tp": Decimal("0.1"), "bod5": Decimal("2.0")}
    return {("s", code, m): b * f for m in months_ for code, b in base.items()}


def composite(data, **terms):
    return compute("composite_index", terms={**CI_TERMS, **terms}, targets=CI_TARGETS, data=data, period_months=YEAR,
                   roles=ROLES)


def test_composite_index_hand_computed():
    # every pollutant at 1.1 × baseline: Σ = 4 × 0.25 × 1.1 = 1.1; P = 0.85 × 1.1 = 0.935 ≤ 1 → downstream pays
    r = composite(ci_data("1.1"))
    assert r.steps[2]["values"]["P"] == "0.9350"
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 3000}]


def test_composite_index_boundary_p_equal_one_is_good():
    # 0.85 × x = 1 ⇔ x = 20/17: not a finite decimal, so use K = 0.8 and x = 1.25 → P = 1 exactly
    r = composite(ci_data("1.25"), stability_coefficient="0.8")
    assert r.steps[2]["values"]["P_exact"] == "1/1"
    assert r.transfers[0]["payer"] == DOWN
    r = composite(ci_data("1.2501"), stability_coefficient="0.8")
    assert r.transfers == [{"payer": UP, "payee": DOWN, "amount": 3000}]  # P > 1: upstream pays (two-way)


def test_composite_index_mean_over_months_with_data():
    # six months at 1.0 × baseline, six missing: the mean is over the six (1.0), P = 0.85
    r = composite(ci_data("1.0", YEAR[:6]))
    assert r.steps[1]["values"]["codmn"]["months"] == 6
    assert r.steps[2]["values"]["P"] == "0.8500"


def test_composite_index_without_a_pollutant_is_insufficient():
    data = {k: v for k, v in ci_data("1.0").items() if k[1] != "tp"}
    r = composite(data)
    assert r.outcome == "insufficient_data" and r.transfers == []


# --- weighted allocation -----------------------------------------------------------------------------------

A, B, C, F = 1, 2, 3, 9


def test_weighted_allocation_hand_computed_with_remainder():
    # fund 100 fen; factors: water quality 0.5 (compliance rates A 1, B 1/2, C 1/2), forest 0.5 (60, 30, 10)
    # shares: A = 0.5·(1/2) + 0.5·(60/100) = 0.55; B = 0.5·(1/4) + 0.5·(30/100) = 0.275; C = 0.125 + 0.05 = 0.175
    # exact 55, 27.5, 17.5 → floors 55, 27, 17 (1 fen left) → to the larger remainder, tie → lower id: B
    targets = [Target("nh3n", limit=Decimal("1.0"))]
    data = {}
    for i, m in enumerate(YEAR):
        data[("sa", "nh3n", m)] = Decimal("0.5")
        data[("sb", "nh3n", m)] = Decimal("0.5") if i % 2 else Decimal("2")
        data[("sc", "nh3n", m)] = Decimal("0.5") if i % 2 else Decimal("2")
    terms = {"fund": 100, "factors": {"water_quality": "0.5", "forest_cover": "0.5"},
             "recipients": {str(A): {"section": "sa", "forest_cover": "60"},
                            str(B): {"section": "sb", "forest_cover": "30"},
                            str(C): {"section": "sc", "forest_cover": "10"}}}
    r = compute("weighted_allocation", terms=terms, targets=targets, data=data, period_months=YEAR,
                roles={"funder": [F], "recipient": [A, B, C]})
    assert r.transfers == [{"payer": F, "payee": A, "amount": 55}, {"payer": F, "payee": B, "amount": 28},
                           {"payer": F, "payee": C, "amount": 17}]
    assert sum(t["amount"] for t in r.transfers) == 100


# --- escrow covers every outcome ---------------------------------------------------------------------------

values = st.one_of(st.none(), st.decimals(min_value=0, max_value=5, places=3, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=24, max_size=24),
       st.lists(st.tuples(st.decimals(min_value=0, max_value=1, places=2), st.integers(0, 10**6),
                          st.sampled_from(["upstream", "downstream"])), min_size=0, max_size=4),
       st.sampled_from(["non_compliant", "excluded"]))
def test_escrow_covers_every_compliance_outcome(vals, extra_tiers, missing):
    tiers_ = [{"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": 700}] + [
        {"min_rate": str(r), "payer": p, "payee": "upstream" if p == "downstream" else "downstream", "amount": a}
        for r, a, p in extra_tiers]
    terms = {"section": "s", "tiers": tiers_, "missing_month": missing}
    worst = worst_case_payments("compliance_tiers", terms, ROLES)
    data = {}
    for i, m in enumerate(YEAR):
        for j, code in enumerate(("nh3n", "tp")):
            if vals[i * 2 + j] is not None:
                data[("s", code, m)] = vals[i * 2 + j]
    r = compute("compliance_tiers", terms=terms, targets=LIMITS, data=data, period_months=YEAR, roles=ROLES)
    for t in r.transfers:
        assert t["amount"] <= worst[t["payer"]]


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value="0.01", max_value=3, places=2), st.lists(values, min_size=12, max_size=12),
       st.integers(0, 10**6), st.integers(0, 10**6))
def test_escrow_covers_every_composite_outcome(factor, vals, good, bad):
    terms = {**CI_TERMS, "good": {**CI_TERMS["good"], "amount": good}, "bad": {**CI_TERMS["bad"], "amount": bad}}
    worst = worst_case_payments("composite_index", terms, ROLES)
    data = {("s", code, m): v * factor for m, v in zip(YEAR, vals, strict=True) if v is not None
            for code in ("codmn", "nh3n", "tp", "bod5")}
    r = compute("composite_index", terms=terms, targets=CI_TARGETS, data=data, period_months=YEAR, roles=ROLES)
    paid = {}
    for t in r.transfers:
        paid[t["payer"]] = paid.get(t["payer"], 0) + t["amount"]
    assert all(v <= worst[p] for p, v in paid.items())


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9), st.lists(st.integers(0, 1000), min_size=3, max_size=3),
       st.sampled_from([("1",), ("0.5", "0.5"), ("0.3", "0.7")]))
def test_weighted_allocation_pays_exactly_the_fund(fund, forest, weights):
    factors = dict(zip(["forest_cover", "water_use"], weights, strict=False))
    terms = {"fund": fund, "factors": factors,
             "recipients": {str(o): {"forest_cover": str(f), "water_use": str(1000 - f)}
                            for o, f in zip((A, B, C), forest, strict=True)}}
    r = compute("weighted_allocation", terms=terms, targets=[], data={}, period_months=YEAR,
                roles={"funder": [F], "recipient": [A, B, C]})
    assert sum(t["amount"] for t in r.transfers) == fund
    assert worst_case_payments("weighted_allocation", terms, {"funder": [F]}) == {F: fund}
