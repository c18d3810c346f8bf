"""Fixtures of the reserve tests: `rworld` — the operator (two people), a city government designated as
the emission-rights reserve with a floor of ¥100/t, an SO2 instrument, holders with rights, a Fuzhou and
a Xiamen regulator."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.actor import Actor
from reserve import services

UNIT = 1000
YUAN = 100


def actor_of(membership) -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind)


@dataclass
class ReserveWorld:
    operator: object
    op_admin: object
    op_approver: object
    city: object
    city_admin: object
    holders: list
    market: object
    designation: object
    fz_regulator: object
    xm_regulator: object

    @property
    def asset(self):
        return self.market.asset


@pytest.fixture
def rworld(make_org, make_member, make_market, fund, operator_org):
    op_admin, op_approver = make_member(operator_org, "admin"), make_member(operator_org, "approver")
    city = make_org("city_government", "350100")
    city_admin = make_member(city, "admin")
    market = make_market(subtype="SO2", region="350121")
    holders = [make_org("enterprise", "350121"), make_org("enterprise", "350203")]
    for h in holders:
        fund(h, market=market, quantity=50 * UNIT)
    fund(city, cny=1_000_000 * YUAN)
    proposal = services.designation_propose(actor=actor_of(op_admin), right_type_id="emission",
                                            organization_id=city.id, floor_price=100 * YUAN)
    designation = services.designation_decide(actor=actor_of(op_approver), designation_id=proposal.id, confirm=True)
    fz = make_org("regulator", "350100", jurisdiction="350100")
    xm = make_org("regulator", "350200", jurisdiction="350200")
    return ReserveWorld(operator=operator_org, op_admin=op_admin, op_approver=op_approver, city=city,
                        city_admin=city_admin, holders=holders, market=market, designation=designation,
                        fz_regulator=fz, xm_regulator=xm)
