"""Invariants of the compliance cycle over random years (Hypothesis): for every covered enterprise,
surrendered + shortfall = obligation (verified emissions of the latest version + any negative true-up
owed), and allowances are conserved: what was issued is either still held or retired, and the ledger
stays balanced."""
from __future__ import annotations

import itertools
from datetime import date

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.actor import Actor
from compliance import services
from compliance.models import ComplianceYear
from core.errors import DomainError
from ledger import services as ledger_services
from ledger.models import Account

pytestmark = pytest.mark.django_db
_years = itertools.count(2100)

enterprise = st.fixed_dictionaries({
    "listed": st.integers(min_value=0, max_value=5_000),
    "emissions": st.lists(st.integers(min_value=0, max_value=6_000), min_size=1, max_size=3),
    "surrenders": st.lists(st.integers(min_value=1, max_value=3_000), max_size=4),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(enterprises=st.lists(enterprise, min_size=1, max_size=2))
def test_surrendered_plus_shortfall_is_the_obligation_and_allowances_are_conserved(cw, enterprises):
    n = next(_years)
    asset = ledger_services.asset_create(actor=Actor.system(), code=f"T-CA-P{n}-{cw.authority.pk}",
                                         right_type_id="carbon", subtype="", unit="tCO2", scale=0, vintage=n,
                                         origin_region_id="350000", issuer=cw.authority)
    year = services.compliance_year_create(membership=cw.maker, right_type_id="carbon", region_id="350000", year=n,
                                           allocation_asset=asset, deadline=date(n + 1, 6, 30))
    orgs = [(cw.fz, cw.fz_m), (cw.xm, cw.xm_m)][:len(enterprises)]
    on = date(n + 1, 6, 30)
    for (org, member), e in zip(orgs, enterprises, strict=False):
        cw.cover(year, org, listed=e["listed"])
        if e["listed"] * year.pre_allocation_percent >= 100:  # a pre-allocation of at least one unit
            cw.allocate(year, org, key=f"pre-{n}-{org.pk}")
        cw.allocate(year, org, "true_up", key=f"tu-{n}-{org.pk}")
        for i, amount in enumerate(e["emissions"]):
            cw.verify(year, org, amount, reason="" if i == 0 else "corrected")
        for j, amount in enumerate(e["surrenders"]):
            try:
                services.surrender_create(membership=member, year=year, asset=asset, amount=amount,
                                          idempotency_key=f"p-{n}-{org.pk}-{j}", on=on)
            except DomainError as exc:  # more than owed, or more than held: refused whole
                assert exc.code in ("compliance_exceeds_obligation", "insufficient_balance")
    assert services.shortfall_scan(on=date(n + 1, 7, 1)) >= 0
    issued = retired = 0
    for row, ((org, _), e) in zip(services.shortfalls(ComplianceYear.objects.get(pk=year.pk)),
                                  sorted(zip(orgs, enterprises, strict=False), key=lambda x: x[0][0].pk),
                                  strict=True):
        assert row["organization"].pk == org.pk
        assert row["obligation"] == e["emissions"][-1]  # the latest version; a list allocation owes no true-up
        assert row["surrendered"] + row["shortfall"] == row["obligation"]
        held = cw.holding(org, asset)
        assert held == e["listed"] - row["surrendered"]  # conservation per enterprise
        issued += e["listed"]
        retired += row["surrendered"]
    assert cw.retired(asset) == retired
    issuance = Account.objects.filter(organization=None, asset=asset, kind="issuance").first()
    assert (issuance.available if issuance else 0) == -issued
    with connection.cursor() as cur:
        cur.execute("SELECT p.transaction_id FROM ledger_posting p GROUP BY p.transaction_id, p.asset_id "
                    "HAVING sum(p.amount) <> 0")
        assert cur.fetchall() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(benchmark=st.decimals(min_value="0.000001", max_value="50", places=6),
       output=st.decimals(min_value="0", max_value="10000000", places=6),
       percent=st.integers(min_value=0, max_value=100), scale=st.integers(min_value=0, max_value=3))
def test_benchmark_allocation_is_the_exact_product_rounded_up_once(cw, benchmark, output, percent, scale):
    got = services.benchmark_allocation(benchmark=benchmark, output=output, scale=scale, percent=percent)
    exact = benchmark * output * percent / 100 * 10**scale  # Decimal, exact at this precision
    assert got - 1 < exact <= got
