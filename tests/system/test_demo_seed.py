"""`seed_demo` builds the whole demo (every app) on an empty database, twice without duplicating
anything, and leaves a ledger that verifies."""
import pytest
from django.core.management import call_command

from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger
from marketplace.models import Market
from oversight.models import ApprovalRequest
from reserve.models import Release
from trading.models import Listing, Order, Trade


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_complete_idempotent_and_verifiable(monkeypatch):
    monkeypatch.setenv("DEMO_HISTORY_DAYS", "3")  # the full history is seconds more of the same code path
    call_command("seed_demo", verbosity=0)
    counts = (LedgerTransaction.objects.count(), Market.objects.count(), Order.objects.count(),
              Trade.objects.count(), Listing.objects.count())
    assert counts[1] >= 5 and counts[2] >= 8 and counts[4] == 3 + Release.objects.count()  # + the reserve's releases
    # every trade settled, except the demo's few that wait for the regulators' four-eyes approval
    held = Trade.objects.filter(status="pending_approval").count()
    assert 1 <= held <= 5
    assert Trade.objects.filter(status="settled").count() == counts[3] - held > 0
    assert ApprovalRequest.objects.filter(status="pending").count() == held
    call_command("seed_demo", verbosity=0)
    assert (LedgerTransaction.objects.count(), Market.objects.count(), Order.objects.count(),
            Trade.objects.count(), Listing.objects.count()) == counts
    report = verify_ledger()
    assert report.ok, report.fault
