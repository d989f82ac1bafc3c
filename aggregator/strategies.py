"""Seven ways to charge the same street's EVs, each giving EV power per home per slot (kW).

- `uncontrolled`: full power from arrival until the need is met.
- `tou_timer`: full power from the start of the cheap period (the tariff's
  `cheapest_window` between arrival and departure), as a charger's timer does.
- `tou_timer_random`: the same, each home starting after its own random delay of
  up to 600 s each night (the UK smart charge point rule). The delay is spent
  inside the first 15-minute slot, whose average power is lowered accordingly.
- `evflex_local`: every home plans its night with `optimizer.plan()` on the
  tariff alone, with the planner's default preference (`grid_friendly`); no
  coordination.
- `evflex_local_asap`: the same with `preferences.profile` `as_early_as_possible`
  (the planner before it was grid-friendly).
- `evflex_coordinated`: the aggregator's joint optimum per night, sent to each
  home as `ev_limit` envelopes, planned by each home (`aggregator.coordinator`).
- `joint_optimum`: the joint model itself on the street's actual load (perfect
  foresight, chargers' minimum power relaxed): the lower bound of the peak.

Timers and uncontrolled charging are not solver plans: a car draws its
charger's full power until done (the last slot only what is left).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from aggregator.backends import Backend, Progress
from aggregator.coordinator import evflex_coordinated, joint_optimum
from aggregator.plan_requests import session_request
from aggregator.population import HOURS_PER_SLOT, SLOT, Fleet, Session
from aggregator.sources import Array

Strategy = Callable[[Fleet, Backend, Progress | None], Array]
EPS = 1e-9


def charge_at_full_power(
    fleet: Fleet, ev: Array, s: Session, begin: int, lost: float = 0.0
) -> None:
    """Draw the charger's maximum from slot `begin` until the need is met or the car leaves.

    `lost` is the share of the first slot spent waiting (a start delay).
    """
    home = fleet.homes[s.home]
    left = s.need_kwh / home.car.efficiency  # kWh from the grid
    for t in range(max(begin, s.arrival), s.departure):
        if left <= EPS:
            break
        room = home.charger.max_kw * (1.0 - lost if t == begin else 1.0)
        ev[s.home, t] = min(room, left / HOURS_PER_SLOT)
        left -= ev[s.home, t] * HOURS_PER_SLOT


def _no_plans(fleet: Fleet, progress: Progress | None) -> None:
    if progress is not None:
        progress(len(fleet.sessions))


def uncontrolled(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
    ev = np.zeros((fleet.n_homes, fleet.n_slots))
    for s in fleet.sessions:
        charge_at_full_power(fleet, ev, s, s.arrival)
    _no_plans(fleet, progress)
    return ev


def cheap_start_s(fleet: Fleet, s: Session) -> float:
    """Seconds from the fleet's start to the cheap period's start for this session."""
    arrival, departure = fleet.slot_time(s.arrival), fleet.slot_time(s.departure)
    begin, _end = fleet.tariff.cheapest_window(arrival, within=departure - arrival)
    return (begin - fleet.start).total_seconds()


def _timer(fleet: Fleet, progress: Progress | None, *, random_delay: bool) -> Array:
    ev = np.zeros((fleet.n_homes, fleet.n_slots))
    width = SLOT.total_seconds()
    for s in fleet.sessions:
        at = cheap_start_s(fleet, s) + (s.timer_delay_s if random_delay else 0.0)
        begin = math.floor(at / width)
        charge_at_full_power(fleet, ev, s, begin, lost=at / width - begin)
    _no_plans(fleet, progress)
    return ev


def tou_timer(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
    return _timer(fleet, progress, random_delay=False)


def tou_timer_random(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
    return _timer(fleet, progress, random_delay=True)


def _local(fleet: Fleet, backend: Backend, progress: Progress | None, profile: str) -> Array:
    ev = np.zeros((fleet.n_homes, fleet.n_slots))
    sessions = fleet.sessions
    requests = [session_request(fleet, s, profile=profile) for s in sessions]
    for s, power in zip(sessions, backend.map(requests, progress), strict=True):
        ev[s.home, s.arrival : s.arrival + len(power)] = power
    return ev


def evflex_local(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
    return _local(fleet, backend, progress, "grid_friendly")


def evflex_local_asap(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
    return _local(fleet, backend, progress, "as_early_as_possible")


STRATEGIES: dict[str, Strategy] = {
    "uncontrolled": uncontrolled,
    "tou_timer": tou_timer,
    "tou_timer_random": tou_timer_random,
    "evflex_local": evflex_local,
    "evflex_local_asap": evflex_local_asap,
    "evflex_coordinated": evflex_coordinated,
    "joint_optimum": joint_optimum,
}
