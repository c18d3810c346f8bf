"""The rule framework and its engine: the check context, `BaseRule` and the `RULES` registry (rule kind
→ class), compiling the rulebook versions into rule objects cached by generation, and `evaluate`,
`evaluate_all` and `enforce`. The rule kinds themselves live in one module per subject (water,
emission, scope, price, limits, eligibility); see the package docstring.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.models import Organization
from core.checks import Refusal, register_rule_number
from core.checks import enforce as enforce_refusal
from core.errors import register

from ..models import RulebookVersion
from ..sql import GENERATION_READ, GENERATION_TABLE  # noqa: F401 - re-exported by the rules package
from .facts import Facts, load_facts
from .params import RuleParamsError, str_list

ALL_STAGES = ("order", "listing", "bid", "trade", "settlement")
TRADE_STAGES = ("trade", "settlement")
MAX_AGE = 60.0


@dataclass
class CheckContext:
    stage: str  # "order" | "listing" | "bid" | "trade" | "settlement"
    asset: object  # ledger.models.Asset
    at: datetime
    buyer: Organization | None = None
    seller: Organization | None = None
    price: int | None = None
    quantity: int | None = None
    holdings: callable = None  # (organization, asset) -> current participant balance, for limits
    # the rulebook generation when the caller already read it in this transaction (GENERATION_SQL as a
    # column of its own statement), saving the round trip that checks the compiled rulebook is current
    rules_generation: object = None
    compliance_year: int | None = None  # the surrender stage (`vintage.SurrenderVintageRule`): the year surrendered for


def register_rule_code(code: str, zh: str, en: str, status: int = 422) -> str:
    return register(code, status, zh, en)


class BaseRule:
    """A rule of one kind with its parameters. Common parameters of every kind: `right_types` (list,
    default: the right types whose policy field `default_policy` is set — e.g. the basin-bound ones —,
    or all when the kind names no policy), `subtypes` (list, optional) and `stages` (list, default: the
    kind's `stages`)."""

    code: str = ""
    codes: tuple[str, ...] = ()
    kind: str = ""
    stages: tuple[str, ...] = ALL_STAGES
    default_policy: str | None = None  # a `RightType` policy field (`facts.RightTypePolicy`)

    def __init__(self, params: dict, facts: Facts | None = None):
        params = dict(params or {})
        self.raw_params = params
        default = facts.right_types_where(self.default_policy) if self.default_policy and facts else None
        self.right_types = str_list(params, "right_types", default)
        if "right_type" in params:
            self.right_types = str_list(params, "right_type")
        self.subtypes = [s.upper() for s in (str_list(params, "subtypes") or [])] or None
        stages = str_list(params, "stages")
        if stages:
            unknown = set(stages) - set(ALL_STAGES)
            if unknown:
                raise RuleParamsError("stages", f"unknown stages {sorted(unknown)}")
            self.stages = tuple(stages)
        self.params = self.validate(params)
        self.facts = facts

    def validate(self, params: dict) -> dict:
        """Check and normalize the kind's own parameters; raise RuleParamsError."""
        return params

    def bind(self, rules: list[BaseRule]) -> None:
        """Called once the version's rules are built (a rule may consult its siblings)."""

    def applies(self, ctx: CheckContext) -> bool:
        asset = ctx.asset
        if ctx.stage not in self.stages:
            return False
        if self.right_types is not None and asset.right_type_id not in self.right_types:
            return False
        if self.subtypes is not None and (asset.subtype or "").upper() not in self.subtypes:
            return False
        return True

    def check(self, ctx: CheckContext) -> Refusal | None:  # pragma: no cover - interface
        raise NotImplementedError

    def refuse(self, code: str, **params) -> Refusal:
        return Refusal(code=code, message_params=params, rule_kind=self.kind, check=code)

    # movement helpers
    @staticmethod
    def origin_of(ctx: CheckContext) -> str | None:
        return ctx.asset.origin_region_id or (ctx.seller.region_id if ctx.seller is not None else None)

    @classmethod
    def describe(cls, facts: Facts | None = None) -> dict:
        """The kind for the rulebook API; its default right types as of `facts` (the current ones)."""
        default = facts.right_types_where(cls.default_policy) if cls.default_policy and facts else None
        return {"kind": cls.kind, "codes": list(cls.codes or (cls.code,)), "stages": list(cls.stages),
                "default_right_types": default, "default_right_types_policy": cls.default_policy,
                "policy": " ".join((cls.__doc__ or "").split())}


RULES: dict[str, type[BaseRule]] = {}


def rule(cls: type[BaseRule]) -> type[BaseRule]:
    """Register a rule kind (class decorator); its codes join the one family of numbered checks."""
    RULES[cls.kind] = cls
    policy = " ".join((cls.__doc__ or "").split())
    for code in cls.codes or (cls.code,):
        register_rule_number(code, cls.kind, policy)
    return cls


def validate_rule(kind: str, params: dict) -> dict:
    """Normalized params of a rule (for the rulebook API); raises RuleParamsError."""
    cls = RULES.get(kind)
    if cls is None:
        raise RuleParamsError("kind", f"unknown rule kind; one of {', '.join(sorted(RULES))}")
    if not isinstance(params, dict):
        raise RuleParamsError("params", "an object")
    cls(params, None)
    return params


def rule_kinds(facts: Facts | None = None) -> list[dict]:
    return [RULES[k].describe(facts) for k in sorted(RULES)]


# --- compiling and caching ---------------------------------------------------------------------------

@dataclass
class CompiledBook:
    version: int
    effective_from: datetime
    rules: list[BaseRule]
    by_right_type: dict = field(default_factory=dict)

    def rules_for(self, right_type: str | None) -> list[BaseRule]:
        if right_type not in self.by_right_type:
            self.by_right_type[right_type] = [r for r in self.rules
                                              if r.right_types is None or right_type in r.right_types]
        return self.by_right_type[right_type]


@dataclass
class Compiled:
    generation: object
    built_at: float
    books: list[CompiledBook]  # latest effective_from first
    facts: Facts

    def book_at(self, at: datetime) -> CompiledBook | None:
        for book in self.books:
            if book.effective_from <= at:
                return book
        return None


_lock = threading.Lock()
_state: dict = {"compiled": None}


GENERATION_SQL = f"({GENERATION_READ})"  # the scalar subquery; composed statements use sql.rules_generation()


def _generation():
    with connection.cursor() as cur:
        cur.execute(GENERATION_READ)
        row = cur.fetchone()
    return row[0] if row else None


def _compile(generation) -> Compiled:
    facts = load_facts()
    books = []
    for book in RulebookVersion.objects.prefetch_related("rules").order_by("-effective_from", "-version"):
        built = []
        for r in book.rules.all():
            if r.enabled and r.kind in RULES:
                try:
                    built.append(RULES[r.kind](r.params, facts))
                except RuleParamsError:
                    continue  # the API validates; a rule written around it is skipped, not fatal
        for r in built:
            r.bind(built)
        books.append(CompiledBook(version=book.version, effective_from=book.effective_from, rules=built))
    return Compiled(generation=generation, built_at=time.monotonic(), books=books, facts=facts)


def compiled(generation=None) -> Compiled:
    """The rulebook compiled for the current generation; `generation` when the caller has just read it."""
    if generation is None:
        generation = _generation()
    current = _state["compiled"]
    if current is not None and current.generation == generation and time.monotonic() - current.built_at < MAX_AGE:
        return current
    with _lock:
        current = _compile(generation)
        _state["compiled"] = current
    return current


def invalidate() -> None:
    _state["compiled"] = None


def rulebook_in_force(at: datetime | None = None) -> RulebookVersion | None:
    at = at or timezone.now()
    return (RulebookVersion.objects.filter(effective_from__lte=at).prefetch_related("rules")
            .order_by("-effective_from", "-version").first())


def _refusals(ctx: CheckContext):
    book = compiled(ctx.rules_generation).book_at(ctx.at)
    if book is None:
        return None, iter(())
    right_type = getattr(ctx.asset, "right_type_id", None)
    return book.version, (r.check(ctx) for r in book.rules_for(right_type) if r.applies(ctx))


def evaluate(ctx: CheckContext) -> tuple[int | None, Refusal | None]:
    """(rulebook version, first refusal or None). A refusal with `needs_approval` lets a trade proceed
    to approval; any other refusal stops it. Among approval requirements, one that needs a person's
    approval is returned before a mere public-notice hold."""
    version, results = _refusals(ctx)
    approval = None
    for refusal in results:
        if refusal is None:
            continue
        if not refusal.needs_approval:
            return version, refusal
        if approval is None or (approval.notice_days and not refusal.notice_days):
            approval = refusal
    return version, approval


def evaluate_all(ctx: CheckContext) -> tuple[int | None, list[Refusal]]:
    """(rulebook version, every refusal and approval requirement) — for dossiers and the approval
    workflow, which needs all of them (e.g. a public notice and an approval)."""
    version, results = _refusals(ctx)
    return version, [r for r in results if r is not None]


def enforce(ctx: CheckContext) -> tuple[int | None, Refusal | None]:
    """Run the rulebook and act on it the one way every caller does: a refusal that does not merely
    need approval raises `core.checks.Refused` (an API error with the rule's code); otherwise (rulebook
    version, approval requirement or None) — the caller holds its trade for approval on the latter."""
    version, refusal = evaluate(ctx)
    return version, enforce_refusal(refusal)
