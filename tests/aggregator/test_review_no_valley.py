"""The joint model without the valley-filling stage, on hand-set streets.

Shanghai residential TOU: valley 22:00-06:00 at 0.307, 0.617 CNY/kWh elsewhere, no export
price. A 7.4 kW car needing 13.32 kWh at 90% efficiency draws 14.8 kWh from the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator import Fleet, HandSetCar, hand_set_fleet
from aggregator.coordinator import Coordination, NightPlan, coordinate, joint_night, joint_optimum
from aggregator.metrics import feeder_kw
from aggregator.population import Session
from aggregator.sources import Array
from tests.aggregator.helpers import SERIAL, at, bump_night

NEED = 7.4 * 2 * 0.9  # 13.32 kWh into the battery, 14.8 kWh from the grid
VALLEY = slice(at("22:00"), at("06:00"))


def _placed(night: NightPlan, fleet_sessions: Sequence[Session], n_t: int = 96) -> Array:
    """The shares summed on the night's 96 slots."""
    total = np.zeros(n_t)
    for row, share in night.power.items():
        s = fleet_sessions[row]
        total[s.arrival : s.departure] += share
    return total


def test_a_night_with_no_sessions_has_the_load_as_its_peak() -> None:
    # No car: nothing to place, P* is the load's own peak (5 kW at 19:00).
    fleet = hand_set_fleet([HandSetCar(need_kwh=NEED)], rating_kw=30.0)
    expected = np.ones(96)
    expected[at("19:00")] = 5.0
    night = joint_night(fleet, 0, [], expected, 30.0)
    assert night.peak_kw == pytest.approx(5.0)
    assert night.power == {}


SUN = slice(at("13:00"), at("17:00"))


def _sunny_car(pv_kw: float) -> tuple[Fleet, NightPlan, Array]:
    """One home at 1 kW whose car plugs in at 13:00 needing 13.32 kWh, `pv_kw` of PV
    13:00-17:00: the street, its joint night on its own load, the power placed per slot."""
    plain = hand_set_fleet([HandSetCar(arrival="13:00", need_kwh=NEED)], rating_kw=30.0)
    pv = np.zeros_like(plain.pv_kw)
    pv[0, SUN] = pv_kw
    fleet = replace(plain, pv_kw=pv)
    night = joint_night(fleet, 0, fleet.sessions, fleet.street_kw[:96].copy(), 30.0)
    return fleet, night, _placed(night, fleet.sessions)


def test_a_car_on_its_own_pv_surplus_charges_there_for_nothing() -> None:
    # One home, 1 kW load, 4.7 kW PV 13:00-17:00: a 3.7 kW surplus, 16 slots x 3.7 kW x
    # 0.25 h = 14.8 kWh, all the car draws, at the export price (0 here): cost 0. The
    # feeder then reads 1 - 4.7 + 3.7 = 0 kW in the afternoon, 1 kW elsewhere: P* = 1.
    # The share is 3.7 kW over the 16 sunny slots (variation 2 x 3.7, the least for 14.8
    # kWh under a 3.7 kW free cap) and 0 elsewhere; the grid part g is 0.
    _, night, placed = _sunny_car(4.7)
    assert placed[SUN] == pytest.approx(np.full(16, 3.7), abs=1e-4)
    assert placed.sum() * 0.25 == pytest.approx(14.8, abs=1e-6)
    assert night.peak_kw == pytest.approx(1.0, abs=1e-6)
    assert night.costs_kept


def test_a_surplus_smaller_than_the_need_leaves_the_rest_even_in_the_valley() -> None:
    # One home, 1 kW load, 3 kW PV 13:00-17:00: a 2 kW surplus, 16 x 2 x 0.25 = 8 kWh free
    # (the grid part g is 0 up to 2 kW; beyond it a kW costs 0.617). The car draws 14.8
    # kWh: the least cost takes the 8 free kWh and the other 6.8 kWh at 0.307 in the
    # valley, 2.0876 CNY. The feeder reads 1 - 3 + 2 = 0 kW in the sun; the valley's 6.8
    # kWh over 32 slots at least 0.85 kW: P* = 1.85, reached only by 0.85 kW in every
    # valley slot. The share: 2 kW under the sun, 0 17:00-22:00, 0.85 kW 22:00-06:00.
    fleet, night, placed = _sunny_car(3.0)
    assert night.peak_kw == pytest.approx(1.85, abs=1e-6)
    assert placed[SUN] == pytest.approx(np.full(16, 2.0), abs=1e-4)
    assert placed[at("17:00") : at("22:00")] == pytest.approx(np.zeros(20), abs=1e-4)
    assert placed[VALLEY] == pytest.approx(np.full(32, 0.85), abs=1e-4)
    assert placed[at("06:00") :] == pytest.approx(np.zeros(24), abs=1e-4)
    price = fleet.import_price[:96]
    grid = np.clip(placed - np.clip(fleet.pv_kw[0, :96] - 1.0, 0.0, None), 0.0, None)
    assert (grid * price).sum() * 0.25 == pytest.approx(6.8 * 0.307, abs=1e-4)


