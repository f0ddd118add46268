"""Offices' working hours: when staff count minutes, hours and working days.

A reglament's "20 минут" at the authorised body means twenty minutes of its working time: a
request taken at 17:50 on a Friday is done at 09:10 on Monday. A :class:`Schedule` is data per
office, as a YAML definition holds it::

    {"days": "mon-fri", "hours": "09:00-18:00", "breaks": ["13:00-14:00"]}   # authorised body
    {"days": "mon-sat", "hours": "09:00-20:00"}                              # front office
    {"always": true}                                                         # the portal

Public holidays (and days off moved by decree) are closed unless ``"holidays": false``; a weekend
day made working by decree is open when the schedule keeps holidays, so ``mon-fri`` follows
Kazakhstan's official working days exactly. Every moment is read in Kazakhstan local time
(:func:`simulation.calendar.to_local`); results keep the tzinfo of the moment given.

How :meth:`Schedule.add` counts each unit:

- minutes and hours: open time only. Work starts at :meth:`Schedule.next_opening` of the start,
  stops at a break or at closing, and resumes at the next opening. Work that ends exactly when a
  period closes ends then (12:50 + 10 minutes is 13:00, not 14:00).
- working days: work starts at the next opening; the result is the same local time of day on the
  N-th working day of Kazakhstan's calendar after that (weekends and holidays skipped), moved to the
  next opening if the office is closed then.
- calendar days: "within N calendar days": start + N days; if the office is closed at that
  moment, its last open moment before it (the closing of the last working day) when that is
  after the start, else its next opening.
- "N times a working day": the next pickup moment at or after the start (see
  :meth:`Schedule.pickup_moments`).

:data:`Schedule.ALWAYS` (round the clock) gives exactly :meth:`Duration.add_to` for minutes,
hours, calendar days and working days.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from simulation.calendar import (
    KZ_TZ,
    Duration,
    DurationUnit,
    add_working_days,
    is_public_holiday,
    is_working_day,
    to_local,
)

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKEND = frozenset({5, 6})
_MINUTES_PER_DAY = 24 * 60
_FIELDS = ("always", "days", "hours", "breaks", "holidays")
_SPAN = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*[-–]\s*([0-9]{1,2}):([0-9]{2})\s*")
_DAY_ITEM = re.compile(r"\s*([a-z]{3})\s*(?:[-–]\s*([a-z]{3})\s*)?", re.IGNORECASE)
# No office is closed for this long; the search for an opening gives up after it.
_SEARCH_DAYS = 3 * 366

# Day names for describe(): (English, Kazakh nominative, ablative "from", dative "to",
# Russian nominative, genitive "с", accusative "по").
_DAY_WORDS = (
    ("Monday", "дүйсенбі", "дүйсенбіден", "дүйсенбіге", "понедельник", "понедельника", "понедельник"),
    ("Tuesday", "сейсенбі", "сейсенбіден", "сейсенбіге", "вторник", "вторника", "вторник"),
    ("Wednesday", "сәрсенбі", "сәрсенбіден", "сәрсенбіге", "среда", "среды", "среду"),
    ("Thursday", "бейсенбі", "бейсенбіден", "бейсенбіге", "четверг", "четверга", "четверг"),
    ("Friday", "жұма", "жұмадан", "жұмаға", "пятница", "пятницы", "пятницу"),
    ("Saturday", "сенбі", "сенбіден", "сенбіге", "суббота", "субботы", "субботу"),
    ("Sunday", "жексенбі", "жексенбіден", "жексенбіге", "воскресенье", "воскресенья", "воскресенье"),
)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _span_text(span: tuple[int, int]) -> str:
    return f"{_clock(span[0])}-{_clock(span[1])}"


def _parse_span(field: str, value: object) -> tuple[int, int]:
    """'09:00-18:00' -> (540, 1080) minutes after midnight; 24:00 may end a span."""
    match = _SPAN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{field}: {value!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(
            f"{field}: {value!r} is not a time of day (00:00 to 23:59, or 24:00 as an end)"
        )
    opens, closes = h1 * 60 + m1, h2 * 60 + m2
    if closes <= opens:
        raise ValueError(
            f"{field}: {value!r} ends before it starts (a span runs forward within one day)"
        )
    return opens, closes


def _parse_days(value: object) -> frozenset[int]:
    items: list[object]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)) and value:
        items = [
            part for item in value
            for part in (item.split(",") if isinstance(item, str) else [item])
        ]
    else:
        raise ValueError(
            f"days: {value!r} is not a list of day names or ranges such as 'mon-fri' or"
            " 'mon,wed,fri'"
        )
    days: set[int] = set()
    for item in items:
        match = _DAY_ITEM.fullmatch(item) if isinstance(item, str) else None
        names = [g.lower() for g in match.groups() if g] if match else []
        if not names or any(name not in _DAY_NAMES for name in names):
            raise ValueError(
                f"days: {item!r} is not a day name or range"
                f" ({', '.join(_DAY_NAMES)}; e.g. 'mon-fri')"
            )
        first, last = (_DAY_NAMES.index(name) for name in (names[0], names[-1]))
        if last < first:
            raise ValueError(f"days: {item!r} runs backwards; a range goes from mon towards sun")
        days.update(range(first, last + 1))
    return frozenset(days)


def _parse_flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not true or false")
    return value


def _runs(days: frozenset[int]) -> list[tuple[int, int]]:
    """Sorted weekdays grouped into consecutive runs: {0,1,2,4} -> [(0, 2), (4, 4)]."""
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@dataclass(frozen=True)
class Schedule:
    """When an office works: the same opening hours on each of its days, minus breaks.

    ``days`` are weekdays (0 Monday … 6 Sunday); ``hours`` and ``breaks`` are minutes after local
    midnight (``hours[1]`` may be 1440, i.e. 24:00); ``holidays`` True closes the office on public
    holidays and opens it on weekend days made working by decree. Build one with :meth:`parse`.
    """

    days: frozenset[int]
    hours: tuple[int, int]
    breaks: tuple[tuple[int, int], ...] = ()
    holidays: bool = True

    ALWAYS: ClassVar[Schedule]

    def __post_init__(self) -> None:
        days = frozenset(self.days)
        if not days or not days <= set(range(7)):
            raise ValueError(
                f"days: {sorted(self.days)!r} must be weekdays 0 (Monday) to 6 (Sunday)"
            )
        object.__setattr__(self, "days", days)
        opens, closes = self.hours
        if not 0 <= opens < closes <= _MINUTES_PER_DAY:
            raise ValueError(f"hours: {self.hours!r} is not a span of one day in minutes")
        breaks = tuple(sorted((int(a), int(b)) for a, b in self.breaks))
        for start, end in breaks:
            if not opens <= start < end <= closes:
                raise ValueError(
                    f"breaks: {_span_text((start, end))!r} is not inside hours"
                    f" {_span_text(self.hours)!r}"
                )
        for (s1, e1), (s2, e2) in zip(breaks, breaks[1:]):
            if s2 < e1:
                raise ValueError(
                    f"breaks: {_span_text((s1, e1))!r} overlaps {_span_text((s2, e2))!r}"
                )
        object.__setattr__(self, "breaks", breaks)
        if not self._day_periods():
            raise ValueError(f"breaks: they cover all of hours {_span_text(self.hours)!r}")

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: object) -> Schedule:
        """A schedule from its definition data; ValueError names the field and the rule broken."""
        if isinstance(data, Schedule):
            return data
        if not isinstance(data, dict):
            raise ValueError(
                f"schedule: {data!r} is not a mapping with days, hours, breaks, holidays or always"
            )
        for key in data:
            if key not in _FIELDS:
                raise ValueError(f"schedule: unknown field {key!r} (known: {', '.join(_FIELDS)})")
        if _parse_flag("always", data.get("always", False)):
            for key in ("days", "hours", "breaks", "holidays"):
                if key in data:
                    raise ValueError(
                        f"{key}: a round-the-clock schedule (always: true) is open every moment,"
                        f" holidays included; give {key!r} only without always"
                    )
            return cls.ALWAYS
        for key in ("days", "hours"):
            if key not in data:
                raise ValueError(f"{key}: missing (required unless always: true)")
        breaks = data.get("breaks", [])
        if breaks is None:
            breaks = []
        if not isinstance(breaks, (list, tuple)):
            raise ValueError(f"breaks: {breaks!r} is not a list of HH:MM-HH:MM spans")
        hours = _parse_span("hours", data["hours"])
        return cls(
            days=_parse_days(data["days"]),
            hours=hours,
            breaks=tuple(_parse_span("breaks", item) for item in breaks),
            holidays=_parse_flag("holidays", data.get("holidays", True)),
        )

    def data(self) -> dict[str, Any]:
        """The definition data of this schedule; ``Schedule.parse(s.data()) == s``."""
        if self.is_always:
            return {"always": True}
        days = ",".join(
            _DAY_NAMES[a] if a == b else f"{_DAY_NAMES[a]}-{_DAY_NAMES[b]}"
            for a, b in _runs(self.days)
        )
        result: dict[str, Any] = {"days": days, "hours": _span_text(self.hours)}
        if self.breaks:
            result["breaks"] = [_span_text(span) for span in self.breaks]
        if not self.holidays:
            result["holidays"] = False
        return result

    @property
    def is_always(self) -> bool:
        """True for a round-the-clock schedule: every day, 00:00-24:00, holidays included."""
        return (
            len(self.days) == 7
            and self.hours == (0, _MINUTES_PER_DAY)
            and not self.breaks
            and not self.holidays
        )

    # --- words ---------------------------------------------------------------------------------

    def describe(self) -> dict[str, str]:
        """A short description in Kazakh, Russian and English: {"kk": …, "ru": …, "en": …}."""
        if self.is_always:
            return {"kk": "тәулік бойы", "ru": "круглосуточно", "en": "round the clock"}
        if len(self.days) == 7:
            kk_days, ru_days, en_days = ["күн сайын"], ["ежедневно"], ["every day"]
        else:
            kk_days, ru_days, en_days = [], [], []
            for a, b in _runs(self.days):
                wa, wb = _DAY_WORDS[a], _DAY_WORDS[b]
                if a == b:
                    en_days.append(wa[0])
                    kk_days.append(wa[1])
                    ru_days.append(wa[4])
                elif b == a + 1:
                    en_days.append(f"{wa[0]}, {wb[0]}")
                    kk_days.append(f"{wa[1]}, {wb[1]}")
                    ru_days.append(f"{wa[4]}, {wb[4]}")
                else:
                    en_days.append(f"{wa[0]} to {wb[0]}")
                    kk_days.append(f"{wa[2]} {wb[3]} дейін")
                    ru_days.append(f"с {wa[5]} по {wb[6]}")
        hours = _span_text(self.hours).replace("-", "–")
        spans = [span.replace("-", "–") for span in map(_span_text, self.breaks)]
        kk = [", ".join(kk_days), f"сағат {hours}"]
        ru = [", ".join(ru_days), hours]
        en = [", ".join(en_days), hours]
        if spans:
            kk.append(f"үзіліс {', '.join(spans)}")
            ru.append(f"перерыв {', '.join(spans)}")
            en.append(f"break {', '.join(spans)}")
        else:
            kk.append("үзіліссіз")
            ru.append("без перерыва")
            en.append("no break")
        if self.holidays:
            kk.append("мереке күндерін қоспағанда")
            ru.append("кроме праздничных дней")
            en.append("closed on public holidays")
        else:
            kk.append("мереке күндері де")
            ru.append("в том числе в праздничные дни")
            en.append("public holidays included")
        return {"kk": "; ".join(kk), "ru": "; ".join(ru), "en": "; ".join(en)}

    def __str__(self) -> str:
        return self.describe()["en"]

    # --- days and periods ------------------------------------------------------------------------

    def _day_periods(self) -> list[tuple[int, int]]:
        """The open spans of an open day in minutes after midnight: hours minus breaks."""
        periods, cursor = [], self.hours[0]
        for start, end in self.breaks:
            if start > cursor:
                periods.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < self.hours[1]:
            periods.append((cursor, self.hours[1]))
        return periods

    def is_open_day(self, day: date) -> bool:
        """True when the office opens on ``day`` (a datetime counts by its local date)."""
        if isinstance(day, datetime):
            day = to_local(day).date()
        if not self.holidays:
            return day.weekday() in self.days
        if day.weekday() in _WEEKEND and is_working_day(day):
            return True  # a weekend day made working by decree
        return day.weekday() in self.days and not is_public_holiday(day)

    def open_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office's open spans on local date ``day`` as aware local datetimes, [start, end)."""
        if not self.is_open_day(day):
            return []
        midnight = datetime.combine(day, time(0), tzinfo=KZ_TZ)
        return [
            (midnight + timedelta(minutes=start), midnight + timedelta(minutes=end))
            for start, end in self._day_periods()
        ]

    def _periods_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Open spans from the start of ``day`` on, in order; stops after a long closed stretch."""
        closed = 0
        while closed <= _SEARCH_DAYS:
            periods = self.open_periods(day)
            closed = 0 if periods else closed + 1
            yield from periods
            day += timedelta(days=1)
        raise RuntimeError(f"schedule {self.data()!r} stays closed for over {_SEARCH_DAYS} days")

    # --- moments ---------------------------------------------------------------------------------

    def is_open(self, t: datetime) -> bool:
        """True when the office is open at the aware moment ``t`` (opening in, closing out)."""
        local = to_local(t)
        return any(start <= local < end for start, end in self.open_periods(local.date()))

    def next_opening(self, t: datetime) -> datetime:
        """``t`` itself when the office is open then, else the next moment it opens (tz of t)."""
        local = to_local(t)
        for start, end in self._periods_from(local.date()):
            if end > local:
                return t if start <= local else start.astimezone(t.tzinfo)
        raise AssertionError("unreachable: _periods_from never ends without raising")

    def last_open_until(self, t: datetime) -> datetime | None:
        """``t`` itself when the office is open then, else the end of the last open span before
        it (its closing time), in the tz of ``t``; None when closed for the whole search window."""
        local = to_local(t)
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            for start, end in reversed(self.open_periods(day)):
                if start <= local < end:
                    return t
                if end <= local:
                    return end.astimezone(t.tzinfo)
            day -= timedelta(days=1)
        return None

    def pickup_moments(self, day: date, times: int) -> list[datetime]:
        """The ``times`` moments of local date ``day`` at which an "N times a working day" step
        happens: the ends of ``times`` equal shares of the day's open time, breaks not counted,
        each rounded down to a whole minute; the last one is closing time.

        The authorised body (09:00-18:00, break 13:00-14:00, 8 open hours), three times: 11:40,
        15:20, 18:00; twice: 13:00, 18:00. The front office (09:00-20:00), three times: 12:40,
        16:20, 20:00. A round-the-clock schedule, three times: 08:00, 16:00, 24:00. Each pickup
        takes everything that arrived in its share of the day; what arrives after the last one (or
        on a closed day) waits for the first pickup of the next open day. No moments on a day the
        office is closed.
        """
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times: {times!r} is not a positive whole number")
        periods = self.open_periods(day)
        total = sum((end - start) // timedelta(minutes=1) for start, end in periods)
        moments = []
        for i in range(1, times + 1):
            offset = timedelta(minutes=total * i // times)
            for start, end in periods:
                if offset <= end - start:
                    moments.append(start + offset)
                    break
                offset -= end - start
        return moments

    def add(self, duration: Duration, start: datetime) -> datetime:
        """When a step of ``duration`` taken at the aware moment ``start`` is done (its tz).

        See the module docstring for how each unit counts. A round-the-clock schedule gives
        exactly ``duration.add_to(start)`` for minutes, hours, calendar and working days.
        """
        local = to_local(start)
        unit = duration.unit
        if unit is DurationUnit.times_per_working_day:
            # From the day before: a round-the-clock day's last pickup is 24:00, i.e. today 00:00.
            day = local.date() - timedelta(days=1)
            for _ in range(_SEARCH_DAYS):
                for moment in self.pickup_moments(day, duration.amount):
                    if moment >= local:
                        return moment.astimezone(start.tzinfo)
                day += timedelta(days=1)
            raise RuntimeError(
                f"schedule {self.data()!r} stays closed for over {_SEARCH_DAYS} days"
            )
        if self.is_always:
            return duration.add_to(start)
        if unit is DurationUnit.calendar_day:
            # "within N calendar days": done by the limit -- when the office is closed then, at its
            # last open moment before it (the closing of the last working day), if that is still
            # after the start; else at the next opening.
            limit = duration.add_to(start)
            latest = self.last_open_until(limit)
            return latest if latest is not None and latest > start else self.next_opening(limit)
        if unit is DurationUnit.working_day:
            begun = to_local(self.next_opening(start))
            day = add_working_days(begun.date(), duration.amount)
            done = datetime.combine(day, begun.timetz())
            return self.next_opening(done).astimezone(start.tzinfo)
        remaining = timedelta(minutes=duration.amount * (60 if unit is DurationUnit.hour else 1))
        for period_start, period_end in self._periods_from(local.date()):
            if period_end <= local:
                continue
            begin = max(period_start, local)
            if remaining <= period_end - begin:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= period_end - begin
        raise AssertionError("unreachable: _periods_from never ends without raising")


Schedule.ALWAYS = Schedule(days=frozenset(range(7)), hours=(0, _MINUTES_PER_DAY), holidays=False)
