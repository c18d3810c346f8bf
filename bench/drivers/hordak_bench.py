"""django-hordak `Account.transfer_to` in N client processes (run with the bench venv's Python and
DJANGO_SETTINGS_MODULE=bench.hordak_settings). Prints one JSON line: {"per_s", ...}."""
from __future__ import annotations

import argparse
import json

from .loop import run_clients

ACCOUNTS = 320


def _client(idx: int):
    import random

    import django

    django.setup()
    from djmoney.money import Money
    from hordak.models import Account

    accounts = list(Account.objects.filter(parent__isnull=False).order_by("id"))
    rng = random.Random(idx)

    def op(i: int) -> None:
        a, b = rng.sample(accounts, 2)
        a.transfer_to(b, Money(rng.randint(1, 100), "CNY"))

    return op


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--setup", action="store_true", help="migrate and open the accounts, then exit")
    args = ap.parse_args()
    import django

    django.setup()
    if args.setup:
        from django.core.management import call_command
        from hordak.models import Account, AccountType

        call_command("migrate", verbosity=0)
        root = Account.objects.create(name="participants", code="1", type=AccountType.asset, currencies=["CNY"])
        for i in range(ACCOUNTS):
            Account.objects.create(name=f"p{i}", code=str(i), parent=root, currencies=["CNY"])
        print(json.dumps({"setup": True}))
        return
    r = run_clients(_client, clients=args.clients, seconds=args.seconds)
    from importlib.metadata import version

    print(json.dumps({**r, "version": version("django-hordak")}))


if __name__ == "__main__":
    main()
