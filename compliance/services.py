"""Use cases of the compliance cycle. Each is keyword-only, one `transaction.atomic`, and writes its audit
event in the same transaction; ledger movements go through `ledger.services` / `ledger.movements`.

Who does what:
  * a government admin sets coverage for a division it covers (`coverage_create`): the province for
    carbon and energy-use rights, a county for its own emission rights when it chooses a cycle;
  * the year's authority (the registered issuer of its allowances; admin or trader) opens the year,
    covers enterprises and proposes allocations — each positive allocation is an issuance request that
    another person (the issuer's admin/approver or the operator's) confirms (`ledger.movements`);
  * the assigned verifier (an organization of kind `verifier`) submits verified emissions, versioned;
  * the covered enterprise (admin or trader) surrenders allowances: a ledger retirement;
  * after the deadline, `shortfall_scan` (Celery beat) raises `compliance_shortfall` alerts, once each.

Rounding: an allocation computed from a benchmark × output (× the pre-allocation share) is rounded up to
the next minor unit, once, where it is computed (`core.money.ceil_div`, the project's one rule).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import GOVERNMENT_KINDS, Membership, Organization, Region
from core.checks import enforce as enforce_refusal
from core.errors import ApiError, DomainError
from core.money import ceil_div
from ledger import movements
from ledger import services as ledger_services
from ledger.checks import PositiveAmount
from ledger.errors import UNKNOWN_RIGHT_TYPE
from ledger.models import Asset, MovementStatus, RightType
from marketplace import rules
from oversight.models import Alert

from . import checks
from .errors import (
    ALLOCATION_ASSET_MISMATCH,
    ALREADY_COVERED,
    CORRECTION_REASON,
    COVERAGE_EXISTS,
    COVERAGE_FORBIDDEN,
    DEADLINE_TOO_EARLY,
    METHOD_FIELDS,
    NOT_A_VERIFIER_ORG,
    NOT_AN_ENTERPRISE,
    NOT_THE_AUTHORITY,
    PRE_ALLOCATION_INPUT,
    TRUE_UP_EXISTS,
    YEAR_EXISTS,
)
from .models import (
    Allocation,
    AllocationMethod,
    AllocationPhase,
    ComplianceCoverage,
    ComplianceYear,
    CoveredEnterprise,
    Surrender,
    VerifiedEmission,
)

WRITER_ROLES = ("admin", "trader")
DECIMAL_PLACES = 6  # benchmark and output are stored with 6 decimal places


def today() -> date:
    return timezone.localdate()


def actor_of(membership: Membership, request_id: str = "") -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind,
                 **({"request_id": request_id} if request_id else {}))


def _regions(*codes) -> list[str]:
    return sorted({c for c in codes if c})


def _writer(membership: Membership) -> None:
    if membership.role not in WRITER_ROLES:
        raise ApiError("permission_denied")


def _authority(membership: Membership, year: ComplianceYear) -> None:
    _writer(membership)
    if membership.organization_id != year.authority_id:
        raise DomainError(NOT_THE_AUTHORITY)


def coverage_for(*, right_type_id: str, subtype: str, region_code: str, year: int) -> ComplianceCoverage | None:
    """The coverage row under which `right_type_id` (subtype) runs a cycle in `region_code` in `year`."""
    for c in (ComplianceCoverage.objects.select_related("region")
              .filter(right_type_id=right_type_id, since_year__lte=year).order_by("id")):
        if c.region.covers(region_code) and (not c.subtype or c.subtype.upper() == (subtype or "").upper()):
            return c
    return None


def benchmark_allocation(*, benchmark: Decimal, output: Decimal, scale: int, percent: int = 100) -> int:
    """benchmark × output × percent/100 in minor units (10**-scale), rounded up once (core.money)."""
    b = int(benchmark.scaleb(DECIMAL_PLACES))
    o = int(output.scaleb(DECIMAL_PLACES))
    if Decimal(b).scaleb(-DECIMAL_PLACES) != benchmark or Decimal(o).scaleb(-DECIMAL_PLACES) != output:
        raise ValueError("more than 6 decimal places")
    return ceil_div(b * o * percent * 10**scale, 10 ** (2 * DECIMAL_PLACES) * 100)


# --- coverage and years ------------------------------------------------------------------------------

@transaction.atomic
def coverage_create(*, membership: Membership, right_type_id: str, region_id: str, since_year: int,
                    subtype: str = "", request_id: str = "") -> ComplianceCoverage:
    """A government admin puts a right type (subtype) of its division under a compliance cycle."""
    org = membership.organization
    if membership.role != "admin" or org.kind not in GOVERNMENT_KINDS or not org.region.covers(region_id):
        raise DomainError(COVERAGE_FORBIDDEN)
    if ComplianceCoverage.objects.filter(right_type_id=right_type_id, subtype=subtype, region_id=region_id).exists():
        raise DomainError(COVERAGE_EXISTS)
    if not Region.objects.filter(pk=region_id).exists():
        raise DomainError("unknown_region", fields={"region": region_id})
    if not RightType.objects.filter(pk=right_type_id).exists():
        raise DomainError(UNKNOWN_RIGHT_TYPE, fields={"right_type": right_type_id})
    coverage = ComplianceCoverage.objects.create(right_type_id=right_type_id, subtype=subtype, region_id=region_id,
                                                 since_year=since_year, created_by_organization=org)
    audit_record(actor=actor_of(membership, request_id), action="compliance.coverage.create",
                 object_type="compliance_coverage", object_id=coverage.pk,
                 after={"right_type": right_type_id, "subtype": subtype, "region": region_id,
                        "since_year": since_year}, region_codes=[region_id])
    return coverage


@transaction.atomic
def compliance_year_create(*, membership: Membership, right_type_id: str, region_id: str, year: int,
                           allocation_asset: Asset, deadline: date, pre_allocation_percent: int = 70,
                           name: str = "", request_id: str = "") -> ComplianceYear:
    """The authority (the allowance's registered issuer) opens a compliance year."""
    _writer(membership)
    org = membership.organization
    asset = allocation_asset
    if asset.issuer_id != org.pk:
        raise DomainError(NOT_THE_AUTHORITY)
    region = Region.objects.filter(pk=region_id).first()
    if (region is None or asset.right_type_id != right_type_id or asset.vintage != year
            or not region.covers(asset.origin_region_id) or not org.region.covers(region_id)):
        raise DomainError(ALLOCATION_ASSET_MISMATCH, fields={"allocation_asset": asset.code})
    checks.RightTypeCovered.enforce(
        coverage=coverage_for(right_type_id=right_type_id, subtype=asset.subtype, region_code=region_id, year=year),
        right_type=right_type_id, region=region_id)
    if deadline <= date(year, 12, 31):
        raise DomainError(DEADLINE_TOO_EARLY, fields={"deadline": "after the year's end"})
    if ComplianceYear.objects.filter(right_type_id=right_type_id, region_id=region_id, year=year).exists():
        raise DomainError(YEAR_EXISTS)
    cy = ComplianceYear.objects.create(right_type_id=right_type_id, region_id=region_id, year=year,
                                       allocation_asset=asset, authority=org, deadline=deadline,
                                       pre_allocation_percent=pre_allocation_percent, name=name[:120])
    audit_record(actor=actor_of(membership, request_id), action="compliance.year.create",
                 object_type="compliance_year", object_id=cy.pk,
                 after={"right_type": right_type_id, "region": region_id, "year": year,
                        "allocation_asset": asset.code, "deadline": deadline.isoformat(),
                        "pre_allocation_percent": pre_allocation_percent}, region_codes=[region_id])
    return cy


@transaction.atomic
def enterprise_cover(*, membership: Membership, year: ComplianceYear, organization: Organization, method: str,
                     benchmark: Decimal | None = None, listed_amount: int | None = None, output_unit: str = "",
                     verifier: Organization | None = None, request_id: str = "") -> CoveredEnterprise:
    """The authority covers an enterprise of the year's region, with its allocation method and verifier."""
    _authority(membership, year)
    if organization.kind != "enterprise" or not year.region.covers(organization.region_id):
        raise DomainError(NOT_AN_ENTERPRISE, fields={"organization": organization.pk})
    if verifier is not None and verifier.kind != "verifier":
        raise DomainError(NOT_A_VERIFIER_ORG, fields={"verifier": verifier.pk})
    if method == AllocationMethod.LIST:
        ok = benchmark is None and listed_amount is not None and listed_amount >= 0
    else:
        ok = method == AllocationMethod.BENCHMARK and listed_amount is None and benchmark is not None \
            and benchmark > 0
    if not ok:
        raise DomainError(METHOD_FIELDS, fields={"method": method})
    if CoveredEnterprise.objects.filter(compliance_year=year, organization=organization).exists():
        raise DomainError(ALREADY_COVERED)
    covered = CoveredEnterprise.objects.create(compliance_year=year, organization=organization, method=method,
                                               benchmark=benchmark, listed_amount=listed_amount,
                                               output_unit=output_unit, verifier=verifier)
    audit_record(actor=actor_of(membership, request_id), action="compliance.enterprise.cover",
                 object_type="covered_enterprise", object_id=covered.pk,
                 after={"year": year.pk, "organization": organization.pk, "method": method,
                        "benchmark": None if benchmark is None else str(benchmark), "listed_amount": listed_amount,
                        "verifier": verifier.pk if verifier else None},
                 region_codes=_regions(year.region_id, organization.region_id))
    return covered


def _covered(year: ComplianceYear, organization_id: int, *, lock: bool = False) -> CoveredEnterprise:
    qs = CoveredEnterprise.objects.select_related("organization", "verifier")
    if lock:
        qs = qs.select_for_update(of=("self",))
    covered = qs.filter(compliance_year=year, organization_id=organization_id).first()
    checks.EnterpriseCovered.enforce(covered=covered)
    return covered


def latest_emission(covered: CoveredEnterprise) -> VerifiedEmission | None:
    return (VerifiedEmission.objects.filter(compliance_year_id=covered.compliance_year_id,
                                            organization_id=covered.organization_id)
            .order_by("-version").first())


# --- allocation --------------------------------------------------------------------------------------

def _pre_total(covered: CoveredEnterprise) -> int:
    """Pre-allocations that count: every one whose issuance request was not rejected."""
    rows = covered.allocations.filter(phase=AllocationPhase.PRE).select_related("movement")
    return sum(a.amount for a in rows if a.movement is None or a.movement.status != MovementStatus.REJECTED)


@transaction.atomic
def allocation_propose(*, membership: Membership, year: ComplianceYear, organization: Organization, phase: str,
                       idempotency_key: str, amount: int | None = None, expected_output: Decimal | None = None,
                       request_id: str = "") -> tuple[Allocation, bool]:
    """The authority proposes a pre-allocation or the true-up. A positive amount becomes an issuance
    request (maker–checker, `ledger.movements`); a negative true-up is owed (added to the obligation).
    Returns (allocation, replayed)."""
    _authority(membership, year)
    covered = _covered(year, organization.pk, lock=True)
    asset = year.allocation_asset
    movement_key = f"compliance-{year.pk}-{idempotency_key}"
    earlier = covered.allocations.filter(movement__idempotency_key=ledger_services.client_key(
        actor_of(membership), "issue", movement_key)).first()
    if earlier is not None and earlier.phase == phase:
        # a replay: the issuance request's own replay check compares the payload (idempotency_conflict)
        request = {**earlier.movement.request}
        if phase == AllocationPhase.PRE and amount is not None and amount != request["amount"]:
            raise DomainError("idempotency_conflict", field="amount",
                              fields={"amount": "differs from the request first sent with this key"})
        return earlier, True
    if covered.allocations.filter(phase=AllocationPhase.TRUE_UP).exists():
        existing = covered.allocations.get(phase=AllocationPhase.TRUE_UP)
        if phase == AllocationPhase.TRUE_UP and existing.basis.get("idempotency_key") == idempotency_key:
            return existing, True
        raise DomainError(TRUE_UP_EXISTS)
    if phase == AllocationPhase.PRE:
        if amount is not None:
            basis = {"method": "amount"}
        elif covered.method == AllocationMethod.LIST:
            amount = ceil_div(covered.listed_amount * year.pre_allocation_percent, 100)
            basis = {"method": "list", "listed_amount": covered.listed_amount,
                     "percent": year.pre_allocation_percent}
        elif expected_output is not None:
            amount = benchmark_allocation(benchmark=covered.benchmark, output=expected_output, scale=asset.scale,
                                          percent=year.pre_allocation_percent)
            basis = {"method": "benchmark", "benchmark": str(covered.benchmark), "output": str(expected_output),
                     "percent": year.pre_allocation_percent}
        else:
            raise DomainError(PRE_ALLOCATION_INPUT)
        if amount <= 0:
            raise DomainError(PRE_ALLOCATION_INPUT, fields={"amount": "must be positive"})
    else:
        verified = latest_emission(covered)
        output = verified.output if verified is not None else None
        checks.TrueUpBasis.enforce(method=covered.method, output=output)
        if covered.method == AllocationMethod.LIST:
            final = covered.listed_amount
            basis = {"method": "list", "final": final}
        else:
            final = benchmark_allocation(benchmark=covered.benchmark, output=output, scale=asset.scale)
            basis = {"method": "benchmark", "benchmark": str(covered.benchmark), "output": str(output),
                     "verified_version": verified.version, "final": final}
        pre_total = _pre_total(covered)
        amount = final - pre_total
        basis["pre_total"] = pre_total
    basis["idempotency_key"] = idempotency_key
    movement = None
    replayed = False
    if amount > 0:
        movement, posted, replayed = movements.movement_propose(
            membership=membership, kind="issue", idempotency_key=movement_key,
            request={"asset": asset.code, "issuer": year.authority_id, "recipient": organization.pk,
                     "amount": amount, "evidence": {}}, request_id=request_id)
        if replayed and movement is not None:
            found = Allocation.objects.filter(movement=movement).first()
            if found is not None:
                return found, True
        if movement is None:  # below a configured single-person amount: posted at once, by settings
            basis["transaction"] = posted.transaction_id
    allocation = Allocation.objects.create(compliance_year=year, covered=covered, phase=phase, amount=amount,
                                           basis=basis, movement=movement, proposed_by_id=membership.user_id)
    audit_record(actor=actor_of(membership, request_id), action="compliance.allocation.propose",
                 object_type="compliance_allocation", object_id=allocation.pk,
                 after={"year": year.pk, "organization": organization.pk, "phase": phase, "amount": amount,
                        "basis": basis, "movement": movement.pk if movement else None},
                 region_codes=_regions(year.region_id, organization.region_id))
    return allocation, replayed


# --- verified emissions ------------------------------------------------------------------------------

@transaction.atomic
def emission_submit(*, membership: Membership, year: ComplianceYear, organization: Organization, amount: int,
                    evidence_sha256: str, evidence_reference: str, output: Decimal | None = None,
                    reason: str = "", request_id: str = "") -> VerifiedEmission:
    """The assigned verifier submits an enterprise's verified emissions; a later submission is a
    correction: the next version, with a reason."""
    _writer(membership)
    covered = _covered(year, organization.pk, lock=True)
    checks.AssignedVerifier.enforce(covered=covered, organization=membership.organization)
    latest = latest_emission(covered)
    if latest is not None and not reason.strip():
        raise DomainError(CORRECTION_REASON, fields={"reason": "required for a correction"})
    row = VerifiedEmission.objects.create(
        compliance_year=year, organization=organization, version=(latest.version + 1) if latest else 1,
        amount=amount, output=output, evidence_sha256=evidence_sha256.lower(),
        evidence_reference=evidence_reference, reason=reason.strip() if latest else "",
        verifier=membership.organization, submitted_by_id=membership.user_id)
    audit_record(actor=actor_of(membership, request_id), action="compliance.emission.submit",
                 object_type="verified_emission", object_id=row.pk,
                 before={"version": latest.version, "amount": latest.amount} if latest else None,
                 after={"year": year.pk, "organization": organization.pk, "version": row.version, "amount": amount,
                        "output": None if output is None else str(output), "evidence_sha256": row.evidence_sha256,
                        "evidence_reference": evidence_reference, "reason": row.reason},
                 region_codes=_regions(year.region_id, organization.region_id))
    return row


# --- obligation and surrender -------------------------------------------------------------------------

def owed_true_up(covered: CoveredEnterprise) -> int:
    """A negative true-up, as a positive amount the enterprise owes (0 when none)."""
    total = covered.allocations.filter(phase=AllocationPhase.TRUE_UP, amount__lt=0).aggregate(s=Sum("amount"))["s"]
    return -(total or 0)


def obligation_of(covered: CoveredEnterprise) -> dict:
    """What one covered enterprise owes for its year, in minor units of the year's allowance asset."""
    verified = latest_emission(covered)
    emissions = verified.amount if verified is not None else 0
    owed = owed_true_up(covered)
    surrendered = Surrender.objects.filter(compliance_year_id=covered.compliance_year_id,
                                           organization_id=covered.organization_id).aggregate(s=Sum("amount"))["s"] or 0
    obligation = emissions + owed
    return {"verified": verified, "emissions": emissions, "owed_true_up": owed, "obligation": obligation,
            "surrendered": surrendered, "remaining": max(obligation - surrendered, 0)}


def _vintage(year: ComplianceYear, asset: Asset, organization: Organization, amount: int) -> None:
    ctx = rules.CheckContext(stage=rules.SURRENDER_STAGE, asset=asset, at=timezone.now(), seller=organization,
                             quantity=amount, compliance_year=year.year)
    _version, refusal = rules.evaluate(ctx)
    enforce_refusal(refusal)


@transaction.atomic
def surrender_create(*, membership: Membership, year: ComplianceYear, asset: Asset, amount: int,
                     idempotency_key: str, on: date | None = None, request_id: str = "") -> tuple[Surrender, bool]:
    """A covered enterprise surrenders allowances for a year (清缴): a ledger retirement (participant →
    the asset's retirement account) whose compliance period names the year. `on` is the day of the
    surrender (default today, Asia/Shanghai; the demo's history passes its own). Returns (surrender,
    replayed)."""
    _writer(membership)
    org = membership.organization
    actor = actor_of(membership, request_id)
    on = on or today()
    key = f"compliance-{year.pk}-{idempotency_key}"
    request = {"asset": asset.code, "organization": org.pk, "amount": amount, "reason": "compliance surrender",
               "compliance_period": year.period}
    covered = _covered(year, org.pk, lock=True)  # serializes one enterprise's surrenders for the year
    replay = ledger_services.replay_of(idempotency_key=ledger_services.client_key(actor, "retire", key),
                                       request=request)
    if replay is not None:
        return Surrender.objects.get(transaction_id=replay.transaction_id), True
    PositiveAmount.enforce(amount=amount)  # A-AMOUNT-001
    checks.BeforeDeadline.enforce(year=year, on=on)
    checks.SurrenderInstrument.enforce(year=year, asset=asset)
    _vintage(year, asset, org, amount)
    state = obligation_of(covered)
    checks.EmissionsVerified.enforce(verified=state["verified"])
    checks.WithinObligation.enforce(amount=amount, remaining=state["remaining"], asset=asset)
    posted = ledger_services.rights_retire(actor=actor, asset=asset, organization=org, amount=amount,
                                           reason="compliance surrender", compliance_period=year.period,
                                           idempotency_key=key)
    surrender = Surrender.objects.create(compliance_year=year, organization=org, asset=asset, amount=amount,
                                         transaction_id=posted.transaction_id, surrendered_on=on,
                                         created_by_id=membership.user_id)
    audit_record(actor=actor, action="compliance.surrender", object_type="compliance_surrender",
                 object_id=surrender.pk,
                 after={"year": year.pk, "asset": asset.code, "amount": amount, "on": on.isoformat(),
                        "ledger_transaction": posted.transaction_id,
                        "remaining": state["remaining"] - amount},
                 region_codes=_regions(year.region_id, org.region_id, asset.origin_region_id))
    return surrender, False


# --- after the deadline ------------------------------------------------------------------------------

def shortfalls(year: ComplianceYear) -> list[dict]:
    """Every covered enterprise of a year with its obligation, surrendered amount and shortfall."""
    rows = []
    for covered in (CoveredEnterprise.objects.filter(compliance_year=year)
                    .select_related("organization", "organization__region").order_by("organization_id")):
        state = obligation_of(covered)
        rows.append({"covered": covered, "organization": covered.organization, **state,
                     "shortfall": state["remaining"]})
    return rows


@transaction.atomic
def shortfall_scan(*, on: date | None = None) -> int:
    """Raise one `compliance_shortfall` alert per (year, enterprise) short after the deadline. Idempotent:
    the alert's fingerprint is unique, so running again (beat) raises nothing new. Returns how many new."""
    on = on or today()
    found = []
    for year in ComplianceYear.objects.filter(deadline__lt=on).select_related("allocation_asset", "region"):
        asset = year.allocation_asset
        for row in shortfalls(year):
            if row["shortfall"] <= 0:
                continue
            org = row["organization"]
            found.append(Alert(
                kind="compliance_shortfall", severity="high",
                fingerprint=f"compliance_shortfall:{year.pk}:{org.pk}",
                summary=(f"{org.name_zh} {year.right_type_id} {year.year}: "
                         f"short {row['shortfall']} of {row['obligation']} (minor units of {asset.code})")[:300],
                organization_ids=[org.pk], asset_id=asset.pk,
                evidence={"compliance_year": year.pk, "year": year.year, "right_type": year.right_type_id,
                          "deadline": year.deadline.isoformat(), "obligation": row["obligation"],
                          "surrendered": row["surrendered"], "shortfall": row["shortfall"],
                          "verified_version": row["verified"].version if row["verified"] else None},
                region_codes=_regions(org.region_id, year.region_id)))
    if not found:
        return 0
    existing = set(Alert.objects.filter(fingerprint__in=[a.fingerprint for a in found])
                   .values_list("fingerprint", flat=True))
    new = [a for a in found if a.fingerprint not in existing]
    Alert.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)
