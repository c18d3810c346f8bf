"""`python manage.py seed_demo`: the demo data of every app, in layer order, idempotently.

Runs `accounts.demo.seed_accounts()` and then each later app's seeder when that app has a `demo`
module (apps are built in parallel; a missing module, or its app, is skipped, any other import failure
is an error).
`--list-logins` prints the demo logins, one per line, and changes nothing. It lives in `oversight/`
because oversight is the top layer, the only one allowed to import every other app.
"""
from __future__ import annotations

from importlib import import_module

from django.core.management.base import BaseCommand

from accounts.demo import DEMO_LOGINS

# (module, function), in layer order: each seeder may use what the ones before it created
SEEDERS = [
    ("accounts.demo", "seed_accounts"),
    ("ledger.demo", "seed_ledger"),
    ("marketplace.demo", "seed_marketplace"),
    ("trading.demo", "seed_trading"),
    ("oversight.demo", "seed_oversight"),
    # the apps above oversight (compensation between regions, quota management); each optional until built
    ("compensation.demo", "seed_compensation"),
    ("assistance.demo", "seed_assistance"),
    ("compliance.demo", "seed_compliance"),
    ("reserve.demo", "seed_reserve"),
]


def _import_optional(module_name: str):
    try:
        return import_module(module_name)
    except ModuleNotFoundError as exc:
        # only the demo module itself being absent is "not built yet"; a broken import inside it is a bug
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):  # the module or its app
            return None
        raise


class Command(BaseCommand):
    help = "Load the demo data of every app (idempotent). --list-logins prints the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--list-logins", action="store_true",
                            help="print the demo logins (username / organization / role) and exit")

    def handle(self, *args, list_logins=False, **options):
        if list_logins:
            width = max(len(username) for username, _, _ in DEMO_LOGINS)
            for username, organization, role in DEMO_LOGINS:
                self.stdout.write(f"    {username:<{width}}  /  {organization}  /  {role}")
            return
        verbosity = options.get("verbosity", 1)
        seeded = {}
        for module_name, function_name in SEEDERS:
            module = _import_optional(module_name)
            if module is None:
                if verbosity >= 2:
                    self.stdout.write(f"skipped {module_name} (not present)")
                continue
            getattr(module, function_name)()
            seeded[module_name] = module
            if verbosity >= 1:
                self.stdout.write(f"seeded {module_name}.{function_name}")
        # the apps above oversight post after seed_oversight has rolled up, surveyed and sealed: do it once more
        # at the very end, so that everything seeded is provable now and a second run finds nothing new
        if "oversight.demo" in seeded:
            seeded["oversight.demo"].settle_demo()
