"""Unified social credit code (统一社会信用代码) validation, GB 32100-2015.

18 characters: registration authority (1), organization category (1), region code (6), organization
code (9, itself with a GB 11714 check character), and a final check character computed modulo 31 over
an alphabet that omits I, O, Z, S and V.
"""
from django.core.exceptions import ValidationError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc_check_character(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    if not isinstance(code, str) or len(code) != 18:
        return False
    if any(c not in ALPHABET for c in code):
        return False
    return uscc_check_character(code[:17]) == code[17]


def validate_uscc(value: str) -> None:
    if not is_valid_uscc(value):
        raise ValidationError("invalid unified social credit code", code="invalid_uscc")


def make_uscc(rest15: str, *, authority: str = "9", category: str = "1") -> str:
    """Build a valid code (for demo data): authority + category + 15 characters (region + organization code) + check."""
    first17 = (authority + category + rest15)[:17]
    return first17 + uscc_check_character(first17)
