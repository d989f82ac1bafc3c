"""The charging session model: departure, plug state, guarded energy, SoC anchor, boost.

Hand-worked cases first (each from a real bug, the arithmetic in a comment), then one
hypothesis property over random event sequences.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.evflex.session import (
    Observation,
    Reading,
    Session,
    SessionConfig,
    Settings,
    next_departure,
    wall_clock_instant,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
S30 = timedelta(seconds=30)
MIN = timedelta(minutes=1)


def config(**changes: Any) -> SessionConfig:
    base = SessionConfig(
        battery_kwh=60.0,
        efficiency=0.9,
        arrival_soc_pct=40.0,
        max_kw=11.0,
        has_meter=True,
        timezone=BERLIN,
    )
    return replace(base, **changes)


def reading(
    at: datetime,
    connected: bool | None = True,
    meter: float | None = None,
    power: float | None = None,
    soc: float | None = None,
) -> Reading:
    return Reading(at=at, connected=connected, meter_kwh=meter, power_kw=power, soc_pct=soc)


def local(
    zone: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def restored(session: Session) -> Session:
    """A restart: the session as saved (through JSON) and loaded again."""
    return Session.from_dict(session.config, json.loads(json.dumps(session.to_dict())))


# --- validation (unhappy paths first) -------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"battery_kwh": 0.0}, "battery_kwh: must be a number above 0"),
        ({"battery_kwh": float("nan")}, "battery_kwh: must be a number above 0"),
        ({"efficiency": 1.2}, "efficiency: must be above 0 and at most 1"),
        ({"arrival_soc_pct": -1.0}, "arrival_soc_pct: must be between 0 and 100"),
        ({"max_kw": -11.0}, "max_kw: must be a number above 0"),
        ({"unplug_debounce": timedelta(seconds=-1)}, "unplug_debounce: must be a duration"),
        ({"soc_stale_after": timedelta(0)}, "soc_stale_after: must be a duration above 0"),
    ],
)
def test_config_refuses_what_cannot_be_true(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"departure": "7:40"}, "departure: must be a time HH:MM"),
        ({"departure": "24:00"}, "departure: must be a time HH:MM"),
        ({"departure": "07:60"}, "departure: must be a time HH:MM"),
        ({"target_soc": 101}, "target_soc: must be between 0 and 100"),
        ({"min_soc": 90}, "min_soc: must not exceed target_soc"),
        ({"mode": "turbo"}, "mode: must be one of smart, solar_only, fast, off"),
        ({"colour": "red"}, "colour: is not a setting"),
    ],
)
def test_settings_refuse_bad_values_and_keep_the_old_ones(
    changes: dict[str, Any], message: str
) -> None:
    session = Session(config())
    with pytest.raises(ValueError, match=message):
        session.update_settings(utc(2026, 1, 12, 17), **changes)
    assert session.settings == Settings()


def test_a_naive_reading_time_is_refused() -> None:
    with pytest.raises(ValueError, match="at: must be a timezone-aware datetime"):
        reading(datetime(2026, 1, 12, 18))


def test_boost_is_refused_without_a_car_or_with_a_bad_amount() -> None:
    t0 = utc(2026, 1, 12, 17)
    session = Session(config())
    with pytest.raises(ValueError, match="boost: needs the car plugged in"):
        session.start_boost(t0, kwh=5.0)
    session.observe(reading(t0))
    with pytest.raises(ValueError, match="boost: give kwh or until, one of them"):
        session.start_boost(t0, kwh=5.0, until=t0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="boost: give kwh or until, one of them"):
        session.start_boost(t0)
    with pytest.raises(ValueError, match="kwh: must be a number above 0"):
        session.start_boost(t0, kwh=0.0)
    with pytest.raises(ValueError, match="until: must be after now"):
        session.start_boost(t0, until=t0)
    assert not session.boost_active(t0)


def test_sensor_nonsense_reads_as_no_value() -> None:
    """A SoC of 130, a negative or infinite meter, a negative power: not readings."""
    t0 = utc(2026, 1, 12, 17)
    session = Session(config())
    session.observe(reading(t0, meter=100.0, soc=130.0))
    session.observe(reading(t0 + 10 * MIN, meter=float("inf"), soc=-2.0))
    session.observe(reading(t0 + 20 * MIN, meter=-5.0, power=-0.1))
    assert session.energy_kwh == 0.0
    assert session.soc_source(t0) == "assumed"
    # Back at 101.0 after 30 min: 1 kWh <= 11 kW x 0.5 h, from the baseline 100.0.
    assert session.observe(reading(t0 + 30 * MIN, meter=101.0)).delta_kwh == pytest.approx(1.0)


def test_from_dict_reads_bad_fields_as_defaults_and_never_raises() -> None:
    cfg = config()
    garbage: list[object] = [None, [], "x", {}, {"version": 99}, {"settings": 3, "plugged": 1}]
    for raw in garbage:
        session = Session.from_dict(cfg, raw)
        assert not session.plugged
        assert session.settings == Settings()
    raw = {
        "version": 1,
        "settings": {"departure": "25:00", "target_soc": 90, "min_soc": "low", "mode": "fast"},
        "plugged": True,
        "plugged_at": "not a time",
        "energy_kwh": -3,
        "soc_anchor": {"value": 130, "at": "2026-01-12T17:00:00+00:00", "energy_kwh": 0},
        "boost_kwh_left": 5.0,
    }
    session = Session.from_dict(cfg, raw)
    assert session.settings == Settings(target_soc=90.0, mode="fast")
    assert not session.plugged  # a session without its plug-in time is no session
    assert session.boost_kwh_left is None
    assert session.energy_kwh == 0.0
    assert session.soc_pct(utc(2026, 1, 12, 17)) == 40.0
    # A naive timestamp is no timestamp; a plugged session still gets a future departure.
    raw = {
        "plugged": True,
        "plugged_at": "2026-01-12T17:00:00+00:00",
        "departure": "2026-01-13T06:30",
    }
    session = Session.from_dict(cfg, raw)
    assert session.plugged
    assert session.departure_at(utc(2026, 1, 12, 18)) == utc(2026, 1, 13, 6, 30)
    assert session.observe(reading(utc(2026, 1, 12, 18))).events == frozenset()
    assert session.to_dict()["departure"] == "2026-01-13T06:30:00+00:00"


def test_a_clock_that_goes_back_adds_no_time() -> None:
    """NTP steps the clock back 10 minutes: no energy for time that did not pass."""
    session = Session(config(has_meter=False))
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, power=11.0))
    session.observe(reading(t0 + 10 * MIN, power=11.0))  # 11 x 5 min (the step cap)
    assert session.observe(reading(t0, power=11.0)).delta_kwh == 0.0
    assert session.observe(reading(t0 + 10 * MIN + S30, power=11.0)).delta_kwh == pytest.approx(
        11 * 30 / 3600
    )


# --- departure ------------------------------------------------------------------------


def test_departure_keeps_any_minute_and_stays_fixed_while_plugged_in() -> None:
    """Issue 8, finding 1: 07:40 and 07:07 are kept to the minute."""
    session = Session(config(), Settings(departure="07:40"))
    t0 = local(BERLIN, 2026, 1, 12, 18)  # 17:00 UTC (CET = UTC+1)
    session.observe(reading(t0))
    assert session.plugged_at == utc(2026, 1, 12, 17)
    assert session.departure_at(t0) == utc(2026, 1, 13, 6, 40)  # 07:40 CET
    for k in range(1, 40):  # every 20 minutes until 07:00: the same instant
        at = t0 + k * 20 * MIN
        session.observe(reading(at))
        assert session.departure_at(at) == utc(2026, 1, 13, 6, 40)
    session.set_departure("07:07", t0 + 13 * timedelta(hours=1))  # at 07:00 local
    # 07:07 is only 7 minutes ahead: less than a slot, so tomorrow's 07:07.
    assert session.departure_at(t0 + 13 * timedelta(hours=1)) == utc(2026, 1, 14, 6, 7)
    session.set_departure("07:20", t0 + 13 * timedelta(hours=1))
    assert session.departure_at(t0) == utc(2026, 1, 13, 6, 20)  # 20 min ahead: today


def test_departure_is_at_least_fifteen_minutes_ahead_at_plug_in() -> None:
    session = Session(config(), Settings(departure="07:40"))
    session.observe(reading(local(BERLIN, 2026, 1, 13, 7, 25)))  # exactly 15 min ahead
    assert session.departure_at(utc(2026, 1, 13, 6, 25)) == utc(2026, 1, 13, 6, 40)
    other = Session(config(), Settings(departure="07:40"))
    other.observe(reading(local(BERLIN, 2026, 1, 13, 7, 26)))  # 14 min: the next day
    assert other.departure_at(utc(2026, 1, 13, 6, 26)) == utc(2026, 1, 14, 6, 40)
    assert Session(config()).departure_at(utc(2026, 1, 13, 6)) is None  # not plugged in


def test_departure_rolls_over_only_after_it_passes() -> None:
    session = Session(config(), Settings(departure="07:30"))
    t0 = local(BERLIN, 2026, 1, 12, 18)
    session.observe(reading(t0, meter=100.0))
    session.observe(reading(t0 + 10 * MIN, meter=101.0))
    at = t0 + 10 * MIN
    while at < local(BERLIN, 2026, 1, 13, 7, 29):  # a reading every minute: watched
        at += MIN
        assert "rolled_over" not in session.observe(reading(at, meter=101.0)).events
    seen = session.observe(reading(local(BERLIN, 2026, 1, 13, 7, 30), meter=101.0))
    assert seen.events == {"rolled_over"}
    assert session.departure_at(utc(2026, 1, 13, 6, 30)) == utc(2026, 1, 14, 6, 30)
    assert session.energy_kwh == pytest.approx(1.0)  # watched all night: the same session


def test_a_new_departure_setting_takes_effect_for_the_car_plugged_in() -> None:
    session = Session(config(), Settings(departure="07:30"))
    session.observe(reading(local(BERLIN, 2026, 1, 12, 18)))
    session.update_settings(local(BERLIN, 2026, 1, 12, 20), departure="06:15", target_soc=90)
    assert session.departure_at(utc(2026, 1, 12, 19)) == utc(2026, 1, 13, 5, 15)
    session.update_settings(local(BERLIN, 2026, 1, 12, 21), target_soc=85)  # not the departure
    assert session.departure_at(utc(2026, 1, 12, 20)) == utc(2026, 1, 13, 5, 15)
    assert session.settings == Settings(departure="06:15", target_soc=85.0)


@pytest.mark.parametrize(
    ("zone", "day", "hhmm", "expected"),
    [
        # Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist and
        # moves to the first valid instant, 03:00 CEST = 01:00 UTC.
        (BERLIN, date(2026, 3, 29), (2, 30), utc(2026, 3, 29, 1)),
        (BERLIN, date(2026, 3, 29), (2, 0), utc(2026, 3, 29, 1)),
        (BERLIN, date(2026, 3, 29), (3, 0), utc(2026, 3, 29, 1)),
        (BERLIN, date(2026, 3, 29), (7, 40), utc(2026, 3, 29, 5, 40)),  # CEST = UTC+2
        (BERLIN, date(2026, 3, 28), (7, 40), utc(2026, 3, 28, 6, 40)),  # CET = UTC+1
        # Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice,
        # the first time is meant: 02:30 CEST = 00:30 UTC (not 01:30 UTC).
        (BERLIN, date(2026, 10, 25), (2, 30), utc(2026, 10, 25, 0, 30)),
        (BERLIN, date(2026, 10, 25), (7, 40), utc(2026, 10, 25, 6, 40)),
        # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:15 -> 03:00 EDT = 07:00 UTC.
        (NEW_YORK, date(2026, 3, 8), (2, 15), utc(2026, 3, 8, 7)),
        (NEW_YORK, date(2026, 3, 8), (7, 40), utc(2026, 3, 8, 11, 40)),  # EDT = UTC-4
        # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 first = EDT, 05:30 UTC.
        (NEW_YORK, date(2026, 11, 1), (1, 30), utc(2026, 11, 1, 5, 30)),
        (NEW_YORK, date(2026, 11, 1), (7, 40), utc(2026, 11, 1, 12, 40)),  # EST = UTC-5
    ],
)
def test_wall_clock_times_across_dst_changes(
    zone: ZoneInfo, day: date, hhmm: tuple[int, int], expected: datetime
) -> None:
    assert wall_clock_instant(day, *hhmm, zone) == expected


def test_departure_across_the_spring_gap_and_the_next_day() -> None:
    session = Session(config(), Settings(departure="02:30"))
    session.observe(reading(local(BERLIN, 2026, 3, 28, 20)))  # 19:00 UTC
    assert session.departure_at(utc(2026, 3, 28, 19)) == utc(2026, 3, 29, 1)  # 03:00 CEST
    seen = session.observe(reading(utc(2026, 3, 29, 1)))
    assert "rolled_over" in seen.events
    # 2026-03-30 02:30 CEST = 00:30 UTC
    assert session.departure_at(utc(2026, 3, 29, 1)) == utc(2026, 3, 30, 0, 30)


def test_departure_in_the_repeated_hour_rolls_at_the_first_occurrence() -> None:
    """The second 01:10 (EST) is after the first 01:30 (EDT): a wall-clock comparison
    in one zone would say it is before and keep a departure in the past."""
    session = Session(config(timezone=NEW_YORK), Settings(departure="01:30"))
    session.observe(reading(local(NEW_YORK, 2026, 10, 31, 20)))
    assert session.departure_at(utc(2026, 11, 1, 0)) == utc(2026, 11, 1, 5, 30)
    second_0110 = local(NEW_YORK, 2026, 11, 1, 1, 10, fold=1)  # 06:10 UTC
    assert second_0110.astimezone(UTC) == utc(2026, 11, 1, 6, 10)
    session.observe(reading(local(NEW_YORK, 2026, 11, 1, 1, 0)))  # first 01:00, 05:00 UTC
    assert "rolled_over" in session.observe(reading(second_0110)).events
    # 2026-11-02 01:30 EST = 06:30 UTC
    assert session.departure_at(second_0110) == utc(2026, 11, 2, 6, 30)


def test_next_departure_across_the_fall_back_night() -> None:
    # Set at 20:00 EDT on 2026-10-31; 07:00 on 2026-11-01 is EST: 12:00 UTC (not 11:00).
    at = local(NEW_YORK, 2026, 10, 31, 20)
    assert next_departure(7, 0, at, NEW_YORK) == utc(2026, 11, 1, 12)
    # Berlin 2026-10-24 22:00 CEST, 06:15 next morning CET: 05:15 UTC.
    evening = local(BERLIN, 2026, 10, 24, 22)
    assert next_departure(6, 15, evening, BERLIN) == utc(2026, 10, 25, 5, 15)


# --- plug-in and unplug ---------------------------------------------------------------


def test_a_brief_available_does_not_end_the_session() -> None:
    """Issue 8, finding 2: an OCPP charger's brief "Available" reset the session."""
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    assert session.observe(reading(t0, meter=10.0)).events == {"plugged_in", "session_started"}
    session.observe(reading(t0 + 10 * MIN, meter=11.5))  # 1.5 kWh
    assert session.observe(reading(t0 + 10 * MIN + S30, False, 11.5)).events == frozenset()
    session.observe(reading(t0 + 11 * MIN + S30, False, 11.5))  # 90 s "disconnected"
    session.observe(reading(t0 + 12 * MIN, True, 11.5))
    assert session.plugged
    assert session.energy_kwh == pytest.approx(1.5)
    assert session.plugged_at == t0


