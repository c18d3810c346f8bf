"""Reading an organization's ledger balances in tests."""
from __future__ import annotations


def balances(org, asset) -> tuple[int, int]:
    from ledger.models import Account

    acc = Account.objects.filter(organization=org, asset=asset, kind="participant").first()
    return (acc.available, acc.held) if acc else (0, 0)
