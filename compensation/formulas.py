"""The three formula kinds of a compensation agreement, as pure functions (no database): data in, the
result and its computation step by step out. Arithmetic is exact (`fractions.Fraction` over the
measured decimals); a ratio shown to a person is rounded half-up to 4 places for display only, the
decision is taken on the exact value. Amounts are integer fen.

* `compliance_tiers` (Tingjiang–Hanjiang, 汀江-韩江): a month complies at a section when every agreed
  indicator is at or below its target-class limit (GB 3838-2002); the monthly compliance rate is
  compliant (section-)months / (section-)months counted (a month with a missing value counts as
  non-compliant, or is left out when the terms say `"missing_month": "excluded"`). The annual indicator
  beside it (the 2016 agreement assesses both the annual and the monthly compliance rate): a section
  complies for the year when each indicator's mean over the months with a value is at or below the same
  limit; the annual compliance rate is complying sections / sections counted. The first tier (highest
  `min_rate` first, then the stricter `min_annual_rate`) whose monthly condition and, when it has one,
  annual condition (`min_annual_rate`) both hold names the payer, the payee, the amount and the central
  reward (`reward`: the `rewarder` party pays the `upstream` one) — "two-way": downstream pays upstream
  when the water is good, upstream pays downstream when it is not. Several sections (`sections`) are
  pooled (`combine: pooled`, the default) or assessed one by one (`per_section`: summed, the two
  directions between two parties netted).
* `composite_index` (Xin'an River style, 新安江): P = K × Σ kᵢ · Cᵢ / C0ᵢ with Cᵢ the mean of the
  period's monthly values of pollutant i, C0ᵢ its baseline, kᵢ its weight and K the stability
  coefficient; P ≤ 1 → the "good" transfer, P > 1 → the "bad" one. A pollutant without any value in the
  period makes the result `insufficient_data` (no transfer; the escrow is released). Several sections:
  P = Σ wₛ·Pₛ / Σ wₛ (`combine: weighted_mean`, the default; `section_weights`, 1 each by default) or one
  decision per section (`per_section`, summed and netted). `good`/`bad` may carry a `reward` too.
* `weighted_allocation` (Fujian's province-wide basin scheme): the fund F is shared among recipients by
  weighted factors, shareⱼ = Σ_f w_f · x_jf / Σ_k x_kf, where the water-quality factor is the
  recipient section's compliance rate and the others are agreed figures (forest cover, water-use
  efficiency…). Amountⱼ = ⌊F · shareⱼ⌋, and the fen left over go one each to the largest remainders
  (ties: lower organization id), so the amounts add up to F exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

MISSING_NON_COMPLIANT, MISSING_EXCLUDED = "non_compliant", "excluded"
POOLED, PER_SECTION, WEIGHTED_MEAN = "pooled", "per_section", "weighted_mean"
REWARDER, CENTRAL_REWARD = "rewarder", "central_reward"


@dataclass
class Target:
    """What a version agrees about one indicator (VersionIndicator)."""

    code: str
    limit: Decimal | None = None
    baseline: Decimal | None = None
    weight: Decimal | None = None


@dataclass
class Result:
    outcome: str
    transfers: list[dict] = field(default_factory=list)  # {"payer": org, "payee": org, "amount": fen}
    steps: list[dict] = field(default_factory=list)


def months(start: date, end: date) -> list[date]:
    """First days of the months from `start`'s to `end`'s (inclusive)."""
    out, d = [], date(start.year, start.month, 1)
    while d <= end:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def show(x: Fraction | Decimal | int) -> str:
    """A ratio for people: half-up to 4 decimal places."""
    q = Fraction(x)
    return str((Decimal(q.numerator) / Decimal(q.denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _frac(v) -> Fraction:
    return Fraction(Decimal(str(v)))


def compliance_rate(*, section: str, targets: list[Target], data: dict, period_months: list[date],
                    missing: str = MISSING_NON_COMPLIANT) -> tuple[Fraction | None, list[dict]]:
    """(rate, one step per month). `data[(section, indicator, month)]` is the value in force. None when no
    month is counted."""
    rows, compliant, counted = [], 0, 0
    for m in period_months:
        values = {t.code: data.get((section, t.code, m)) for t in targets}
        if any(v is None for v in values.values()):
            state = "missing"
            if missing == MISSING_NON_COMPLIANT:
                counted += 1
        else:
            ok = all(Decimal(values[t.code]) <= t.limit for t in targets)
            state = "compliant" if ok else "non_compliant"
            counted += 1
            compliant += ok
        rows.append({"month": m.isoformat()[:7], "values": {k: (None if v is None else str(v))
                                                           for k, v in values.items()}, "state": state})
    rate = Fraction(compliant, counted) if counted else None
    return rate, rows


def _party(roles: dict[str, list[int]], role: str) -> int:
    ids = roles.get(role) or []
    if len(ids) != 1:
        raise ValueError(f"the terms name role {role!r}, which needs exactly one party")
    return ids[0]


def _transfer(roles, rule: dict) -> list[dict]:
    """The transfers one outcome rule makes: the horizontal compensation (payer → payee, `amount`) and the
    central government's reward (`reward`: the `rewarder` party → the `upstream` party), each only when
    its amount is not zero. A reward transfer is marked `"kind": "central_reward"`."""
    out = []
    amount = int(rule.get("amount", 0))
    if amount and rule.get("payer"):
        out.append({"payer": _party(roles, rule["payer"]), "payee": _party(roles, rule["payee"]), "amount": amount})
    reward = int(rule.get("reward", 0) or 0)
    if reward:
        out.append({"payer": _party(roles, REWARDER), "payee": _party(roles, "upstream"), "amount": reward,
                    "kind": CENTRAL_REWARD})
    return out


def _describe(rule: dict, transfers: list[dict]) -> str:
    parts = []
    if any(t.get("kind") != CENTRAL_REWARD for t in transfers):
        parts.append(f"{rule['payer']} pays {rule['payee']}")
    if any(t.get("kind") == CENTRAL_REWARD for t in transfers):
        parts.append("central reward to upstream")
    return "; ".join(parts) or "no transfer"


def section_codes(terms: dict) -> list[str]:
    """The sections an agreement assesses: `sections` (several) or `section` (one, the original form)."""
    return list(terms.get("sections") or [terms["section"]])


def _net(transfers: list[dict]) -> list[dict]:
    """Several sections assessed separately: the transfers summed per (payer, payee, kind), and the
    compensation between two parties netted across the two directions (what one owes the other for one
    section offsets what the other owes it for another). Netting never raises a payment, so the escrow
    that covers the gross sum covers the net one."""
    gross: dict[tuple, int] = {}
    for t in transfers:
        key = (t["payer"], t["payee"], t.get("kind", ""))
        gross[key] = gross.get(key, 0) + t["amount"]
    out = []
    for (payer, payee, kind), amount in sorted(gross.items()):
        if kind:
            out.append({"payer": payer, "payee": payee, "amount": amount, "kind": kind})
            continue
        back = gross.get((payee, payer, ""), 0)
        if amount > back:
            out.append({"payer": payer, "payee": payee, "amount": amount - back})
    return out


def _exact(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}"


def annual_state(*, section: str, targets: list[Target], data: dict, period_months: list[date]) -> dict:
    """The annual indicator at one section: each indicator's mean over the period's months that have a
    value, against its target-class limit. `state` is compliant (every mean ≤ its limit), non_compliant,
    or missing (an indicator has no value in the period)."""
    means, state = {}, "compliant"
    for t in targets:
        values = [_frac(data[(section, t.code, m)]) for m in period_months if (section, t.code, m) in data]
        if not values:
            means[t.code] = {"months": 0, "mean": None, "limit": str(t.limit), "ok": None}
            state = "missing"
            continue
        mean = sum(values, Fraction(0)) / len(values)
        ok = mean <= _frac(t.limit)
        means[t.code] = {"months": len(values), "mean": show(mean), "mean_exact": _exact(mean),
                         "limit": str(t.limit), "ok": ok}
        if not ok and state != "missing":
            state = "non_compliant"
    return {"state": state, "indicators": means}


def tier_order(tiers: list[dict]) -> list[dict]:
    """Highest `min_rate` first; for equal monthly thresholds the stricter annual condition first."""
    return sorted(tiers, key=lambda t: (_frac(t["min_rate"]), _frac(t.get("min_annual_rate") or 0)), reverse=True)


def pick_tier(tiers: list[dict], rate: Fraction, annual: Fraction | None) -> dict:
    """The first tier (in `tier_order`) whose monthly condition (min_rate ≤ monthly rate) and annual
    condition (min_annual_rate ≤ annual rate, when the tier has one) both hold. The terms always have a
    tier at min_rate 0 without an annual condition, so every rate has a tier."""
    for t in tier_order(tiers):
        if _frac(t["min_rate"]) > rate:
            continue
        need = t.get("min_annual_rate")
        if need is None or (annual is not None and _frac(need) <= annual) or _frac(need) == 0:
            return t
    raise ValueError("no tier applies: the terms need a tier at min_rate 0 without an annual condition")


def reachable_tiers(tiers: list[dict]) -> list[dict]:
    """The tiers some outcome can select. A tier is shadowed (never selected) when a tier tried before it
    asks for no more on both rates (min_rate' ≤ min_rate and min_annual_rate' ≤ min_annual_rate, a missing
    annual condition counting as 0): whenever its conditions hold, the earlier one's hold too. Given
    `tier_order`, only a repeat of an earlier tier's two thresholds is shadowed; every other tier is
    selected when the two rates equal its own thresholds (as real numbers: with few months a threshold
    between two attainable fractions is only approached — the escrow is then on the safe side)."""
    def need(t):
        return _frac(t.get("min_annual_rate") or 0)

    out, tried = [], []
    for t in tier_order(tiers):
        if not any(_frac(u["min_rate"]) <= _frac(t["min_rate"]) and need(u) <= need(t) for u in tried):
            out.append(t)
        tried.append(t)
    return out


def _tier_view(tier: dict) -> dict:
    return {k: (int(v) if k in ("amount", "reward") else str(v)) for k, v in tier.items()}


def _rates(sections, monthly, annual, missing):
    """(monthly rate, annual rate, counts) over `sections`: pooled section-months and sections."""
    compliant = sum(monthly[s]["compliant"] for s in sections)
    counted = sum(monthly[s]["counted"] for s in sections)
    a_ok = sum(annual[s]["state"] == "compliant" for s in sections)
    a_counted = sum(annual[s]["state"] != "missing" or missing == MISSING_NON_COMPLIANT for s in sections)
    rate = Fraction(compliant, counted) if counted else None
    arate = Fraction(a_ok, a_counted) if a_counted else None
    return rate, arate, {"compliant_months": compliant, "counted_months": counted,
                         "compliant_sections": a_ok, "counted_sections": a_counted}


def compliance_tiers(*, terms: dict, targets: list[Target], data: dict, period_months: list[date],
                     roles: dict[str, list[int]]) -> Result:
    missing = terms.get("missing_month", MISSING_NON_COMPLIANT)
    sections = section_codes(terms)
    combine = terms.get("combine", POOLED)
    limits = {t.code: str(t.limit) for t in targets}
    steps = [{"step": 1, "rule": "inputs: monthly values at each section; a month complies when every indicator "
                                 "is at or below its target-class limit; the annual indicator compares each "
                                 "indicator's mean over the period with the same limit",
              "values": {"sections": sections, "limits": limits, "missing_month": missing, "combine": combine,
                         "tiers": [_tier_view(t) for t in tier_order(terms["tiers"])]}}]
    monthly, annual = {}, {}
    for s in sections:
        _rate, rows = compliance_rate(section=s, targets=targets, data=data, period_months=period_months,
                                      missing=missing)
        monthly[s] = {"months": rows, "compliant": sum(r["state"] == "compliant" for r in rows),
                      "counted": sum(r["state"] != "missing" or missing == MISSING_NON_COMPLIANT for r in rows)}
        annual[s] = annual_state(section=s, targets=targets, data=data, period_months=period_months)
    # the annual indicator sits beside the monthly rows of its section (step 2), so that step 3 is the rates
    steps.append({"step": 2, "rule": "monthly compliance per section, and the annual indicator: each indicator's "
                                     "mean over the months with a value ≤ its limit (a section missing an "
                                     "indicator all period is counted as a missing month is)",
                  "values": ({"months": monthly[sections[0]]["months"], "annual": annual[sections[0]]}
                             if len(sections) == 1 else
                             {s: {"months": monthly[s]["months"], "annual": annual[s]} for s in sections})})
    groups = [[s] for s in sections] if combine == PER_SECTION else [sections]
    transfers, outcomes = [], []
    for group in groups:
        rate, arate, counts = _rates(group, monthly, annual, missing)
        label = group[0] if combine == PER_SECTION else "pooled"
        if rate is None:
            steps.append({"step": len(steps) + 1, "rule": f"{label}: no month counted: no transfer",
                          "values": counts})
            outcomes.append(f"{label}: insufficient data" if combine == PER_SECTION else "insufficient_data")
            continue
        steps.append({"step": len(steps) + 1,
                      "rule": f"{label}: monthly compliance rate = compliant (section-)months / counted "
                              "(section-)months; annual compliance rate = sections whose annual means comply / "
                              "sections counted",
                      "values": {**counts, "compliant": counts["compliant_months"], "counted": counts["counted_months"],
                                 "rate": show(rate), "rate_exact": _exact(rate),
                                 "annual_rate": None if arate is None else show(arate),
                                 "annual_rate_exact": None if arate is None else _exact(arate)}})
        tier = pick_tier(terms["tiers"], rate, arate)
        made = _transfer(roles, tier)
        cond = f"rate ≥ {tier['min_rate']}" + (f" and annual rate ≥ {tier['min_annual_rate']}"
                                               if tier.get("min_annual_rate") is not None else "")
        steps.append({"step": len(steps) + 1, "rule": f"{label}: tier {cond} → {_describe(tier, made)}",
                      "values": {"tier": _tier_view(tier), "transfers": made}})
        transfers += made
        outcomes.append(f"rate {show(rate)}" + ("" if arate is None else f", annual {show(arate)}")
                        + f": {_describe(tier, made)}")
    if combine == PER_SECTION:
        net = _net(transfers)
        steps.append({"step": len(steps) + 1, "rule": "sections summed; compensation between two parties netted",
                      "values": {"gross": transfers, "transfers": net}})
        return Result(("; ".join(outcomes))[:200], net, steps)
    if outcomes == ["insufficient_data"]:
        return Result("insufficient_data", [], steps)
    return Result(outcomes[0], transfers, steps)


def _composite_p(section, targets, data, period_months, k):
    """(P, per-pollutant values, missing pollutants) at one section."""
    out, total, missing = {}, Fraction(0), []
    for t in targets:
        values = [_frac(data[(section, t.code, m)]) for m in period_months if (section, t.code, m) in data]
        if not values:
            missing.append(t.code)
            continue
        mean = sum(values, Fraction(0)) / len(values)
        contribution = _frac(t.weight) * mean / _frac(t.baseline)
        total += contribution
        out[t.code] = {"months": len(values), "mean": show(mean), "ratio": show(mean / _frac(t.baseline)),
                       "weighted": show(contribution)}
    return (None if missing else k * total), total, out, missing


def composite_index(*, terms: dict, targets: list[Target], data: dict, period_months: list[date],
                    roles: dict[str, list[int]]) -> Result:
    sections = section_codes(terms)
    k = _frac(terms["stability_coefficient"])
    combine = terms.get("combine", WEIGHTED_MEAN)
    weights = {s: _frac((terms.get("section_weights") or {}).get(s, "1")) for s in sections}
    steps = [{"step": 1, "rule": "inputs: P = K × Σ kᵢ·Cᵢ/C0ᵢ; Cᵢ the mean of the period's monthly values",
              "values": {"section": sections[0], "sections": sections, "K": str(terms["stability_coefficient"]),
                         "weights": {t.code: str(t.weight) for t in targets},
                         "baselines": {t.code: str(t.baseline) for t in targets},
                         **({"combine": combine, "section_weights": {s: show(w) for s, w in weights.items()}}
                            if len(sections) > 1 else {})}}]
    per = {s: _composite_p(s, targets, data, period_months, k) for s in sections}
    if len(sections) == 1:
        steps.append({"step": 2, "rule": "per pollutant: mean Cᵢ, Cᵢ/C0ᵢ and kᵢ·Cᵢ/C0ᵢ", "values": per[sections[0]][2]})
    else:
        steps.append({"step": 2, "rule": "per section, per pollutant: mean Cᵢ, Cᵢ/C0ᵢ and kᵢ·Cᵢ/C0ᵢ; P of the section",
                      "values": {s: {**v[2], "P": None if v[0] is None else show(v[0]),
                                     "P_exact": None if v[0] is None else _exact(v[0]), "missing": v[3]}
                                 for s, v in per.items()}})

    def decide(p, label):
        good = p <= 1
        rule = terms["good" if good else "bad"]
        made = _transfer(roles, rule)
        steps.append({"step": len(steps) + 1, "rule": f"{label}P ≤ 1: " if good else f"{label}P > 1: ",
                      "values": {"transfers": made}})
        steps[-1]["rule"] += _describe(rule, made)
        return made, f"{label}P {show(p)}: {_describe(rule, made)}"

    if combine == PER_SECTION and len(sections) > 1:
        transfers, outcomes = [], []
        for s in sections:
            p = per[s][0]
            if p is None:
                steps.append({"step": len(steps) + 1, "rule": f"{s}: a pollutant has no value: no transfer",
                              "values": {"missing": per[s][3]}})
                outcomes.append(f"{s}: insufficient data")
                continue
            made, text = decide(p, f"{s}: ")
            transfers += made
            outcomes.append(text)
        net = _net(transfers)
        steps.append({"step": len(steps) + 1, "rule": "sections summed; compensation between two parties netted",
                      "values": {"gross": transfers, "transfers": net}})
        return Result("; ".join(outcomes)[:200], net, steps)
    missing = sorted({c for v in per.values() for c in v[3]})
    if missing:
        steps.append({"step": 3, "rule": "a pollutant has no value in the period: no transfer",
                      "values": {"missing": missing}})
        return Result("insufficient_data", [], steps)
    if len(sections) == 1:
        p, total = per[sections[0]][0], per[sections[0]][1]
        steps.append({"step": 3, "rule": "P = K × Σ",
                      "values": {"sum": show(total), "P": show(p), "P_exact": _exact(p)}})
    else:
        p = sum((weights[s] * per[s][0] for s in sections), Fraction(0)) / sum(weights.values(), Fraction(0))
        steps.append({"step": 3, "rule": "P = Σ_s w_s·P_s / Σ_s w_s (weighted mean of the sections' indices)",
                      "values": {"P": show(p), "P_exact": _exact(p)}})
    made, text = decide(p, "")
    return Result(text, made, steps)


def weighted_allocation(*, terms: dict, targets: list[Target], data: dict, period_months: list[date],
                        roles: dict[str, list[int]]) -> Result:
    fund = int(terms["fund"])
    funder = _party(roles, "funder")
    weights = {f: _frac(w) for f, w in terms["factors"].items()}
    recipients = {int(org): spec for org, spec in terms["recipients"].items()}
    x: dict[int, dict[str, Fraction]] = {}
    quality = {}
    for org, spec in sorted(recipients.items()):
        x[org] = {}
        for f in weights:
            if f == "water_quality":
                rate, _rows = compliance_rate(section=spec["section"], targets=targets, data=data,
                                              period_months=period_months,
                                              missing=terms.get("missing_month", MISSING_NON_COMPLIANT))
                x[org][f] = rate or Fraction(0)
                quality[org] = show(x[org][f])
            else:
                x[org][f] = _frac(spec[f])
    steps = [{"step": 1, "rule": "inputs: fund, factor weights, each recipient's factor values (water quality = "
                                 "its section's compliance rate)",
              "values": {"fund": fund, "weights": {f: str(w) for f, w in terms["factors"].items()},
                         "factors": {str(o): {f: show(v) for f, v in fs.items()} for o, fs in x.items()}}}]
    shares = {org: Fraction(0) for org in x}
    for f, w in weights.items():
        column = sum((x[o][f] for o in x), Fraction(0))
        for o in x:
            # a factor nobody scores on is shared equally
            shares[o] += w * (x[o][f] / column if column else Fraction(1, len(x)))
    exact = {o: fund * s for o, s in shares.items()}
    floors = {o: v.numerator // v.denominator for o, v in exact.items()}
    left = fund - sum(floors.values())
    order = sorted(x, key=lambda o: (-(exact[o] - floors[o]), o))
    for o in order[:left]:
        floors[o] += 1
    steps.append({"step": 2, "rule": "shareⱼ = Σ_f w_f · x_jf / Σ_k x_kf",
                  "values": {str(o): show(s) for o, s in shares.items()}})
    steps.append({"step": 3, "rule": "amountⱼ = ⌊F·shareⱼ⌋, the fen left over one each to the largest remainders",
                  "values": {"amounts": {str(o): a for o, a in floors.items()}, "left_over": left}})
    transfers = [{"payer": funder, "payee": o, "amount": a} for o, a in sorted(floors.items()) if a > 0]
    return Result(f"fund {fund} allocated to {len(transfers)} recipients", transfers, steps)


FORMULAS = {"compliance_tiers": compliance_tiers, "composite_index": composite_index,
            "weighted_allocation": weighted_allocation}


def compute(kind: str, **kwargs) -> Result:
    return FORMULAS[kind](**kwargs)


def _rule_payments(roles, rule) -> dict[int, int]:
    out: dict[int, int] = {}
    for t in _transfer(roles, rule):
        out[t["payer"]] = out.get(t["payer"], 0) + t["amount"]
    return out


def worst_case_payments(kind: str, terms: dict, roles: dict[str, list[int]]) -> dict[int, int]:
    """The most each party can be made to pay in one period, over every outcome the terms allow: what the
    escrow must cover (a version whose contributions do not is refused).

    Why it covers every outcome: one group of sections (all of them pooled, or a weighted mean of their
    indices) ends in exactly one outcome rule (a reachable tier, or good/bad), and a rule makes each party
    pay the sum of its transfers (compensation and reward) — so the maximum over the rules bounds it, and
    is what the rule that attains it makes the party pay (exact, not only a bound: a tier no outcome can
    select is left out, `reachable_tiers`). Sections
    assessed separately (`combine: per_section`) each end in one rule: the gross sum is at most n × that
    maximum, and netting only lowers it."""
    out: dict[int, int] = {}
    if kind == "weighted_allocation":
        return {_party(roles, "funder"): int(terms["fund"])}
    rules = reachable_tiers(terms["tiers"]) if kind == "compliance_tiers" else [terms["good"], terms["bad"]]
    for rule in rules:
        for payer, amount in _rule_payments(roles, rule).items():
            out[payer] = max(out.get(payer, 0), amount)
    if terms.get("combine") == PER_SECTION:
        n = len(section_codes(terms))
        out = {p: n * a for p, a in out.items()}
    return out
