"""Hosting capacity: how many EV homes the existing transformer carries under a strategy.

The most EV-owning homes for which, over the study's nights, the transformer stays
within its thermal limits and every session gets its need by departure. Thermal
limits: IEC 60076-7's for normal cyclic loading of a distribution transformer,
winding hot spot at most 120 °C and top oil at most 105 °C (`aggregator.thermal`,
with the region's ambient); kW above the rating are allowed while the oil and the
winding stay within them, as the standard allows.

The count can pass the street's size: up to the street's own EV homes, the homes
with the lowest ownership draws own one (`Fleet.with_ev_count`); beyond them, homes
are added to the street, each with an EV, drawn from the same seed (home h is the
same in a street of any size: `aggregator.population`), each bringing its household
load, PV and share of the common load, on the same transformer. Found by doubling,
then bisection to 5% (the answer is a lower bound within 5% of the first count that
fails). Both assume that a count that fails stays failing with more EVs: true for
the fixed strategies (more EVs only add load), close to true for the planners.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from aggregator.backends import Backend
from aggregator.metrics import all_delivered, feeder_kw, within_rating
from aggregator.population import Fleet, generate
from aggregator.sources import Array
from aggregator.strategies import Strategy
from aggregator.thermal import simulate

HOT_SPOT_LIMIT_C = 120.0  # IEC 60076-7, normal cyclic loading, distribution transformers
TOP_OIL_LIMIT_C = 105.0
RESOLUTION = 0.05  # bisection stops within 5% of the answer
MAX_GROWTH = 8  # never more than 8 x the street's homes as EV homes


def carries(fleet: Fleet, strategy: Strategy, backend: Backend) -> bool:
    """Within the kW rating in every slot and every session's need met (one night)."""
    ev = strategy(fleet, backend, None)
    return within_rating(fleet, ev) and all_delivered(fleet, ev)


def carries_thermally(fleet: Fleet, strategy: Strategy, backend: Backend, ambient_c: Array) -> bool:
    """Within the thermal limits (`ambient_c` per slot) and every session's need met."""
    ev = strategy(fleet, backend, None)
    if not all_delivered(fleet, ev):
        return False
    heat = simulate(np.abs(feeder_kw(fleet, ev)) / fleet.rating_kw, ambient_c[: fleet.n_slots])
    return bool(heat.hot_spot_c.max() <= HOT_SPOT_LIMIT_C) and bool(
        heat.top_oil_c.max() <= TOP_OIL_LIMIT_C
    )


def hosting_capacity(
    street: Fleet,
    strategy: Strategy,
    backend: Backend,
    tried: Callable[[int, bool], None] | None = None,
) -> int:
    """The most EV homes among the street's own that `strategy` carries within the kW
    rating (`carries`); `tried(count, ok)` hears each try."""

    def ok(count: int) -> bool:
        result = carries(street.with_ev_count(count), strategy, backend)
        if tried is not None:
            tried(count, result)
        return result

    if not ok(0):
        return 0
    if ok(street.n_homes):
        return street.n_homes
    good, bad = 0, street.n_homes
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if ok(middle) else (good, middle)
    return good


def grown_street(
    region: str, street: Fleet, count: int, seed: int, ev_share: float | None = None
) -> Fleet:
    """`street` with `count` EV homes: its own lowest draws up to its EV homes, then
    homes added to it, each with an EV (the same transformer)."""
    if count <= street.ev_count:
        return street.with_ev_count(count)
    extra = count - street.ev_count
    big = generate(
        region,
        street.n_homes + extra,
        street.days,
        seed,
        ev_share=ev_share,
        rating_kw=street.rating_kw,
    )
    homes = tuple(
        h if i < street.n_homes else replace(h, ev_draw=-1.0) for i, h in enumerate(big.homes)
    )
    return replace(big, homes=homes, ev_count=count)


def hosting_beyond(
    grow: Callable[[int], Fleet],
    own_evs: int,
    strategy: Strategy,
    backend: Backend,
    ambient_c: Array,
    limit: int,
    tried: Callable[[int, bool], None] | None = None,
) -> int:
    """The most EV homes (up to `limit`) that `strategy` carries thermally on the street
    `grow(count)`, starting from its `own_evs`; within 5% (`RESOLUTION`)."""

    def ok(count: int) -> bool:
        result = carries_thermally(grow(count), strategy, backend, ambient_c)
        if tried is not None:
            tried(count, result)
        return result

    good, count = 0, max(1, own_evs)
    while True:
        count = min(count, limit)
        if not ok(count):
            return _bisect(ok, good, count)
        if count == limit:
            return limit
        good, count = count, count * 2


def _bisect(ok: Callable[[int], bool], good: int, bad: int) -> int:
    while bad - good > max(1, int(RESOLUTION * good)):
        middle = (good + bad) // 2
        good, bad = (middle, bad) if ok(middle) else (good, middle)
    return good
