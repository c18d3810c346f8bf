"""The fidelity rules of issue #17, against hand-computed cases (pure functions, no database):

* the annual indicator beside the monthly one in the compliance-rate tiers (each indicator's mean over
  the period against the target-class limit; a tier may require a minimum annual compliance rate);
* the central government's reward to the upstream party, by the tier (or good/bad rule) reached;
* several sections in one tiers or composite agreement (pooled / weighted mean / per section, netted);
* and, with Hypothesis, the escrow (`worst_case_payments`) covering every outcome under these rules; the
  two-way direction still holds."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.formulas import (
    Target,
    annual_state,
    compute,
    months,
    pick_tier,
    worst_case_payments,
)

UP, DOWN, MOF = 11, 22, 33
ROLES = {"upstream": [UP], "downstream": [DOWN], "rewarder": [MOF]}
YEAR = months(date(2024, 1, 1), date(2024, 12, 31))
NH3N = [Target("nh3n", limit=Decimal("1.0"))]
# the demo's shape: the top tier needs the annual indicator too, and the reward follows the tier reached
TIERS = [{"min_rate": "0.8", "min_annual_rate": "1", "payer": "downstream", "payee": "upstream", "amount": 100,
          "reward": 30},
         {"min_rate": "0.75", "payer": "downstream", "payee": "upstream", "amount": 50, "reward": 15},
         {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": 100}]


def series(section: str, values: list[str | None], code="nh3n") -> dict:
    return {(section, code, m): Decimal(v) for m, v in zip(YEAR, values, strict=True) if v is not None}


def tiers(data, sections=("a",), **terms):
    return compute("compliance_tiers", terms={"sections": list(sections), "tiers": TIERS, **terms}, targets=NH3N,
                   data=data, period_months=YEAR, roles=ROLES)


# --- 1. the annual indicator -------------------------------------------------------------------------------

def test_monthly_rate_reaches_the_top_tier_but_the_annual_mean_fails_it():
    # ten months at 0.5 and two at 6.5 (a spill): monthly 10/12 = 0.8333 ≥ 0.8, but the annual mean is
    # (10 × 0.5 + 2 × 6.5) / 12 = 18/12 = 1.5 > 1.0 → annual rate 0/1 → not the top tier; 0.75 tier: 50 + reward 15
    r = tiers(series("a", ["0.5"] * 10 + ["6.5"] * 2))
    assert r.steps[1]["values"]["annual"]["indicators"]["nh3n"]["mean_exact"] == "3/2"
    assert r.steps[1]["values"]["annual"]["state"] == "non_compliant"
    assert (r.steps[2]["values"]["rate_exact"], r.steps[2]["values"]["annual_rate_exact"]) == ("5/6", "0/1")
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 50},
                           {"payer": MOF, "payee": UP, "amount": 15, "kind": "central_reward"}]
    assert "annual rate ≥ 1" not in r.steps[3]["rule"] and "rate ≥ 0.75" in r.steps[3]["rule"]


def test_an_annual_mean_exactly_at_the_limit_complies():
    # ten months at 0.5 and two at 3.5: mean (5 + 7) / 12 = 1 exactly = the Class III limit → complies
    r = tiers(series("a", ["0.5"] * 10 + ["3.5"] * 2))
    assert r.steps[1]["values"]["annual"]["indicators"]["nh3n"]["mean_exact"] == "1/1"
    assert r.steps[2]["values"]["annual_rate_exact"] == "1/1"
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 100},
                           {"payer": MOF, "payee": UP, "amount": 30, "kind": "central_reward"}]
    # one ten-thousandth more (3.5006 twice: mean 1.0001) fails the annual indicator
    r = tiers(series("a", ["0.5"] * 10 + ["3.5006"] * 2))
    assert r.steps[2]["values"]["annual_rate_exact"] == "0/1" and r.transfers[0]["amount"] == 50


def test_the_annual_mean_is_over_the_months_with_a_value():
    # eleven months at 0.5, December missing: monthly 11/12 (missing counts non-compliant); annual mean 0.5 over 11
    r = tiers(series("a", ["0.5"] * 11 + [None]))
    ind = r.steps[1]["values"]["annual"]["indicators"]["nh3n"]
    assert (ind["months"], ind["mean_exact"], ind["ok"]) == (11, "1/2", True)
    assert r.steps[2]["values"]["rate_exact"] == "11/12" and r.transfers[0]["amount"] == 100


def test_an_indicator_missing_all_period_fails_the_annual_indicator_unless_excluded():
    data = series("a", ["0.5"] * 12) | series("b", [None] * 12)
    st_ = annual_state(section="b", targets=NH3N, data=data, period_months=YEAR)
    assert st_["state"] == "missing"
    # pooled, missing counted: monthly 12/24 = 0.5 → bottom tier (upstream pays: two-way)
    r = tiers(data, sections=("a", "b"))
    assert r.steps[2]["values"]["annual_rate_exact"] == "1/2"
    assert r.transfers == [{"payer": UP, "payee": DOWN, "amount": 100}]
    # missing excluded: monthly 12/12, annual 1/1 (b is not counted) → the top tier
    r = tiers(data, sections=("a", "b"), missing_month="excluded")
    assert (r.steps[2]["values"]["rate_exact"], r.steps[2]["values"]["annual_rate_exact"]) == ("1/1", "1/1")
    assert r.transfers[0]["amount"] == 100


def test_pick_tier_conditions_and_order():
    assert pick_tier(TIERS, Fraction(4, 5), Fraction(1))["amount"] == 100     # rate exactly at the edge 0.8
    assert pick_tier(TIERS, Fraction(4, 5), Fraction(99, 100))["amount"] == 50
    assert pick_tier(TIERS, Fraction(3, 4), None)["amount"] == 50             # no annual condition on 0.75
    assert pick_tier(TIERS, Fraction(749, 1000), Fraction(1))["payer"] == "upstream"
    # equal monthly thresholds: the stricter annual condition is tried first
    two = [{"min_rate": "0.5", "amount": 1}, {"min_rate": "0.5", "min_annual_rate": "0.5", "amount": 2},
           {"min_rate": "0", "amount": 3}]
    assert pick_tier(two, Fraction(1, 2), Fraction(1, 2))["amount"] == 2
    assert pick_tier(two, Fraction(1, 2), Fraction(0))["amount"] == 1
    with pytest.raises(ValueError):
        pick_tier([{"min_rate": "0", "min_annual_rate": "1"}], Fraction(0), Fraction(0))


# --- 2. the central reward ------------------------------------------------------------------------------

def test_the_reward_follows_the_tier_and_goes_to_upstream_only():
    bad = tiers(series("a", ["2"] * 12))  # every month over the limit: 0/12 → upstream pays, no reward
    assert bad.transfers == [{"payer": UP, "payee": DOWN, "amount": 100}]
    good = tiers(series("a", ["0.5"] * 12))
    assert [t for t in good.transfers if t.get("kind") == "central_reward"] == [
        {"payer": MOF, "payee": UP, "amount": 30, "kind": "central_reward"}]
    assert "central reward to upstream" in good.outcome
    # a reward in the terms without a rewarder party is an error, not a silent skip
    with pytest.raises(ValueError):
        compute("compliance_tiers", terms={"section": "a", "tiers": TIERS}, targets=NH3N,
                data=series("a", ["0.5"] * 12), period_months=YEAR, roles={"upstream": [UP], "downstream": [DOWN]})


# --- 3. several sections ---------------------------------------------------------------------------------

def test_pooled_sections_rate_over_section_months():
    # a: 1 bad month, b: 2 bad (1.2 > 1.0, annual means (11·0.5+1.2)/12 and (10·0.5+2.4)/12 both < 1)
    data = series("a", ["1.2"] + ["0.5"] * 11) | series("b", ["1.2"] * 2 + ["0.5"] * 10)
    r = tiers(data, sections=("a", "b"))
    v = r.steps[2]["values"]
    assert (v["compliant_months"], v["counted_months"], v["rate_exact"], v["annual_rate_exact"]) == (21, 24, "7/8",
                                                                                                    "1/1")
    assert r.transfers[0]["amount"] == 100
    # 18/24 = 0.75 exactly (a: 3 bad, b: 3 bad): the 0.75 tier
    data = series("a", ["1.2"] * 3 + ["0.5"] * 9) | series("b", ["1.2"] * 3 + ["0.5"] * 9)
    r = tiers(data, sections=("a", "b"))
    assert r.steps[2]["values"]["rate_exact"] == "3/4" and r.transfers[0]["amount"] == 50


def test_per_section_tiers_summed_and_netted():
    # a: 12/12 → downstream pays 100 (+ reward 30); b: 8/12 → upstream pays 100: the compensation nets to 0
    data = series("a", ["0.5"] * 12) | series("b", ["1.2"] * 4 + ["0.5"] * 8)
    r = tiers(data, sections=("a", "b"), combine="per_section")
    assert r.steps[-1]["values"]["gross"] == [
        {"payer": DOWN, "payee": UP, "amount": 100},
        {"payer": MOF, "payee": UP, "amount": 30, "kind": "central_reward"},
        {"payer": UP, "payee": DOWN, "amount": 100}]
    assert r.transfers == [{"payer": MOF, "payee": UP, "amount": 30, "kind": "central_reward"}]
    # both good: 200 and two rewards
    data = series("a", ["0.5"] * 12) | series("b", ["0.5"] * 12)
    r = tiers(data, sections=("a", "b"), combine="per_section")
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 200},
                           {"payer": MOF, "payee": UP, "amount": 60, "kind": "central_reward"}]
    assert worst_case_payments("compliance_tiers", {"sections": ["a", "b"], "combine": "per_section",
                                                    "tiers": TIERS}, ROLES) == {DOWN: 200, MOF: 60, UP: 200}


CI = [Target("codmn", baseline=Decimal("3.0"), weight=Decimal("0.5")),
      Target("nh3n", baseline=Decimal("0.5"), weight=Decimal("0.5"))]
CI_TERMS = {"sections": ["a", "b"], "stability_coefficient": "0.85",
            "good": {"payer": "downstream", "payee": "upstream", "amount": 3000, "reward": 1000},
            "bad": {"payer": "upstream", "payee": "downstream", "amount": 3000}}


def ci(section, factor):
    f = Decimal(factor)
    return {(section, "codmn", m): Decimal("3.0") * f for m in YEAR} | {(section, "nh3n", m): Decimal("0.5") * f
                                                                       for m in YEAR}


def test_composite_weighted_mean_of_section_indices():
    # a at 1.0 × baseline: P_a = 0.85; b at 1.4 ×: P_b = 0.85 × 1.4 = 1.19; equal weights: P = 2.04/2 = 1.02 > 1
    data = ci("a", "1.0") | ci("b", "1.4")
    r = compute("composite_index", terms=CI_TERMS, targets=CI, data=data, period_months=YEAR, roles=ROLES)
    assert r.steps[1]["values"]["b"]["P_exact"] == "119/100"
    assert r.steps[2]["values"]["P_exact"] == "51/50"
    assert r.transfers == [{"payer": UP, "payee": DOWN, "amount": 3000}]
    # weights 3 : 1 → (3 × 0.85 + 1.19) / 4 = 0.935 ≤ 1 → downstream pays, and the reward
    r = compute("composite_index", terms={**CI_TERMS, "section_weights": {"a": "3", "b": "1"}}, targets=CI,
                data=data, period_months=YEAR, roles=ROLES)
    assert r.steps[2]["values"]["P_exact"] == "187/200"
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 3000},
                           {"payer": MOF, "payee": UP, "amount": 1000, "kind": "central_reward"}]


def test_composite_weighted_mean_exactly_one_is_good_and_a_missing_section_is_insufficient():
    # K = 0.8: a at 1.0 → 0.8, b at 1.5 → 1.2; mean 1 exactly → P ≤ 1: good
    data = ci("a", "1.0") | ci("b", "1.5")
    r = compute("composite_index", terms={**CI_TERMS, "stability_coefficient": "0.8"}, targets=CI, data=data,
                period_months=YEAR, roles=ROLES)
    assert r.steps[2]["values"]["P_exact"] == "1/1" and r.transfers[0]["payer"] == DOWN
    r = compute("composite_index", terms=CI_TERMS, targets=CI, data=ci("a", "1.0"), period_months=YEAR, roles=ROLES)
    assert r.outcome == "insufficient_data" and r.transfers == []


def test_composite_per_section_nets_the_two_directions():
    data = ci("a", "1.0") | ci("b", "1.4")  # a good (downstream pays 3000 + reward), b bad (upstream pays 3000)
    r = compute("composite_index", terms={**CI_TERMS, "combine": "per_section"}, targets=CI, data=data,
                period_months=YEAR, roles=ROLES)
    assert r.transfers == [{"payer": MOF, "payee": UP, "amount": 1000, "kind": "central_reward"}]
    # b without data: only a counts
    r = compute("composite_index", terms={**CI_TERMS, "combine": "per_section"}, targets=CI, data=ci("a", "1.0"),
                period_months=YEAR, roles=ROLES)
    assert r.transfers == [{"payer": DOWN, "payee": UP, "amount": 3000},
                           {"payer": MOF, "payee": UP, "amount": 1000, "kind": "central_reward"}]


# --- 4. the escrow covers every outcome under the new rules (Hypothesis) ----------------------------------

amount = st.integers(0, 10**6)
tier_st = st.fixed_dictionaries({
    "min_rate": st.decimals(min_value=0, max_value=1, places=2).map(str),
    "payer": st.sampled_from(["upstream", "downstream"]), "amount": amount, "reward": amount},
    optional={"min_annual_rate": st.decimals(min_value=0, max_value=1, places=2).map(str)})
value = st.one_of(st.none(), st.decimals(min_value=0, max_value=8, places=3, allow_nan=False))


def _paid(transfers):
    out = {}
    for t in transfers:
        out[t["payer"]] = out.get(t["payer"], 0) + t["amount"]
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(tier_st, max_size=4), amount, st.integers(1, 3), st.sampled_from(["pooled", "per_section"]),
       st.sampled_from(["non_compliant", "excluded"]), st.data())
def test_escrow_covers_every_tiers_outcome_with_annual_reward_and_sections(extra, base, n, combine, missing, data):
    tiers_ = [{"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": base}] + [
        {**t, "payee": "upstream" if t["payer"] == "downstream" else "downstream"} for t in extra]
    sections = [f"s{i}" for i in range(n)]
    terms = {"sections": sections, "tiers": tiers_, "combine": combine, "missing_month": missing}
    worst = worst_case_payments("compliance_tiers", terms, ROLES)
    vals = data.draw(st.lists(value, min_size=12 * n * 2, max_size=12 * n * 2))
    measured = {}
    for i, (s, m, code) in enumerate((s, m, c) for s in sections for m in YEAR for c in ("nh3n", "tp")):
        if vals[i] is not None:
            measured[(s, code, m)] = vals[i]
    targets = NH3N + [Target("tp", limit=Decimal("0.2"))]
    r = compute("compliance_tiers", terms=terms, targets=targets, data=measured, period_months=YEAR, roles=ROLES)
    for payer, paid in _paid(r.transfers).items():
        assert paid <= worst[payer]
    assert all(t["amount"] > 0 and t["payer"] != t["payee"] for t in r.transfers)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.decimals(min_value="0.01", max_value=3, places=2)), min_size=3, max_size=3),
       amount, amount, amount, amount, st.sampled_from(["weighted_mean", "per_section"]),
       st.lists(st.integers(0, 5), min_size=3, max_size=3).filter(any))
def test_escrow_covers_every_composite_outcome_with_sections_and_reward(factors, good, bad, rg, rb, combine, w):
    terms = {"sections": ["a", "b", "c"], "stability_coefficient": "0.85", "combine": combine,
             "section_weights": {s: str(x) for s, x in zip("abc", w, strict=True)},
             "good": {"payer": "downstream", "payee": "upstream", "amount": good, "reward": rg},
             "bad": {"payer": "upstream", "payee": "downstream", "amount": bad, "reward": rb}}
    worst = worst_case_payments("composite_index", terms, ROLES)
    measured = {}
    for s, f in zip("abc", factors, strict=True):
        if f is not None:
            measured |= ci(s, str(f))
    r = compute("composite_index", terms=terms, targets=CI, data=measured, period_months=YEAR, roles=ROLES)
    for payer, paid in _paid(r.transfers).items():
        assert paid <= worst[payer]


def test_worst_case_is_reached_by_some_outcome():
    # the bound is not loose for the demo's terms: all-good data makes downstream pay 100 and the rewarder 30,
    # all-bad makes upstream pay 100 — exactly the worst cases
    worst = worst_case_payments("compliance_tiers", {"section": "a", "tiers": TIERS}, ROLES)
    assert worst == {DOWN: 100, MOF: 30, UP: 100}
    assert _paid(tiers(series("a", ["0.5"] * 12)).transfers) == {DOWN: 100, MOF: 30}
    assert _paid(tiers(series("a", ["2"] * 12)).transfers) == {UP: 100}


def test_a_shadowed_tier_does_not_inflate_the_escrow():
    # two tiers with the same thresholds: the first one listed always applies, the repeat never does, so its
    # 999 must not be escrowed — the worst case is what the applied tier makes downstream pay (exact)
    terms = {"section": "a", "tiers": [
        {"min_rate": "0.5", "payer": "downstream", "payee": "upstream", "amount": 10},
        {"min_rate": "0.5", "payer": "downstream", "payee": "upstream", "amount": 999},
        {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": 10}]}
    worst = worst_case_payments("compliance_tiers", terms, ROLES)
    applied = compute("compliance_tiers", terms=terms, targets=NH3N, data=series("a", ["0.5"] * 12),
                      period_months=YEAR, roles=ROLES).transfers
    assert worst[DOWN] == applied[0]["amount"]


def test_every_tier_with_its_own_thresholds_is_selected_at_them():
    # the escrow's worst case is exact: each distinct tier applies when the rates equal its own thresholds
    for tier in TIERS:
        need = Fraction(tier.get("min_annual_rate", "0"))
        assert pick_tier(TIERS, Fraction(tier["min_rate"]), need) is tier
