"""Verified emissions: only the verifier assigned to the enterprise submits them (K-VERIFIER-001), with the
evidence's hash; a correction is the next version with a reason, never an overwrite (the database refuses
UPDATE and DELETE); the latest version is the obligation."""
from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from accounts.models import AuditEvent
from compliance import services
from compliance.models import VerifiedEmission
from core.errors import ApiError, DomainError

pytestmark = pytest.mark.django_db


def test_only_the_assigned_verifier_submits(cw, make_member):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    for member in (cw.other_verifier_m, cw.fz_m, cw.maker):
        with pytest.raises(DomainError) as exc:
            cw.verify(year, cw.fz, 900, member=member)
        assert exc.value.code == "compliance_not_the_verifier"
    with pytest.raises(ApiError):  # a viewer of the right verifier does not write
        cw.verify(year, cw.fz, 900, member=make_member(cw.verifier, "viewer"))
    row = cw.verify(year, cw.fz, 900)
    assert (row.version, row.amount, row.verifier_id, len(row.evidence_sha256)) == (1, 900, cw.verifier.pk, 64)
    audit = AuditEvent.objects.get(action="compliance.emission.submit", object_id=str(row.pk))
    assert audit.after["evidence_sha256"] == row.evidence_sha256 and audit.actor_organization_id == cw.verifier.pk


def test_an_enterprise_without_an_assigned_verifier_cannot_be_verified(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000, verifier=False)
    with pytest.raises(DomainError) as exc:
        cw.verify(year, cw.fz, 900)
    assert exc.value.code == "compliance_not_the_verifier"


def test_a_correction_is_a_new_version_with_a_reason(cw):
    year = cw.year()
    covered = cw.cover(year, cw.fz, listed=1000)
    first = cw.verify(year, cw.fz, 900)
    with pytest.raises(DomainError) as exc:
        cw.verify(year, cw.fz, 950)
    assert exc.value.code == "compliance_correction_reason_required"
    second = cw.verify(year, cw.fz, 950, reason="fuel data corrected")
    assert second.version == 2 and second.reason == "fuel data corrected"
    first.refresh_from_db()
    assert first.amount == 900  # the first version stands, unchanged
    assert services.obligation_of(covered)["obligation"] == 950
    audit = AuditEvent.objects.get(action="compliance.emission.submit", object_id=str(second.pk))
    assert audit.before == {"version": 1, "amount": 900}


def test_the_database_refuses_to_overwrite_or_delete_a_version(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    row = cw.verify(year, cw.fz, 900)
    with pytest.raises(DatabaseError), transaction.atomic():
        VerifiedEmission.objects.filter(pk=row.pk).update(amount=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        VerifiedEmission.objects.filter(pk=row.pk).delete()
    assert VerifiedEmission.objects.get(pk=row.pk).amount == 900
