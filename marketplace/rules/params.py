"""Parameter parsing of rule kinds: each helper reads one parameter, checks its type and range, and
raises `RuleParamsError` naming the field (the rulebook API turns it into a 400 with that field)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation


class RuleParamsError(ValueError):
    """Invalid parameters for a rule kind (the rulebook API turns it into a 400 with the field)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def str_list(params: dict, key: str, default=None) -> list | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RuleParamsError(key, "a string or a list of strings")
    return list(value)


def units(params: dict, key: str) -> Decimal | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise RuleParamsError(key, "a decimal number of whole units")
    if not d.is_finite() or d < 0:
        raise RuleParamsError(key, "a non-negative number of whole units")
    return d


def fen(params: dict, key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RuleParamsError(key, "a non-negative integer amount in fen")
    return value


def region_code(params: dict, key: str, *, keywords=()) -> str | None:
    value = params.get(key)
    if value is None or value in keywords:
        return value
    if not (isinstance(value, str) and len(value) == 6 and value.isascii() and value.isdigit()):
        raise RuleParamsError(key, "a 6-digit region code" + (f" or one of {', '.join(keywords)}" if keywords else ""))
    return value


def units_str(minor: int, scale: int) -> str:
    return str(Decimal(minor).scaleb(-scale).normalize())
