"""Tests for simulation.identifiers: ЖСН / БСН check digits, validation and construction."""

from datetime import date

import pytest

from simulation.identifiers import (
    IdentifierError,
    check_digit,
    iin_birth_date,
    iin_gender,
    make_bin,
    make_iin,
    validate_bin,
    validate_iin,
)


def reference_check_digit(first11: str) -> int | None:
    """REFERENCE.md's rule, written out independently of the module under test."""
    s = sum(int(d) * w for d, w in zip(first11, range(1, 12)))
    if s % 11 != 10:
        return s % 11
    s = sum(int(d) * w for d, w in zip(first11, [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]))
    return None if s % 11 == 10 else s % 11


def with_check(first11: str) -> str:
    digit = reference_check_digit(first11)
    assert digit is not None, first11
    return first11 + str(digit)


# --- check digits, worked by hand --------------------------------------------------------------


def test_check_digit_first_weights():
    # Man born 1990-05-15: 900515 + century/gender 3 + serial 0123 = 9 0 0 5 1 5 3 0 1 2 3
    # weights 1..11: 9·1 + 0·2 + 0·3 + 5·4 + 1·5 + 5·6 + 3·7 + 0·8 + 1·9 + 2·10 + 3·11
    #              = 9 + 0 + 0 + 20 + 5 + 30 + 21 + 0 + 9 + 20 + 33 = 147
    # 147 mod 11 = 147 - 13·11 = 4  ->  check digit 4
    assert check_digit("90051530123") == 4
    assert validate_iin("900515301234") == "900515301234"


def test_check_digit_second_weights():
    # 9 0 0 5 1 5 3 0 0 9 0 (same man, serial 0090)
    # weights 1..11: 9 + 0 + 0 + 20 + 5 + 30 + 21 + 0 + 0 + 90 + 0 = 175; 175 mod 11 = 10
    # so weights 3,4,5,6,7,8,9,10,11,1,2:
    #   9·3 + 0·4 + 0·5 + 5·6 + 1·7 + 5·8 + 3·9 + 0·10 + 0·11 + 9·1 + 0·2
    #   = 27 + 0 + 0 + 30 + 7 + 40 + 27 + 0 + 0 + 9 + 0 = 140; 140 mod 11 = 140 - 132 = 8
    assert check_digit("90051530090") == 8
    assert validate_iin("900515300908") == "900515300908"


def test_check_digit_never_issued():
    # 9 0 0 5 1 5 3 0 0 9 1 (serial 0091)
    # weights 1..11: 175 + 1·11 = 186; 186 mod 11 = 186 - 176 = 10
    # weights 3..11,1,2: 140 + 1·2 = 142; 142 mod 11 = 142 - 132 = 10  ->  never issued
    assert check_digit("90051530091") is None
    for last in "0123456789":
        with pytest.raises(IdentifierError) as info:
            validate_iin("90051530091" + last)
        assert info.value.code == "checksum"
        assert "never issued" in str(info.value)


def test_check_digit_bin():
    # БСН registered April 2015, org type 4, kind 0, serial 00000: 1 5 0 4 4 0 0 0 0 0 0
    # weights 1..11: 1·1 + 5·2 + 0·3 + 4·4 + 4·5 + 0 … = 1 + 10 + 0 + 16 + 20 = 47
    # 47 mod 11 = 47 - 44 = 3  ->  check digit 3
    assert check_digit("15044000000") == 3
    assert validate_bin("150440000003") == "150440000003"


def test_check_digit_rejects_bad_input():
    for bad in ("1234567890", "123456789012", "1234567890a"):
        with pytest.raises(ValueError):
            check_digit(bad)


def test_check_digit_agrees_with_reference_rule():
    for n in range(0, 10**11, 9_876_543_211 // 7):
        prefix = f"{n:011d}"
        assert check_digit(prefix) == reference_check_digit(prefix), prefix


# --- ЖСН validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "", "90051530123", "9005153012345", "90051530123a", " 900515301234", "900515301234 ",
    "9005-5301234", "٩٠٠٥١٥٣٠١٢٣٤", None, 900515301234,
])
def test_iin_format(value):
    with pytest.raises(IdentifierError) as info:
        validate_iin(value)
    assert info.value.code == "format"
    assert info.value.field == "iin"
    assert str(info.value).startswith("iin: ")
    assert info.value.message_kk.startswith("ЖСН: ")
    assert info.value.message_ru.startswith("ИИН: ")


def test_iin_wrong_check_digit():
    with pytest.raises(IdentifierError) as info:
        validate_iin("900515301235")
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.field, error.code) == ("iin", "checksum")
    assert str(error) == "iin: check digit 5 does not match the computed 4"
    assert error.message_kk == "ЖСН: бақылау саны сәйкес келмейді"
    assert error.message_ru == "ИИН: контрольный разряд не совпадает"


def test_iin_field_name_is_reported():
    with pytest.raises(IdentifierError) as info:
        validate_iin("900515301235", field="principal_iin")
    assert info.value.field == "principal_iin"
    assert str(info.value).startswith("principal_iin: ")
    assert info.value.message_kk.startswith("ЖСН: ")