def test_a_rating_below_what_the_valley_carries_puts_the_rest_at_the_day_price() -> None:
    # Four homes at 1 kW (4 kW), four cars 18:00-07:00, 14.8 kWh each from the grid: 59.2
    # kWh. Rating 10 kW: 6 kW of room, 6 x 8 h = 48 kWh in the valley, the other 11.2 kWh
    # at 0.617 (18:00-22:00, 06:00-07:00). No home can keep its all-valley cost (4 x 14.8
    # = 59.2 > 48): costs not kept, the least total, the valley full to 10 kW: P* = 10.
    fleet = hand_set_fleet([HandSetCar(need_kwh=NEED)] * 4, base_kw=1.0, rating_kw=10.0)
    expected = fleet.street_kw[:96].copy()
    night = joint_night(fleet, 0, fleet.sessions, expected, 10.0)
    placed = _placed(night, fleet.sessions)
    assert not night.costs_kept
    assert night.peak_kw == pytest.approx(10.0, abs=1e-6)
    assert (expected + placed).max() == pytest.approx(10.0, abs=1e-4)
    assert placed[VALLEY] == pytest.approx(np.full(32, 6.0), abs=1e-4)
    day = placed.sum() * 0.25 - placed[VALLEY].sum() * 0.25
    assert day == pytest.approx(11.2, abs=1e-4)
    for row, share in night.power.items():
        assert share.sum() * 0.25 * 0.9 == pytest.approx(fleet.sessions[row].need_kwh, abs=1e-6)


def test_the_share_sent_before_is_kept_when_the_forecast_moves_under_the_peak() -> None:
    # The hand-worked night of test_coordinator: one car 22:00-06:00 at 1.85 kW beside a
    # 3 kW bump (02:00-03:00) and the 21 kW evening. Solved again with `previous` (the
    # metered path, which used fine levels just below P* before) on a forecast whose bump
    # is now 5 kW (still far under P* = 21): the even 1.85 kW stays, no slot moves.
    fleet, expected = bump_night()
    first = joint_night(fleet, 0, fleet.sessions, expected, 30.0)
    (share,) = first.power.values()
    _, moved = bump_night(5.0)
    again = joint_night(fleet, 0, fleet.sessions, moved, 30.0, previous=[share])
    assert again.peak_kw == pytest.approx(21.0)
    (kept,) = again.power.values()
    assert kept == pytest.approx(np.full(32, 1.85), abs=1e-4)


def test_metered_feedback_on_a_perfect_forecast_reaches_the_joint_peak() -> None:
    # Two cars 18:00-07:00, 14.8 kWh each, homes at 1 kW: the valley takes 29.6 kWh / 8 h
    # = 3.7 kW, the feeder 2 + 3.7 = 5.7 kW. The forecast is perfect, so the meters see no
    # error and metered feedback must deliver what the plain coordinator does: 5.7 kW.
    fleet = hand_set_fleet([HandSetCar(need_kwh=NEED)] * 2, base_kw=1.0, rating_kw=20.0)
    metered = coordinate(fleet, SERIAL, config=Coordination(feedback="metered", decay=0.5))
    assert feeder_kw(fleet, metered.ev).max() == pytest.approx(5.7, abs=2e-3)
    assert feeder_kw(fleet, metered.ev)[VALLEY] == pytest.approx(np.full(32, 5.7), abs=2e-3)
    assert metered.ev.sum() * 0.25 == pytest.approx(29.6, abs=0.01)


def test_metered_feedback_reports_the_nights_p_star() -> None:
    # The street above: P* = 2 + 29.6 / 8 = 5.7 kW. Solved again every slot, the last
    # solve's P* is the peak still to come (2.0 kW once the cars have gone): the night's
    # is the highest any solve planned to.
    fleet = hand_set_fleet([HandSetCar(need_kwh=NEED)] * 2, base_kw=1.0, rating_kw=20.0)
    metered = coordinate(fleet, SERIAL, config=Coordination(feedback="metered", decay=0.5))
    (night,) = metered.nights
    assert night.peak_kw == pytest.approx(5.7, abs=1e-4)


