"""`seed_demo` builds the whole demo (every app) on an empty database, twice without duplicating
anything, and leaves a ledger that verifies."""
import pytest
from django.core.management import call_command

from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger
from marketplace.models import Market
from trading.models import Listing, Order, Trade


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_complete_idempotent_and_verifiable():
    call_command("seed_demo", verbosity=0)
    counts = (LedgerTransaction.objects.count(), Market.objects.count(), Order.objects.count(),
              Trade.objects.count(), Listing.objects.count())
    assert counts[1] >= 5 and counts[2] >= 8 and counts[4] == 3
    assert Trade.objects.filter(status="settled").count() == counts[3] > 0
    call_command("seed_demo", verbosity=0)
    assert (LedgerTransaction.objects.count(), Market.objects.count(), Order.objects.count(),
            Trade.objects.count(), Listing.objects.count()) == counts
    report = verify_ledger()
    assert report.ok, report.fault
