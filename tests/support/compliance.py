"""A small compliance world for tests/compliance (and the console test): the provincial authority with a
maker and a checker, enterprises in Fuzhou (350102) and Xiamen (350203), an assigned verifier and another
verifier, regulators of Fuzhou and the province, carbon allowances of vintage 2025 and coverage for carbon
in the province, and a helper for each step of the cycle."""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from accounts.actor import Actor
from compliance import services
from compliance.models import ComplianceCoverage
from ledger import movements
from ledger import services as ledger_services
from ledger.models import Account

YEAR = 2025
DEADLINE = date(2026, 12, 31)


class ComplianceWorld:
    def __init__(self, make_org, make_member):
        self.make_org, self.make_member = make_org, make_member
        self.authority = make_org("provincial_authority", "350000")
        self.maker = make_member(self.authority, "admin")  # an admin: could check, but not its own
        self.checker = make_member(self.authority, "approver")
        self.fz = make_org("enterprise", "350102")  # Fuzhou Gulou
        self.xm = make_org("enterprise", "350203")  # Xiamen Siming
        self.fz_m = make_member(self.fz, "trader")
        self.xm_m = make_member(self.xm, "trader")
        self.verifier = make_org("verifier", "350100")
        self.verifier_m = make_member(self.verifier, "trader")
        self.other_verifier = make_org("verifier", "350200")
        self.other_verifier_m = make_member(self.other_verifier, "trader")
        self.fz_regulator = make_org("regulator", "350100", jurisdiction="350100")
        self.fz_regulator_m = make_member(self.fz_regulator, "approver")
        self.province = make_org("regulator", "350000", jurisdiction="350000")
        self.province_m = make_member(self.province, "approver")
        ComplianceCoverage.objects.get_or_create(right_type_id="carbon", subtype="", region_id="350000",
                                                 defaults={"since_year": 2021})
        self.assets = {}
        self.asset = self.allowance(YEAR)

    def allowance(self, vintage: int, right_type: str = "carbon", unit: str = "tCO2"):
        key = (vintage, right_type)
        if key not in self.assets:
            self.assets[key] = ledger_services.asset_create(
                actor=Actor.system(), code=f"T-{right_type[:2].upper()}-{vintage}-{self.authority.pk}",
                right_type_id=right_type, subtype="", unit=unit, scale=0, vintage=vintage, origin_region_id="350000",
                issuer=self.authority, valid_from=date(vintage, 1, 1), valid_to=date(2030, 12, 31))
        return self.assets[key]

    def year(self, *, deadline=DEADLINE, percent=70):
        return services.compliance_year_create(membership=self.maker, right_type_id="carbon", region_id="350000",
                                               year=YEAR, allocation_asset=self.asset, deadline=deadline,
                                               pre_allocation_percent=percent)

    def cover(self, year, org, *, method="list", listed=None, benchmark=None, verifier=True):
        return services.enterprise_cover(membership=self.maker, year=year, organization=org, method=method,
                                         listed_amount=listed,
                                         benchmark=None if benchmark is None else Decimal(benchmark),
                                         verifier=self.verifier if verifier else None)

    def allocate(self, year, org, phase="pre", *, key=None, confirm=True, **kw):
        allocation, _ = services.allocation_propose(membership=self.maker, year=year, organization=org, phase=phase,
                                                    idempotency_key=key or f"{phase}-{org.pk}", **kw)
        if confirm and allocation.movement_id:
            movements.movement_confirm(membership=self.checker, movement_id=allocation.movement_id)
        return allocation

    def verify(self, year, org, amount, *, output=None, reason="", member=None):
        return services.emission_submit(membership=member or self.verifier_m, year=year, organization=org,
                                        amount=amount, output=None if output is None else Decimal(output),
                                        evidence_sha256=hashlib.sha256(f"{org.pk}-{amount}".encode()).hexdigest(),
                                        evidence_reference="report", reason=reason)

    def surrender(self, year, member, amount, *, asset=None, key=None, on=None):
        return services.surrender_create(membership=member, year=year, asset=asset or self.asset, amount=amount,
                                         idempotency_key=key or f"s-{member.pk}-{amount}-{on}", on=on)[0]

    @staticmethod
    def holding(org, asset) -> int:
        row = Account.objects.filter(organization=org, asset=asset, kind="participant").values_list(
            "available", flat=True).first()
        return row or 0

    @staticmethod
    def retired(asset) -> int:
        row = Account.objects.filter(organization=None, asset=asset, kind="retirement").values_list(
            "available", flat=True).first()
        return row or 0