CHARGERS = {"1ph-7.4": 7.4, "1ph-3.7": 3.7, "3ph-11": 11.0}


@st.composite
def streets(draw: st.DrawFn) -> list[HandSetCar]:
    cars = []
    for _ in range(draw(st.integers(1, 3))):
        charger = draw(st.sampled_from(sorted(CHARGERS)))
        arrival = draw(st.sampled_from(["17:00", "18:30", "20:00", "21:15"]))
        departure = draw(st.sampled_from(["05:45", "06:30", "07:00", "08:15"]))
        need = draw(st.floats(1.0, 16.0))
        cars.append(HandSetCar(arrival, departure, need_kwh=need, charger=charger))
    return cars


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cars=streets(), base=st.floats(0.3, 2.0), bump=st.floats(0.0, 6.0))
def test_each_share_meets_its_need_in_its_window_and_the_peak_is_p_star(
    cars: list[HandSetCar], base: float, bump: float
) -> None:
    # Perfect forecast: the load the model sees is the street's. Every share sums to its
    # need (p x 0.25 h x efficiency), lies within [0, charger max] over its window, and
    # the feeder's peak with the shares placed is the model's P*.
    fleet = hand_set_fleet(cars, base_kw=base, rating_kw=200.0)
    expected = fleet.street_kw[:96].copy()
    expected[at("19:00") : at("20:00")] += bump
    night = joint_night(fleet, 0, fleet.sessions, expected, 200.0)
    assert night.costs_kept
    for row, share in night.power.items():
        s = fleet.sessions[row]
        assert len(share) == s.departure - s.arrival
        top = CHARGERS[cars[s.home].charger]
        assert share.min() >= -1e-9
        assert share.max() <= top + 1e-6
        assert share.sum() * 0.25 * 0.9 == pytest.approx(s.need_kwh, abs=1e-5)
    placed = _placed(night, fleet.sessions)
    assert (expected + placed).max() == pytest.approx(night.peak_kw, abs=1e-4)


@st.composite
def steady_streets(draw: st.DrawFn) -> list[HandSetCar]:
    """1-3 cars on 7.4 kW chargers needing 11-16 kWh: 12.2-17.8 kWh from the grid over the
    8 valley hours is 1.53-2.22 kW, above the 1.4 kW minimum, so the shares need no
    minimum-power repair and the homes can draw them as sent."""
    cars = []
    for _ in range(draw(st.integers(1, 3))):
        arrival = draw(st.sampled_from(["17:00", "18:30", "20:00", "21:15"]))
        departure = draw(st.sampled_from(["06:30", "07:00", "08:15"]))
        cars.append(HandSetCar(arrival, departure, need_kwh=draw(st.floats(11.0, 16.0))))
    return cars


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cars=steady_streets(), base=st.floats(0.3, 2.0))
def test_on_a_perfect_forecast_the_street_peaks_at_the_joint_optimum_with_or_without_meters(
    cars: list[HandSetCar], base: float
) -> None:
    # With every share above its charger's minimum, the homes' own plans within their
    # envelopes (rounded up to 1 W) leave the feeder at the joint optimum's peak, P*.
    fleet = hand_set_fleet(cars, base_kw=base, rating_kw=200.0)
    outcome = coordinate(fleet, SERIAL)
    joint = joint_optimum(fleet, SERIAL)
    (night,) = outcome.nights
    best = feeder_kw(fleet, joint).max()
    assert night.peak_kw == pytest.approx(best, abs=1e-4)
    assert feeder_kw(fleet, outcome.ev).max() == pytest.approx(best, abs=3e-3)
    for s in fleet.sessions:
        drawn = outcome.ev[s.home, s.arrival : s.departure].sum() * 0.25 * 0.9
        assert drawn == pytest.approx(s.need_kwh, abs=0.01)
    # Metered feedback sees no error on a perfect forecast: the same peak, and no home
    # plans twice (each share solved again stays within 0.05 kW of the one sent).
    metered = coordinate(fleet, SERIAL, config=Coordination(feedback="metered", decay=0.5))
    assert feeder_kw(fleet, metered.ev).max() == pytest.approx(best, abs=3e-3)
    assert metered.plans_made == len(fleet.sessions)
