"""`manage.py verify_ledger`: exit 0 when the ledger is intact, 1 naming the first bad transaction.

Needs no secret: checkpoint signatures are checked with the public keys (the stored ones, or those in
`--trusted-keys FILE`, PEM public keys as published, for a verifier who does not trust this database)."""
import json
import re
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ledger.keys import BadKey, key_id, load_public_key
from ledger.verify import verify_ledger

_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def trusted_keys_from(path: str) -> dict[str, bytes]:
    text = Path(path).read_text()
    blocks = _PEM.findall(text) or [line for line in text.split() if line.strip()]
    try:
        raws = [load_public_key(b) for b in blocks]
    except (BadKey, ValueError) as exc:
        raise CommandError(f"{path}: {exc}") from None
    if not raws:
        raise CommandError(f"{path}: no public key")
    return {key_id(raw): raw for raw in raws}


class Command(BaseCommand):
    help = "Recompute hash links, checkpoint roots and signatures, zero-sum and every balance from its postings."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--trusted-keys", metavar="FILE",
                            help="PEM public keys (as published) to check checkpoint signatures with, "
                                 "instead of the keys stored in the database")

    def handle(self, *args, **opts):
        trusted = trusted_keys_from(opts["trusted_keys"]) if opts["trusted_keys"] else None
        report = verify_ledger(progress=not opts["no_progress"] and sys.stderr.isatty(), trusted_keys=trusted)
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            legacy = (f", {report.legacy_unverified} legacy HMAC checkpoints not re-signed-checked"
                      if report.legacy_unverified else "")
            self.stdout.write(f"ledger intact: {report.transactions} transactions ({report.sealed} sealed), "
                              f"{report.checkpoints} checkpoints, {report.accounts} accounts{legacy}")
        else:
            self.stderr.write(f"LEDGER FAULT {report.fault}")
        if not report.ok:
            sys.exit(1)
