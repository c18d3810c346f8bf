"""What the rules need to know besides a check's context: region geography (levels, zones, basins),
non-attainment flags, discharge permits and each right type's policy (`ledger.models.RightType`).
Built once per rulebook generation (`engine.compiled`); permits are looked up lazily per organization."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from accounts.models import Organization, Region
from ledger.models import RightType

from ..models import DischargePermit, NonAttainmentFlag


@dataclass(frozen=True)
class RightTypePolicy:
    """The policy fields of a `RightType` row the rules read (see its docstring)."""

    code: str
    basin_bound: bool = False
    notice_period_days: int | None = None
    pollutant_subtypes: bool = False
    permit_required: bool = False


POLICY_FIELDS = ("basin_bound", "notice_period_days", "pollutant_subtypes", "permit_required")
NO_POLICY = RightTypePolicy(code="")


class Facts:
    """What checks need to know besides the context: region geography, non-attainment flags, discharge
    permits and right-type policy. Built once per rulebook generation (a change to a right type bumps
    the generation too); permits are looked up lazily per organization and kept for the generation's
    lifetime."""

    def __init__(self, regions: dict[str, tuple[str, str, str | None]], basins: dict[str, set[str]],
                 flags: list[tuple[str, str, date, date]], right_types: list[RightTypePolicy] = ()):
        self.right_types = {p.code: p for p in right_types}
        self.regions = regions  # code -> (level, zone, parent)
        self._own_basins = basins
        self._basins: dict[str, frozenset[str]] = {}
        self.flags: dict[str, list[tuple[str, date, date, str]]] = {}
        for region, pollutant, start, end in flags:
            self.flags.setdefault(pollutant.upper(), []).append((self.prefix(region), start, end, region))
        self._permits: dict[int, list[tuple[list, date | None]]] = {}

    def level(self, code: str | None) -> str | None:
        info = self.regions.get(code or "")
        return info[0] if info else None

    def prefix(self, code: str) -> str:
        level = self.level(code)
        return {"province": code[:2], "city": code[:4]}.get(level or "", code)

    def covers(self, region: str | None, code: str | None) -> bool:
        return bool(region) and bool(code) and code.startswith(self.prefix(region))

    def zone(self, code: str) -> str:
        info = self.regions.get(code)
        if info and info[1]:
            return info[1]
        city = code[:4] + "00"
        info = self.regions.get(city)
        return info[1] if info else ""

    def basins(self, code: str | None) -> frozenset[str]:
        """A county's basins; for a city or the province, every basin of the counties it contains."""
        if not code:
            return frozenset()
        if code not in self._basins:
            own = set(self._own_basins.get(code, ()))
            if self.level(code) in ("city", "province"):
                p = self.prefix(code)
                for c, bs in self._own_basins.items():
                    if c.startswith(p):
                        own |= bs
            self._basins[code] = frozenset(own)
        return self._basins[code]

    def non_attainment(self, pollutant: str, code: str | None, on: date) -> str | None:
        """The flagged region covering `code` for `pollutant` on `on`, or None."""
        if not code:
            return None
        for prefix, start, end, region in self.flags.get(pollutant.upper(), ()):
            if start <= on <= end and code.startswith(prefix):
                return region
        return None

    def permits(self, organization_id: int) -> list[tuple[list, date | None]]:
        if organization_id not in self._permits:
            self._permits[organization_id] = [
                (list(p or []), valid_to) for p, valid_to in
                DischargePermit.objects.filter(organization_id=organization_id).values_list("pollutants", "valid_to")
            ]
        return self._permits[organization_id]

    def policy(self, right_type: str | None) -> RightTypePolicy:
        """The policy of a right type (no policy at all for an unknown one)."""
        return self.right_types.get(right_type or "", NO_POLICY)

    def right_types_where(self, policy: str) -> list[str]:
        """The codes of the right types whose policy field `policy` is set (true or a value)."""
        return sorted(code for code, p in self.right_types.items() if getattr(p, policy))

    def has_permit(self, org: Organization, pollutant: str, on: date) -> bool:
        if org.discharge_permit_no:
            return True
        for pollutants, valid_to in self.permits(org.id):
            if (not pollutants or pollutant.upper() in {p.upper() for p in pollutants}) and (
                    valid_to is None or valid_to >= on):
                return True
        return False


def load_facts() -> Facts:
    regions = {code: (level, zone, parent) for code, level, zone, parent in
               Region.objects.values_list("code", "level", "zone", "parent_id")}
    basins: dict[str, set[str]] = {}
    for region_id, basin_id in Region.basins.through.objects.values_list("region_id", "basin_id"):
        basins.setdefault(region_id, set()).add(basin_id)
    flags = list(NonAttainmentFlag.objects.values_list("region_id", "pollutant", "period_start", "period_end"))
    right_types = [RightTypePolicy(code, *rest) for code, *rest in
                   RightType.objects.values_list("code", *POLICY_FIELDS)]
    return Facts(regions, basins, flags, right_types)
