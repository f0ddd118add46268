"""Tests for simulation.workhours: offices' working hours, holidays and "N times a working day"."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from simulation.calendar import KZ_TZ, Duration, DurationUnit, is_public_holiday
from simulation.workhours import Schedule

BODY = Schedule.parse({"days": "mon-fri", "hours": "09:00-18:00", "breaks": ["13:00-14:00"]})
FRONT = Schedule.parse({"days": "mon-sat", "hours": "09:00-20:00"})
PORTAL = Schedule.parse({"always": True})


def kz(*args: int) -> datetime:
    return datetime(*args, tzinfo=KZ_TZ)


def d(text: str) -> Duration:
    return Duration.parse(text)


# --- parsing -----------------------------------------------------------------------------------


def test_parse_the_reference_schedules():
    assert BODY == Schedule(days=frozenset(range(5)), hours=(540, 1080), breaks=((780, 840),))
    assert BODY.holidays
    assert FRONT == Schedule(days=frozenset(range(6)), hours=(540, 1200))
    assert PORTAL is Schedule.ALWAYS and PORTAL.is_always
    assert not BODY.is_always and not FRONT.is_always


@pytest.mark.parametrize("days, expected", [
    ("mon-fri", {0, 1, 2, 3, 4}),
    ("MON-SAT", {0, 1, 2, 3, 4, 5}),
    ("mon,wed,fri", {0, 2, 4}),
    ("mon-wed, sat", {0, 1, 2, 5}),
    (["mon-tue", "thu"], {0, 1, 3}),
    ("sun", {6}),
    ("mon–fri", {0, 1, 2, 3, 4}),
])
def test_parse_days(days, expected):
    assert Schedule.parse({"days": days, "hours": "10:00-12:00"}).days == frozenset(expected)


def test_parse_options():
    late = Schedule.parse({"days": "mon-sun", "hours": "00:00-24:00", "holidays": False,
                           "breaks": None})
    assert late.hours == (0, 1440) and late.breaks == () and not late.holidays
    assert late.is_always  # every moment of every day, holidays included, is round the clock
    two = Schedule.parse({"days": "mon-fri", "hours": "8:30 – 17:30",
                          "breaks": ["15:00-15:15", "12:00-13:00"]})
    assert two.hours == (510, 1050)
    assert two.breaks == ((720, 780), (900, 915))  # sorted
    assert Schedule.parse({"always": False, "days": "mon", "hours": "09:00-10:00"}).days == {0}


@pytest.mark.parametrize("schedule", [BODY, FRONT, PORTAL, Schedule.parse(
    {"days": "mon,wed-thu,sun", "hours": "07:05-23:10", "breaks": ["12:00-12:30"],
     "holidays": False})])
def test_data_round_trips(schedule):
    assert Schedule.parse(schedule.data()) == schedule


@pytest.mark.parametrize("data, field, rule", [
    ({"days": "mon-fri", "hours": "9-18"}, "hours", "'9-18' is not HH:MM-HH:MM"),
    ({"days": "mon-fri", "hours": 540}, "hours", "540 is not HH:MM-HH:MM"),
    ({"days": "mon-fri", "hours": "18:00-09:00"}, "hours", "ends before it starts"),
    ({"days": "mon-fri", "hours": "09:00-09:00"}, "hours", "ends before it starts"),
    ({"days": "mon-fri", "hours": "09:00-24:30"}, "hours", "is not a time of day"),
    ({"days": "mon-fri", "hours": "09:60-18:00"}, "hours", "is not a time of day"),
    ({"days": "mon-fri"}, "hours", "missing"),
    ({"hours": "09:00-18:00"}, "days", "missing"),
    ({"days": "weekdays", "hours": "09:00-18:00"}, "days", "'weekdays' is not a day name"),
    ({"days": "mon-fry", "hours": "09:00-18:00"}, "days", "'mon-fry' is not a day name"),
    ({"days": "sat-mon", "hours": "09:00-18:00"}, "days", "runs backwards"),
    ({"days": "", "hours": "09:00-18:00"}, "days", "is not a day name"),
    ({"days": [], "hours": "09:00-18:00"}, "days", "is not a list of day names"),
    ({"days": 5, "hours": "09:00-18:00"}, "days", "is not a list of day names"),
    ({"days": "mon", "hours": "09:00-18:00", "breaks": "13:00-14:00"}, "breaks", "is not a list"),
    ({"days": "mon", "hours": "09:00-18:00", "breaks": ["1pm"]}, "breaks",
     "'1pm' is not HH:MM-HH:MM"),
    ({"days": "mon", "hours": "09:00-18:00", "breaks": ["08:00-10:00"]}, "breaks",
     "'08:00-10:00' is not inside hours '09:00-18:00'"),
    ({"days": "mon", "hours": "09:00-18:00", "breaks": ["13:00-14:00", "13:30-15:00"]},
     "breaks", "'13:00-14:00' overlaps '13:30-15:00'"),
    ({"days": "mon", "hours": "09:00-18:00", "breaks": ["09:00-13:00", "13:00-18:00"]},
     "breaks", "cover all of hours"),
    ({"days": "mon", "hours": "09:00-18:00", "holidays": "no"}, "holidays",
     "'no' is not true or false"),
    ({"always": "yes"}, "always", "is not true or false"),
    ({"always": True, "hours": "09:00-18:00"}, "hours", "round-the-clock"),
    ({"always": True, "holidays": False}, "holidays", "round-the-clock"),
    ({"days": "mon", "hours": "09:00-18:00", "lunch": "13:00-14:00"}, "schedule",
     "unknown field 'lunch'"),
    (["mon-fri"], "schedule", "is not a mapping"),
])
def test_parse_errors_name_field_and_rule(data, field, rule):
    with pytest.raises(ValueError) as info:
        Schedule.parse(data)
    message = str(info.value)
    assert message.startswith(f"{field}: ")
    assert rule in message


def test_schedule_is_frozen_and_hashable():
    with pytest.raises(AttributeError):
        BODY.hours = (0, 10)  # type: ignore[misc]
    assert len({BODY, Schedule.parse(BODY.data()), FRONT}) == 2


def test_describe():
    assert BODY.describe() == {
        "kk": "дүйсенбіден жұмаға дейін; сағат 09:00–18:00; үзіліс 13:00–14:00;"
              " мереке күндерін қоспағанда",
        "ru": "с понедельника по пятницу; 09:00–18:00; перерыв 13:00–14:00;"
              " кроме праздничных дней",
        "en": "Monday to Friday; 09:00–18:00; break 13:00–14:00; closed on public holidays",
    }
    assert FRONT.describe()["en"] == (
        "Monday to Saturday; 09:00–20:00; no break; closed on public holidays"
    )
    assert FRONT.describe()["ru"].startswith("с понедельника по субботу; 09:00–20:00; без перерыва")
    assert FRONT.describe()["kk"].startswith("дүйсенбіден сенбіге дейін; сағат 09:00–20:00; үзіліссіз")
    assert PORTAL.describe() == {"kk": "тәулік бойы", "ru": "круглосуточно", "en": "round the clock"}
    odd = Schedule.parse({"days": "mon,wed-thu,sat-sun", "hours": "10:00-12:00", "holidays": False})
    assert odd.describe()["en"].startswith("Monday, Wednesday, Thursday, Saturday, Sunday; 10:00")
    assert odd.describe()["ru"].endswith("в том числе в праздничные дни")
    assert str(BODY) == BODY.describe()["en"]


# --- open or closed ----------------------------------------------------------------------------


def test_authorised_body_hours():
    # Tue 2026-02-03, an ordinary working day.
    assert not BODY.is_open(kz(2026, 2, 3, 8, 59))
    assert BODY.is_open(kz(2026, 2, 3, 9, 0))
    assert BODY.is_open(kz(2026, 2, 3, 12, 59, 59))
    assert not BODY.is_open(kz(2026, 2, 3, 13, 0))
    assert not BODY.is_open(kz(2026, 2, 3, 13, 30))
    assert BODY.is_open(kz(2026, 2, 3, 14, 0))
    assert BODY.is_open(kz(2026, 2, 3, 17, 59))
    assert not BODY.is_open(kz(2026, 2, 3, 18, 0))
    assert not BODY.is_open(kz(2026, 2, 7, 10, 0))  # Saturday
    assert not BODY.is_open(kz(2026, 2, 8, 10, 0))  # Sunday


def test_front_office_saturday_open_sunday_closed():
    assert FRONT.is_open(kz(2026, 2, 7, 10, 0))  # Saturday
    assert FRONT.is_open(kz(2026, 2, 7, 19, 59))
    assert not FRONT.is_open(kz(2026, 2, 7, 20, 0))
    assert not FRONT.is_open(kz(2026, 2, 8, 10, 0))  # Sunday
    assert FRONT.is_open(kz(2026, 2, 3, 13, 30))  # no lunch break
    assert FRONT.next_opening(kz(2026, 2, 7, 20, 0)) == kz(2026, 2, 9, 9, 0)


def test_is_open_reads_local_time():
    # 04:00 UTC is 09:00 in Kazakhstan; 03:59 UTC is 08:59.
    assert BODY.is_open(datetime(2026, 2, 3, 4, 0, tzinfo=timezone.utc))
    assert not BODY.is_open(datetime(2026, 2, 3, 3, 59, tzinfo=timezone.utc))
    # Mon 2026-02-02 19:30 UTC is already Tuesday 00:30 local: closed, then Tuesday 09:00.
    late = datetime(2026, 2, 2, 19, 30, tzinfo=timezone.utc)
    opening = BODY.next_opening(late)
    assert opening == kz(2026, 2, 3, 9, 0) and opening.tzinfo is timezone.utc
    with pytest.raises(ValueError):
        BODY.is_open(datetime(2026, 2, 3, 10, 0))


def test_next_opening():
    open_moment = kz(2026, 2, 3, 10, 15)
    assert BODY.next_opening(open_moment) is open_moment
    assert BODY.next_opening(kz(2026, 2, 3, 7, 0)) == kz(2026, 2, 3, 9, 0)
    assert BODY.next_opening(kz(2026, 2, 3, 13, 5)) == kz(2026, 2, 3, 14, 0)
    # A request at 23:00 is taken at 09:00 on the next working day.
    assert BODY.next_opening(kz(2026, 2, 3, 23, 0)) == kz(2026, 2, 4, 9, 0)
    assert BODY.next_opening(kz(2026, 2, 6, 18, 0)) == kz(2026, 2, 9, 9, 0)  # Fri -> Mon
    assert PORTAL.next_opening(kz(2026, 1, 1, 3, 0)) == kz(2026, 1, 1, 3, 0)


# Public holidays of 2026 in the ``holidays`` data for KZ, with the day each office opens again.
HOLIDAYS_2026 = [
    (date(2026, 1, 1), "New Year"),
    (date(2026, 1, 2), "New Year"),
    (date(2026, 1, 7), "Christmas"),
    (date(2026, 3, 9), "Women's Day (observed)"),  # 8 March is a Sunday
    (date(2026, 3, 21), "Nowruz"),
    (date(2026, 3, 23), "Nowruz"),
    (date(2026, 3, 24), "Nowruz Holiday (observed)"),
    (date(2026, 3, 25), "Nowruz Holiday (observed)"),
    (date(2026, 5, 1), "Solidarity"),
    (date(2026, 5, 7), "Defender"),
    (date(2026, 5, 9), "Victory"),
    (date(2026, 5, 11), "Victory Day (observed)"),
    (date(2026, 7, 6), "Capital"),
    (date(2026, 10, 26), "Republic Day (observed)"),  # 25 October is a Sunday
    (date(2026, 12, 16), "Independence"),
]


@pytest.mark.parametrize("day, name", HOLIDAYS_2026)
def test_holidays_2026_close_both_offices(day, name):
    assert name in holidays.KZ(years=2026)[day]
    assert is_public_holiday(day)
    noon = datetime.combine(day, datetime.min.time(), tzinfo=KZ_TZ) + timedelta(hours=12)
    assert not BODY.is_open(noon)
    assert not FRONT.is_open(noon)
    assert PORTAL.is_open(noon)
    assert Schedule.parse({"days": "mon-sun", "hours": "09:00-18:00", "holidays": False}).is_open(noon)


def test_opening_after_holidays_2026():
    # New Year: Thu 1 and Fri 2 January, then the weekend; both offices open Monday 5 January.
    assert BODY.next_opening(kz(2025, 12, 31, 18, 30)) == kz(2026, 1, 5, 9, 0)
    # The front office works on Saturday 3 January.
    assert FRONT.next_opening(kz(2025, 12, 31, 20, 30)) == kz(2026, 1, 3, 9, 0)
    # Nauryz: Sat 21 – Wed 25 March 2026; the offices open again on Thursday 26 March.
    assert BODY.next_opening(kz(2026, 3, 20, 18, 0)) == kz(2026, 3, 26, 9, 0)
    assert FRONT.next_opening(kz(2026, 3, 20, 20, 0)) == kz(2026, 3, 26, 9, 0)
    # Victory Day on Saturday 9 May closes the front office; Monday 11 May is the observed day.
    assert FRONT.next_opening(kz(2026, 5, 8, 20, 0)) == kz(2026, 5, 12, 9, 0)


def test_constitution_day_per_the_holidays_data():
    # 30 August 2025 (a Saturday) moved the day off to Monday 1 September. For 2026 the data has
    # no Constitution Day (it moves to 15 March from 2027), so Monday 31 August 2026 is worked.
    assert BODY.next_opening(kz(2025, 8, 29, 18, 0)) == kz(2025, 9, 2, 9, 0)
    assert not is_public_holiday(date(2026, 8, 31))
    assert BODY.is_open(kz(2026, 8, 31, 9, 0))


def test_days_moved_by_decree():
    # In the data for KZ 2025: Friday 3 January is a day off moved from Sunday 5 January, which is
    # worked. The authorised body follows the official calendar, the front office too.
    assert not BODY.is_open(kz(2025, 1, 3, 10, 0))
    assert not FRONT.is_open(kz(2025, 1, 3, 10, 0))
    assert BODY.is_open(kz(2025, 1, 5, 10, 0))
    assert BODY.next_opening(kz(2025, 1, 2, 18, 0)) == kz(2025, 1, 5, 9, 0)
    # A schedule that ignores holidays keeps its own weekdays.
    plain = Schedule.parse({"days": "mon-fri", "hours": "09:00-18:00", "holidays": False})
    assert plain.is_open(kz(2025, 1, 3, 10, 0))
    assert not plain.is_open(kz(2025, 1, 5, 10, 0))


# --- adding durations --------------------------------------------------------------------------


def test_minutes_over_the_weekend_and_lunch():
    # Friday 9 January 2026, 17:50 + 20 minutes: 10 minutes on Friday, 10 on Monday.
    assert BODY.add(d("20 minutes"), kz(2026, 1, 9, 17, 50)) == kz(2026, 1, 12, 9, 10)
    # 12:50 + 20 minutes: 10 before lunch, 10 after it.
    assert BODY.add(d("20 minutes"), kz(2026, 1, 9, 12, 50)) == kz(2026, 1, 9, 14, 10)
    # Ending exactly at the break ends then.
    assert BODY.add(d("10 minutes"), kz(2026, 1, 9, 12, 50)) == kz(2026, 1, 9, 13, 0)
    # A request at 23:00 waits for 09:00.
    assert BODY.add(d("15 minutes"), kz(2026, 2, 3, 23, 0)) == kz(2026, 2, 4, 9, 15)
    # Front office: no lunch; Saturday is worked.
    assert FRONT.add(d("20 minutes"), kz(2026, 1, 9, 12, 50)) == kz(2026, 1, 9, 13, 10)
    assert FRONT.add(d("20 minutes"), kz(2026, 1, 9, 19, 50)) == kz(2026, 1, 10, 9, 10)


def test_hours_span_days_and_holidays():
    # Wed 31 December 2025 at 16:00 + 3 hours: 2 hours that day, then New Year and the weekend,
    # 1 hour on Monday 5 January.
    assert BODY.add(d("3 hours"), kz(2025, 12, 31, 16, 0)) == kz(2026, 1, 5, 10, 0)
    # 8 hours is one full working day of the authorised body.
    assert BODY.add(d("8 hours"), kz(2026, 2, 3, 9, 0)) == kz(2026, 2, 3, 18, 0)
    assert BODY.add(d("9 hours"), kz(2026, 2, 3, 9, 0)) == kz(2026, 2, 4, 10, 0)
    assert BODY.add(d("1 hour"), kz(2026, 2, 3, 12, 30)) == kz(2026, 2, 3, 14, 30)


def _open_minutes(schedule: Schedule, start: datetime, end: datetime) -> int:
    """Open minutes in [start, end) by checking each minute: a slow, independent count."""
    count, t = 0, start
    while t < end:
        count += schedule.is_open(t)
        t += timedelta(minutes=1)
    return count


@pytest.mark.parametrize("schedule", [BODY, FRONT])
@pytest.mark.parametrize("start", [kz(2026, 3, 20, 11, 7), kz(2026, 1, 9, 17, 31),
                                   kz(2026, 5, 6, 12, 59), kz(2026, 2, 7, 8, 0)])
@pytest.mark.parametrize("minutes", [1, 59, 241, 700])
def test_minutes_count_exactly_the_open_time(schedule, start, minutes):
    end = schedule.add(Duration(minutes, DurationUnit.minute), start)
    assert _open_minutes(schedule, start, end) == minutes
    assert schedule.is_open(end - timedelta(minutes=1))


def test_working_days():
    # 1 working day from Friday is Monday, at the same time of day.
    assert BODY.add(d("1 working day"), kz(2026, 1, 9, 10, 0)) == kz(2026, 1, 12, 10, 0)
    # Over Nauryz (Sat 21 - Wed 25 March 2026): Fri 20 + 1 is Thu 26; Thu 19 + 3 is Fri 27.
    assert BODY.add(d("1 working day"), kz(2026, 3, 20, 10, 0)) == kz(2026, 3, 26, 10, 0)
    assert BODY.add(d("3 working days"), kz(2026, 3, 19, 15, 0)) == kz(2026, 3, 27, 15, 0)
    # Taken after closing or on a weekend: counted from the next opening.
    assert BODY.add(d("1 working day"), kz(2026, 1, 9, 23, 0)) == kz(2026, 1, 13, 9, 0)
    assert BODY.add(d("1 working day"), kz(2026, 1, 10, 10, 0)) == kz(2026, 1, 13, 9, 0)
    assert BODY.add(d("1 working day"), kz(2026, 1, 9, 13, 30)) == kz(2026, 1, 12, 14, 0)
    # Working days are Kazakhstan's: the front office's Saturday does not count as one.
    assert FRONT.add(d("1 working day"), kz(2026, 1, 9, 10, 0)) == kz(2026, 1, 12, 10, 0)
    # A Saturday start at the front office is taken that Saturday; Monday is the next working day.
    assert FRONT.add(d("1 working day"), kz(2026, 1, 10, 19, 0)) == kz(2026, 1, 12, 19, 0)


def test_calendar_days():
    assert BODY.add(d("2 calendar days"), kz(2026, 1, 12, 10, 0)) == kz(2026, 1, 14, 10, 0)
    # "Within" the days: Friday + 1 calendar day is Saturday, closed: done by Friday's closing.
    assert BODY.add(d("1 calendar day"), kz(2026, 1, 9, 10, 0)) == kz(2026, 1, 9, 18, 0)
    assert FRONT.add(d("1 calendar day"), kz(2026, 1, 9, 10, 0)) == kz(2026, 1, 10, 10, 0)
    # Landing in the lunch break: by its start, 13:00.
    assert BODY.add(d("7 calendar days"), kz(2026, 1, 5, 13, 30)) == kz(2026, 1, 12, 13, 0)
    # Started at the closing moment, the limit closed, nothing open in between: the next opening.
    assert BODY.add(d("1 calendar day"), kz(2026, 1, 9, 18, 0)) == kz(2026, 1, 12, 9, 0)


def test_add_keeps_the_start_tzinfo():
    start = datetime(2026, 1, 9, 12, 50, tzinfo=timezone.utc)  # 17:50 in Kazakhstan
    for text, local in (("20 minutes", kz(2026, 1, 12, 9, 10)),
                        ("1 working day", kz(2026, 1, 12, 17, 50)),
                        ("2 calendar days", kz(2026, 1, 9, 18, 0)),
                        ("3 times a working day", kz(2026, 1, 9, 18, 0))):
        end = BODY.add(d(text), start)
        assert end == local
        assert end.tzinfo is timezone.utc
    with pytest.raises(ValueError):
        BODY.add(d("20 minutes"), datetime(2026, 1, 9, 10, 0))


ALWAYS_STARTS = [
    kz(2026, 1, 9, 17, 50), kz(2026, 3, 20, 23, 59), kz(2025, 12, 31, 13, 0),
    datetime(2026, 3, 20, 20, 0, tzinfo=timezone.utc),
    datetime(2025, 3, 30, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # just before DST starts
    datetime(2025, 10, 25, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")),  # 1 day before DST ends
]
ALWAYS_DURATIONS = ["20 minutes", "1 hour", "30 hours", "1 calendar day", "27 calendar days",
                    "1 working day", "3 working days", "20 working days"]


@pytest.mark.parametrize("start", ALWAYS_STARTS)
@pytest.mark.parametrize("text", ALWAYS_DURATIONS)
def test_round_the_clock_is_duration_add_to(start, text):
    end = PORTAL.add(d(text), start)
    expected = d(text).add_to(start)
    assert end == expected
    assert end.tzinfo is expected.tzinfo and end.utcoffset() == expected.utcoffset()


# --- "N times a working day" ---------------------------------------------------------------------


def test_pickup_moments():
    day = date(2026, 1, 9)
    assert BODY.pickup_moments(day, 3) == [kz(2026, 1, 9, 11, 40), kz(2026, 1, 9, 15, 20),
                                           kz(2026, 1, 9, 18, 0)]
    assert BODY.pickup_moments(day, 2) == [kz(2026, 1, 9, 13, 0), kz(2026, 1, 9, 18, 0)]
    assert BODY.pickup_moments(day, 1) == [kz(2026, 1, 9, 18, 0)]
    # 480 open minutes in 7 shares: whole minutes, rounded down.
    assert BODY.pickup_moments(day, 7)[0] == kz(2026, 1, 9, 10, 8)
    assert FRONT.pickup_moments(date(2026, 1, 10), 3) == [
        kz(2026, 1, 10, 12, 40), kz(2026, 1, 10, 16, 20), kz(2026, 1, 10, 20, 0)]
    assert PORTAL.pickup_moments(day, 3) == [kz(2026, 1, 9, 8, 0), kz(2026, 1, 9, 16, 0),
                                             kz(2026, 1, 10, 0, 0)]
    assert BODY.pickup_moments(date(2026, 1, 10), 3) == []  # Saturday
    assert BODY.pickup_moments(date(2026, 3, 23), 3) == []  # Nauryz
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="times"):
            BODY.pickup_moments(day, bad)  # type: ignore[arg-type]


def test_times_a_working_day():
    three = d("3 times a working day")
    assert BODY.add(three, kz(2026, 1, 9, 10, 0)) == kz(2026, 1, 9, 11, 40)
    assert BODY.add(three, kz(2026, 1, 9, 11, 40)) == kz(2026, 1, 9, 11, 40)  # at a pickup
    assert BODY.add(three, kz(2026, 1, 9, 11, 41)) == kz(2026, 1, 9, 15, 20)
    assert BODY.add(three, kz(2026, 1, 9, 13, 30)) == kz(2026, 1, 9, 15, 20)
    assert BODY.add(three, kz(2026, 1, 9, 18, 0)) == kz(2026, 1, 9, 18, 0)
    assert BODY.add(three, kz(2026, 1, 9, 18, 1)) == kz(2026, 1, 12, 11, 40)  # Fri -> Mon
    assert BODY.add(three, kz(2026, 3, 20, 19, 0)) == kz(2026, 3, 26, 11, 40)  # over Nauryz
    assert FRONT.add(three, kz(2026, 1, 9, 20, 30)) == kz(2026, 1, 10, 12, 40)  # Saturday
    assert PORTAL.add(three, kz(2026, 1, 9, 23, 0)) == kz(2026, 1, 10, 0, 0)
    assert PORTAL.add(three, kz(2026, 1, 10, 0, 0)) == kz(2026, 1, 10, 0, 0)
    assert PORTAL.add(three, kz(2026, 1, 10, 0, 1)) == kz(2026, 1, 10, 8, 0)


def test_times_a_working_day_duration():
    three = Duration(3, DurationUnit.times_per_working_day)
    for text in ("3 times a working day", "3 times per working day", " 3 Times A Working Day "):
        assert Duration.parse(text) == three
    assert Duration.parse("once a working day") == Duration(1, DurationUnit.times_per_working_day)
    assert Duration.parse("1 time a working day") == Duration(1, DurationUnit.times_per_working_day)
    assert Duration.parse("twice a working day") == Duration(2, DurationUnit.times_per_working_day)
    assert three.english() == str(three) == "3 times a working day"
    assert three.russian() == "3 раза в рабочий день"
    assert three.kazakh() == "1 жұмыс күнінде 3 рет"
    once = Duration(1, DurationUnit.times_per_working_day)
    assert once.english() == "once a working day"
    assert once.russian() == "1 раз в рабочий день"
    assert Duration(5, DurationUnit.times_per_working_day).russian() == "5 раз в рабочий день"
    assert Duration(22, DurationUnit.times_per_working_day).russian() == "22 раза в рабочий день"
    for amount in (1, 2, 3, 12):
        value = Duration(amount, DurationUnit.times_per_working_day)
        assert Duration.parse(str(value)) == value
    for text in ("0 times a working day", "3 times a day", "3 times working day", "thrice a working day",
                 "3 times a working days"):
        with pytest.raises(ValueError) as info:
            Duration.parse(text)
        assert "times a working day" in str(info.value)


def test_times_a_working_day_needs_a_schedule():
    with pytest.raises(ValueError) as info:
        Duration(3, DurationUnit.times_per_working_day).add_to(kz(2026, 1, 9, 10, 0))
    assert "3 times a working day" in str(info.value)
    assert "Schedule.add" in str(info.value)
