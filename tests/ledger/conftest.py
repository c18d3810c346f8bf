"""Fixtures of these tests: `world`, the regulators and the operator of tests/support/rules.py."""
from __future__ import annotations

import pytest

from tests.support.rules import World


@pytest.fixture
def world(make_org, make_member, make_market, operator_org, fast_passwords):
    return World(make_org, make_member, make_market, operator_org)
