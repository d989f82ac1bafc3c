"""Review of the coordinator's sub-minimum exchanges, the room kept for the cars still
expected tonight and live feedback, on hand-set streets (values worked out by hand).

Shanghai residential TOU: valley 22:00-06:00 at 0.307, peak 0.617 CNY/kWh elsewhere,
export 0. Chargers: 1ph-7.4 (1.4-7.4 kW), 1ph-3.7 (1.4-3.7 kW), 3ph-11 (4.1-11 kW).
A test marked xfail(strict) shows something the code gets wrong (its reason says what).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import FleetError, HandSetCar, hand_set_fleet
from aggregator.cli import _decay, main
from aggregator.coordinator import (
    MIN_SHARE_KW,
    Coordination,
    NightPlan,
    _swap_low,
    coordinate,
    delivered_kwh,
)
from aggregator.metrics import feeder_kw
from aggregator.population import ArrivalPrior, Fleet, arrival_prior
from aggregator.sources import Array
from tests.aggregator.helpers import SERIAL, at

CHARGERS = ("1ph-7.4", "1ph-3.7", "3ph-11")
LIMITS = {"1ph-7.4": (1.4, 7.4), "1ph-3.7": (1.4, 3.7), "3ph-11": (4.1, 11.0)}


def _prior_at(arrival: str, departure: str, plug_in: float = 1.0) -> ArrivalPrior:
    chance = np.zeros(96)
    chance[at(arrival)] = 1.0
    return ArrivalPrior(tuple(chance), tuple([at(departure)] * 96), plug_in)


def _cost(fleet: Fleet, home: int, kw: Array) -> float:
    """A home's EV cost for a night's power (per night slot): what its PV surplus does
    not cover at the import price, the rest at the export price (as the joint model)."""
    surplus = np.clip(fleet.pv_kw[home, :96] - fleet.base_kw[home, :96], 0.0, None)
    grid = np.clip(kw - surplus, 0.0, None)
    price, export = fleet.import_price[:96], fleet.export_price[:96]
    return float((price * grid + export * (kw - grid)).sum()) * 0.25


# --- _swap_low: the exchanges keep every slot's total and each home's energy and cost ---


def test_an_exchange_does_not_make_a_home_with_pv_pay_more() -> None:
    # Two 7.4 kW homes plugged in 18:00-11:00. Home 0: 0.5 kW at 19:00 (below 1.4 kW) and
    # 3 kW at 09:00. Home 1: 3 kW at 19:00 and 3 kW at 09:00, where its PV is 6 kW over a
    # 1 kW household load (5 kW surplus: its 09:00 share costs the export price, 0).
    # 19:00 and 09:00 are both 0.617 CNY/kWh, so the exchange takes 09:00 (where home 0
    # charges most): home 0 -> 0 at 19:00 and 3.5 kW at 09:00, home 1 -> 3.5 kW at 19:00
    # and 2.5 kW at 09:00. Home 0 pays the same; home 1 paid 3 x 0.25 x 0.617 = 0.46275
    # and now 3.5 x 0.25 x 0.617 = 0.539875 CNY: 0.077125 more (its 2.5 kW at 09:00 still
    # PV). The swap should have used a slot where the giver pays the same (none here:
    # home 0's 0.5 kW goes to the fallback instead).
    fleet = hand_set_fleet([HandSetCar(arrival="18:00", departure="11:00")] * 2)
    pv = fleet.pv_kw.copy()
    pv[1, at("09:00")] = 6.0
    fleet = replace(fleet, pv_kw=pv)
    lo = at("18:00")
    p0, p1 = np.zeros(at("11:00") - lo), np.zeros(at("11:00") - lo)
    p0[at("19:00") - lo], p0[at("09:00") - lo] = 0.5, 3.0
    p1[at("19:00") - lo], p1[at("09:00") - lo] = 3.0, 3.0
    before = [np.pad(p, (lo, 96 - at("11:00"))) for p in (p0, p1)]
    plan = NightPlan(0, 10.0, {0: p0.copy(), 1: p1.copy()})
    _swap_low(fleet, 0, fleet.sessions, plan, fleet.import_price[:96])
    after = [np.pad(plan.power[r], (lo, 96 - at("11:00"))) for r in (0, 1)]
    assert _cost(fleet, 1, before[1]) == pytest.approx(0.46275)
    for home in (0, 1):
        assert _cost(fleet, home, after[home]) == pytest.approx(_cost(fleet, home, before[home]))


@st.composite
def _street(draw: st.DrawFn) -> tuple[Fleet, list[Array]]:
    """Two to four homes with mixed chargers and windows, random shares in their windows
    (some of them below the charger's minimum), no PV."""
    n = draw(st.integers(2, 4))
    cars, shares = [], []
    arrivals = ("18:00", "20:00", "22:00", "23:00")
    departures = ("02:00", "05:00", "07:00")
    for _ in range(n):
        charger = draw(st.sampled_from(CHARGERS))
        arrival, departure = draw(st.sampled_from(arrivals)), draw(st.sampled_from(departures))
        cars.append(HandSetCar(arrival=arrival, departure=departure, charger=charger))
        width = at(departure) - at(arrival)
        lo, hi = LIMITS[charger]
        kind = st.sampled_from(("zero", "low", "ok"))
        row = []
        for _t in range(width):
            k = draw(kind)
            if k == "zero":
                row.append(0.0)
            elif k == "low":
                row.append(draw(st.floats(0.05, lo - 0.05)))
            else:
                row.append(draw(st.floats(lo, hi)))
        shares.append(np.array(row))
    return hand_set_fleet(cars, rating_kw=100.0), shares


@settings(max_examples=60, deadline=None)
@given(_street())
def test_exchanges_keep_totals_energy_cost_and_the_chargers_range(
    street: tuple[Fleet, list[Array]],
) -> None:
    # Invariants of every exchange (a off i in t and onto j in t, a off j in u and onto i in
    # u, t and u equally priced, both in both windows): each slot's total, each home's
    # energy and (no PV) cost kept; every share 0 or within its charger's range, except
    # the ones that were below the minimum before (left to the fallback), and none outside
    # its window (a share row is its window).
    fleet, shares = street
    plan = NightPlan(0, 10.0, {r: p.copy() for r, p in enumerate(shares)})
    _swap_low(fleet, 0, fleet.sessions, plan, fleet.import_price[:96])

    def night(rows: dict[int, Array] | list[Array]) -> Array:
        out = np.zeros((len(fleet.sessions), 96))
        for r, s in enumerate(fleet.sessions):
            out[r, s.arrival : s.departure] = rows[r]
        return out

    old, new = night(shares), night(plan.power)
    assert new.sum(axis=0) == pytest.approx(old.sum(axis=0), abs=1e-6)
    assert new.sum(axis=1) == pytest.approx(old.sum(axis=1), abs=1e-6)
    for r, s in enumerate(fleet.sessions):
        assert _cost(fleet, s.home, new[r]) == pytest.approx(_cost(fleet, s.home, old[r]), abs=1e-6)
        lo, hi = LIMITS[fleet.homes[s.home].charger.name]
        assert (new[r] >= 0.0).all()
        assert (new[r] <= hi + 1e-6).all()
        low_now = (new[r] > MIN_SHARE_KW) & (new[r] < lo - MIN_SHARE_KW)
        low_before = (old[r] > MIN_SHARE_KW) & (old[r] < lo - MIN_SHARE_KW)
        assert not (low_now & ~low_before).any()  # no new sub-minimum share
        assert (new[r][low_now] <= old[r][low_now] + 1e-9).all()


def test_a_giver_asked_twice_in_one_slot_stays_chargeable() -> None:
    # Three homes plugged in 22:00-02:00 (all valley, one price). Homes 0 and 1 (1ph-3.7,
    # min 1.4) each 0.6 kW at 23:00 and 1.0 kW at 01:00, all four below the minimum; home 2
    # (3ph-11, min 4.1) 5 kW at both. In order (home, slot):
    # - (0, 23:00): home 2 takes 0.6 (5.6 kW) and gives 0.6 back at 01:00 (4.4 kW, >= 4.1),
    #   where home 0 goes to 1.6 kW; (0, 01:00) is 1.6 now, chargeable.
    # - (1, 23:00): home 2 could take 0.6 (6.2 kW) but giving 0.6 more at 01:00 would leave
    #   it 3.8 kW, below 4.1, and home 0 has 0 at 23:00: no exchange.
    # - (1, 01:00): 1.0 kW to home 2 (5.4 kW), home 2 gives 1.0 back at 23:00 (4.6 kW),
    #   where home 1 goes to 0.6 + 1.0 = 1.6 kW.
    # Totals kept: 23:00 0 + 1.6 + 4.6 = 6.2 kW, 01:00 1.6 + 0 + 5.4 = 7.0 kW; energies kept
    # (home 0: 1.6, home 1: 1.6, home 2: 10 kW-slots).
    cars = [HandSetCar(arrival="22:00", departure="02:00", charger="1ph-3.7")] * 2
    cars.append(HandSetCar(arrival="22:00", departure="02:00", charger="3ph-11"))
    fleet = hand_set_fleet(cars)
    lo = at("22:00")
    rows = [np.zeros(16) for _ in range(3)]
    for r, (a, b) in enumerate([(0.6, 1.0), (0.6, 1.0), (5.0, 5.0)]):
        rows[r][at("23:00") - lo], rows[r][at("01:00") - lo] = a, b
    plan = NightPlan(0, 10.0, {r: p.copy() for r, p in enumerate(rows)})
    _swap_low(fleet, 0, fleet.sessions, plan, fleet.import_price[:96])
    t, u = at("23:00") - lo, at("01:00") - lo
    assert [plan.power[r][t] for r in range(3)] == pytest.approx([0.0, 1.6, 4.6])
    assert [plan.power[r][u] for r in range(3)] == pytest.approx([1.6, 0.0, 5.4])


# --- _expected: the cars still expected tonight --------------------------------------


def _two_cars(**second: object) -> Fleet:
    # Car A plugged in 22:00-02:00 needing 14.8 kWh from the grid; car B 23:00-02:00, 7.4.
    cars = [
        HandSetCar(arrival="22:00", departure="02:00", need_kwh=13.32),
        HandSetCar(arrival="23:00", departure="02:00", need_kwh=6.66, **second),  # type: ignore[arg-type]
    ]
    return hand_set_fleet(cars, base_kw=1.0, rating_kw=30.0)


ONLINE = Coordination(forecast="perfect", arrivals="online", need_prior_kwh=6.66)
HOURS = slice(at("22:00"), at("02:00"))


def test_no_car_is_expected_when_no_home_plugs_in_or_none_is_left() -> None:
    # p = 0 (a home never plugs in) keeps no room: the same as no prior (A 3.7 kW from
    # 22:00 over 4 h, then 18.5 kWh over 3 h: 2 + 6.1667 = 8.1667 kW). A prior whose only
    # arrival is 21:00, before the night's first event (22:00), has S = 0 after it: no room.
    fleet = _two_cars()
    blind = coordinate(fleet, SERIAL, config=ONLINE).ev
    for prior in (_prior_at("23:00", "02:00", plug_in=0.0), _prior_at("21:00", "02:00")):
        ev = coordinate(fleet, SERIAL, config=replace(ONLINE, arrival_prior=prior)).ev
        assert np.array_equal(ev, blind)
    assert feeder_kw(fleet, blind)[HOURS].max() == pytest.approx(2 + 18.5 / 3, abs=2e-3)


def test_a_home_that_does_not_respond_is_not_expected() -> None:
    # B never answers (charges by its local default at 23:00, full power); with the prior
    # saying a car comes at 23:00, only responding homes not plugged in are expected: A is
    # plugged in, B is silent, so no room is kept and A's shares are as with no prior.
    fleet = _two_cars(responds=False)
    config = replace(ONLINE, non_response=0.5)
    blind = coordinate(fleet, SERIAL, config=config).ev
    told = replace(config, arrival_prior=_prior_at("23:00", "02:00"))
    assert np.array_equal(coordinate(fleet, SERIAL, config=told).ev, blind)


def test_a_prior_that_cannot_be_used_is_refused() -> None:
    with pytest.raises(FleetError, match="leaves"):
        _prior_at("23:00", "22:00")
    with pytest.raises(FleetError, match="plug_in"):
        _prior_at("23:00", "02:00", plug_in=1.5)


def test_room_kept_for_a_car_that_does_not_come_stays_under_the_rating() -> None:
    # Two EV homes (1 kW each), rating 2 + 14.8 / 8 = 3.85 kW. Car A plugged in 18:00-07:00
    # needing 14.8 kWh from the grid: alone, 1.85 kW through the valley (8 h), the feeder
    # at the rating, 14.8 x 0.307 = 4.5436 CNY. Home B does not plug in tonight; the prior
    # says a car comes at 23:00 and leaves at 00:00 on half the nights: B is expected with
    # 0.5 x 1 / (0.5 + 0.5 x 1) = 0.5 of its 6.66 kWh guess (7.4 from the grid), 3.7 kWh
    # from the grid in one hour: 3.7 kW, 2 + 3.7 = 5.7 kW at least, over the rating. That
    # level is taken as the night's, and A (solved once, at 18:00: nothing else plugs in)
    # fills 00:00-06:00 at 14.8 / 6 h = 2.4667 kW: the feeder 4.4667 kW, 0.6167 kW over
    # the rating, with no car beside it.
    cars = [
        HandSetCar(arrival="18:00", departure="07:00", need_kwh=13.32),
        HandSetCar(arrival="23:00", departure="00:00", need_kwh=6.66),
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0, rating_kw=2 + 14.8 / 8)
    fleet = replace(fleet, all_sessions=fleet.all_sessions[:1])  # B stays away tonight
    blind = coordinate(fleet, SERIAL, config=ONLINE)
    assert feeder_kw(fleet, blind.ev).max() == pytest.approx(3.85, abs=1e-3)
    told = replace(ONLINE, arrival_prior=_prior_at("23:00", "00:00", plug_in=0.5))
    outcome = coordinate(fleet, SERIAL, config=told)
    assert outcome.ev.sum() * 0.25 == pytest.approx(14.8, abs=1e-3)
    assert feeder_kw(fleet, outcome.ev).max() <= 3.85 + 1e-3


# --- live feedback with latency -----------------------------------------------------


def _late_car() -> tuple[Fleet, Coordination]:
    # One home (1 kW), a 7.4 kW car plugged in 23:00-00:00 needing 2.775 kWh from the grid,
    # 8 kW of other load at 23:00 and 23:15 (known: the forecast is perfect). The optimum:
    # nothing while the street is at 9 kW, 2.775 / 0.5 h = 5.55 kW at 23:30 and 23:45,
    # the feeder 6.55 kW.
    car = HandSetCar(arrival="23:00", departure="00:00", need_kwh=2.775 * 0.9)
    fleet = hand_set_fleet([car], base_kw=1.0, rating_kw=20.0)
    common = fleet.common_kw.copy()
    common[at("23:00") : at("23:30")] += 8.0
    config = Coordination(forecast="perfect", arrivals="online", feedback="live", decay=0.0)
    return replace(fleet, common_kw=common), config


def test_live_feedback_followed_at_once_fills_the_low_slots() -> None:
    fleet, config = _late_car()
    outcome = coordinate(fleet, SERIAL, config=config)
    assert outcome.ev[0, at("23:00") : at("00:00")] == pytest.approx([0, 0, 5.55, 5.55], abs=2e-3)
    assert outcome.repaired == 0
    assert feeder_kw(fleet, outcome.ev).max() == pytest.approx(9.0)  # 23:00's 1 + 8, no EV


@pytest.mark.xfail(
    strict=True,
    reason="live latency: a charger told to draw nothing and then to charge draws the old 0"
    " for the first minutes, and nothing plans for it; the deficit piles into the last slot"
    " where the old power is drawn again, the car falls short and the repair pass re-plans"
    " the whole session over slots already drawn, at the 9 kW slots: 11.775 kW",
)
def test_latency_does_not_leave_a_car_short() -> None:
    # Latency 6 min (lag 0.4 of a slot). 23:00, 23:15: share 0, the car is told nothing
    # (standing: 0). 23:30: share 5.55 kW, drawn 0.4 x 0 + 0.6 x 5.55 = 3.33 kW (0.8325
    # kWh). 23:45: 1.9425 kWh left in one slot, 7.77 kW, cut to the charger's 7.4 x 0.999 =
    # 7.3926 kW; drawn 0.4 x 5.55 (the 23:30 plan for 23:45) + 0.6 x 7.3926 = 6.6556 kW.
    # Delivered 0.25 x (3.33 + 6.6556) = 2.4964 of 2.775 kWh: 0.2786 kWh short (0.2508 kWh
    # into the battery, 10%). The repair then plans the session from 23:00, flat 2.775 kW:
    # the feeder 1 + 8 + 2.775 = 11.775 kW at 23:00 (6.55 would do; 9 without the EV).
    fleet, config = _late_car()
    outcome = coordinate(fleet, SERIAL, config=replace(config, latency_min=6.0))
    assert outcome.planned_ev is not None
    planned = outcome.planned_ev[0, at("23:00") : at("00:00")]
    assert planned == pytest.approx([0, 0, 3.33, 6.6556], abs=2e-3)  # the lag as worked out
    s = fleet.sessions[0]
    assert delivered_kwh(fleet, outcome.planned_ev, s) == pytest.approx(s.need_kwh, abs=0.01)
    assert outcome.repaired == 0
    assert feeder_kw(fleet, outcome.ev).max() <= 9.0 + 1e-6


def _surprise_at_2315() -> tuple[Fleet, Array]:
    # One home (1 kW), a 7.4 kW car plugged in 23:00-00:00 needing 3.7 kWh from the grid
    # (3.33 into the battery), a 2 kW surprise in the 23:15 slot alone, rating 8 kW.
    car = HandSetCar(arrival="23:00", departure="00:00", need_kwh=3.7 * 0.9)
    fleet = hand_set_fleet([car], base_kw=1.0, rating_kw=8.0)
    actual = fleet.street_kw.copy()
    actual[at("23:15")] += 2.0
    return fleet, actual


@pytest.mark.xfail(
    strict=True,
    reason="live latency: when the new share is below the standing one the charger draws"
    " the old power for the first minutes and nothing takes it off the need; at the last"
    " slot the excess stays: the car takes more than its need (the home pays for it)",
)
def test_latency_does_not_charge_a_car_beyond_its_need() -> None:
    # Latency 10 min (lag 2/3). 23:00: 3.7 kW (just plugged in: no standing instruction).
    # 23:15 (2 kW read): 2.775 kWh over 3, 1, 1 kW -> L = 5.3667, the car 2.3667 kW, drawn
    # 2/3 x 3.7 + 1/3 x 2.3667 = 3.2556 kW. 23:30: 3.7 - 0.25 x 6.9556 = 1.9611 kWh left
    # over two slots: 3.9222 kW, drawn 2/3 x 4.3667 + 1/3 x 3.9222 = 4.2185 kW. 23:45:
    # 0.9065 kWh left: 3.6259 kW, drawn 2/3 x 3.9222 + 1/3 x 3.6259 = 3.8234 kW. Total
    # 0.25 x (3.7 + 3.2556 + 4.2185 + 3.8234) = 3.7494 kWh: 0.0494 kWh over (0.0444 kWh
    # into the battery, beyond the 0.01 kWh tolerance); at 14 min: 3.8355 kWh, 0.1355 over.
    fleet, actual = _surprise_at_2315()
    config = Coordination(
        forecast="perfect", arrivals="online", feedback="live", decay=0.0, latency_min=10.0
    )
    outcome = coordinate(fleet, SERIAL, config=config, actual_street_kw=actual)
    assert outcome.ev[0, at("23:00") : at("00:00")] == pytest.approx(
        [3.7, 3.2556, 4.2185, 3.8234], abs=2e-3
    )
    s = fleet.sessions[0]
    assert delivered_kwh(fleet, outcome.ev, s) <= s.need_kwh + 0.01


def _one_car_history(latency: float, needs: str) -> Array:
    # One home (1 kW), a 7.4 kW car plugged in 23:00-01:00 needing 6 kWh (6.6667 from the
    # grid); with needs from history the aggregator first guesses 2 kWh (the prior, no
    # history), the home's plan falls short, says so, and is planned again at once.
    fleet = hand_set_fleet([HandSetCar(arrival="23:00", departure="01:00", need_kwh=6.0)])
    config = Coordination(
        forecast="perfect",
        arrivals="online",
        needs=needs,  # type: ignore[arg-type]
        need_prior_kwh=2.0,
        feedback="live",
        decay=0.0,
        latency_min=latency,
    )
    outcome = coordinate(fleet, SERIAL, config=config)
    assert outcome.planned_ev is not None
    return np.asarray(outcome.planned_ev[0, at("23:00") : at("01:00")])


def test_a_car_plugged_in_at_the_event_draws_its_envelope_at_once() -> None:
    # Just plugged in, the charger has no earlier instruction: latency changes nothing,
    # 6.6667 kWh over 2 h is 3.3333 kW flat with or without 10 min of latency.
    for latency in (0.0, 10.0):
        assert _one_car_history(latency, "reported") == pytest.approx(np.full(8, 3.3333), abs=1e-3)
    assert _one_car_history(0.0, "history") == pytest.approx(np.full(8, 3.3333), abs=1e-3)


def test_a_resolve_at_once_is_not_lagged_behind_the_plan_it_replaces() -> None:
    # As plugged in with its need known (3.3333 kW from 23:00); instead the first slot draws
    # 2/3 x (the short plan's first slot) + 1/3 x 3.3333 = 2.099 kW, the rest of the night
    # lifted to make up for it.
    assert _one_car_history(10.0, "history") == pytest.approx(np.full(8, 3.3333), abs=1e-3)


def test_the_regions_priors_are_distributions_of_cars_that_leave_after_they_arrive() -> None:
    # cn: every EV home plugs in every night (p = 1, so the odds p S / (1 - p + p S) are 1
    # while any arrival is left); us: p = 0.5. Arrivals 12:00-23:45 (night slots 0-47),
    # each leaving after it arrives, within the night (before slot 96).
    for region, plug_in in (("cn", 1.0), ("us", 0.5)):
        prior = arrival_prior(region)
        chance, leaves = np.array(prior.chance), np.array(prior.leaves)
        assert prior.plug_in == plug_in
        assert chance.sum() == pytest.approx(1.0)
        assert (chance >= 0).all()
        arriving = np.flatnonzero(chance > 0)
        assert arriving.max() <= 47
        assert (leaves[arriving] > arriving).all()
        assert (leaves < 96).all()


def test_the_same_live_study_twice_gives_the_same_result() -> None:
    # Two nights, three homes (one silent), live feedback with latency, a prior: the same
    # inputs give bit-for-bit the same power.
    cars = [
        HandSetCar(arrival="18:00", departure="07:00", need_kwh=13.32),
        HandSetCar(arrival="20:00", departure="06:00", need_kwh=6.66, charger="1ph-3.7"),
        HandSetCar(arrival="22:00", departure="05:00", need_kwh=9.0, responds=False),
    ]
    fleet = hand_set_fleet(cars, base_kw=1.0, rating_kw=15.0, days=2)
    config = Coordination(
        forecast="history",
        arrivals="online",
        needs="history",
        feedback="live",
        decay=0.0,
        latency_min=2.0,
        non_response=0.4,
        arrival_prior=_prior_at("20:00", "06:00", plug_in=0.8),
    )
    first, second = (coordinate(fleet, SERIAL, config=config) for _ in range(2))
    assert np.array_equal(first.ev, second.ev)
    assert np.array_equal(first.joint_ev, second.joint_ev)


# --- options ------------------------------------------------------------------------


def test_decay_option_reads_fit_and_numbers() -> None:
    assert _decay("fit") is None
    assert _decay("0.5") == 0.5
    assert _decay("0") == 0.0


def test_a_decay_that_is_no_number_says_what_it_must_be(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    with pytest.raises(SystemExit):
        main(["fleet", "--out", str(tmp_path), "--decay", "abc"])
    err = capsys.readouterr().err
    assert "--decay" in err
    assert "fit" in err


def test_latency_without_live_feedback_is_refused() -> None:
    with pytest.raises(FleetError, match="latency"):
        Coordination(feedback="none", latency_min=5.0)
