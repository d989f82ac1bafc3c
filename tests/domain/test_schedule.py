"""Which departure is in force: override, calendar, weekly schedule, daily time.

Europe/Berlin, the week of Monday 2026-03-23: CET (UTC+1) until the spring-forward
change on Sunday 2026-03-29 at 02:00, CEST (UTC+2) after it. Every expected instant
is worked out by hand in UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.evflex.schedule import (
    WEEKDAYS,
    CalendarEvent,
    Day,
    Departure,
    Override,
    Schedule,
    calendar_departures,
    next_departure,
    parse_day,
    title_target,
)
from custom_components.evflex.session import Reading, Session, SessionConfig, Settings

BERLIN = ZoneInfo("Europe/Berlin")
LEAD = timedelta(minutes=15)
WEEK = Schedule.from_dict(
    {
        "monday": "06:30",
        "tuesday": "06:30",
        "wednesday": "06:30",
        "thursday": "06:30",
        "friday": "06:30",
        "saturday": "10:00 100%",
        "sunday": "off",
    }
)


def cet(day: int, hour: int, minute: int = 0) -> datetime:
    """Berlin wall time in March 2026 (CET before the 29th, CEST after)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def nxt(at: datetime, schedule: Schedule = WEEK, **kwargs: Any) -> Departure | None:
    return next_departure(
        at, BERLIN, daily="07:30", target=80.0, schedule=schedule, lead=LEAD, **kwargs
    )


# --- validation (unhappy paths first) -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"funday": "06:30"}, "funday: is not a weekday (monday to sunday)"),
        ({"monday": "25:00"}, 'monday: must be "off", "daily", a time HH:MM or "HH:MM NN%"'),
        ({"monday": "06:30 120%"}, "monday: must be between 0 and 100"),
        ({"monday": 630}, 'monday: must be "off", "daily", a time HH:MM or "HH:MM NN%"'),
        ({"monday": {"time": "06:30", "soc": 80}}, "monday.soc: is not a field of a day"),
        (
            {"monday": {"target_soc": "lots"}},
            "monday.target_soc: must be a number between 0 and 100",
        ),
        (["monday"], "schedule: must be a mapping of weekdays"),
    ],
)
def test_a_bad_schedule_names_the_field_and_the_rule(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message.replace('(', r'\(').replace(')', r'\)')}$"):
        Schedule.from_dict(raw)


def test_an_override_must_be_aware_and_its_target_a_percentage() -> None:
    with pytest.raises(ValueError, match=r"^departure: must be a timezone-aware date and time$"):
        Override(datetime(2026, 3, 24, 5, 45))
    with pytest.raises(ValueError, match=r"^target_soc: must be between 0 and 100$"):
        Override(utc(24, 4, 45), 101)


def test_days_parse_in_every_form_and_round_trip() -> None:
    assert parse_day("off", "x") == Day(leave=False)
    assert parse_day("Daily", "x") == Day()
    assert parse_day("6:05", "x") == Day(time="06:05")
    assert parse_day("06:05:00 90 %", "x") == Day(time="06:05", target_soc=90.0)
    assert parse_day({"time": "06:05", "target_soc": 70}, "x") == Day(time="06:05", target_soc=70)
    assert parse_day({"target_soc": 70}, "x") == Day(target_soc=70.0)
    assert WEEK.to_dict()["saturday"] == "10:00 100%"
    assert Schedule.from_dict(json.loads(json.dumps(WEEK.to_dict()))) == WEEK
    assert Schedule().to_dict() == {}
    assert Schedule().empty
    changed = WEEK.updated({"sunday": "14:00", "monday": "daily"})
    assert changed.to_dict()["sunday"] == "14:00"
    assert "monday" not in changed.to_dict()


# --- the week -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected", "target"),
    [
        # Monday 20:00 CET -> Tuesday 06:30 CET = 05:30 UTC.
        (cet(23, 20), utc(24, 5, 30), 80.0),
        # Tuesday 06:14 CET: 06:30 is 16 min away (>= 15): still today's, 05:30 UTC.
        (cet(24, 6, 14), utc(24, 5, 30), 80.0),
        # Tuesday 06:16 CET: 14 min away (< 15): Wednesday 06:30 CET = 05:30 UTC on the 25th.
        (cet(24, 6, 16), utc(25, 5, 30), 80.0),
        # Friday 20:00 CET -> Saturday 10:00 CET = 09:00 UTC, Saturday's own target 100 %.
        (cet(27, 20), utc(28, 9, 0), 100.0),
        # Saturday 12:00 CET: Sunday is off -> Monday 30th 06:30 CEST (UTC+2) = 04:30 UTC.
        (cet(28, 12), utc(30, 4, 30), 80.0),
    ],
)
def test_the_week_gives_each_day_its_departure(
    at: datetime, expected: datetime, target: float
) -> None:
    assert nxt(at) == Departure(expected, target, "schedule")


