"""`manage.py verify_ledger`: exit 0 when the ledger is intact, 1 naming the first bad transaction."""
import json
import sys

from django.core.management.base import BaseCommand

from ledger.verify import verify_ledger


class Command(BaseCommand):
    help = "Recompute hash links, checkpoint roots, zero-sum and every balance from its postings."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **opts):
        report = verify_ledger(progress=not opts["no_progress"] and sys.stderr.isatty())
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            self.stdout.write(f"ledger intact: {report.transactions} transactions ({report.sealed} sealed), "
                              f"{report.checkpoints} checkpoints, {report.accounts} accounts")
        else:
            self.stderr.write(f"LEDGER FAULT {report.fault}")
        if not report.ok:
            sys.exit(1)
