"""#14 item 12: a full ledger verification is a background job (POST starts it, GET polls it), for admins of
a regulator or of the operator only, one at a time; no web request recomputes the ledger."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from ledger.models import VerificationRun
from ledger.tasks import ledger_verify

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def people(make_org, make_member, client_for):
    operator = make_org("exchange_operator", "350000")
    regulator = make_org("regulator", "350100", jurisdiction="350100")
    return {"operator_admin": client_for(make_member(operator, "admin")),
            "regulator_admin": client_for(make_member(regulator, "admin")),
            "operator_viewer": client_for(make_member(operator, "viewer")),
            "regulator_approver": client_for(make_member(regulator, "approver")),
            "enterprise_admin": client_for(make_member(make_org(), "admin"))}


def test_start_poll_and_one_at_a_time(people, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("ledger.verification.publish", lambda name, args, **kw: sent.append(args[0]))
    admin = people["operator_admin"]
    with django_capture_on_commit_callbacks(execute=True):
        r = admin.post("/api/v1/ledger/verifications")
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["report"] is None
    run_id = r.json()["id"]
    assert sent == [run_id]  # the work goes to a worker, after commit
    # a second start while it is queued returns the same run and sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        again = people["regulator_admin"].post("/api/v1/ledger/verifications")
    assert again.status_code == 200 and again.json()["id"] == run_id and sent == [run_id]
    assert admin.get(f"/api/v1/ledger/verifications/{run_id}").json()["status"] == "queued"

    assert ledger_verify(run_id) == "ok"  # what the worker runs
    body = admin.get(f"/api/v1/ledger/verifications/{run_id}").json()
    assert body["status"] == "ok" and body["report"]["ok"] is True and body["finished_at"]
    assert ledger_verify(run_id) is None  # a redelivered message does nothing
    assert AuditEvent.objects.filter(action="ledger.verify_start", object_id=str(run_id)).exists()
    # finished: the next start is a new run
    with django_capture_on_commit_callbacks(execute=True):
        r = admin.post("/api/v1/ledger/verifications")
    assert r.status_code == 202 and r.json()["id"] != run_id


def test_only_one_active_run_in_the_database(people):
    VerificationRun.objects.create()
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        VerificationRun.objects.create()


@pytest.mark.parametrize("who", ["operator_viewer", "regulator_approver", "enterprise_admin"])
def test_only_admins_of_regulators_and_the_operator(people, who, monkeypatch):
    monkeypatch.setattr("ledger.verification.publish", lambda *a, **kw: None)
    r = people[who].post("/api/v1/ledger/verifications")
    assert r.status_code == 403
    run = VerificationRun.objects.create(status="ok", active=None)
    assert people[who].get(f"/api/v1/ledger/verifications/{run.id}").status_code == 403
    assert not VerificationRun.objects.filter(active=True).exists()


def test_the_old_synchronous_endpoint_is_gone(people):
    assert people["operator_admin"].get("/api/v1/ledger/verify").status_code == 404
