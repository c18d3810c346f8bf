"""Unified social credit codes (GB 32100-2015): real published codes pass, every corruption fails."""
import pytest

from accounts.uscc import ALPHABET, is_valid_uscc, make_uscc, uscc_check_character, validate_uscc

REAL_CODES = [
    "91330100716105852F",  # Alibaba (China) Co., Ltd.
    "9144030071526726XG",  # Tencent Technology (Shenzhen)
    "914403001922038216",  # Huawei Technologies
    "91350000158142711F",  # a Fujian enterprise
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert is_valid_uscc(code)
    validate_uscc(code)  # does not raise


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_wrong_check_character_is_refused(code):
    for c in ALPHABET:
        if c != code[17]:
            assert not is_valid_uscc(code[:17] + c), c


@pytest.mark.parametrize("code", REAL_CODES)
def test_single_character_substitutions_are_caught(code):
    # modulo 31 with weights coprime to 31: changing any one position always changes the check character
    for i in range(17):
        for c in ALPHABET:
            if c != code[i]:
                assert not is_valid_uscc(code[:i] + c + code[i + 1:]), (i, c)


@pytest.mark.parametrize("bad", [
    "",
    "91330100716105852",  # 17 characters
    "91330100716105852FF",  # 19
    "91330100716105852f",  # lower case is not in the alphabet
    "9133010071610585IF",  # I, O, Z, S, V are never used
    "9133010071610585OF",
    "91330100716105852 ",
    "９1330100716105852F",  # full-width digit
    None,
    91330100716105852,
])
def test_malformed_codes(bad):
    assert not is_valid_uscc(bad)


def test_adjacent_transposition_is_caught():
    code = REAL_CODES[0]
    swapped = code[:3] + code[4] + code[3] + code[5:]
    assert swapped != code and not is_valid_uscc(swapped)


def test_validate_raises_with_stable_code():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        validate_uscc("91330100716105852A")
    assert info.value.code == "invalid_uscc"


def test_make_uscc_builds_valid_codes():
    code = make_uscc("350100MA0000001")
    assert len(code) == 18 and is_valid_uscc(code)
    assert code[17] == uscc_check_character(code[:17])


def test_demo_codes_are_valid_and_distinct():
    from accounts.demo import ORGANIZATIONS, _uscc_for

    codes = [_uscc_for(key) for key in ORGANIZATIONS]
    assert all(is_valid_uscc(c) for c in codes)
    assert len(set(codes)) == len(codes)
