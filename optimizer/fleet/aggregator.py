"""The `evflex_coordinated` aggregator: one transformer's headroom, shared out by signals.

Each night is coordinated on its own (sessions never span two nights):

1. Headroom per slot = rating - (common load + every home's household load - PV)
   (the aggregator is assumed to forecast the street's load exactly).
2. EV homes are taken in order of least laxity first: hours plugged in minus
   hours needed at full power, so the least flexible cars choose first.
3. They are planned in batches of `batch` homes (a batch is planned in parallel).
   Each home of a batch gets, as `ev_limit` signals, a share of the remaining
   headroom in each slot, in proportion to its charger's maximum among the
   batch's homes plugged in at that slot; the shares of a batch sum to at most
   the headroom. Each home also gets a `price` signal: the tariff price plus a
   congestion term that grows with the slot's feeder load (a quarter of the
   tariff's smallest price step x load / rating, the load share capped at 2, so
   at most half a price step: it never reorders the tariff's periods, it only
   steers a home to the emptier slots of the same period: valley filling).
   Every home plans with `optimizer.plan()`; its plan is subtracted from the
   headroom before the next batch.
4. Repair: homes whose plan falls short of their need (their share was too
   small) are planned again, least laxity first, in batches, each with its own
   plan plus a share of what headroom is left as its limit.
Whatever is still missing is reported as energy not delivered.

Invariant: wherever the street without EVs is within the rating, the feeder
with EVs is too, since each home's plan stays within its limits (floored to
1 W; plans are answered to 0.1 W) and a batch's limits sum to at most the
headroom. Cost: one plan per EV home (plus repairs), the nights' batches of one
round planned together; the aggregator's own work is O(batch x slots) per
batch: linear in homes, with no model whose size grows with homes x slots.
A smaller batch allocates better (batch 1 is plain sequential greedy);
a larger one runs more homes in parallel. The batch is fixed, not derived from
the worker count, so results do not depend on the machine.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.fleet.backends import Backend, Progress
from optimizer.fleet.plan_requests import Request, session_request
from optimizer.fleet.population import HOURS_PER_SLOT, Fleet, Session
from optimizer.fleet.sources import Array

DEFAULT_BATCH = 16
SHORT_KWH = 0.01  # a session missing more than this is short
CONGESTION_STEP_SHARE = 0.25
MAX_LOAD_SHARE = 2.0


@dataclass(frozen=True, slots=True)
class Coordination:
    batch: int = DEFAULT_BATCH
    congestion_price: bool = True


def laxity_h(fleet: Fleet, s: Session) -> float:
    """Hours plugged in that the car could spare, charging at full power."""
    home = fleet.homes[s.home]
    needed = s.need_kwh / (home.car.efficiency * home.charger.max_kw)
    return (s.departure - s.arrival) * HOURS_PER_SLOT - needed


def delivered_kwh(fleet: Fleet, ev: Array, s: Session) -> float:
    power = ev[s.home, s.arrival : s.departure]
    return float(power.sum()) * HOURS_PER_SLOT * fleet.homes[s.home].car.efficiency


def congestion_weight(fleet: Fleet) -> float:
    prices = fleet.tariff.import_prices()
    steps = [b - a for a, b in itertools.pairwise(prices) if b > a]
    step = min(steps) if steps else 0.2 * prices[0]
    return CONGESTION_STEP_SHARE * step


class _Feeder:
    """The headroom left on the transformer, and the signals derived from it."""

    def __init__(self, fleet: Fleet, config: Coordination) -> None:
        self.fleet = fleet
        self.config = config
        self.headroom = fleet.rating_kw - fleet.street_kw
        self.weight = congestion_weight(fleet)

    def shares(self, batch: Sequence[Session]) -> Array:
        """Each session's share of the headroom: by charger maximum among those plugged in."""
        fleet = self.fleet
        weights = np.zeros((len(batch), fleet.n_slots))
        for row, s in enumerate(batch):
            weights[row, s.arrival : s.departure] = fleet.homes[s.home].charger.max_kw
        total = weights.sum(axis=0)
        room = np.clip(self.headroom, 0.0, None)
        shares: Array = np.divide(
            weights * room, total, out=np.zeros_like(weights), where=total > 0
        )
        return shares

    def prices(self) -> Array | None:
        if not self.config.congestion_price:
            return None
        load = np.clip((self.fleet.rating_kw - self.headroom) / self.fleet.rating_kw, 0, None)
        return self.fleet.import_price + self.weight * np.minimum(load, MAX_LOAD_SHARE)


def evflex_coordinated(
    fleet: Fleet,
    backend: Backend,
    progress: Progress | None = None,
    config: Coordination | None = None,
) -> Array:
    cfg = config or Coordination()
    if cfg.batch < 1:
        raise ValueError("batch must be at least 1")
    feeder = _Feeder(fleet, cfg)
    ev = np.zeros((fleet.n_homes, fleet.n_slots))
    first = _by_night(fleet, fleet.sessions)
    _rounds(feeder, ev, first, backend, progress)
    short = [s for s in fleet.sessions if s.need_kwh - delivered_kwh(fleet, ev, s) > SHORT_KWH]
    _rounds(feeder, ev, _by_night(fleet, short), backend, progress)
    return ev


def _by_night(fleet: Fleet, sessions: Sequence[Session]) -> list[list[Session]]:
    nights: dict[int, list[Session]] = defaultdict(list)
    for s in sessions:
        nights[s.night].append(s)
    return [
        sorted(group, key=lambda s: (laxity_h(fleet, s), s.home))
        for _, group in sorted(nights.items())
    ]


def _rounds(
    feeder: _Feeder,
    ev: Array,
    nights: list[list[Session]],
    backend: Backend,
    progress: Progress | None,
) -> None:
    """Plan every night's sessions batch by batch; one round plans a batch of every night."""
    size = feeder.config.batch
    for offset in range(0, max((len(n) for n in nights), default=0), size):
        batches = [night[offset : offset + size] for night in nights]
        batches = [b for b in batches if b]
        prices = feeder.prices()
        sessions: list[Session] = []
        requests: list[Request] = []
        for batch in batches:
            shares = feeder.shares(batch)
            for row, s in enumerate(batch):
                limits = shares[row] + ev[s.home]  # a repair keeps what the home already has
                sessions.append(s)
                requests.append(session_request(feeder.fleet, s, ev_limits=limits, prices=prices))
        for s, power in zip(sessions, backend.map(requests, progress), strict=True):
            window = slice(s.arrival, s.arrival + len(power))
            feeder.headroom[window] += ev[s.home, window] - np.asarray(power)
            ev[s.home, window] = power