def test_unplug_counts_after_the_debounce_from_the_first_disconnected_reading() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=10.0))
    session.observe(reading(t0 + 30 * MIN, meter=13.0))
    session.observe(reading(t0 + 31 * MIN, False, 13.0))
    session.observe(reading(t0 + 32 * MIN, None, 13.0))  # unknown: neither way
    seen = session.observe(reading(t0 + 33 * MIN, False, 13.0))  # 2 min after 31
    assert seen.events == {"unplugged", "session_ended"}
    assert seen.closed is not None
    assert (seen.closed.plugged_at, seen.closed.ended_at) == (t0, t0 + 31 * MIN)
    assert seen.closed.energy_kwh == pytest.approx(3.0)
    assert not session.plugged
    assert session.departure_at(t0 + 33 * MIN) is None


def test_power_while_disconnected_means_still_plugged_in() -> None:
    session = Session(config(has_meter=False))
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, True, power=7.2))
    for k in range(1, 11):
        assert session.observe(reading(t0 + k * MIN, False, power=7.2)).events == frozenset()
    assert session.plugged
    # 10 one-minute steps at 7.2 kW: 10 x 7.2 / 60 = 1.2 kWh
    assert session.energy_kwh == pytest.approx(1.2)


def test_without_a_status_sensor_each_night_is_a_new_session() -> None:
    """Issue 8, finding 2: no status and no SoC sensor; 30 kWh over three nights read 80%
    "target reached" forever (40% + 30 x 0.9 / 60 = 85%). Each departure that passes is
    the car leaving: the estimate starts from the arrival SoC again every evening."""
    session = Session(config(), Settings(departure="07:30"))
    meter, peaks = 500.0, []
    first = session.observe(reading(local(BERLIN, 2026, 1, 12, 18), None, meter))
    assert first.events == {"plugged_in", "session_started"}
    session.start_boost(utc(2026, 1, 12, 17), kwh=20.0)
    for night in range(3):
        evening = local(BERLIN, 2026, 1, 12 + night, 18)
        for quarter in range(4 * 14):  # 18:00 .. 07:45, every 15 minutes
            at = evening + quarter * 15 * MIN
            if 16 <= quarter < 20:  # 22:00-23:00: 2.5 kWh a quarter (10 kW), 10 kWh a night
                meter += 2.5
            seen = session.observe(reading(at, None, meter))
            if at == local(BERLIN, 2026, 1, 13 + night, 7, 30):
                assert seen.events >= {"rolled_over", "session_ended", "session_started"}
                assert seen.closed is not None
                assert seen.closed.energy_kwh == pytest.approx(10.0)
                assert session.energy_kwh == 0.0
                assert session.boost_kwh_left is None  # the boost ended with its session
            peaks.append(session.soc_pct(at))
    # Each night: 40 + 10 x 0.9 / 60 x 100 = 55%, then back to the arrival 40%.
    assert max(peaks) == pytest.approx(55.0)
    assert session.soc_pct(local(BERLIN, 2026, 1, 15, 7, 45)) == 40.0
    assert session.soc_source(local(BERLIN, 2026, 1, 15, 7, 45)) == "assumed"


