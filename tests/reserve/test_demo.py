"""`seed_reserve` builds the reserve demo through the services, once (a second run adds nothing), with the
ledger still verifying."""
import pytest

from ledger.demo import seed_ledger
from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger
from reserve.demo import seed_reserve
from reserve.models import BuybackNotice, Designation, Release, Tender


@pytest.mark.django_db(transaction=True)
def test_seed_reserve_is_idempotent_and_balanced():
    seed_ledger()
    seed_reserve()
    counts = (Designation.objects.filter(status="active").count(), BuybackNotice.objects.count(),
              Tender.objects.count(), Release.objects.count(), LedgerTransaction.objects.count())
    assert counts[:4] == (1, 1, 1, 1)
    seed_reserve()
    assert (Designation.objects.filter(status="active").count(), BuybackNotice.objects.count(),
            Tender.objects.count(), Release.objects.count(), LedgerTransaction.objects.count()) == counts
    report = verify_ledger()
    assert report.ok, report.fault
