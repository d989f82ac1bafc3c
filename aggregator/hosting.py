"""Hosting capacity: how many EVs the existing transformer carries under a strategy.

The largest number of EV-owning homes for which, on one representative night
(the region's first, a Monday), the feeder never exceeds the rating and every
session gets its need by departure. Found by bisection over the number of EV
homes on the same street (same seed): more EVs add homes with the lowest
ownership draws, never swap them (`Fleet.with_ev_count`). Bisection assumes
that a count that fails stays failing with more EVs: true for the fixed
strategies (more EVs only add load), close to true for the planners.
"""

from __future__ import annotations

from collections.abc import Callable

from aggregator.backends import Backend
from aggregator.metrics import all_delivered, within_rating
from aggregator.population import Fleet
from aggregator.strategies import Strategy


def carries(fleet: Fleet, strategy: Strategy, backend: Backend) -> bool:
    ev = strategy(fleet, backend, None)
    return within_rating(fleet, ev) and all_delivered(fleet, ev)


def hosting_capacity(
    street: Fleet,
    strategy: Strategy,
    backend: Backend,
    tried: Callable[[int, bool], None] | None = None,
) -> int:
    """The most EV homes `strategy` carries on `street`; `tried(count, ok)` hears each try."""

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
