"""The plan used when the solver cannot answer: simple, predictable, documented.

1. Whatever `min_soc_pct` (or `fast` mode) forces is charged first, at full power.
2. The rest of the target is charged in the cheapest plugged-in slots before the
   departure (earlier first among equal prices), each at the most every limit
   allows; the last slot only what is still needed, never below the charger's
   minimum.
It honours every limit and meets the target whenever the limits allow it; it
does not value PV beyond its effect on the slot's price, nor minimise starts.
"""

from __future__ import annotations

from .problem import Problem, fill


def fallback_power(p: Problem) -> list[float]:
    power = list(p.floor)
    forced = sum(power) * p.efficiency * p.hours
    still = p.target - p.energy0 - forced
    if still <= 0:
        return power
    # Slots already used by the forced part keep their power; fill the others.
    order = sorted(
        (t for t in range(p.deadline) if power[t] == 0.0),
        key=lambda t: (_price(p, t), t),
    )
    extra = fill(p, still, order, already=forced)
    return [a + b for a, b in zip(power, extra, strict=True)]


def _price(p: Problem, t: int) -> float:
    # With PV covering the house, a kWh for the car only forgoes the export price.
    return p.export_price[t] if p.pv[t] - p.base[t] > 0 else p.import_price[t]
