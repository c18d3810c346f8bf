"""The assistance demo data: three pairs with payments over last year and this year, one short last year
with its alert; two farmland support commitments, one fulfilled. Idempotent, through the services (the
ledger verifies)."""
import pytest
from django.core.management import call_command
from django.utils import timezone

from assistance.demo import MINIMUM, seed_assistance
from assistance.models import AssistancePair, AssistancePayment, CommitmentFulfilment, SupportCommitment
from assistance.selectors import progress_report
from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger
from oversight.models import Alert


@pytest.mark.django_db(transaction=True)
def test_seed_assistance(monkeypatch):
    monkeypatch.setenv("DEMO_HISTORY_DAYS", "1")
    call_command("seed_demo", verbosity=0)
    today = timezone.localdate()
    last = {r["payee_name"]: r for r in progress_report(AssistancePair.objects.all(), year=today.year - 1, on=today)}
    assert {name: r["status"] for name, r in last.items()} == {
        "松溪县人民政府": "met", "龙岩市永定区人民政府": "met", "诏安县人民政府": "short"}
    assert last["诏安县人民政府"]["shortfall"] == MINIMUM - 950 * 10_000 * 100
    alerts = Alert.objects.filter(kind="assistance_shortfall")
    assert alerts.count() == 1 and alerts.get().evidence["shortfall"] == "2500000.00"
    this_year = progress_report(AssistancePair.objects.all(), year=today.year, on=today)
    assert all(r["paid"] > 0 for r in this_year)
    assert sorted(SupportCommitment.objects.values_list("kind", "status")) == [
        ("cash", "open"), ("infrastructure", "fulfilled")]
    counts = (AssistancePayment.objects.count(), LedgerTransaction.objects.count(),
              CommitmentFulfilment.objects.count())
    assert counts[0] == 9
    seed_assistance()
    assert (AssistancePayment.objects.count(), LedgerTransaction.objects.count(),
            CommitmentFulfilment.objects.count()) == counts
    assert Alert.objects.filter(kind="assistance_shortfall").count() == 1
    assert verify_ledger().ok
