"""Fixtures of the earmarked-fund tests: a county government holding the three funds, a city government
with cash that pays into them, and helpers that read a fund's balance."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from accounts.actor import Actor
from ledger.earmark import FUNDS, earmarked_receipt
from ledger.models import Account, AccountKind
from ledger.posting import AVAILABLE, Leg, accounts_ensure, post
from ledger.services import cny

_keys = itertools.count()


def fund_balance(org, fund: str) -> int:
    acc = Account.objects.filter(organization=org, asset=cny(), kind=FUNDS[fund].kind).first()
    return acc.available if acc else 0


def cash(org) -> int:
    acc = Account.objects.filter(organization=org, asset=cny(), kind=AccountKind.PARTICIPANT).first()
    return acc.available if acc else 0


def receive(w, fund: str, amount: int, purpose: str | None = None):
    """Money into `w.county`'s `fund` the way it arrives in production: compensation transfers and
    assistance payments by `earmarked_receipt`; farmland proceeds (a settlement, elsewhere tested) by a
    balanced ledger transaction of the settlement's kind from the payer's cash."""
    if fund == "farmland":
        c = cny()
        ids = accounts_ensure([(w.city.id, c.id, AccountKind.PARTICIPANT), (w.county.id, c.id, AccountKind.EARMARKED)])
        return post(kind="settle", idempotency_key=f"earmark-test:settle:{next(_keys)}", request={"amount": amount},
                    actor=Actor.system(), memo={"purpose_code": "farmland_protection"},
                    legs=[Leg(ids[(w.city.id, c.id, AccountKind.PARTICIPANT)], AVAILABLE, -amount),
                          Leg(ids[(w.county.id, c.id, AccountKind.EARMARKED)], AVAILABLE, amount)])
    kind = {"basin_compensation": "compensation_transfer", "paired_assistance": "assistance_payment"}[fund]
    key = f"earmark-test:{kind}:{next(_keys)}"
    return earmarked_receipt(actor=Actor.system(), kind=kind, payer=w.city, payee=w.county, amount=amount,
                             purpose_code=purpose or FUNDS[fund].purposes[0], idempotency_key=key,
                             request={"key": key, "amount": amount})


@pytest.fixture
def world(make_org, make_member, fund):
    county = make_org("county_government", "350121", name="闽侯县人民政府")
    city = make_org("city_government", "350100", name="福州市人民政府")
    fund(city, cny=10_000_000_00)
    county_actor = Actor(user_id=None, organization_id=county.id, role="admin", organization_kind=county.kind)
    return SimpleNamespace(county=county, city=city, county_actor=county_actor,
                           county_admin=make_member(county, "admin"), make_org=make_org, make_member=make_member)