def test_blind_across_the_departure_starts_a_new_session() -> None:
    """Home Assistant was down overnight: the car reads connected again, but it may have
    left and come back; what we knew before (energy, SoC) belongs to the old session."""
    session = Session(config(), Settings(departure="07:30"))
    t0 = local(BERLIN, 2026, 1, 12, 18)
    session.observe(reading(t0, meter=10.0, soc=50.0))
    session.observe(reading(t0 + 30 * MIN, meter=14.0))
    seen = session.observe(reading(local(BERLIN, 2026, 1, 13, 19), meter=14.0))
    assert seen.events >= {"rolled_over", "session_ended", "session_started"}
    assert seen.closed is not None
    assert seen.closed.energy_kwh == pytest.approx(4.0)
    assert session.plugged_at == utc(2026, 1, 13, 18)
    assert session.soc_source(utc(2026, 1, 13, 18)) == "assumed"


# --- energy ---------------------------------------------------------------------------


def test_a_flickering_meter_adds_nothing() -> None:
    """Issue 8, finding 3: meter 1234.6 kWh, unavailable for 3 readings, back at 1234.6:
    the session gained 1234.6 kWh; now it gains 0."""
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=1234.6, power=0.0))
    for k in range(1, 4):
        assert session.observe(reading(t0 + k * S30, meter=None, power=0.0)).delta_kwh == 0.0
    back = session.observe(reading(t0 + 4 * S30, meter=1234.6, power=0.0))
    assert (back.delta_kwh, back.events) == (0.0, frozenset())
    assert session.energy_kwh == 0.0


