"""Fixtures of the system tests: `world`, the authorization matrix's world (tests/support/matrix.py), built
once per module (the authorization matrix and the API fuzzing each get their own)."""
from __future__ import annotations

import pytest
from django.db import transaction

from tests.support.matrix import build_world, forget_process_caches


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One world for the module, inside a transaction rolled back at the end (each test's own `db`
    transaction nests in it as a savepoint)."""
    from accounts.models import Basin, Region
    from accounts.regions import load_regions
    from ledger.reference import ensure_reference_data

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            if not Region.objects.filter(code="350000").exists():
                load_regions(Region, Basin)
            ensure_reference_data()
            forget_process_caches()
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            forget_process_caches()
