"""Tests for simulation.calendar: reglament durations and Kazakhstan's working days."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from simulation import calendar
from simulation.calendar import (
    KZ_TZ,
    Duration,
    DurationUnit,
    add_working_days,
    is_working_day,
    to_local,
)


def kz(*args: int) -> datetime:
    return datetime(*args, tzinfo=KZ_TZ)


# --- time zone ---------------------------------------------------------------------------------


def test_kz_tz_is_fixed_utc_plus_5_all_year():
    # No daylight saving: the same offset in winter and summer.
    for month in (1, 3, 7, 10, 12):
        moment = datetime(2025, month, 15, 12, tzinfo=timezone.utc)
        assert to_local(moment).utcoffset() == timedelta(hours=5)
        assert to_local(moment).hour == 17
    assert KZ_TZ.dst(None) is None


def test_to_local_keeps_the_instant():
    moment = datetime(2025, 3, 30, 23, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # CEST, UTC+2
    local = to_local(moment)
    assert local == moment
    assert local.tzinfo is KZ_TZ
    assert (local.date(), local.hour, local.minute) == (date(2025, 3, 31), 2, 30)


def test_to_local_rejects_naive():
    with pytest.raises(ValueError):
        to_local(datetime(2025, 1, 1, 9))


# --- parsing and rendering ---------------------------------------------------------------------


@pytest.mark.parametrize("text, amount, unit", [
    ("20 minutes", 20, DurationUnit.minute),
    ("1 minute", 1, DurationUnit.minute),
    ("1 hour", 1, DurationUnit.hour),
    ("2 hours", 2, DurationUnit.hour),
    ("27 calendar days", 27, DurationUnit.calendar_day),
    ("1 calendar day", 1, DurationUnit.calendar_day),
    ("3 working days", 3, DurationUnit.working_day),
    ("1 working day", 1, DurationUnit.working_day),
    ("  15 Minutes ", 15, DurationUnit.minute),
    ("3 WORKING DAYS", 3, DurationUnit.working_day),
    ("\t30 Calendar Days\n", 30, DurationUnit.calendar_day),
])
def test_parse(text, amount, unit):
    assert Duration.parse(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", [
    "", "minutes", "20", "0 minutes", "00 hours", "-1 hour", "1.5 hours", "20 mins", "3 days",
    "3 business days", "twenty minutes", "20 minutes later", "3 working  days off", "20minutes",
    "٣ hours",
])
def test_parse_errors(text):
    with pytest.raises(ValueError) as info:
        Duration.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert "working day" in message and "calendar day" in message


def test_parse_rejects_non_string():
    with pytest.raises(ValueError):
        Duration.parse(20)  # type: ignore[arg-type]


def test_duration_fields_are_checked():
    with pytest.raises(ValueError):
        Duration(0, DurationUnit.hour)
    with pytest.raises(ValueError):
        Duration(-3, DurationUnit.hour)
    with pytest.raises(ValueError):
        Duration(True, DurationUnit.hour)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Duration(1, "fortnight")  # type: ignore[arg-type]
    assert Duration(2, "hour").unit is DurationUnit.hour  # type: ignore[arg-type]


def test_duration_is_frozen_and_hashable():
    d = Duration.parse("3 working days")
    with pytest.raises(AttributeError):
        d.amount = 4  # type: ignore[misc]
    assert {d, Duration(3, DurationUnit.working_day)} == {d}


@pytest.mark.parametrize("text, kk, en", [
    ("20 minutes", "20 минут", "20 minutes"),
    ("1 minute", "1 минут", "1 minute"),
    ("1 hour", "1 сағат", "1 hour"),
    ("2 hours", "2 сағат", "2 hours"),
    ("27 calendar days", "27 күнтізбелік күн", "27 calendar days"),
    ("1 calendar day", "1 күнтізбелік күн", "1 calendar day"),
    ("3 working days", "3 жұмыс күні", "3 working days"),
    ("1 working day", "1 жұмыс күні", "1 working day"),
])
def test_kazakh_and_english(text, kk, en):
    d = Duration.parse(text)
    assert d.kazakh() == kk
    assert d.english() == en
    assert str(d) == en
    assert Duration.parse(str(d)) == d


@pytest.mark.parametrize("amount, unit, ru", [
    (1, DurationUnit.minute, "1 минута"),
    (3, DurationUnit.minute, "3 минуты"),
    (20, DurationUnit.minute, "20 минут"),
    (21, DurationUnit.minute, "21 минута"),
    (1, DurationUnit.hour, "1 час"),
    (2, DurationUnit.hour, "2 часа"),
    (5, DurationUnit.hour, "5 часов"),
    (11, DurationUnit.hour, "11 часов"),
    (12, DurationUnit.hour, "12 часов"),
    (14, DurationUnit.hour, "14 часов"),
    (22, DurationUnit.hour, "22 часа"),
    (24, DurationUnit.hour, "24 часа"),
    (1, DurationUnit.calendar_day, "1 календарный день"),
    (2, DurationUnit.calendar_day, "2 календарных дня"),
    (27, DurationUnit.calendar_day, "27 календарных дней"),
    (31, DurationUnit.calendar_day, "31 календарный день"),
    (111, DurationUnit.calendar_day, "111 календарных дней"),
    (1, DurationUnit.working_day, "1 рабочий день"),
    (3, DurationUnit.working_day, "3 рабочих дня"),
    (5, DurationUnit.working_day, "5 рабочих дней"),
    (13, DurationUnit.working_day, "13 рабочих дней"),
    (101, DurationUnit.working_day, "101 рабочий день"),
    (104, DurationUnit.working_day, "104 рабочих дня"),
])
def test_russian_plurals(amount, unit, ru):
    assert Duration(amount, unit).russian() == ru


# --- adding durations --------------------------------------------------------------------------


def test_add_minutes_and_hours():
    start = kz(2025, 3, 20, 17, 50)
    assert Duration.parse("20 minutes").add_to(start) == kz(2025, 3, 20, 18, 10)
    assert Duration.parse("2 hours").add_to(start) == kz(2025, 3, 20, 19, 50)
    # Over a holiday night: minutes and hours do not care about the calendar.
    assert Duration.parse("8 hours").add_to(start) == kz(2025, 3, 21, 1, 50)


def test_add_hours_is_elapsed_time_across_a_dst_change():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2025, 3, 30, 1, 30, tzinfo=berlin)  # clocks jump 02:00 -> 03:00
    end = Duration.parse("1 hour").add_to(start)
    assert end.tzinfo is berlin
    assert (end.hour, end.minute) == (3, 30)
    assert end.astimezone(timezone.utc) - start.astimezone(timezone.utc) == timedelta(hours=1)


def test_add_calendar_days_keeps_time_of_day():
    start = kz(2025, 12, 20, 9, 15)
    end = Duration.parse("27 calendar days").add_to(start)
    assert end == kz(2026, 1, 16, 9, 15)
    assert end.utcoffset() == timedelta(hours=5)
    leap = Duration.parse("1 calendar day").add_to(kz(2024, 2, 28, 23, 59))
    assert leap == kz(2024, 2, 29, 23, 59)


def test_add_keeps_the_start_tzinfo():
    start = datetime(2025, 3, 20, 4, 0, tzinfo=timezone.utc)  # 09:00 in Kazakhstan
    for text in ("20 minutes", "1 hour", "1 calendar day", "3 working days"):
        assert Duration.parse(text).add_to(start).tzinfo is timezone.utc


def test_add_rejects_naive_start():
    for text in ("20 minutes", "1 hour", "1 calendar day", "1 working day"):
        with pytest.raises(ValueError):
            Duration.parse(text).add_to(datetime(2025, 3, 20, 9))


def test_working_days_nauryz():
    # REFERENCE.md: the 3rd working day after Thu 2025-03-20 is Fri 2025-03-28, because
    # Nauryz (Fri 21 – Sun 23 March) and its observed days Mon 24 / Tue 25 are days off.
    assert add_working_days(date(2025, 3, 20), 3) == date(2025, 3, 28)
    end = Duration.parse("3 working days").add_to(kz(2025, 3, 20, 16, 45))
    assert end == kz(2025, 3, 28, 16, 45)
    for day in range(21, 26):
        assert not is_working_day(date(2025, 3, day))


def test_working_days_new_year():
    # Mon 1 and Tue 2 January 2024 are New Year's Day: the next working day after Fri
    # 29 December 2023 is Wed 3 January 2024.
    data = holidays.KZ(years=2024)
    assert "New Year" in data[date(2024, 1, 1)] and "New Year" in data[date(2024, 1, 2)]
    assert add_working_days(date(2023, 12, 29), 1) == date(2024, 1, 3)
    assert add_working_days(date(2023, 12, 29), 2) == date(2024, 1, 4)
    assert Duration.parse("1 working day").add_to(kz(2023, 12, 29, 18)) == kz(2024, 1, 3, 18)


def test_transferred_day_off_may_2024():
    # In the holidays data for KZ 2024: Saturday 4 May is a working day and the day off moves to
    # Wednesday 8 May, between Defender of the Fatherland Day (7 May) and Victory Day (9 May).
    data = holidays.KZ(years=2024)
    assert date(2024, 5, 4) in data.weekend_workdays
    assert "substituted from 05/04/2024" in data[date(2024, 5, 8)]
    assert date(2024, 5, 4).weekday() == 5 and date(2024, 5, 8).weekday() == 2

    assert is_working_day(date(2024, 5, 4))
    assert not is_working_day(date(2024, 5, 8))
    assert not is_working_day(date(2024, 5, 5))
    # Fri 3 May + 1 = the working Saturday; Mon 6 May + 1 skips 7, 8, 9 May.
    assert add_working_days(date(2024, 5, 3), 1) == date(2024, 5, 4)
    assert add_working_days(date(2024, 5, 6), 1) == date(2024, 5, 10)
    assert Duration.parse("2 working days").add_to(kz(2024, 5, 3, 10)) == kz(2024, 5, 6, 10)


def test_transferred_day_off_new_year_2025():
    # In the data for KZ 2025: Friday 3 January is a day off moved from Sunday 5 January, which is
    # worked; so one working day after Tue 31 December 2024 is that Sunday.
    data = holidays.KZ(years=2025)
    assert date(2025, 1, 5) in data.weekend_workdays
    assert "substituted from 01/05/2025" in data[date(2025, 1, 3)]
    assert add_working_days(date(2024, 12, 31), 1) == date(2025, 1, 5)
    assert add_working_days(date(2024, 12, 31), 2) == date(2025, 1, 6)


def test_working_days_use_local_date_and_time():
    # 2025-03-20 20:00 UTC is already Friday 21 March (Nauryz) 01:00 in Kazakhstan; the first
    # working day after it is Wed 26 March, at 01:00 local = 25 March 20:00 UTC.
    start = datetime(2025, 3, 20, 20, 0, tzinfo=timezone.utc)
    end = Duration.parse("1 working day").add_to(start)
    assert end == datetime(2025, 3, 25, 20, 0, tzinfo=timezone.utc)
    assert end.tzinfo is timezone.utc
    assert to_local(end) == kz(2025, 3, 26, 1, 0)


def test_working_days_from_a_weekend():
    assert add_working_days(date(2025, 2, 15), 1) == date(2025, 2, 17)  # Sat -> Mon
    assert add_working_days(date(2025, 2, 15), 0) == date(2025, 2, 17)
    assert add_working_days(date(2025, 2, 17), 0) == date(2025, 2, 17)
    assert add_working_days(date(2025, 2, 17), -1) == date(2025, 2, 14)


def test_is_working_day_plain_cases():
    assert is_working_day(date(2025, 2, 18))  # Tuesday
    assert not is_working_day(date(2025, 2, 15))  # Saturday
    assert not is_working_day(date(2025, 12, 16))  # Independence Day
    assert is_working_day(kz(2025, 2, 18, 23, 59))
    # 2025-02-16 19:30 UTC is Monday 17 February 00:30 in Kazakhstan.
    assert is_working_day(datetime(2025, 2, 16, 19, 30, tzinfo=timezone.utc))


def test_long_spans_cross_years():
    # 250 working days is about a year; the result must still be a working day.
    end = add_working_days(date(2024, 6, 3), 250)
    assert end.year == 2025 and is_working_day(end)
    assert add_working_days(end, -250) == date(2024, 6, 3)


def test_holidays_object_is_cached():
    calendar._kz_calendar.cache_clear()
    for _ in range(20):
        add_working_days(date(2025, 3, 20), 3)
        is_working_day(date(2025, 3, 21))
    info = calendar._kz_calendar.cache_info()
    assert info.misses <= 2
    assert info.hits >= 38


def test_a_term_ending_on_a_day_off_ends_with_the_next_working_day():
    from simulation.calendar import term_end

    start = datetime.fromisoformat("2026-11-04T10:00:00+05:00")  # a Wednesday
    assert term_end(Duration.parse("30 calendar days"), start).isoformat() == "2026-12-04T10:00:00+05:00"
    saturday = datetime.fromisoformat("2026-11-07T10:00:00+05:00")  # + 30 days: Monday 7 December
    assert term_end(Duration.parse("30 calendar days"), saturday).isoformat() == "2026-12-07T10:00:00+05:00"
    # 16 December 2026 is Independence Day: the term ends with 17 December
    assert term_end(Duration.parse("30 calendar days"), datetime.fromisoformat("2026-11-16T10:00:00+05:00")
                    ).isoformat() == "2026-12-17T23:59:59+05:00"