def test_no_meter_reading_is_no_switch_to_integrating_power() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=500.0, power=11.0))
    for k in range(1, 20):
        assert session.observe(reading(t0 + k * S30, meter=None, power=11.0)).delta_kwh == 0.0
    # 10 minutes later: 1.8 kWh <= 11 kW x 10/60 h = 1.833 kWh, credited at once.
    assert session.observe(reading(t0 + 20 * S30, meter=501.8)).delta_kwh == pytest.approx(1.8)


def test_a_meter_drop_is_a_counter_reset() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=100.0))
    assert session.observe(reading(t0 + 10 * MIN, meter=100.5)).delta_kwh == pytest.approx(0.5)
    reset = session.observe(reading(t0 + 20 * MIN, meter=3.0))
    assert (reset.delta_kwh, reset.events) == (0.0, frozenset({"meter_reset"}))
    # From the new baseline: 3.4 - 3.0 = 0.4 (11 kW x 10 min = 1.83 allows it); 0.5 + 0.4.
    assert session.observe(reading(t0 + 30 * MIN, meter=3.4)).delta_kwh == pytest.approx(0.4)
    assert session.energy_kwh == pytest.approx(0.9)


def test_an_increase_beyond_max_power_is_capped() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0 + 0 * S30, meter=1000.0))
    jump = session.observe(reading(t0 + S30, meter=1005.0))
    # 11 kW x 30 s = 11 x 30 / 3600 = 0.0916667 kWh of the 5 kWh step; the rest is dropped.
    assert jump.delta_kwh == pytest.approx(11 * 30 / 3600)
    assert jump.events == {"capped"}
    assert session.observe(reading(t0 + 2 * S30, meter=1005.0)).delta_kwh == 0.0


