"""Reglament durations and Kazakhstan's working-day calendar.

A reglament gives each step a time limit ("20 минут", "3 жұмыс күні"); :class:`Duration` parses the
English form used in our YAML definitions, renders it in Kazakh, Russian and English, and computes
the deadline from a start moment. Working days follow Kazakhstan's official calendar as the
``holidays`` package knows it: weekends, public holidays, days off moved by government decree,
and the Saturdays or Sundays made working in exchange.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from functools import lru_cache

import holidays

KZ_TZ = timezone(timedelta(hours=5))
"""Kazakhstan's single time zone (UTC+5, no daylight saving) since 1 March 2024."""


def to_local(dt: datetime) -> datetime:
    """Return the aware datetime ``dt`` as Kazakhstan local time (UTC+5)."""
    _require_aware(dt)
    return dt.astimezone(KZ_TZ)


def _require_aware(dt: datetime) -> None:
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime {dt.isoformat()} has no UTC offset; give an aware datetime")


# --- working days ------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _kz_calendar(first_year: int, last_year: int) -> holidays.HolidayBase:
    """Kazakhstan's holidays for the years ``first_year..last_year``, built once per range."""
    return holidays.KZ(years=range(first_year, last_year + 1))


def _calendar_around(d: date, n: int) -> holidays.HolidayBase:
    """The cached calendar covering every date ``n`` working days away from ``d`` may reach."""
    # n working days never span more than 2·|n| + 31 calendar days in Kazakhstan's calendar.
    reach = timedelta(days=2 * abs(n) + 31)
    other = d + reach if n >= 0 else d - reach
    return _kz_calendar(min(d.year, other.year), max(d.year, other.year))


def _as_date(d: date) -> date:
    return to_local(d).date() if isinstance(d, datetime) else d


def is_working_day(d: date) -> bool:
    """True when ``d`` is a working day in Kazakhstan (a datetime counts by its local date)."""
    d = _as_date(d)
    return _kz_calendar(d.year, d.year).is_working_day(d)


def is_public_holiday(d: date) -> bool:
    """True when ``d`` is a public holiday or a day off by decree (a weekend alone does not count).

    A datetime counts by its local date. Observed days ("Nauryz (observed)") and days off moved from
    a weekend by government decree are included.
    """
    d = _as_date(d)
    return d in _kz_calendar(d.year, d.year)


def add_working_days(d: date, n: int) -> date:
    """The ``n``-th working day after ``d`` (before it when ``n`` is negative).

    ``n == 0`` gives ``d`` itself when it is a working day, otherwise the next working day.
    """
    d = _as_date(d)
    return _calendar_around(d, n).get_nth_working_day(d, n)


# --- durations ---------------------------------------------------------------------------------


class DurationUnit(StrEnum):
    """The units in which reglaments state their time limits."""

    minute = "minute"
    hour = "hour"
    calendar_day = "calendar_day"
    working_day = "working_day"
    times_per_working_day = "times_per_working_day"
    """Not a span but a rhythm: the step happens at the next of N moments of a working day (a
    collecting department that sends documents on three times a working day). Its deadline depends
    on an office's working hours, so only :meth:`simulation.workhours.Schedule.add` computes it."""


_ENGLISH = {
    DurationUnit.minute: ("minute", "minutes"),
    DurationUnit.hour: ("hour", "hours"),
    DurationUnit.calendar_day: ("calendar day", "calendar days"),
    DurationUnit.working_day: ("working day", "working days"),
    DurationUnit.times_per_working_day: ("time a working day", "times a working day"),
}

# Kazakh nouns stay singular after a numeral.
_KAZAKH = {
    DurationUnit.minute: "минут",
    DurationUnit.hour: "сағат",
    DurationUnit.calendar_day: "күнтізбелік күн",
    DurationUnit.working_day: "жұмыс күні",
    DurationUnit.times_per_working_day: "рет",
}

# Russian forms after a numeral: (1, 21, 31…), (2–4, 22–24…), (0, 5–20, 25–30…).
_RUSSIAN = {
    DurationUnit.minute: ("минута", "минуты", "минут"),
    DurationUnit.hour: ("час", "часа", "часов"),
    DurationUnit.calendar_day: ("календарный день", "календарных дня", "календарных дней"),
    DurationUnit.working_day: ("рабочий день", "рабочих дня", "рабочих дней"),
    DurationUnit.times_per_working_day: ("раз", "раза", "раз"),
}

_PARSE_UNITS = {
    "minute": DurationUnit.minute,
    "hour": DurationUnit.hour,
    "calendar day": DurationUnit.calendar_day,
    "working day": DurationUnit.working_day,
}
_PATTERN = re.compile(r"([0-9]+)\s+(minute|hour|calendar\s+day|working\s+day)s?", re.IGNORECASE)
# "3 times a working day", "once per working day", "twice a working day".
_TIMES_PATTERN = re.compile(
    r"(?:([0-9]+)\s+times?|(once)|(twice))\s+(?:a|per)\s+working\s+day", re.IGNORECASE
)
_ACCEPTED = (
    "'N minute(s)', 'N hour(s)', 'N calendar day(s)', 'N working day(s)' or"
    " 'N times a working day' with N ≥ 1"
)

