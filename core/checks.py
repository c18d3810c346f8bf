"""The one numbered family of business checks, and `enforce`, the one step every caller of a check takes.

Every business check — the rulebook's configurable rules (`marketplace.rules`, codes such as
`W-BASIN-001`) and the fixed checks of the market, the ledger and listings (market halted, outside the
trading session, tick, lot, instrument expired, positive amount, listing terms, …) — has a stable
*number* in one format, `<subject letter>-<topic>-<nnn>`, and is registered in `CHECKS` (number → check
class). Numbers are never renumbered or reused. A check refuses with an API error *code* of the code
table (`core.errors.CODES`): for a rule the number is the code; a fixed check keeps the snake-case
code the API has always answered with (`market_halted`), so responses do not change, and its number
names it in the registry, the README and the code.

Subjects (first letter of the number):
  Q  parties: eligibility rules, suspended organization, organization kind that may trade
  M  market microstructure: halted/closed, session, tick, lot, minimum quantity, price band
  A  assets and amounts (ledger): validity window, positive amount, issuance evidence, balance
  C  listing conditions: terms of a mechanism, provenance, purchase quantity, bids
  K  compliance cycle (`compliance.checks`): coverage, deadline, obligation, verifier, allocation
  W E S P H L V  the rulebook's kinds (water, emission, scope, price, holding, lot limits, vintages)

A fixed check is a small class: its number, code, subject, the policy in its docstring, and a pure
`check(**facts) -> Refusal | None` that takes the facts it needs by keyword and ignores the rest, so
one call site can run a stage's list of checks over the same facts (`run`). Which checks run at which
stage is a tuple of classes beside the call site (e.g. `marketplace.rules.market.ORDER_CHECKS`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import CODES, DomainError


@dataclass(frozen=True)
class Refusal:
    """A check's answer when it does not simply pass: a refusal, or (`needs_approval`) a requirement
    that lets a trade proceed to approval or a public-notice hold."""

    code: str
    message_params: dict = field(default_factory=dict)
    needs_approval: bool = False
    jurisdiction: str | None = None  # region code of the regulator who must approve
    notice_days: int | None = None  # a public-notice hold (公示): wait this long, objections possible
    notice_working_days: bool = False
    rule_kind: str = ""
    fields: dict = field(default_factory=dict)  # field errors of the API envelope
    check: str = ""  # the refusing check's number (a rule's number is its code)

    @property
    def stops(self) -> bool:
        """A refusal that stops the action (as opposed to one that only asks for approval)."""
        return not self.needs_approval


class Refused(DomainError):
    """A refusal that stops the action, as the API error it answers with (same code, params, fields)."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.code, fields=dict(refusal.fields), **refusal.message_params)
        self.refusal = refusal


def enforce(refusal: Refusal | None) -> Refusal | None:
    """Raise `Refused` for a refusal that stops the action; return an approval requirement (or None)
    for the caller to hold its trade on. The one place that decides "refused, unless it only needs
    approval"."""
    if refusal is not None and not refusal.needs_approval:
        raise Refused(refusal)
    return refusal


class BusinessCheck:
    """A fixed (not configurable) business check. Subclasses set `number`, `code`, `subject`, put the
    policy in the docstring and implement `check` as a classmethod taking keyword facts."""

    number: str = ""
    code: str = ""
    subject: str = ""

    @classmethod
    def check(cls, **facts) -> Refusal | None:  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def refuse(cls, fields: dict | None = None, **params) -> Refusal:
        return Refusal(code=cls.code, message_params=params, fields=fields or {}, check=cls.number)

    @classmethod
    def enforce(cls, **facts) -> None:
        """Run this one check and raise `Refused` when it refuses."""
        enforce(cls.check(**facts))

    @classmethod
    def describe(cls) -> dict:
        return {"number": cls.number, "code": cls.code, "subject": cls.subject, "configurable": False,
                "policy": " ".join((cls.__doc__ or "").split())}


@dataclass(frozen=True)
class RuleEntry:
    """A rulebook code in the registry (the rule kinds' classes are in `marketplace.rules.RULES`; a code
    may belong to kinds that work together, e.g. W-BASIN-002 to basin and inter_basin_transfer)."""

    number: str
    kinds: tuple[str, ...]
    policy: str
    subject: str = "rulebook"

    @property
    def code(self) -> str:
        return self.number

    def describe(self) -> dict:
        return {"number": self.number, "code": self.number, "subject": self.subject, "configurable": True,
                "kinds": list(self.kinds), "policy": self.policy}


CHECKS: dict[str, type[BusinessCheck] | RuleEntry] = {}


def business_check(cls: type[BusinessCheck]) -> type[BusinessCheck]:
    """Register a fixed check (class decorator). Its code must be in the code table already."""
    if not cls.number or cls.code not in CODES:
        raise ValueError(f"{cls.__name__}: a number and a registered code are required")
    existing = CHECKS.get(cls.number)
    if existing is not None and getattr(existing, "__qualname__", None) != cls.__qualname__:
        raise ValueError(f"business check number {cls.number} registered twice")
    CHECKS[cls.number] = cls
    return cls


def register_rule_number(number: str, kind: str, policy: str) -> None:
    """Record a rulebook code in the family (called by `marketplace.rules.rule`)."""
    existing = CHECKS.get(number)
    if existing is None:
        CHECKS[number] = RuleEntry(number=number, kinds=(kind,), policy=policy)
    elif not isinstance(existing, RuleEntry):
        raise ValueError(f"business check number {number} registered twice")
    elif kind not in existing.kinds:
        CHECKS[number] = RuleEntry(number=number, kinds=(*existing.kinds, kind), policy=existing.policy)


def run(checks, **facts) -> None:
    """Run `checks` in order over the same facts; the first refusal raises `Refused`."""
    for check in checks:
        refusal = check.check(**facts)
        if refusal is not None:
            enforce(refusal)


def first_refusal(checks, **facts) -> Refusal | None:
    """The first refusal of `checks` over the facts, or None (for callers that decide themselves)."""
    for check in checks:
        refusal = check.check(**facts)
        if refusal is not None:
            return refusal
    return None


def catalog() -> list[dict]:
    """Every registered check, by number (what the README's table lists)."""
    return [CHECKS[n].describe() for n in sorted(CHECKS)]