def test_a_reboot_to_zero_and_back_adds_what_was_possible() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=1234.6))
    assert session.observe(reading(t0 + S30, meter=0.0)).events == {"meter_reset"}
    back = session.observe(reading(t0 + 2 * S30, meter=1234.6))
    assert back.events == {"capped"}
    assert back.delta_kwh == pytest.approx(11 * 30 / 3600)  # 30 s at 11 kW


def test_a_meter_in_tenth_kwh_steps_is_counted_whole() -> None:
    """At the charger's full 3.6 kW the meter steps 0.1 kWh every 100 s, read every 30 s:
    a step can show 30 s after the last one, more than 3.6 kW x 30 s = 0.03 kWh. Nothing is
    lost: a step is checked against the time since the meter last read less, and credit
    beyond 0.03 kWh per reading waits for the next reading."""
    session = Session(config(max_kw=3.6))
    t0 = utc(2026, 1, 12, 17)
    events: set[str] = set()
    for k in range(45):  # 40 readings charging (0.03 kWh each, 1.2 kWh), then 5 still
        tenths = (3 * min(k, 40)) // 10  # the meter shows the energy floored to 0.1 kWh
        seen = session.observe(reading(t0 + k * S30, meter=100 + tenths / 10))
        assert seen.delta_kwh <= 3.6 * 30 / 3600 + 1e-12
        events |= seen.events
    assert session.energy_kwh == pytest.approx(1.2)  # 12 steps of 0.1 kWh
    assert "capped" not in events


def test_a_restart_continues_from_the_last_meter_reading() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=100.0))
    session.observe(reading(t0 + 10 * MIN, meter=101.5))  # 1.5
    session = restored(session)
    # Down for an hour: 10.5 kWh <= 11 kW x 70 min (since 100.0) and <= 11 kW x 60 min.
    assert session.observe(reading(t0 + 70 * MIN, meter=112.0)).delta_kwh == pytest.approx(10.5)
    assert session.energy_kwh == pytest.approx(12.0)


def test_a_restart_then_a_jump_adds_only_what_was_possible() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=100.0))
    session.observe(reading(t0 + 10 * MIN, meter=101.5))
    session = restored(session)
    # 48.5 kWh in 70 minutes since the meter read 100.0: possible 11 x 70/60 = 12.8333;
    # credited now 11 x 60/60 = 11.0 (since the last good reading), 1.8333 waits.
    jump = session.observe(reading(t0 + 70 * MIN, meter=150.0))
    assert jump.delta_kwh == pytest.approx(11.0)
    assert jump.events == {"capped"}
    # 5 min later 11 x 5/60 = 0.91667 more, and the last 0.91667 5 min after that.
    assert session.observe(reading(t0 + 75 * MIN, meter=150.0)).delta_kwh == pytest.approx(
        11 * 5 / 60
    )
    session = restored(session)
    assert session.observe(reading(t0 + 85 * MIN, meter=150.0)).delta_kwh == pytest.approx(
        12.8333333 - 11 - 11 * 5 / 60
    )
    assert session.energy_kwh == pytest.approx(1.5 + 11 * 70 / 60)