_LONGEST = {
    DurationUnit.minute: 100 * 366 * 24 * 60,
    DurationUnit.hour: 100 * 366 * 24,
    DurationUnit.calendar_day: 100 * 366,
    DurationUnit.working_day: 100 * 366 * 5 // 7,
    DurationUnit.times_per_working_day: 24 * 60,
}
"""The largest amount of each unit: a century (a minute's rhythm for "times a working day").
A reglament's terms are minutes to months; a duration beyond this -- a clock moved by a billion
days -- would run past the dates Python and the holiday calendar represent, so it is refused as
an invalid duration rather than overflowing where it is added."""


def _russian_plural(n: int, one: str, few: str, many: str) -> str:
    """Pick the Russian noun form that agrees with the numeral ``n``."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


@dataclass(frozen=True)
class Duration:
    """A reglament time limit: a positive whole number of minutes, hours or days."""

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"duration amount must be a positive integer, got {self.amount!r}")
        object.__setattr__(self, "unit", DurationUnit(self.unit))
        if self.amount > _LONGEST[self.unit]:
            raise ValueError(
                f"duration amount {self.amount} is beyond the longest the simulation takes:"
                f" at most {_LONGEST[self.unit]} ({self.unit.value}, a century)"
            )

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse "20 minutes", "1 hour", "27 calendar days", "3 working days" and the like.

        Also "N times a working day" (or "once" / "per") for a step that happens at set moments.
        """
        stripped = text.strip() if isinstance(text, str) else None
        times = _TIMES_PATTERN.fullmatch(stripped) if stripped is not None else None
        if times is not None:
            amount = int(times.group(1)) if times.group(1) else 1 if times.group(2) else 2
            if amount >= 1:
                return cls(amount, DurationUnit.times_per_working_day)
        match = _PATTERN.fullmatch(stripped) if stripped is not None else None
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"cannot parse duration {text!r}: expected {_ACCEPTED}")
        unit = _PARSE_UNITS[" ".join(match.group(2).lower().split())]
        return cls(int(match.group(1)), unit)

    def english(self) -> str:
        """E.g. "1 hour", "27 calendar days", "3 times a working day", "once a working day"."""
        singular, plural = _ENGLISH[self.unit]
        if self.unit is DurationUnit.times_per_working_day and self.amount == 1:
            return "once a working day"
        return f"{self.amount} {singular if self.amount == 1 else plural}"

    def kazakh(self) -> str:
        """As the reglaments write it, e.g. "20 минут", "3 жұмыс күні", "1 жұмыс күнінде 3 рет"."""
        if self.unit is DurationUnit.times_per_working_day:
            return f"1 жұмыс күнінде {self.amount} {_KAZAKH[self.unit]}"
        return f"{self.amount} {_KAZAKH[self.unit]}"

    def russian(self) -> str:
        """E.g. "2 часа", "1 календарный день", "5 рабочих дней", "3 раза в рабочий день"."""
        text = f"{self.amount} {_russian_plural(self.amount, *_RUSSIAN[self.unit])}"
        if self.unit is DurationUnit.times_per_working_day:
            return f"{text} в рабочий день"
        return text

    def __str__(self) -> str:
        return self.english()

    def add_to(self, start: datetime) -> datetime:
        """The deadline of a step started at ``start`` (aware), in the same tzinfo as ``start``.

        Minutes and hours are elapsed time; calendar days keep the time of day; working days give
        the same Kazakhstan local time of day on the N-th working day after the local start date.
        "N times a working day" has no deadline without an office's working hours and raises
        ValueError here: use :meth:`simulation.workhours.Schedule.add`.
        """
        _require_aware(start)
        if self.unit is DurationUnit.times_per_working_day:
            raise ValueError(
                f"{self.english()!r} happens at moments of an office's working day, so it has no"
                " deadline without working hours: use simulation.workhours.Schedule.add"
            )
        if self.unit in (DurationUnit.minute, DurationUnit.hour):
            minutes = self.amount * (60 if self.unit is DurationUnit.hour else 1)
            step = timedelta(minutes=minutes)
            return (start.astimezone(timezone.utc) + step).astimezone(start.tzinfo)
        if self.unit is DurationUnit.calendar_day:
            return start + timedelta(days=self.amount)
        local = to_local(start)
        day = add_working_days(local.date(), self.amount)
        return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def term_end(term: Duration, start: datetime) -> datetime:
    """When a service's term that starts at ``start`` ends: ``term`` later -- and when that falls on
    a day off, at the end of the next working day (the general rule for terms ending on a day
    off). Local time, aware."""
    due = to_local(term.add_to(start))
    day = due.date()
    while not is_working_day(day):
        day += timedelta(days=1)
    if day != due.date():
        due = datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=due.tzinfo)
    return due
