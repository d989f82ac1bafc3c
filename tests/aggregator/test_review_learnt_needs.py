"""Estimated needs learnt once a home plans (`needs="history"`): hand-set streets that try
to break it. Shanghai residential TOU (valley 22:00-06:00); 1 kW of household load a home;
a 7.4 kW charger (minimum 1.4 kW), 90% efficiency: a need of N kWh is N / 0.9 from the grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator import Fleet, HandSetCar, hand_set_fleet
from aggregator.coordinator import Coordination, coordinate, delivered_kwh, joint_optimum
from aggregator.metrics import feeder_kw, measure
from tests.aggregator.helpers import SERIAL, at


def _history(prior: float, **kwargs: object) -> Coordination:
    """Perfect forecast, needs guessed from `prior` (or `needs="reported"` to compare)."""
    options: dict[str, object] = {"needs": "history", **kwargs}
    return Coordination("perfect", need_prior_kwh=prior, **options)  # type: ignore[arg-type]


def _a_then_b(days: int = 1) -> Fleet:
    """A (22:00-06:00) needs 6.66 kWh; B plugs in at 23:00 (to 06:00) and needs 19.98."""
    cars = [
        HandSetCar(arrival="22:00", departure="06:00", need_kwh=6.66),
        HandSetCar(arrival="23:00", departure="06:00", need_kwh=19.98),
    ]
    return hand_set_fleet(cars, base_kw=1.0, days=days)


# --- a guess too high where no later event comes ------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason=(
        "a need guessed too high holds room at the event the home first plans at: with no "
        "later event (announced arrivals, or the night's last arrival) B draws its share of "
        "A's guess all night and the feeder reaches 6.625 kW against 5.7 (joint optimum and "
        "reported needs), 16% above"
    ),
)
@pytest.mark.parametrize("arrivals", ["announced", "online"])
def test_a_need_guessed_too_high_holds_no_room_at_the_nights_only_event(arrivals: str) -> None:
    # Both cars 22:00-06:00 (online: B plugs in at 22:00 too, so the night has one event),
    # both guessed at 19.98 kWh (22.2 from the grid). A needs 6.66 (7.4 from the grid), B
    # 19.98. On the guesses the model fills 44.4 kWh over 8 h: 2.775 kW each, flat. A plans
    # its 7.4 kWh within its 2.775 kW envelope (1.85 kW for 4 h) and tells its need; B draws
    # its 2.775 kW all night: 2 + 2.775 + 1.85 = 6.625 kW on the feeder. With A's need known
    # at once the street needs 29.6 kWh over 8 h: 2 + 3.7 = 5.7 kW flat, the joint optimum
    # and what reported needs give.
    cars = [
        HandSetCar(arrival="22:00", departure="06:00", need_kwh=6.66),
        HandSetCar(arrival="22:00", departure="06:00", need_kwh=19.98),
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0)
    config = _history(19.98, arrivals=arrivals)
    outcome = coordinate(fleet, SERIAL, config=config)
    reported = coordinate(fleet, SERIAL, config=Coordination("perfect", arrivals=arrivals))  # type: ignore[arg-type]
    assert feeder_kw(fleet, reported.ev).max() == pytest.approx(5.7, abs=2e-3)
    assert feeder_kw(fleet, joint_optimum(fleet, SERIAL)).max() == pytest.approx(5.7, abs=1e-3)
    assert measure(fleet, "c", outcome.ev).not_delivered_kwh == pytest.approx(0.0, abs=0.01)
    assert feeder_kw(fleet, outcome.ev).max() == pytest.approx(5.7, abs=2e-3)


def test_a_need_guessed_too_high_at_a_later_event_with_another_car() -> None:
    # A (22:00-06:00) needs 6.66, guessed 19.98; B plugs in at 23:00 (to 06:00), needs 19.98.
    # At 22:00 A alone: 22.2 kWh from the grid over 8 h, 2.775 kW flat; A plans its 7.4 kWh
    # within the envelope later in the night (nothing before 23:00) and tells its need. At
    # 23:00 A's need is known, nothing drawn: 7.4 + 22.2 = 29.6 kWh over 7 h, 2 + 29.6 / 7 =
    # 6.229 kW flat from 23:00 (the joint optimum: 2 + 29.6 / 8 = 5.7, A from 22:00).
    fleet = _a_then_b()
    outcome = coordinate(fleet, SERIAL, config=_history(19.98, arrivals="online"))
    load = feeder_kw(fleet, outcome.ev)
    assert outcome.ev[0, at("22:00") : at("23:00")].sum() == 0.0
    assert load.max() == pytest.approx(2 + 29.6 / 7, abs=2e-3)
    # Flat within 0.01 kW (the home's plan rounds to 10 W).
    assert load[at("23:00") : at("06:00")] == pytest.approx(np.full(28, 2 + 29.6 / 7), abs=0.01)
    for s in fleet.sessions:  # each need delivered, never more
        assert delivered_kwh(fleet, outcome.ev, s) == pytest.approx(s.need_kwh, abs=0.01)


# --- the repair pass and the slots already past ---------------------------------------------


@pytest.mark.parametrize("needs", ["history", "reported"])
def test_a_car_guessed_too_low_plans_at_its_plug_in_not_when_its_share_starts(
    needs: str,
) -> None:
    # A (18:00-02:00) needs 40 kWh, guessed 5: its 5.56 kWh from the grid fit the valley
    # 22:00-02:00, so at 18:00 its share draws nothing before the next event (B at 21:00).
    # Not asked then, A was told to draw nothing and first planned at 21:00, when 21:00-02:00
    # held 5 h x 7.4 kW x 0.9 = 33.3 kWh (its plans 33.27), and the repair pass drew 7.45
    # kWh from the grid at 19:45-21:00, slots already past (0 reported not delivered,
    # 6.73 kWh short in truth). Planning at its plug-in, A falls short of its 5 kWh envelope,
    # says so, and is planned again at once for its 40: it draws from 18:00 (the valley
    # 22:00-02:00 holds 29.6 of its 44.4 kWh from the grid) and its plans deliver 39.97, as
    # with the need reported (the model then asks A at 18:00 for peak-price slots at once).
    cars = [
        HandSetCar(arrival="18:00", departure="02:00", need_kwh=40.0),
        HandSetCar(arrival="21:00", departure="06:00", need_kwh=5.0),
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0)
    config = _history(5.0, arrivals="online", needs=needs)
    outcome = coordinate(fleet, SERIAL, config=config)
    assert outcome.planned_ev is not None
    assert delivered_kwh(fleet, outcome.planned_ev, fleet.sessions[0]) == pytest.approx(
        40.0, abs=0.05
    )
    assert outcome.planned_ev[0, at("18:00") : at("21:00")].sum() > 0


@pytest.mark.parametrize("needs", ["history", "reported"])
def test_a_need_guessed_too_low_is_learnt_when_the_car_plugs_in_with_metered_feedback(
    needs: str,
) -> None:
    # A (18:00-06:00) needs 4.5 and C (18:00-06:00) 1.0; B plugs in at 23:00 (to 06:00) and
    # needs 26 (28.9 kWh from the grid; 7 h x 7.4 kW x 0.9 = 46.6 fit). Guessed at 2 kWh,
    # B's share is a few slots late in the night, so at every slot's event it draws nothing
    # before the next one. Not asked until it did, B first planned at 02:30, when 3.5 h x
    # 7.4 x 0.9 = 23.31 kWh were left (23.29 at the model's 99.9%): 2.71 kWh short before the
    # repair pass. A home that has not planned plans at once: B plans at 23:00, falls short
    # of its 2 kWh envelope, says so, and its plans deliver the 26 kWh, as reported.
    cars = [
        HandSetCar(arrival="18:00", departure="06:00", need_kwh=4.5),
        HandSetCar(arrival="23:00", departure="06:00", need_kwh=26.0),
        HandSetCar(arrival="18:00", departure="06:00", need_kwh=1.0),
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0, rating_kw=40.0)
    config = _history(2.0, arrivals="online", needs=needs, feedback="metered")
    outcome = coordinate(fleet, SERIAL, config=config)
    assert outcome.planned_ev is not None
    b = fleet.sessions[1]
    assert delivered_kwh(fleet, outcome.planned_ev, b) == pytest.approx(26.0, abs=0.01)
    assert outcome.repaired == 0


# --- needs of 0, needs beyond the window, several nights -------------------------------------


def test_a_need_of_zero_holds_no_room_and_draws_nothing() -> None:
    # A (18:00-07:00) needs 0, guessed 19.98: the charger says the car is full, so the model
    # holds nothing for it. B (22:00-06:00) needs the 19.98 guessed (22.2 from the grid):
    # 22.2 / 8 h = 2.775 kW flat, 2 + 2.775 = 4.775 kW on the feeder.
    cars = [
        HandSetCar(arrival="18:00", departure="07:00", need_kwh=0.0),
        HandSetCar(arrival="22:00", departure="06:00", need_kwh=19.98),
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0)
    outcome = coordinate(fleet, SERIAL, config=_history(19.98, arrivals="online"))
    assert outcome.ev[0].sum() == 0.0
    assert feeder_kw(fleet, outcome.ev).max() == pytest.approx(4.775, abs=2e-3)


def test_the_second_night_guesses_from_the_first_nights_real_needs() -> None:
    # Two nights of the same street, A (22:00-06:00) needing 6.66 and B (23:00-06:00) 19.98.
    # Night 0 as the test above: 2 + 29.6 / 7 = 6.229 kW from 23:00. Night 1: A's guess is
    # (6.66 + 7 x 19.98) / 8 = 18.315 (20.35 kWh from the grid, 2.544 kW over 8 h); its plan
    # within that envelope draws 1.85 kW at 22:30 and 22:45 (0.925 kWh); at 23:00 6.475 +
    # 22.2 kWh are left over 7 h: 2 + 28.675 / 7 = 6.096 kW. Each need delivered, never
    # more, nothing drawn outside a window.
    fleet = _a_then_b(days=2)
    outcome = coordinate(fleet, SERIAL, config=_history(19.98, arrivals="online"))
    inside = np.zeros_like(outcome.ev, dtype=bool)
    for s in fleet.sessions:
        inside[s.home, s.arrival : s.departure] = True
        assert delivered_kwh(fleet, outcome.ev, s) == pytest.approx(s.need_kwh, abs=0.01)
    assert not outcome.ev[~inside].any()
    load = feeder_kw(fleet, outcome.ev)
    assert load[:96].max() == pytest.approx(2 + 29.6 / 7, abs=2e-3)
    assert outcome.ev[0, 96 + at("22:00") : 96 + at("23:00")].sum() * 0.25 == pytest.approx(0.925)
    assert load[96:].max() == pytest.approx(2 + 28.675 / 7, abs=2e-3)


ARRIVAL_TIMES = ["18:00", "20:00", "22:00", "23:00"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    needs=st.lists(st.floats(0.0, 45.0), min_size=2, max_size=3),
    arrivals=st.lists(st.sampled_from(ARRIVAL_TIMES), min_size=3, max_size=3),
    prior=st.sampled_from([2.0, 11.5, 40.0]),
    feedback=st.sampled_from(["none", "metered"]),
)
def test_estimated_needs_keep_every_window_and_never_overfill(
    needs: list[float], arrivals: list[str], prior: float, feedback: str
) -> None:
    """Whatever the guess: nothing drawn outside a session's window, never above its
    charger, never more than its need (but for the charger's minimum in its last slot),
    and the need delivered whenever the window holds it from the moment the home plugs
    in (18:00-06:00 at 7.4 kW: 79.9 kWh; 23:00: 46.6)."""
    cars = [
        HandSetCar(arrival=a, departure="06:00", need_kwh=n)
        for a, n in zip(arrivals, needs, strict=False)
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0, rating_kw=40.0)
    config = _history(prior, arrivals="online", feedback=feedback)
    outcome = coordinate(fleet, SERIAL, config=config)
    inside = np.zeros_like(outcome.ev, dtype=bool)
    for s in fleet.sessions:
        inside[s.home, s.arrival : s.departure] = True
        # At most one slot at the charger's minimum over (the home's plan keeps the 1.4 kW
        # minimum: 0.5 kWh is two slots of 1.4 x 0.25 x 0.9 = 0.315, 0.63 kWh).
        assert delivered_kwh(fleet, outcome.ev, s) <= s.need_kwh + 1.4 * 0.25 * 0.9 + 0.01
    assert not outcome.ev[~inside].any()
    assert (outcome.ev <= 7.4 + 1e-9).all()
    assert outcome.planned_ev is not None
    for s in fleet.sessions:  # before the repair pass: every window here holds its need
        assert delivered_kwh(fleet, outcome.planned_ev, s) >= s.need_kwh - 0.05
