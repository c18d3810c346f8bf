"""The three formula kinds of a compensation agreement, as pure functions (no database): data in, the
result and its computation step by step out. Arithmetic is exact (`fractions.Fraction` over the
measured decimals); a ratio shown to a person is rounded half-up to 4 places for display only, the
decision is taken on the exact value. Amounts are integer fen.

* `compliance_tiers` (Tingjiang–Hanjiang, 汀江-韩江): a month complies when every agreed indicator at
  the section is at or below its target-class limit (GB 3838-2002); the compliance rate is compliant
  months / months counted (a month with a missing value counts as non-compliant, or is left out when
  the terms say `"missing_month": "excluded"`); the first tier (highest `min_rate` first) whose
  `min_rate` ≤ rate names the payer, the payee and the amount ("two-way": downstream pays upstream when
  the water is good, upstream pays downstream when it is not).
* `composite_index` (Xin'an River style, 新安江): P = K × Σ kᵢ · Cᵢ / C0ᵢ with Cᵢ the mean of the
  period's monthly values of pollutant i, C0ᵢ its baseline, kᵢ its weight and K the stability
  coefficient; P ≤ 1 → the "good" transfer, P > 1 → the "bad" one. A pollutant without any value in the
  period makes the result `insufficient_data` (no transfer; the escrow is released).
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
    amount = int(rule.get("amount", 0))
    if amount == 0 or not rule.get("payer"):
        return []
    return [{"payer": _party(roles, rule["payer"]), "payee": _party(roles, rule["payee"]), "amount": amount}]


def compliance_tiers(*, terms: dict, targets: list[Target], data: dict, period_months: list[date],
                     roles: dict[str, list[int]]) -> Result:
    missing = terms.get("missing_month", MISSING_NON_COMPLIANT)
    section = terms["section"]
    limits = {t.code: str(t.limit) for t in targets}
    rate, rows = compliance_rate(section=section, targets=targets, data=data, period_months=period_months,
                                 missing=missing)
    steps = [{"step": 1, "rule": "inputs: monthly values at the section; a month complies when every indicator "
                                 "is at or below its target-class limit",
              "values": {"section": section, "limits": limits, "missing_month": missing}},
             {"step": 2, "rule": "monthly compliance", "values": {"months": rows}}]
    if rate is None:
        steps.append({"step": 3, "rule": "no month counted: no transfer", "values": {}})
        return Result("insufficient_data", [], steps)
    compliant = sum(r["state"] == "compliant" for r in rows)
    counted = sum(r["state"] != "missing" or missing == MISSING_NON_COMPLIANT for r in rows)
    steps.append({"step": 3, "rule": "compliance rate = compliant months / months counted",
                  "values": {"compliant": compliant, "counted": counted, "rate": show(rate),
                             "rate_exact": f"{rate.numerator}/{rate.denominator}"}})
    tiers = sorted(terms["tiers"], key=lambda t: _frac(t["min_rate"]), reverse=True)
    tier = next(t for t in tiers if _frac(t["min_rate"]) <= rate)
    transfers = _transfer(roles, tier)
    steps.append({"step": 4, "rule": f"tier: rate ≥ {tier['min_rate']} → "
                                     + (f"{tier['payer']} pays {tier['payee']}" if transfers else "no transfer"),
                  "values": {"tier": {k: (str(v) if k != "amount" else int(v)) for k, v in tier.items()},
                             "transfers": transfers}})
    return Result(f"rate {show(rate)}: " + (f"{tier['payer']} pays {tier['payee']}" if transfers else "no transfer"),
                  transfers, steps)


def composite_index(*, terms: dict, targets: list[Target], data: dict, period_months: list[date],
                    roles: dict[str, list[int]]) -> Result:
    section = terms["section"]
    k = _frac(terms["stability_coefficient"])
    steps = [{"step": 1, "rule": "inputs: P = K × Σ kᵢ·Cᵢ/C0ᵢ; Cᵢ the mean of the period's monthly values",
              "values": {"section": section, "K": str(terms["stability_coefficient"]),
                         "weights": {t.code: str(t.weight) for t in targets},
                         "baselines": {t.code: str(t.baseline) for t in targets}}}]
    terms_out, total, missing = {}, Fraction(0), []
    for t in targets:
        values = [_frac(data[(section, t.code, m)]) for m in period_months if (section, t.code, m) in data]
        if not values:
            missing.append(t.code)
            continue
        mean = sum(values, Fraction(0)) / len(values)
        contribution = _frac(t.weight) * mean / _frac(t.baseline)
        total += contribution
        terms_out[t.code] = {"months": len(values), "mean": show(mean), "ratio": show(mean / _frac(t.baseline)),
                             "weighted": show(contribution)}
    steps.append({"step": 2, "rule": "per pollutant: mean Cᵢ, Cᵢ/C0ᵢ and kᵢ·Cᵢ/C0ᵢ", "values": terms_out})
    if missing:
        steps.append({"step": 3, "rule": "a pollutant has no value in the period: no transfer",
                      "values": {"missing": missing}})
        return Result("insufficient_data", [], steps)
    p = k * total
    good = p <= 1
    rule = terms["good" if good else "bad"]
    transfers = _transfer(roles, rule)
    steps.append({"step": 3, "rule": "P = K × Σ", "values": {"sum": show(total), "P": show(p),
                                                            "P_exact": f"{p.numerator}/{p.denominator}"}})
    steps.append({"step": 4, "rule": ("P ≤ 1: " if good else "P > 1: ")
                  + (f"{rule['payer']} pays {rule['payee']}" if transfers else "no transfer"),
                  "values": {"transfers": transfers}})
    return Result(f"P {show(p)}: " + (f"{rule['payer']} pays {rule['payee']}" if transfers else "no transfer"),
                  transfers, steps)


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


def worst_case_payments(kind: str, terms: dict, roles: dict[str, list[int]]) -> dict[int, int]:
    """The most each party can be made to pay in one period, over every outcome the terms allow: what the
    escrow must cover (a version whose contributions do not is refused)."""
    out: dict[int, int] = {}

    def add(rule):
        for t in _transfer(roles, rule):
            out[t["payer"]] = max(out.get(t["payer"], 0), t["amount"])

    if kind == "compliance_tiers":
        for tier in terms["tiers"]:
            add(tier)
    elif kind == "composite_index":
        add(terms["good"])
        add(terms["bad"])
    else:
        out[_party(roles, "funder")] = int(terms["fund"])
    return out
