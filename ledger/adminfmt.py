"""How the operator's admin shows amounts: in the asset's unit with its scale and thousands separators
("1,200.500 t", "5,000,000 m3"), money in yuan ("¥28,500.00") — never raw minor units."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from .models import Asset


def amount(value: int | None, scale: int, unit: str) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value).scaleb(-scale):,.{scale}f} {unit}"


def yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    return f"¥{Decimal(fen).scaleb(-2):,.2f}"


@lru_cache(maxsize=4096)
def _asset(asset_id: int) -> tuple[int, str, str]:
    a = Asset.objects.filter(pk=asset_id).values_list("scale", "unit", "code").first()
    return a or (0, "", "")


def asset_amount(value: int | None, asset_id: int) -> str:
    """`value` minor units of the asset `asset_id` (scale and unit never change once an asset exists)."""
    scale, unit, _ = _asset(asset_id)
    return amount(value, scale, unit)


def asset_code(asset_id: int) -> str:
    return _asset(asset_id)[2]