def test_days_without_their_own_time_follow_the_daily_time() -> None:
    only_wednesday_off = Schedule.from_dict({"wednesday": "off"})
    # Tuesday 20:00 CET: Wednesday off -> Thursday 07:30 CET (the daily time) = 06:30 UTC.
    assert nxt(cet(24, 20), only_wednesday_off) == Departure(utc(26, 6, 30), 80.0, "daily")
    # The empty schedule: every day the daily time; Monday 20:00 -> Tuesday 06:30 UTC.
    assert nxt(cet(23, 20), Schedule()) == Departure(utc(24, 6, 30), 80.0, "daily")


def test_a_departure_in_the_spring_forward_gap_is_the_first_instant_after_it() -> None:
    # Sunday 29th 02:30 does not exist in Berlin (02:00 CET -> 03:00 CEST): 03:00 CEST,
    # = 01:00 UTC. Asked on Saturday 22:00 CET.
    schedule = WEEK.updated({"sunday": "02:30"})
    assert nxt(cet(28, 22), schedule) == Departure(utc(29, 1, 0), 80.0, "schedule")


def test_the_autumn_change_keeps_the_wall_time() -> None:
    # Sunday 2026-10-25 03:00 CEST -> 02:00 CET. Saturday 24th 20:00 CEST (18:00 UTC):
    # Sunday is off, Monday 26th 06:30 CET = 05:30 UTC.
    at = datetime(2026, 10, 24, 20, 0, tzinfo=BERLIN)
    assert nxt(at) == Departure(utc(26, 5, 30, month=10), 80.0, "schedule")


def test_no_day_leaving_and_no_event_is_no_departure() -> None:
    never = Schedule.from_dict(dict.fromkeys(WEEKDAYS, "off"))
    assert nxt(cet(23, 20), never) is None


# --- overrides and the calendar -------------------------------------------------------


def test_an_override_wins_and_carries_its_own_target() -> None:
    # "Tomorrow 05:45": Tuesday 05:45 CET = 04:45 UTC, target 90, from Monday 20:00.
    override = Override(cet(24, 5, 45), 90)
    assert nxt(cet(23, 20), override=override) == Departure(utc(24, 4, 45), 90.0, "override")
    # "Sunday 14:00" (Sunday is off): 14:00 CEST = 12:00 UTC, later than Saturday's 10:00.
    sunday = Override(datetime(2026, 3, 29, 14, 0, tzinfo=BERLIN))
    assert nxt(cet(27, 20), override=sunday) == Departure(utc(29, 12, 0), 80.0, "override")
    # Once it has passed it is not in force, and it took Tuesday's 06:30: Wednesday's.
    assert nxt(cet(24, 5, 46), override=override) == Departure(utc(25, 5, 30), 80.0, "schedule")


def test_calendar_events_matching_the_word_are_departures() -> None:
    events = [
        CalendarEvent(cet(25, 4), "EV: airport 90%"),
        CalendarEvent(cet(24, 22), "Dentist"),  # no match
        CalendarEvent(cet(26, 9), "ev to Munich"),  # after Thursday's 06:30: the week wins
    ]
    matched = calendar_departures(events, "EV")
    assert [e.summary for e in matched] == ["EV: airport 90%", "ev to Munich"]
    assert calendar_departures(events, "  ") == []
    # Tuesday 20:00: the event Wednesday 04:00 CET (03:00 UTC) is before 06:30: it wins.
    assert nxt(cet(24, 20), calendar=matched) == Departure(
        utc(25, 3, 0), 90.0, "calendar", "EV: airport 90%"
    )
    # Wednesday 08:00: the next event (Thursday 09:00) is after Thursday 06:30 CET.
    assert nxt(cet(25, 8), calendar=matched) == Departure(utc(26, 5, 30), 80.0, "schedule")
    assert title_target("trip 90 %") == 90.0
    assert title_target("trip") is None
    assert title_target("150% sure") is None