@pytest.mark.parametrize("century", "0789")
def test_iin_bad_century_digit(century):
    value = with_check(f"900515{century}0124")
    with pytest.raises(IdentifierError) as info:
        validate_iin(value)
    assert (info.value.field, info.value.code) == ("iin", "century")
    assert f"7th digit {century}" in str(info.value)
    assert info.value.message_ru.startswith("ИИН: ")


@pytest.mark.parametrize("yymmdd, century", [
    ("901315", "3"),  # month 13
    ("900500", "3"),  # day 0
    ("900431", "3"),  # 31 April
    ("000229", "3"),  # 1900 was not a leap year
    ("010229", "5"),  # nor was 2001
])
def test_iin_bad_date(yymmdd, century):
    value = with_check(f"{yymmdd}{century}0001")
    with pytest.raises(IdentifierError) as info:
        validate_iin(value)
    assert (info.value.field, info.value.code) == ("iin", "date")
    assert yymmdd in str(info.value)


def test_iin_leap_day_2000_is_valid():
    value = with_check("00022960001")  # 6: a girl born in the 2000s
    assert validate_iin(value) == value
    assert iin_birth_date(value) == date(2000, 2, 29)
    assert iin_gender(value) == 2


@pytest.mark.parametrize("century, year, gender", [
    ("1", 1899, 1), ("2", 1899, 2), ("3", 1999, 1), ("4", 1999, 2), ("5", 2099, 1), ("6", 2099, 2),
])
def test_iin_birth_date_and_gender(century, year, gender):
    value = with_check(f"991231{century}0042")
    assert iin_birth_date(value) == date(year, 12, 31)
    assert iin_gender(value) == gender


def test_iin_helpers_validate():
    with pytest.raises(IdentifierError):
        iin_birth_date("900515301235")
    with pytest.raises(IdentifierError):
        iin_gender("12345")


# --- БСН validation ----------------------------------------------------------------------------


def test_bin_errors():
    with pytest.raises(IdentifierError) as info:
        validate_bin("15044000000")
    assert (info.value.field, info.value.code) == ("bin", "format")
    assert info.value.message_kk.startswith("БСН: ")
    assert info.value.message_ru.startswith("БИН: ")

    with pytest.raises(IdentifierError) as info:
        validate_bin("150440000004", field="provider_bin")
    assert (info.value.field, info.value.code) == ("provider_bin", "checksum")
    assert str(info.value) == "provider_bin: check digit 4 does not match the computed 3"


def test_bin_inner_structure_not_checked():
    # Only the 12-digit form and the check digit are strict: month 13, type digit 9 pass.
    value = with_check("15139300000")
    assert validate_bin(value) == value


# --- construction ------------------------------------------------------------------------------


def test_make_iin():
    assert make_iin(date(1990, 5, 15), 1, 123) == "900515301234"
    assert make_iin(date(1990, 5, 15), 1, 90) == "900515300908"


def test_make_iin_skips_never_issued_serial():
    # serial 0091 gives no check digit (see above); 0092 does: weights 1..11 give 197 ≡ 10,
    # weights 3..11,1,2 give 142 + 2 = 144 ≡ 1.
    assert make_iin(date(1990, 5, 15), 1, 91) == "900515300921"


@pytest.mark.parametrize("born, gender, digit", [
    (date(1850, 1, 1), 1, "1"), (date(1850, 1, 1), 2, "2"),
    (date(1900, 1, 1), 1, "3"), (date(1999, 12, 31), 2, "4"),
    (date(2000, 1, 1), 1, "5"), (date(2024, 2, 29), 2, "6"),
])
def test_make_iin_century_digit(born, gender, digit):
    value = make_iin(born, gender, 7)
    assert value[6] == digit
    assert validate_iin(value) == value
    assert iin_birth_date(value) == born
    assert iin_gender(value) == gender


def test_make_iin_many_are_valid_and_distinct():
    made = {make_iin(date(1985, 1, 20), 2, serial) for serial in range(0, 10_000, 37)}
    assert all(validate_iin(v) for v in made)
    assert len(made) > 250


def test_make_iin_bad_arguments():
    with pytest.raises(ValueError):
        make_iin(date(1990, 1, 1), 3, 1)
    with pytest.raises(ValueError):
        make_iin(date(1790, 1, 1), 1, 1)
    with pytest.raises(ValueError):
        make_iin(date(1990, 1, 1), 1, 10_000)
    with pytest.raises(ValueError):
        make_iin(date(1990, 1, 1), 1, -1)


def test_make_bin():
    assert make_bin(date(2015, 4, 20), 4, 0) == "150440000003"
    # serial 00044: weights 1..11 give 47 + 4·10 + 4·11 = 131 ≡ 10, weights 3..11,1,2 give
    # 3 + 20 + 24 + 28 + 4·1 + 4·2 = 87 ≡ 10: never issued. Serial 00045: 142 ≡ 10, then
    # 75 + 4 + 10 = 89 ≡ 1.
    assert make_bin(date(2015, 4, 20), 4, 44) == "150440000451"
    value = make_bin(date(2023, 11, 1), 6, 12345)
    assert value[:6] == "231160"
    assert validate_bin(value) == value


def test_make_bin_bad_arguments():
    with pytest.raises(ValueError):
        make_bin(date(2015, 4, 1), 3, 0)
    with pytest.raises(ValueError):
        make_bin(date(2015, 4, 1), 4, 100_000)