def test_without_a_meter_power_is_integrated_five_minutes_at_most() -> None:
    session = Session(config(has_meter=False))
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, power=7.2, meter=9999.0))  # a meter it does not have: ignored
    assert session.observe(reading(t0 + MIN, power=7.2)).delta_kwh == pytest.approx(0.12)
    # 7.2 kW x 1 min = 0.12; then the power is unknown: nothing for the minute after it
    assert session.observe(reading(t0 + 2 * MIN, power=None)).delta_kwh == pytest.approx(0.12)
    assert session.observe(reading(t0 + 3 * MIN, power=20.0)).delta_kwh == 0.0
    # 20 kW reported, 11 kW possible: 11 x 1/60 = 0.18333
    assert session.observe(reading(t0 + 4 * MIN, power=7.2)).delta_kwh == pytest.approx(11 / 60)
    session = restored(session)
    # Home Assistant down for 3 hours: 7.2 kW x 5 min = 0.6, not 7.2 x 3 h
    assert session.observe(reading(t0 + 184 * MIN, power=0.0)).delta_kwh == pytest.approx(0.6)
    assert session.energy_kwh == pytest.approx(0.12 + 0.12 + 11 / 60 + 0.6)


def test_energy_before_a_plug_in_is_not_the_sessions() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, False, 100.0))
    assert session.observe(reading(t0 + 10 * MIN, False, 101.0)).delta_kwh == 0.0
    assert session.observe(reading(t0 + 20 * MIN, True, 101.0)).delta_kwh == 0.0
    assert session.observe(reading(t0 + 30 * MIN, True, 102.0)).delta_kwh == pytest.approx(1.0)


# --- state of charge ------------------------------------------------------------------


def test_a_sleeping_soc_sensor_keeps_its_anchor() -> None:
    """Issue 8, finding 2: the SoC jumped back to the arrival estimate when the car slept."""
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    assert "soc_reading" in session.observe(reading(t0, meter=0.0, soc=50.0)).events
    assert session.soc_source(t0) == "sensor"
    session.observe(reading(t0 + 30 * MIN, meter=3.0, soc=52.0))  # anchor 52% at 3 kWh
    asleep = session.observe(reading(t0 + 60 * MIN, meter=5.0))
    assert asleep.events == {"soc_unavailable"}
    session.observe(reading(t0 + 120 * MIN, meter=9.0))
    # 52 + (9 - 3) x 0.9 / 60 x 100 = 52 + 9 = 61%
    assert session.soc_pct(t0 + 120 * MIN) == pytest.approx(61.0)
    assert session.soc_source(t0 + 120 * MIN) == "estimate"
    late = t0 + 30 * MIN + timedelta(hours=12, seconds=1)
    assert session.soc_source(late) == "stale"
    assert session.soc_pct(late) == pytest.approx(61.0)
    session.observe(reading(t0 + 121 * MIN, meter=9.0, soc=60.0))
    assert (session.soc_pct(t0), session.soc_source(t0)) == (60.0, "sensor")


def test_the_estimate_is_clamped_to_a_full_battery() -> None:
    session = Session(config(has_meter=False))
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, power=11.0, soc=99.0))
    for k in range(1, 13):
        session.observe(reading(t0 + k * 5 * MIN, power=11.0))
    # 99 + 11 x 0.9 / 60 x 100 = 115.5 -> 100
    assert session.soc_pct(t0 + 60 * MIN) == 100.0


def test_a_new_session_re_anchors() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=0.0, soc=70.0))
    session.observe(reading(t0 + 5 * MIN, False, 0.0))
    session.observe(reading(t0 + 8 * MIN, False, 0.0))  # unplugged
    # Back an hour later, no SoC: the assumed arrival SoC, not yesterday's 70%.
    session.observe(reading(t0 + 68 * MIN, True, 0.0))
    assert (session.soc_pct(t0), session.soc_source(t0)) == (40.0, "assumed")
    session.observe(reading(t0 + 70 * MIN, False, 0.0))
    session.observe(reading(t0 + 73 * MIN, False, 0.0, soc=35.0))  # unplugged, car reports
    session.observe(reading(t0 + 80 * MIN, True, 0.0))  # 7 min later: that reading is fresh
    assert session.soc_pct(t0) == 35.0
    assert session.soc_source(t0 + 80 * MIN) == "estimate"


# --- boost ----------------------------------------------------------------------------


def test_an_energy_boost_counts_down_and_ends() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=10.0))
    session.start_boost(t0, kwh=5.0)
    session.observe(reading(t0 + 15 * MIN, meter=12.0))
    assert session.boost_kwh_left == pytest.approx(3.0)
    session.observe(reading(t0 + 30 * MIN, meter=14.0))
    assert session.boost_active(t0 + 30 * MIN)
    done = session.observe(reading(t0 + 45 * MIN, meter=16.0))  # 6 kWh >= 5
    assert done.events == {"boost_done"}
    assert session.boost_kwh_left is None
    assert not session.boost_active(t0 + 45 * MIN)


def test_an_energy_boost_does_not_survive_unplugging() -> None:
    """Issue 8, finding 8: an energy boost fired again on the next plug-in."""
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=10.0))
    session.start_boost(t0, kwh=5.0)
    session.observe(reading(t0 + 15 * MIN, meter=11.0))
    session.observe(reading(t0 + 16 * MIN, False, 11.0))
    session.observe(reading(t0 + 18 * MIN, False, 11.0))
    assert session.boost_kwh_left is None
    session.observe(reading(t0 + 120 * MIN, True, 11.0))
    assert not session.boost_active(t0 + 120 * MIN)
    assert session.boost_kwh_left is None


