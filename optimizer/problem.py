"""A validated request laid out on slots: the numbers every planner works on.

Limits are folded here, once, so the MILP, the fallback heuristic and the
response builder see the same problem:
- `ev_max[t]`: the EV's power bound in slot t (charger, `ev_limit` signals, plug-in
  window, and in `solar_only` the PV surplus);
- `import_cap[t]`: the site import bound (site limit and `import_limit` signals),
  raised to what the base load alone draws where that already breaks it;
- `floor[t]`: power forced by `min_soc_pct` (or the whole target in `fast` mode),
  at full available power from the first slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from .request import PlanRequest
from .series import clip, overlapping, resample, without

INF = math.inf
EPS = 1e-7


@dataclass(slots=True)
class Problem:
    request: PlanRequest
    starts: list[datetime]
    hours: float
    import_price: list[float]
    export_price: list[float]
    pv: list[float]
    base: list[float]
    ev_max: list[float]
    ev_min: float
    import_cap: list[float]
    export_cap: float
    floor: list[float]
    deadline: int  # slots before it count towards the departure target
    energy0: float  # kWh in the battery now
    capacity: float  # kWh
    target: float  # kWh wanted in the battery by the deadline
    efficiency: float
    # Why each bound is what it is, for summary.binding.
    ev_max_by: list[str] = field(default_factory=list)
    import_cap_by: list[str] = field(default_factory=list)
    broken_by_base: set[str] = field(default_factory=set)
    forced_by: str = ""

    @property
    def n(self) -> int:
        return len(self.starts)

    def headroom(self, t: int) -> float:
        """The most the EV may draw in slot t under every limit (0 if below the minimum)."""
        room = min(self.ev_max[t], self.import_cap[t] - self.base[t] + self.pv[t])
        return room if room >= max(self.ev_min, EPS) - EPS else 0.0


def build(req: PlanRequest) -> Problem:
    n, slot, start = req.slots, req.slot, req.start
    starts = [start + i * slot for i in range(n)]
    hours = req.slot_minutes / 60

    import_series = list(req.import_prices)
    for sig in req.signals:
        if sig.type == "price":
            import_series = without(import_series, sig.start, sig.end) + clip(
                sig.series, sig.start, sig.end
            )
    import_price = resample(import_series, start, slot, n)
    export_price = resample(req.export_prices, start, slot, n)
    pv = resample(req.pv_kw, start, slot, n)
    base = resample(req.base_load_kw, start, slot, n)

    veh = req.vehicle
    plugged_from = veh.arrival or start
    unplug = veh.departure
    ev_max, ev_max_by = [], []
    for s in starts:
        inside = s >= plugged_from and (unplug is None or s + slot <= unplug)
        ev_max.append(req.charger_max_kw if inside else 0.0)
        ev_max_by.append("charger.max_power_kw" if inside else "")
    deadline = n if unplug is None else sum(1 for s in starts if s + slot <= unplug)

    site_cap = INF if req.import_limit_kw is None else req.import_limit_kw
    import_cap = [site_cap] * n
    import_cap_by = ["site.import_limit_kw" if req.import_limit_kw is not None else ""] * n
    for sig in req.signals:
        if sig.limit_kw is None:
            continue
        for t in overlapping(sig.start, sig.end, start, slot, n):
            bound, names = (
                (ev_max, ev_max_by) if sig.type == "ev_limit" else (import_cap, import_cap_by)
            )
            if sig.limit_kw < bound[t]:
                bound[t], names[t] = sig.limit_kw, sig.label

    broken: set[str] = set()
    for t in range(n):
        floor_draw = base[t] - pv[t]
        if floor_draw > import_cap[t] + EPS:
            broken.add(import_cap_by[t])
            import_cap[t] = floor_draw

    capacity = veh.battery_kwh
    problem = Problem(
        request=req,
        starts=starts,
        hours=hours,
        import_price=import_price,
        export_price=export_price,
        pv=pv,
        base=base,
        ev_max=ev_max,
        ev_min=req.charger_min_kw,
        import_cap=import_cap,
        export_cap=INF if req.export_limit_kw is None else req.export_limit_kw,
        floor=[0.0] * n,
        deadline=deadline,
        energy0=veh.soc_pct / 100 * capacity,
        capacity=capacity,
        target=max(veh.target_soc_pct, veh.soc_pct) / 100 * capacity,
        efficiency=veh.charge_efficiency,
        ev_max_by=ev_max_by,
        import_cap_by=import_cap_by,
        broken_by_base=broken,
    )
    _apply_mode(problem)
    return problem


def _apply_mode(p: Problem) -> None:
    mode, veh = p.request.mode, p.request.vehicle
    if mode == "off":
        p.ev_max = [0.0] * p.n
        p.ev_max_by = [""] * p.n
        return
    forced_pct = veh.target_soc_pct if mode == "fast" else veh.min_soc_pct
    forced = forced_pct / 100 * p.capacity - p.energy0
    if forced > EPS:
        p.floor = fill(p, forced, range(p.deadline))
        p.forced_by = "mode fast" if mode == "fast" else "vehicle.min_soc_pct"
    if mode == "fast":
        p.ev_max = list(p.floor)
    elif mode == "solar_only":
        for t in range(p.n):
            surplus = max(0.0, p.pv[t] - p.base[t])
            if surplus < p.ev_max[t]:
                p.ev_max[t], p.ev_max_by[t] = max(surplus, p.floor[t]), "mode solar_only"


def fill(p: Problem, energy: float, order: range | list[int], already: float = 0.0) -> list[float]:
    """Charge `energy` kWh (battery side) at full available power, slot by slot in `order`.

    The last slot charges only what is still needed, but never below the charger's
    minimum. `already` kWh are in the battery on top of `energy0` from other slots.
    This is the min-SoC rule, `fast` mode, and the fallback heuristic.
    """
    power = [0.0] * p.n
    room_in_battery = p.capacity - p.energy0 - already
    left = min(energy, room_in_battery)
    for t in order:
        if left <= EPS:
            break
        room = p.headroom(t)
        if room <= 0.0:
            continue
        want = max(left / (p.efficiency * p.hours), p.ev_min)
        # Never past a full battery, even when the charger's minimum would overshoot.
        cap_full = room_in_battery / (p.efficiency * p.hours)
        power[t] = min(room, want, max(cap_full, 0.0))
        if power[t] < p.ev_min - EPS:
            power[t] = 0.0
            continue
        delivered = power[t] * p.efficiency * p.hours
        left -= delivered
        room_in_battery -= delivered
    return power
