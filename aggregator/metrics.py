"""What a strategy did to the transformer, the drivers and their bills.

- Feeder load = common load + every home's (household load - PV + EV), per
  15-minute slot; loading = |feeder| / rating.
- Rebound peak: the highest feeder load in the first hour of the cheap period
  (each night's `cheapest_window` from 16:00), against the evening peak (16:00
  to the start of the cheap period), highest over the nights.
- Costs are each EV home's extra bill for charging: its site cost with the EV
  minus without (import price x import - export price x export), so a home's
  PV and household load count as plan-v1 counts them.
- Cost of coordination: per EV home, coordinated minus local EVFlex cost.
- Thermal loading (`thermal.py`, IEC 60076-7, ONAN distribution transformer): the
  hottest winding hot spot and the hours of life used, from the feeder load
  over the rating and the region's ambient profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from aggregator.coordinator import SHORT_KWH, delivered_kwh
from aggregator.population import HOURS_PER_SLOT, Fleet
from aggregator.sources import SLOTS_PER_DAY, Array
from aggregator.thermal import simulate

EVENING_FROM_SLOT = 16  # 16:00, four hours after the night's noon start
NIGHT_FROM_SLOT, NIGHT_TO_SLOT = 48, 64  # 00:00-04:00
REBOUND_SLOTS = 4  # the first hour of the cheap period
OVERLOAD_TOLERANCE_KW = 1e-6


@dataclass(frozen=True, slots=True)
class Metrics:
    strategy: str
    peak_kw: float
    peak_time: str
    worst_loading_pct: float
    hours_overloaded: float
    evening_peak_kw: float
    rebound_peak_kw: float
    ev_energy_kwh: float
    off_peak_share: float
    share_00_04: float
    not_delivered_kwh: float
    sessions_short: int
    cost_mean: float
    cost_median: float
    cost_p90: float
    cost_total: float
    coordination_cost_mean: float | None = None
    coordination_cost_max: float | None = None
    peak_gap_pct: float | None = None  # peak above the joint optimum's, % of it
    hot_spot_max_c: float | None = None  # IEC 60076-7 winding hot spot, hottest slot
    loss_of_life_h: float | None = None  # IEC 60076-7 hours of life used (98 °C: 1 h/h)

    @staticmethod
    def columns() -> list[str]:
        return [f.name for f in fields(Metrics)]

    def row(self) -> list[str | int | float | None]:
        return [getattr(self, name) for name in self.columns()]


def feeder_kw(fleet: Fleet, ev: Array) -> Array:
    load: Array = fleet.street_kw + ev.sum(axis=0)
    return load


def cheap_starts(fleet: Fleet) -> list[int]:
    """Each night's first slot of the cheap period (as a timer would start)."""
    out = []
    for night in range(fleet.days):
        first = night * SLOTS_PER_DAY + EVENING_FROM_SLOT
        start = fleet.slot_time(first)
        within = fleet.slot_time((night + 1) * SLOTS_PER_DAY) - start
        begin, _end = fleet.tariff.cheapest_window(start, within=within)
        out.append(first + int((begin - start).total_seconds() // 900))
    return out


def ev_costs(fleet: Fleet, ev: Array) -> Array:
    """Each EV home's extra site cost for its charging (one value per owner, by home number)."""
    homes = sorted(fleet.owners)
    net = fleet.base_kw[homes] - fleet.pv_kw[homes]

    def bill(flow: Array) -> Array:
        imp, exp = np.clip(flow, 0, None), np.clip(-flow, 0, None)
        cost: Array = (imp * fleet.import_price - exp * fleet.export_price).sum(axis=1)
        return cost * HOURS_PER_SLOT

    return bill(net + ev[homes]) - bill(net)


def measure(
    fleet: Fleet,
    strategy: str,
    ev: Array,
    local_ev: Array | None = None,
    joint_peak_kw: float | None = None,
    ambient_c: Array | None = None,
) -> Metrics:
    """The metrics of `ev`; the thermal ones only with an ambient temperature per slot."""
    feeder = feeder_kw(fleet, ev)
    loading = np.asarray(feeder / fleet.rating_kw, dtype=float)
    heat = None if ambient_c is None else simulate(loading, ambient_c)
    rating = fleet.rating_kw
    peak_at = int(np.argmax(feeder))
    evening, rebound = 0.0, 0.0
    for night, cheap in enumerate(cheap_starts(fleet)):
        evening = max([evening, *feeder[night * SLOTS_PER_DAY + EVENING_FROM_SLOT : cheap]])
        rebound = max([rebound, *feeder[cheap : cheap + REBOUND_SLOTS]])
    fleet_ev = ev.sum(axis=0) * HOURS_PER_SLOT
    energy = float(fleet_ev.sum())
    in_night = np.arange(fleet.n_slots) % SLOTS_PER_DAY
    small_hours = (in_night >= NIGHT_FROM_SLOT) & (in_night < NIGHT_TO_SLOT)
    missing = [max(0.0, s.need_kwh - delivered_kwh(fleet, ev, s)) for s in fleet.sessions]
    costs = ev_costs(fleet, ev)
    extra = costs - ev_costs(fleet, local_ev) if local_ev is not None else None
    return Metrics(
        strategy=strategy,
        peak_kw=float(feeder[peak_at]),
        peak_time=fleet.slot_time(peak_at).strftime("%Y-%m-%d %H:%M"),
        worst_loading_pct=100 * float(np.abs(feeder).max()) / rating,
        hours_overloaded=HOURS_PER_SLOT
        * int((np.abs(feeder) > rating + OVERLOAD_TOLERANCE_KW).sum()),
        evening_peak_kw=evening,
        rebound_peak_kw=rebound,
        ev_energy_kwh=energy,
        off_peak_share=_share(fleet_ev, fleet.off_peak, energy),
        share_00_04=_share(fleet_ev, small_hours, energy),
        not_delivered_kwh=float(sum(missing)),
        sessions_short=sum(1 for m in missing if m > SHORT_KWH),
        cost_mean=_stat(costs, np.mean),
        cost_median=_stat(costs, np.median),
        cost_p90=float(np.percentile(costs, 90)) if costs.size else 0.0,
        cost_total=float(costs.sum()),
        coordination_cost_mean=None if extra is None else _stat(extra, np.mean),
        coordination_cost_max=None if extra is None else _stat(extra, np.max),
        peak_gap_pct=None
        if joint_peak_kw is None or joint_peak_kw <= 0
        else 100 * (float(feeder[peak_at]) / joint_peak_kw - 1),
        hot_spot_max_c=None if heat is None else float(heat.hot_spot_c.max()),
        loss_of_life_h=None if heat is None else heat.loss_of_life_h,
    )


def _share(energy_by_slot: Array, mask: NDArray[np.bool_], total: float) -> float:
    return float(energy_by_slot[mask].sum()) / total if total > 0 else 0.0


def _stat(values: Array, how: Callable[[Array], Any]) -> float:
    return float(how(values)) if values.size else 0.0


def within_rating(fleet: Fleet, ev: Array) -> bool:
    return bool((feeder_kw(fleet, ev) <= fleet.rating_kw + OVERLOAD_TOLERANCE_KW).all())


def all_delivered(fleet: Fleet, ev: Array) -> bool:
    return all(s.need_kwh - delivered_kwh(fleet, ev, s) <= SHORT_KWH for s in fleet.sessions)
