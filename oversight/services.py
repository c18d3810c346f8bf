"""Regulator actions: rulebook versions, non-attainment flags, freezing participants and halting
markets — each checked against the caller's jurisdiction and audited in its own transaction.

Rulebook versions are immutable (append-only tables): a change is a new version with an effective
time (now or later); the version in force at any moment is the one with the latest `effective_from` at
or before it. Creating a version writes a `rule.change` audit event with every rule it contains.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Membership, Organization, Region
from accounts.services import organization_set_status
from core.errors import DomainError
from marketplace.models import Market, MarketStatus, NonAttainmentFlag, Rule, RulebookVersion
from marketplace.rules import RuleParamsError, validate_rule
from marketplace.services import market_set_status

from .errors import INVALID_RULE, RULEBOOK_FORBIDDEN, RULEBOOK_IN_PAST
from .scope import Scope

PAST_TOLERANCE = timedelta(minutes=1)


def may_change_rulebook(membership: Membership) -> bool:
    scope = Scope(membership)
    return (membership.role in ("admin", "approver") and scope.is_provincial
            and (scope.is_operator or scope.is_regulator))


def _validated(rules: list[dict]) -> list[dict]:
    out = []
    for i, r in enumerate(rules):
        kind, params = r.get("kind"), r.get("params", {})
        try:
            validate_rule(kind, params)
        except RuleParamsError as exc:
            name = "kind" if exc.field == "kind" else f"params.{exc.field}"
            raise DomainError(INVALID_RULE, fields={f"rules[{i}].{name}": exc.message})
        out.append({"kind": kind, "params": params, "enabled": bool(r.get("enabled", True))})
    return out


@transaction.atomic
def rulebook_create(*, actor: Actor, membership: Membership | None, rules: list[dict],
                    effective_from: datetime | None = None, description: str = "") -> RulebookVersion:
    """A new rulebook version holding exactly `rules` ([{kind, params, enabled}]). `membership` None is a
    system call (demo data, migrations)."""
    if membership is not None and not may_change_rulebook(membership):
        raise DomainError(RULEBOOK_FORBIDDEN)
    now = timezone.now()
    effective_from = effective_from or now
    if effective_from < now - PAST_TOLERANCE:
        raise DomainError(RULEBOOK_IN_PAST, fields={"effective_from": "must not be in the past"})
    rules = _validated(rules)
    # serialize version numbering (the version column is unique; two writers would collide otherwise)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [0x0F10_0002])
    number = (RulebookVersion.objects.aggregate(m=Max("version"))["m"] or 0) + 1
    book = RulebookVersion.objects.create(version=number, effective_from=effective_from,
                                          description=description[:200])
    Rule.objects.bulk_create([Rule(rulebook=book, kind=r["kind"], params=r["params"], enabled=r["enabled"])
                              for r in rules])
    audit_record(actor=actor, action="rule.change", object_type="rulebook", object_id=book.version,
                 after={"version": number, "effective_from": effective_from.isoformat(), "description": description,
                        "rules": rules},
                 region_codes=["350000"])
    return book


@transaction.atomic
def non_attainment_flag_create(*, actor: Actor, membership: Membership | None, region: Region, pollutant: str,
                               period_start, period_end) -> NonAttainmentFlag:
    if membership is not None and not Scope(membership).covers(region.code):
        raise DomainError("not_found")
    if period_end < period_start:
        raise DomainError("validation_error", fields={"period_end": "must not be before period_start"})
    flag = NonAttainmentFlag.objects.create(region=region, pollutant=pollutant.upper(), period_start=period_start,
                                            period_end=period_end)
    audit_record(actor=actor, action="rule.change", object_type="non_attainment_flag", object_id=flag.id,
                 after={"region": region.code, "pollutant": flag.pollutant, "period_start": str(period_start),
                        "period_end": str(period_end)},
                 region_codes=[region.code])
    return flag


def organization_freeze(*, actor: Actor, membership: Membership, organization: Organization, frozen: bool,
                        reason: str) -> Organization:
    """Freeze (suspend) or unfreeze a participant in the caller's jurisdiction. A frozen organization
    cannot place orders, bids or listings, and (with an eligibility rule) its pending trades fail at
    settlement."""
    if not Scope(membership).covers(organization.region_id):
        raise DomainError("not_found")
    return organization_set_status(actor=actor, organization=organization,
                                   status="suspended" if frozen else "active", reason=reason)


def market_halt(*, actor: Actor, membership: Membership, market: Market, halted: bool, reason: str) -> Market:
    """Halt or resume a market whose instrument originates in the caller's jurisdiction."""
    if not Scope(membership).covers(market.asset.origin_region_id):
        raise DomainError("not_found")
    if market.status == MarketStatus.CLOSED:
        raise DomainError("conflict")
    return market_set_status(actor=actor, market=market, status=MarketStatus.HALTED if halted else MarketStatus.OPEN,
                             reason=reason)
