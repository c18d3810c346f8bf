"""The rulebook's checks. Each rule is a small class with a stable code, the policy it encodes in its
docstring, and a pure `check(ctx) -> Refusal | None`. Which rules apply, with which parameters, is
data (`RulebookVersion` / `Rule`); `RULES` maps a rule kind to its class — the one list of them.

`evaluate(ctx)` runs every enabled rule of the rulebook version in force and returns the first refusal
(or an approval requirement). It is called before an order, bid or listing is accepted (the
counterparty unknown) and again for the trade (both parties known) at match and at settlement.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from accounts.errors import register
from accounts.models import Organization

from .models import RulebookVersion


@dataclass(frozen=True)
class Refusal:
    code: str
    message_params: dict = field(default_factory=dict)
    needs_approval: bool = False
    jurisdiction: str | None = None  # region code of the regulator who must approve


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


class BaseRule:
    code: str = ""
    kind: str = ""

    def __init__(self, params: dict):
        self.params = params

    def check(self, ctx: CheckContext) -> Refusal | None:  # pragma: no cover - interface
        raise NotImplementedError


RULES: dict[str, type[BaseRule]] = {}


def rule(cls: type[BaseRule]) -> type[BaseRule]:
    RULES[cls.kind] = cls
    return cls


def register_rule_code(code: str, zh: str, en: str, status: int = 422) -> str:
    return register(code, status, zh, en)


def rulebook_in_force(at: datetime | None = None) -> RulebookVersion | None:
    at = at or timezone.now()
    return (RulebookVersion.objects.filter(effective_from__lte=at).prefetch_related("rules")
            .order_by("-effective_from", "-version").first())


_cache: dict = {"key": None, "version": None, "rules": []}


def _compiled(at: datetime) -> tuple[int | None, list[BaseRule]]:
    book = rulebook_in_force(at)
    if book is None:
        return None, []
    key = (book.pk, book.version, tuple((r.pk, r.enabled) for r in book.rules.all()))
    if _cache["key"] != key:
        _cache.update(key=key, version=book.version,
                      rules=[RULES[r.kind](r.params) for r in book.rules.all() if r.enabled and r.kind in RULES])
    return _cache["version"], _cache["rules"]


def evaluate(ctx: CheckContext) -> tuple[int | None, Refusal | None]:
    """(rulebook version, first refusal or None). A refusal with `needs_approval` lets a trade proceed
    to approval; any other refusal stops it."""
    version, rules = _compiled(ctx.at)
    approval = None
    for r in rules:
        refusal = r.check(ctx)
        if refusal is None:
            continue
        if refusal.needs_approval:
            approval = approval or refusal
            continue
        return version, refusal
    return version, approval
