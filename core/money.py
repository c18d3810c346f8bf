"""Money and quantities as integers in minor units (fen; an asset's smallest unit), never floats.

The one rounding rule: a CNY amount computed from price × quantity or from a rate (fees) is rounded up to
the next fen (`ceil_div`), once, where it is computed. Holds and fees therefore round in the exchange's
favour and no value is created; amounts entered by people are exact (`to_minor` refuses extra places).
"""
from __future__ import annotations

from decimal import Decimal


def to_minor(value: Decimal, scale: int) -> int:
    """Exact conversion of a decimal with at most `scale` places to integer minor units."""
    quantized = value.scaleb(scale)
    if quantized != quantized.to_integral_value():
        raise ValueError("too many decimal places")
    return int(quantized)


def from_minor(amount: int, scale: int) -> str:
    """Integer minor units → decimal string with exactly `scale` places."""
    return str((Decimal(amount).scaleb(-scale)).quantize(Decimal(1).scaleb(-scale)))


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounding up (toward +∞): the rounding rule above."""
    return -((-numerator) // denominator)
