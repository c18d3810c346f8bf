"""The four-eyes rule, once: who may decide (approve, reject, confirm) what another person proposed.

Before this module, oversight (trade approvals), compensation (agreement versions and assessments),
assistance (pair agreements, payments) and reserve (designations) each wrote their own copy of the same
rule. The rule's parts are numbered business checks (`core.checks`, subject letter F):

  F-EYES-001  NotProposer          the decider is an identified person, and not one of the proposers
  F-EYES-002  NotAParty            the decider has no membership (any role, active or not) in any party to
                                   what is decided: the person, not the seat
  F-EYES-003  DecidingSeat         the decider acts as an admin or approver of the exchange operator or of
                                   a regulator
  F-EYES-004  ProvincialRegulator  the decider acts as an admin or approver of a provincial regulator whose
                                   jurisdiction covers every region given
  F-EYES-005  CheckerSeat          the decider acts, in a checker role, for the organization given (a
                                   maker–checker inside one body, e.g. the paying government)
  F-EYES-006  FinalApprover        the final approval comes from a regulator whose jurisdiction is the
                                   one named
  F-EYES-007  ApprovesOnce         one person approves once (approvals count people)

Each app keeps the API codes it always answered with: a `FourEyes` is one caller's rule, its checks in
the caller's order, each step refusing with the caller's registered code (the check's own code, the
oversight one, is the default). The codes and the order a caller evaluates them in are therefore the
same as before; only the logic is shared. What is not the four-eyes rule stays with the caller: whether
the thing is still open, and whether it is in the decider's jurisdiction (visible at all: `not_found`).

Facts (keyword arguments of `FourEyes.enforce`; each check takes the ones it needs):
  user_id       the deciding person (None: not a person, e.g. the system — refused by F-EYES-001)
  proposers     user ids of whoever proposed or made what is decided
  parties       organization ids of the parties to it
  membership    the membership the decision is made through
  regions       region codes the decider's jurisdiction must cover (F-EYES-004)
  organization  the organization id the checker acts for (F-EYES-005); roles: its checker roles
  final         this approval is the final one (F-EYES-006); jurisdiction: the region code named
  approved_by   user ids of the approvals given so far (F-EYES-007)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from accounts.models import Membership
from core.checks import BusinessCheck, Refusal, business_check, enforce

from .errors import (
    ALREADY_APPROVED,
    APPROVER_CONFLICT,
    FINAL_APPROVER_JURISDICTION,
    NOT_AN_APPROVER,
    PROPOSER_CANNOT_DECIDE,
)
from .scope import DECIDING_ROLES, Scope

SUBJECT = "four_eyes"


class EyesCheck(BusinessCheck):
    """A part of the four-eyes rule. `refuse_with(code)` lets a caller keep its own registered code."""

    subject = SUBJECT

    @classmethod
    def refuse_with(cls, code: str | None, **params) -> Refusal:
        return Refusal(code=code or cls.code, message_params=params, check=cls.number)


@business_check
class NotProposer(EyesCheck):
    """Four eyes: the decider is an identified person other than whoever proposed (or made) what is
    decided — the buyer's and seller's order placers, a listing's creator, a version's or payment's
    proposer."""

    number, code = "F-EYES-001", PROPOSER_CANNOT_DECIDE

    @classmethod
    def check(cls, *, user_id: int | None, proposers: Iterable[int | None], code: str | None = None, **_):
        if user_id is None or user_id in set(proposers or ()):
            return cls.refuse_with(code)
        return None


@business_check
class NotAParty(EyesCheck):
    """No approver from a party: a person with any membership (any role, active or not) in a party to
    what is decided may not decide it, whichever membership the decision is made through."""

    number, code = "F-EYES-002", APPROVER_CONFLICT

    @classmethod
    def check(cls, *, user_id: int | None, parties: Iterable[int], code: str | None = None, **_):
        parties = [p for p in parties or () if p is not None]
        if parties and Membership.objects.filter(user_id=user_id, organization_id__in=parties).exists():
            return cls.refuse_with(code)
        return None


@business_check
class DecidingSeat(EyesCheck):
    """Approvals are decided by an admin or approver of the exchange operator or of a regulator."""

    number, code = "F-EYES-003", NOT_AN_APPROVER

    @classmethod
    def check(cls, *, membership: Membership, code: str | None = None, **_):
        scope = Scope(membership)
        if membership.role not in DECIDING_ROLES or not (scope.is_operator or scope.is_regulator):
            return cls.refuse_with(code)
        return None


def is_provincial_regulator(membership: Membership) -> bool:
    """An admin or approver of a regulator whose jurisdiction is a province."""
    org = membership.organization
    return (org.kind == "regulator" and org.jurisdiction is not None and org.jurisdiction.level == "province"
            and membership.role in DECIDING_ROLES)


@business_check
class ProvincialRegulator(EyesCheck):
    """Some approvals are the provincial regulator's alone: an admin or approver of a provincial
    regulator whose jurisdiction covers every region of the parties."""

    number, code = "F-EYES-004", NOT_AN_APPROVER

    @classmethod
    def check(cls, *, membership: Membership, regions: Iterable[str], code: str | None = None, **_):
        if not is_provincial_regulator(membership) or not all(
                membership.organization.jurisdiction.covers(r) for r in regions):
            return cls.refuse_with(code)
        return None


@business_check
class CheckerSeat(EyesCheck):
    """Maker–checker inside one body: the checker acts for the organization whose money moves, in one of
    its checker roles (admin, approver)."""

    number, code = "F-EYES-005", NOT_AN_APPROVER

    @classmethod
    def check(cls, *, membership: Membership, organization: int, roles: Iterable[str] = DECIDING_ROLES,
              code: str | None = None, **_):
        if membership.organization_id != organization or membership.role not in tuple(roles):
            return cls.refuse_with(code)
        return None


@business_check
class FinalApprover(EyesCheck):
    """The final approval is given by a regulator whose jurisdiction is the one the approval names (the
    province for a provincial rule): the operator or another regulator may give a first approval only."""

    number, code = "F-EYES-006", FINAL_APPROVER_JURISDICTION

    @classmethod
    def check(cls, *, membership: Membership, final: bool, jurisdiction: str, code: str | None = None, **_):
        org = membership.organization
        if final and not (org.kind == "regulator" and org.jurisdiction_id == jurisdiction):
            return cls.refuse_with(code, jurisdiction=jurisdiction)
        return None


@business_check
class ApprovesOnce(EyesCheck):
    """Approvals count people: the same person cannot approve twice (through any membership)."""

    number, code = "F-EYES-007", ALREADY_APPROVED

    @classmethod
    def check(cls, *, user_id: int | None, approved_by: Iterable[int], code: str | None = None, **_):
        return cls.refuse_with(code) if user_id in set(approved_by or ()) else None


@dataclass(frozen=True)
class FourEyes:
    """One caller's four-eyes rule: `steps` are (check, the caller's API code or None for the check's
    own), run in order over the same facts; the first refusal is raised (`core.checks.Refused`, a
    `DomainError` with that code)."""

    steps: tuple[tuple[type[EyesCheck], str | None], ...]

    def first_refusal(self, **facts) -> Refusal | None:
        for check, code in self.steps:
            refusal = check.check(code=code, **facts)
            if refusal is not None:
                return refusal
        return None

    def enforce(self, **facts) -> None:
        enforce(self.first_refusal(**facts))

    @property
    def numbers(self) -> list[str]:
        return [check.number for check, _code in self.steps]
