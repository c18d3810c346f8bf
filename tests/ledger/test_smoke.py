import time

import pytest
from django.db import connection, transaction

from accounts.actor import Actor
from ledger import services
from ledger.models import Account, Asset
from ledger.sealing import seal
from ledger.verify import verify_ledger


@pytest.mark.django_db(transaction=True)
def test_issue_deposit_hold_seal_verify(make_org):
    county = make_org("county_government", "350121")
    ent = make_org("enterprise", "350102")
    actor = Actor.system()
    asset = services.asset_create(actor=actor, code="EM-SO2-2026-350121", right_type_id="emission", subtype="SO2",
                                  unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=county)
    services.rights_issue(actor=actor, issuer=county, asset=asset, recipient=county, amount=100_000,
                          idempotency_key="k1")
    services.cash_deposit(actor=actor, organization=ent, amount=5_000_000, bank_reference="B1", idempotency_key="d1")
    with transaction.atomic():
        services.hold_place(actor=actor, organization_id=ent.id, asset=Asset.objects.get(code="CNY"), amount=1000,
                            reference=("test", 1), idempotency_key="h1")
    acc = Account.objects.get(organization=ent, asset__code="CNY", kind="participant")
    assert (acc.available, acc.held) == (4_999_000, 1000)
    sealed, deadline = 0, time.monotonic() + 60
    while sealed < 3:  # another session's open writing transaction would hold the horizon back a moment
        sealed += seal().sealed
        assert time.monotonic() < deadline
        time.sleep(0.01 if sealed < 3 else 0)
    assert sealed == 3
    report = verify_ledger()
    assert report.ok, report.fault
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE ledger_posting DISABLE TRIGGER USER")
        cur.execute("UPDATE ledger_posting SET amount = amount + 1 WHERE id = (SELECT min(id) FROM ledger_posting)")
        cur.execute("ALTER TABLE ledger_posting ENABLE TRIGGER USER")
    report = verify_ledger()
    assert not report.ok and report.fault.kind == "unbalanced"
