"""Fixtures of the accounts tests: `role_world`, a membership for every name in ROLE_MATRIX."""
from __future__ import annotations

import pytest

from tests.support.accounts import ROLE_MATRIX


@pytest.fixture
def role_world(make_org, make_member, fast_passwords):
    """One organization of each main kind and a membership for every name in ROLE_MATRIX:
    an enterprise in Gulou (Fuzhou), the Minhou county government, Fuzhou's city regulator and the
    exchange operator; plus `other_enterprise` in Xiamen, outside Fuzhou, with an admin `other_admin`."""

    class World:
        pass

    world = World()
    world.orgs = {
        "enterprise": make_org("enterprise", "350102", name="测试企业"),
        "county": make_org("county_government", "350121", name="闽侯县人民政府"),
        "regulator": make_org("regulator", "350100", jurisdiction="350100", name="福州市生态环境局"),
        "operator": make_org("exchange_operator", "350000", name="交易中心"),
        "other_enterprise": make_org("enterprise", "350205", name="厦门企业"),
    }
    world.members = {name: make_member(world.orgs[org_key], role) for name, org_key, role in ROLE_MATRIX}
    world.members["other_admin"] = make_member(world.orgs["other_enterprise"], "admin")
    return world
