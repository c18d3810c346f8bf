"""Fixtures of the listings tests: `lworld` (the ListingWorld of tests/support/listings.py, which also
registers the test rule `test_listing_gate`) and `listing_fees` (0.1 % per side, at least ¥100)."""
from __future__ import annotations

import pytest

from tests.support.listings import YUAN, ListingWorld


@pytest.fixture
def lworld(make_org, make_member, operator_org):
    return ListingWorld(make_org, make_member, operator_org)


@pytest.fixture
def listing_fees(settings):
    settings.LISTING_FEE_BPS = 10  # 0.1 % per side
    settings.LISTING_FEE_MIN = 100 * YUAN
    return settings