def test_a_time_boost_ends_at_its_time_or_when_cancelled() -> None:
    session = Session(config())
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=10.0))
    session.start_boost(t0, until=local(BERLIN, 2026, 1, 12, 19))
    assert session.boost_until == utc(2026, 1, 12, 18)
    assert session.boost_active(t0 + 59 * MIN)
    assert session.observe(reading(t0 + 60 * MIN, meter=10.0)).events == {"boost_done"}
    assert not session.boost_active(t0 + 60 * MIN)
    session.start_boost(t0 + 60 * MIN, kwh=2.0)
    session.cancel_boost()
    assert session.boost_kwh_left is None
    assert session.boost_until is None


def test_to_dict_is_json_and_round_trips() -> None:
    session = Session(config(), Settings(departure="07:40", target_soc=90.0, mode="fast"))
    t0 = utc(2026, 1, 12, 17)
    session.observe(reading(t0, meter=10.0, soc=45.0))
    session.observe(reading(t0 + 10 * MIN, meter=11.0))
    session.start_boost(t0 + 10 * MIN, kwh=3.0)
    raw = session.to_dict()
    assert raw["version"] == 1
    assert raw["plugged_at"] == "2026-01-12T17:00:00+00:00"
    again = Session.from_dict(session.config, json.loads(json.dumps(raw)))
    assert again.to_dict() == raw
    assert again.settings == session.settings


# --- the property ---------------------------------------------------------------------

EXAMPLES = int(os.environ.get("EVFLEX_SESSION_EXAMPLES", "150"))
ZONES = [BERLIN, NEW_YORK, SHANGHAI, UTC]


@dataclass
class Step:
    kind: str  # read | settings | boost_kwh | boost_until | cancel | restart
    seconds: int = 0
    connected: bool | None = None
    meter: str = "none"  # none | same | up | reset | jump
    fraction: float = 0.0  # of what max power allows, for "up"
    power: float | None = None
    soc: float | None = None
    departure: str = "07:30"
    target: float = 80.0
    minimum: float = 20.0
    kwh: float = 1.0


def _steps() -> st.SearchStrategy[Step]:
    seconds = st.one_of(
        st.integers(1, 60), st.integers(60, 900), st.integers(900, 6 * 3600), st.just(24 * 3600)
    )
    read = st.builds(
        Step,
        kind=st.just("read"),
        seconds=seconds,
        connected=st.sampled_from([True, True, True, False, None]),
        meter=st.sampled_from(["none", "same", "up", "up", "up", "reset", "jump"]),
        fraction=st.floats(0, 1.3),
        power=st.one_of(st.none(), st.just(0.0), st.floats(0, 15)),
        soc=st.one_of(st.none(), st.none(), st.floats(0, 100)),
    )
    hhmm = st.builds(
        lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 7, 30, 40, 59])
    )
    other = st.one_of(
        st.builds(
            Step,
            kind=st.just("settings"),
            departure=hhmm,
            target=st.floats(50, 100),
            minimum=st.floats(0, 50),
        ),
        st.builds(Step, kind=st.just("boost_kwh"), kwh=st.floats(0.1, 30)),
        st.builds(Step, kind=st.just("boost_until"), seconds=st.integers(60, 6 * 3600)),
        st.just(Step(kind="cancel")),
        st.just(Step(kind="restart")),
    )
    return st.one_of(read, read, read, other)


