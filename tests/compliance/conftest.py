"""Fixtures of the compliance tests: `cw`, a small compliance world (tests/support/compliance.py)."""
from __future__ import annotations

import pytest

from tests.support.compliance import ComplianceWorld


@pytest.fixture
def cw(make_org, make_member, fast_passwords):
    return ComplianceWorld(make_org, make_member)
