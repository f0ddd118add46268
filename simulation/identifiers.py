"""ЖСН (ИИН, individual) and БСН (БИН, organisation) numbers: the one validator used everywhere.

Both are 12 digits ending with a check digit computed from the first 11 (see :func:`check_digit`).

- ЖСН: ``YYMMDD`` birth date, one digit for century and gender (1/2 = 1800s, 3/4 = 1900s,
  5/6 = 2000s; odd = male, even = female), a 4-digit serial, the check digit.
- БСН: ``YYMM`` of registration, the organisation type (4 resident legal entity, 5 non-resident
  legal entity, 6 joint individual entrepreneurship), a digit 0..3 for the kind of entity,
  a 5-digit serial, the check digit.

:func:`validate_iin` checks, in this order: the 12-digit form, the check digit, the
century/gender digit and the birth date. :func:`validate_bin` checks only the 12-digit form and
the check digit: the inner structure of a БСН varies too much in practice to reject on it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}

_LABELS = {"iin": ("ЖСН", "ИИН"), "bin": ("БСН", "БИН")}

# code -> (English rule, Kazakh text, Russian text); {kind} is ЖСН/ИИН or БСН/БИН.
_MESSAGES = {
    "format": (
        "must be exactly 12 digits, got {value!r}",
        "12 цифрдан тұруы тиіс",
        "должен состоять из 12 цифр",
    ),
    "checksum": (
        "check digit {given} does not match the computed {computed}",
        "бақылау саны сәйкес келмейді",
        "контрольный разряд не совпадает",
    ),
    "never_issued": (
        "the first 11 digits give no valid check digit, such a number is never issued",
        "мұндай нөмір берілмейді: бақылау саны есептелмейді",
        "такой номер не выдаётся: контрольный разряд не вычисляется",
    ),
    "century": (
        "7th digit {given} is not a century/gender digit 1-6",
        "7-ші цифр (ғасыр мен жыныс) 1-ден 6-ға дейін болуы тиіс",
        "7-я цифра (век и пол) должна быть от 1 до 6",
    ),
    "date": (
        "{given} is not a real birth date (YYMMDD)",
        "туған күні дұрыс емес",
        "неверная дата рождения",
    ),
}


class IdentifierError(ValueError):
    """An invalid ЖСН or БСН: ``field`` names the input, ``code`` the broken rule.

    ``code`` is one of "format", "checksum", "date", "century"; ``message_kk`` and ``message_ru``
    say the same in Kazakh and Russian for the end user.
    """

    def __init__(self, field: str, code: str, message: str, message_kk: str, message_ru: str):
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message
        self.message_kk = message_kk
        self.message_ru = message_ru


def _fail(kind: str, field: str, rule: str, **values: object) -> IdentifierError:
    english, kazakh, russian = _MESSAGES[rule]
    label_kk, label_ru = _LABELS[kind]
    code = "checksum" if rule == "never_issued" else rule
    return IdentifierError(
        field, code, f"{field}: {english.format(**values)}", f"{label_kk}: {kazakh}",
        f"{label_ru}: {russian}",
    )


def check_digit(first11: str) -> int | None:
    """The check digit of a ЖСН/БСН from its first 11 digits; None if the number is never issued.

    With weights 1..11, k = Σ dᵢ·wᵢ mod 11; when k is 10, weights 3..11,1,2 are used instead; when
    k is 10 again no number with these 11 digits is issued.
    """
    if not re.fullmatch(r"[0-9]{11}", first11):
        raise ValueError(f"expected 11 digits, got {first11!r}")
    digits = [int(c) for c in first11]
    for weights in (_WEIGHTS_1, _WEIGHTS_2):
        k = sum(d * w for d, w in zip(digits, weights)) % 11
        if k != 10:
            return k
    return None


def _validate_twelve(value: str, kind: str, field: str) -> str:
    if not isinstance(value, str) or not _TWELVE_DIGITS.fullmatch(value):
        raise _fail(kind, field, "format", value=value)
    computed = check_digit(value[:11])
    if computed is None:
        raise _fail(kind, field, "never_issued")
    if computed != int(value[11]):
        raise _fail(kind, field, "checksum", given=value[11], computed=computed)
    return value


def _birth_date(value: str) -> date | None:
    century = _CENTURY[int(value[6])]
    try:
        return date(century + int(value[0:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        return None


def validate_iin(value: str, field: str = "iin") -> str:
    """Return ``value`` if it is a well-formed ЖСН, else raise :class:`IdentifierError`."""
    _validate_twelve(value, "iin", field)
    if int(value[6]) not in _CENTURY:
        raise _fail("iin", field, "century", given=value[6])
    if _birth_date(value) is None:
        raise _fail("iin", field, "date", given=value[:6])
    return value


def validate_bin(value: str, field: str = "bin") -> str:
    """Return ``value`` if it is 12 digits with a valid check digit, else raise IdentifierError."""
    return _validate_twelve(value, "bin", field)


def iin_birth_date(iin: str) -> date:
    """The birth date a valid ЖСН encodes."""
    birth = _birth_date(validate_iin(iin))
    assert birth is not None
    return birth


def iin_gender(iin: str) -> Literal[1, 2]:
    """1 (male) or 2 (female), coded as ГБД ФЛ codes gender."""
    return 1 if int(validate_iin(iin)[6]) % 2 == 1 else 2


def _complete(prefix: str, serial: int, width: int) -> str:
    """``prefix`` + the first serial from ``serial`` on that is issued + its check digit."""
    for candidate in range(serial, 10**width):
        first11 = f"{prefix}{candidate:0{width}d}"
        digit = check_digit(first11)
        if digit is not None:
            return f"{first11}{digit}"
    raise ValueError(f"no issued number with prefix {prefix} from serial {serial}")


def make_iin(birth_date: date, gender: int, serial: int) -> str:
    """Build a valid ЖСН; gender 1 male / 2 female; serial 0..9999 (next if never issued)."""
    if gender not in (1, 2):
        raise ValueError(f"gender must be 1 (male) or 2 (female), got {gender!r}")
    if not 1800 <= birth_date.year <= 2099:
        raise ValueError(f"a ЖСН encodes birth years 1800-2099, got {birth_date.year}")
    if not 0 <= serial <= 9999:
        raise ValueError(f"serial must be 0..9999, got {serial}")
    century_digit = (birth_date.year - 1800) // 100 * 2 + gender
    return _complete(f"{birth_date:%y%m%d}{century_digit}", serial, 4)


def make_bin(registered: date, org_type: int, serial: int) -> str:
    """Build a valid БСН: YYMM, org type (4, 5 or 6), kind digit 0, serial 0..99999, check digit."""
    if org_type not in (4, 5, 6):
        raise ValueError(f"org_type must be 4, 5 or 6, got {org_type!r}")
    if not 0 <= serial <= 99999:
        raise ValueError(f"serial must be 0..99999, got {serial}")
    return _complete(f"{registered:%y%m}{org_type}0", serial, 5)