def _check_invariants(session: Session, at: datetime, seen: Observation | None) -> None:
    soc = session.soc_pct(at)
    assert 0.0 <= soc <= 100.0
    assert session.soc_source(at) in {"sensor", "estimate", "stale", "assumed"}
    if session.plugged:
        for later in (at, at + timedelta(minutes=47), at + timedelta(hours=30)):
            departure = session.departure_at(later)  # also between readings
            assert departure is not None
            assert departure > later
    else:
        assert session.departure_at(at) is None
        assert (session.boost_kwh_left, session.boost_until) == (None, None)
        assert not session.boost_active(at)
    if seen is not None and "session_started" in seen.events:
        assert (session.boost_kwh_left, session.boost_until) == (None, None)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    has_meter=st.booleans(),
    zone=st.sampled_from(ZONES),
    max_kw=st.sampled_from([3.6, 7.4, 11.0]),
    start_hour=st.integers(0, 23),
    steps=st.lists(_steps(), min_size=1, max_size=60),
)
def test_random_event_sequences_keep_the_invariants(
    has_meter: bool, zone: ZoneInfo, max_kw: float, start_hour: int, steps: list[Step]
) -> None:
    cfg = config(has_meter=has_meter, timezone=zone, max_kw=max_kw)
    session = Session(cfg)
    shadow = Session(cfg)  # never restarted: behaviour must not depend on restarts
    at = datetime(2026, 3, 1, start_hour, tzinfo=zone)
    meter = 1000.0
    times: list[datetime] = []  # of each reading
    good: list[datetime] = []  # the last good meter reading at or before each reading
    credits: list[float] = []
    last_good: datetime | None = None
    for step in steps:
        seen: Observation | None = None
        if step.kind == "read":
            previous = at
            at += timedelta(seconds=step.seconds)
            value: float | None = None
            if step.meter == "same":
                value = meter
            elif step.meter == "up":
                meter += step.fraction * max_kw * (at - previous).total_seconds() / 3600
                value = meter
            elif step.meter == "reset":
                meter = value = 0.0
            elif step.meter == "jump":
                meter += 1234.6
                value = meter
            r = reading(at, step.connected, value, step.power, step.soc)
            seen = session.observe(r)
            assert shadow.observe(r) == seen
            assert seen.delta_kwh >= 0.0
            assert seen.significant == bool(seen.events)
            if value is not None:
                last_good = at
            times.append(at)
            good.append(last_good if has_meter and last_good is not None else at)
            credits.append(seen.delta_kwh)
            # Energy between any two readings i < j: at most max power x the time from
            # the last good meter reading at or before i (just t_i without a meter).
            total = 0.0
            for i in range(len(times) - 1, 0, -1):
                total += credits[i]
                assert total <= max_kw * (at - good[i - 1]).total_seconds() / 3600 + 1e-9
        elif step.kind == "settings":
            for s in (session, shadow):
                s.update_settings(
                    at, departure=step.departure, target_soc=step.target, min_soc=step.minimum
                )
        elif step.kind in {"boost_kwh", "boost_until"}:
            kwargs: dict[str, Any] = (
                {"kwh": step.kwh}
                if step.kind == "boost_kwh"
                else {"until": at + timedelta(seconds=step.seconds)}
            )
            for s in (session, shadow):
                if s.plugged:
                    s.start_boost(at, **kwargs)
                else:
                    with pytest.raises(ValueError, match="boost: needs the car plugged in"):
                        s.start_boost(at, **kwargs)
        elif step.kind == "cancel":
            session.cancel_boost()
            shadow.cancel_boost()
        else:
            session = restored(session)
        _check_invariants(session, at, seen)
        assert session.to_dict() == shadow.to_dict()
        assert session.soc_pct(at) == shadow.soc_pct(at)
        assert session.departure_at(at) == shadow.departure_at(at)
        assert session.boost_active(at) == shadow.boost_active(at)


# --- the spread anchor of a grid-friendly plan -------------------------------------------


def test_the_spread_anchor_is_pinned_once_per_session_and_survives_a_restart() -> None:
    session = Session(config(), Settings(departure="07:30"))
    assert not session.pin_spread_anchor(utc(2026, 1, 12, 23))  # no car: nothing to pin
    session.observe(reading(local(BERLIN, 2026, 1, 12, 18)))
    assert session.pin_spread_anchor(utc(2026, 1, 13, 1))
    assert not session.pin_spread_anchor(utc(2026, 1, 13, 3))  # the first plan's is kept
    assert restored(session).spread_anchor == utc(2026, 1, 13, 1)
    # Another target keeps it; another departure is another window: placed afresh.
    session.update_settings(local(BERLIN, 2026, 1, 12, 19), target_soc=90)
    assert session.spread_anchor == utc(2026, 1, 13, 1)
    session.update_settings(local(BERLIN, 2026, 1, 12, 20), departure="05:00")
    assert session.spread_anchor is None


def test_the_spread_anchor_ends_with_its_session() -> None:
    session = Session(config(), Settings(departure="07:30"))
    session.observe(reading(local(BERLIN, 2026, 1, 12, 18)))
    session.pin_spread_anchor(utc(2026, 1, 13, 1))
    # Unplugged for over 2 minutes: the session ends, and the next car starts unpinned.
    session.observe(reading(local(BERLIN, 2026, 1, 13, 7), connected=False))
    session.observe(reading(local(BERLIN, 2026, 1, 13, 7, 5), connected=False))
    assert not session.plugged
    assert session.spread_anchor is None
    session.observe(reading(local(BERLIN, 2026, 1, 13, 18)))
    assert session.spread_anchor is None
    assert restored(session).spread_anchor is None


async def test_a_plan_from_inputs_that_changed_in_flight_is_not_current() -> None:
    """The first plan is installed even when its inputs changed while it was solved (no
    plan at all is worse); `current` says so, and the integration pins no anchor from
    it. The replan that follows is current."""
    import asyncio

    from custom_components.evflex.planner import Built, Planner
    from custom_components.evflex.planning import PlanOutcome

    seen: list[tuple[int, bool]] = []
    planner: Planner

    async def build(now: datetime) -> Built:
        return Built({"n": planner.generation}, None)

    async def plan(request: dict[str, Any]) -> PlanOutcome:
        if request["n"] == 1:
            planner.request_replan("the departure changed mid-solve")
        return PlanOutcome({"n": request["n"]}, "local")

    async def on_plan() -> None:
        assert planner.outcome is not None
        seen.append((planner.outcome.response["n"], planner.current))

    planner = Planner(build, plan, on_plan, asyncio.ensure_future, lambda: utc(2026, 1, 12))
    await planner.async_replan("start")
    assert seen == [(1, False), (2, True)]