# --- in the session ---------------------------------------------------------------------


def _session(settings: Settings) -> Session:
    config = SessionConfig(
        battery_kwh=60.0,
        efficiency=0.9,
        arrival_soc_pct=40.0,
        max_kw=11.0,
        has_meter=True,
        timezone=BERLIN,
    )
    return Session(config, settings)


def _read(session: Session, at: datetime) -> frozenset[str]:
    return session.observe(Reading(at, True, 0.0, 0.0, None)).events


def test_a_session_uses_an_override_once_then_the_week_again_and_survives_a_restart() -> None:
    session = _session(Settings(schedule=WEEK))
    _read(session, cet(23, 20))  # plugged in Monday 20:00
    session.set_override(cet(23, 20, 1), Override(cet(24, 5, 45), 90))
    assert session.departure_info(cet(23, 20, 1)) == Departure(utc(24, 4, 45), 90.0, "override")
    assert session.target_soc(cet(23, 20, 1)) == 90.0
    restored = Session.from_dict(session.config, json.loads(json.dumps(session.to_dict())))
    assert restored.override == Override(utc(24, 4, 45), 90.0)
    assert restored.settings.schedule == WEEK
    assert restored.departure_info(cet(24, 1)) == Departure(utc(24, 4, 45), 90.0, "override")
    # Tuesday 05:45 CET passes with the car still plugged in: the override is used, and
    # it took Tuesday's 06:30; the next departure is Wednesday 06:30 CET (05:30 UTC).
    assert "rolled_over" in _read(restored, cet(24, 5, 45))
    assert restored.departure_info(cet(24, 5, 46)) == Departure(utc(25, 5, 30), 80.0, "schedule")
    assert restored.target_soc(cet(24, 5, 46)) == 80.0
    _read(restored, cet(24, 23, 59))
    assert restored.override is not None  # Tuesday is not over
    _read(restored, cet(25, 0, 0))
    assert restored.override is None  # expired with its day


def test_an_override_in_the_past_is_refused() -> None:
    session = _session(Settings())
    with pytest.raises(ValueError, match=r"^departure: must be after now$"):
        session.set_override(cet(24, 6), Override(cet(24, 5, 45)))


def test_a_new_calendar_moves_the_departure_unless_it_is_imminent() -> None:
    session = _session(Settings(schedule=WEEK))
    _read(session, cet(24, 20))
    trip = (CalendarEvent(cet(25, 4), "EV airport"),)
    assert session.set_calendar(cet(24, 20, 1), trip) is True
    assert session.departure_at(cet(24, 20, 1)) == utc(25, 3, 0)
    # 03:50 CET, 10 min before the event: a calendar without it leaves the departure alone.
    assert session.set_calendar(cet(25, 3, 50), ()) is False
    assert session.departure_at(cet(25, 3, 50)) == utc(25, 3, 0)


def test_a_changed_schedule_applies_at_once_to_the_car_plugged_in() -> None:
    session = _session(Settings())
    _read(session, cet(27, 20))  # Friday: the daily 07:30 CET = 06:30 UTC on Saturday
    assert session.departure_info(cet(27, 20)) == Departure(utc(28, 6, 30), 80.0, "daily")
    session.update_settings(cet(27, 20, 1), schedule=WEEK)
    assert session.departure_info(cet(27, 20, 1)) == Departure(utc(28, 9, 0), 100.0, "schedule")


# --- property ----------------------------------------------------------------------------


DAY_TEXT = st.one_of(
    st.just("off"),
    st.just("daily"),
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
)


@given(
    days=st.lists(DAY_TEXT, min_size=7, max_size=7),
    minutes=st.integers(0, 366 * 24 * 60),
)
def test_the_departure_is_ahead_on_a_leaving_day_and_none_earlier(
    days: list[str], minutes: int
) -> None:
    schedule = Schedule.from_dict(dict(zip(WEEKDAYS, days, strict=True)))
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    found = nxt(at, schedule)
    if all(d == "off" for d in days):
        assert found is None
        return
    assert found is not None
    assert found.at >= at + LEAD
    local = found.at.astimezone(BERLIN)
    assert days[local.weekday()] != "off"
    # No departure of the week between `at + lead` and the one found.
    for minute in range(15, int((found.at - at).total_seconds() // 60), 97):
        earlier = nxt(at + timedelta(minutes=minute) - LEAD, schedule)
        assert earlier is not None
        assert earlier.at == found.at
