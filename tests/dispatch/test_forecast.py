"""The expected plug-in and the day-ahead flexibility forecast (pure, hand-worked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from custom_components.evflex.dispatch.reports import Arrivals, forecast

SHANGHAI = ZoneInfo("Asia/Shanghai")  # UTC+8, no DST
BERLIN = ZoneInfo("Europe/Berlin")


def local(zone: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=zone).astimezone(UTC)


# --- the expected arrival ----------------------------------------------------------------


def test_no_history_expects_18_00_today_or_tomorrow() -> None:
    arrivals = Arrivals()
    noon = local(SHANGHAI, 2026, 11, 30, 12, 0)
    got = arrivals.expected(noon, SHANGHAI, 30.0)
    assert got.at == local(SHANGHAI, 2026, 11, 30, 18, 0)
    assert (got.basis, got.sessions, got.soc_pct, got.soc_basis) == ("default", 0, 30.0, "assumed")
    # After 18:00 the car is not expected today any more: tomorrow's 18:00.
    late = local(SHANGHAI, 2026, 11, 30, 18, 1)
    assert arrivals.expected(late, SHANGHAI, 30.0).at == local(SHANGHAI, 2026, 12, 1, 18, 0)


def test_the_median_of_the_last_sessions_on_that_weekday() -> None:
    arrivals = Arrivals()
    # Four Mondays (23 Nov, 16 Nov, 9 Nov, 2 Nov 2026) and a Tuesday 00:30 that belongs to
    # Monday the 26 Oct's evening; one Wednesday that is not a Monday.
    for at, soc in [
        (local(SHANGHAI, 2026, 10, 27, 0, 30), 10.0),  # Monday's: minute 20:30 after 04:00
        (local(SHANGHAI, 2026, 11, 2, 18, 10), 40.0),
        (local(SHANGHAI, 2026, 11, 9, 18, 40), 50.0),
        (local(SHANGHAI, 2026, 11, 11, 12, 0), 99.0),  # a Wednesday
        (local(SHANGHAI, 2026, 11, 16, 19, 0), None),
        (local(SHANGHAI, 2026, 11, 23, 23, 50), 20.0),
    ]:
        assert arrivals.add(at, soc)
    assert not arrivals.add(local(SHANGHAI, 2026, 11, 23, 23, 50), 20.0)  # the same one
    monday = local(SHANGHAI, 2026, 11, 30, 9, 0)
    got = arrivals.expected(monday, SHANGHAI, 30.0)
    # Minutes after 04:00: 18:10 -> 850, 18:40 -> 880, 19:00 -> 900, 23:50 -> 1190, and
    # the Tuesday 00:30 -> 1230. Five Mondays: the median is 900 -> 19:00.
    assert got.at == local(SHANGHAI, 2026, 11, 30, 19, 0)
    # SoC known in four of them: 10, 40, 50, 20 -> (20 + 40) / 2 = 30.
    assert (got.basis, got.sessions, got.soc_pct, got.soc_basis) == ("weekday", 5, 30.0, "sessions")


def test_an_even_count_takes_the_middle_two_and_a_late_median_crosses_midnight() -> None:
    arrivals = Arrivals()
    # Four Fridays at 23:00, 23:30, 00:40 (Saturday) and 01:00 (Saturday): minutes after
    # 04:00 1140, 1170, 1240, 1260 -> (1170 + 1240) / 2 = 1205 -> 04:00 + 20 h 05 = 00:05.
    for at in [
        local(SHANGHAI, 2026, 11, 6, 23, 0),
        local(SHANGHAI, 2026, 11, 13, 23, 30),
        local(SHANGHAI, 2026, 11, 21, 0, 40),
        local(SHANGHAI, 2026, 11, 28, 1, 0),
    ]:
        arrivals.add(at, None)
    friday = local(SHANGHAI, 2026, 12, 4, 20, 0)
    got = arrivals.expected(friday, SHANGHAI, 25.0)
    assert got.at == local(SHANGHAI, 2026, 12, 5, 0, 5)
    assert (got.basis, got.sessions, got.soc_pct, got.soc_basis) == ("weekday", 4, 25.0, "assumed")


def test_few_on_the_weekday_falls_back_to_the_recent_sessions() -> None:
    arrivals = Arrivals()
    # Wed 17:00, Thu 18:00, Fri 20:00, Sat 21:00: no weekday has four; the last 8 (here
    # 4) of any day: 780, 840, 960, 1020 minutes -> (840 + 960) / 2 = 900 -> 19:00.
    for day, hour, soc in [(25, 17, 60.0), (26, 18, 20.0), (27, 20, 30.0), (28, 21, 90.0)]:
        arrivals.add(local(SHANGHAI, 2026, 11, day, hour, 0), soc)
    got = arrivals.expected(local(SHANGHAI, 2026, 11, 29, 10, 0), SHANGHAI, 30.0)
    assert got.at == local(SHANGHAI, 2026, 11, 29, 19, 0)
    assert (got.basis, got.sessions, got.soc_pct) == ("recent", 4, 45.0)  # (30 + 60) / 2


def test_a_winter_habit_keeps_its_wall_clock_time_in_summer() -> None:
    arrivals = Arrivals()
    for day in (1, 8, 15, 22):  # Sundays in February 2026, 18:30 CET = 17:30 UTC
        arrivals.add(local(BERLIN, 2026, 2, day, 18, 30), None)
    got = arrivals.expected(local(BERLIN, 2026, 4, 5, 12, 0), BERLIN, 30.0)  # a Sunday
    assert got.at == datetime(2026, 4, 5, 16, 30, tzinfo=UTC)  # 18:30 CEST


def test_the_stored_history_is_checked_on_load() -> None:
    good = local(SHANGHAI, 2026, 11, 2, 18, 10)
    raw: Any = [
        [good.isoformat(), 40.0],
        ["2026-11-03T18:00:00", 40.0],  # no offset
        ["not a time", None],
        [good.isoformat(), 140.0],  # not a SoC
        "junk",
        [],
    ]
    assert Arrivals.from_list(raw).items == [(good, 40.0)]
    assert Arrivals.from_list({"no": "list"}).items == []
    assert Arrivals.from_list(Arrivals([(good, None)]).to_list()).items == [(good, None)]


@given(
    st.lists(
        st.datetimes(
            min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
        ),
        max_size=30,
    ),
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from([SHANGHAI, BERLIN, ZoneInfo("America/New_York")]),
)
def test_the_expected_arrival_is_always_ahead_and_within_two_days(
    seen: list[datetime], now: datetime, zone: ZoneInfo
) -> None:
    arrivals = Arrivals()
    for at in seen:
        arrivals.add(at, None)
    got = arrivals.expected(now, zone, 30.0)
    assert now < got.at <= now + timedelta(hours=49)


# --- the forecast ----------------------------------------------------------------------


def _slot(start: datetime, kw: float, soc: float) -> dict[str, Any]:
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=15)).isoformat(),
        "ev_kw": kw,
        "soc_pct": soc,
    }


T = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _ahead() -> dict[str, Any]:
    """A plan made at 09:20 for a car expected at 10:30, leaving at 11:45 (UTC)."""
    rows = [
        (0.0, 40.0),  # 09:15  not plugged in yet
        (0.0, 40.0),  # 09:30
        (0.0, 40.0),  # 09:45
        (0.0, 40.0),  # 10:00
        (0.0, 40.0),  # 10:15
        (11.04, 60.0),  # 10:30 plugged in from here
        (4.14, 80.0),  # 10:45
        (0.0, 80.0),  # 11:00
        (5.52, 100.0),  # 11:15
        (0.0, 100.0),  # 11:30 full
        (0.0, 100.0),  # 11:45 ends after the 11:45 departure: not plugged in
    ]
    return {
        "slots": [_slot(T + i * timedelta(minutes=15), kw, soc) for i, (kw, soc) in enumerate(rows)]
    }


def test_forecast_from_a_plan_made_ahead() -> None:
    now = datetime(2026, 11, 30, 9, 20, tzinfo=UTC)
    got = forecast(
        _ahead(),
        11.04,
        now,
        arrival=datetime(2026, 11, 30, 10, 30, tzinfo=UTC),
        departure=datetime(2026, 11, 30, 11, 45, tzinfo=UTC),
        assumption={"basis": "expected_arrival"},
        plugged=False,
    )
    hours = got["hours"]
    assert len(hours) == 24
    assert hours[0]["start"] == "2026-11-30T09:00:00+00:00"
    assert got["assumption"] == {"basis": "expected_arrival"}
    assert got["plugged"] is False
    # 09:00: the car is away: nothing to shed or absorb.
    assert hours[0] | {"start": 0} == {
        "start": 0,
        "shed_kw": 0.0,
        "absorb_kw": 0.0,
        "plugged_fraction": 0.0,
    }
    # 10:00: plugged from 10:30. Shed (11.04 + 4.14) x 0.25 = 3.795 kW; absorb: the 10:30
    # slot is at full power (0 room), the 10:45 slot 11.04 - 4.14 = 6.9 kW x 0.25 = 1.725.
    assert (hours[1]["shed_kw"], hours[1]["absorb_kw"], hours[1]["plugged_fraction"]) == (
        3.795,
        1.725,
        0.5,
    )
    # 11:00: shed 5.52 x 0.25 = 1.38; absorb (11.04 + 5.52) x 0.25 = 4.14 (the 11:30 slot
    # starts full: no room; the 11:45 slot is after the departure); plugged 0.75 h.
    assert (hours[2]["shed_kw"], hours[2]["absorb_kw"], hours[2]["plugged_fraction"]) == (
        1.38,
        4.14,
        0.75,
    )
    assert all(h["shed_kw"] == h["absorb_kw"] == 0.0 for h in hours[3:])


def test_forecast_without_a_plan_is_zero() -> None:
    now = datetime(2026, 11, 30, 9, 20, tzinfo=UTC)
    got = forecast(None, 11.04, now, arrival=None, departure=None, assumption={}, plugged=False)
    assert {(h["shed_kw"], h["absorb_kw"], h["plugged_fraction"]) for h in got["hours"]} == {
        (0.0, 0.0, 0.0)
    }


def test_forecast_of_a_car_plugged_in_now() -> None:
    # Plugged in now (no arrival): a full car at 100 % has no room; one at 50 % charging
    # 4.14 kW has 6.9 kW of room.
    plan = {"slots": [_slot(T, 0.0, 100.0), _slot(T + timedelta(minutes=15), 0.0, 100.0)]}
    got = forecast(plan, 11.04, T, arrival=None, departure=None, assumption={}, plugged=True)
    assert (got["hours"][0]["absorb_kw"], got["hours"][0]["plugged_fraction"]) == (0.0, 0.5)
    plan = {"slots": [_slot(T, 4.14, 52.0)]}
    got = forecast(plan, 11.04, T, arrival=None, departure=None, assumption={}, plugged=True)
    assert (got["hours"][0]["shed_kw"], got["hours"][0]["absorb_kw"]) == (1.035, 1.725)
