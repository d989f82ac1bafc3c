"""A charging power per slot -> the plan-v1 response (slots, cost, SoC, binding limits).

Whatever produced the power (the MILP, the fallback, `fast` mode), the response
is computed here the same way, so costs are comparable between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .problem import EPS, INF, Problem

TARGET_TOLERANCE_KWH = 1e-3


class Flows(NamedTuple):
    """Site flows in one slot: import, export and PV left unused (curtailed).

    A named tuple rather than a frozen dataclass: a response computes it a few times
    per slot, and a tuple is made in a third of the time."""

    imp: float
    exp: float
    curtailed: float


def flows(p: Problem, t: int, ev: float) -> Flows:
    net = p.base[t] + ev - p.pv[t]
    if net >= 0:
        return Flows(net, 0.0, 0.0)
    surplus = -net
    # Exporting at a negative price costs money: curtail instead (as the MILP would).
    exported = min(surplus, p.export_cap) if p.export_price[t] >= 0 else 0.0
    return Flows(0.0, exported, surplus - exported)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What planned the power: `solver` highs | fallback | none; `optimality` optimal
    (proven within the MIP gaps, or the only plan the mode allows) | feasible (the
    solver stopped at its time limit with a plan) | fallback; `error`: why the solver
    gave no plan (None when it did); `anchor`: the instant a grid-friendly plan's
    charging was centred on (None when no model placed it)."""

    power: list[float]
    solver: str
    optimality: str
    error: str | None = None
    anchor: str | None = None


def cost(p: Problem, power: list[float]) -> float:
    total = 0.0
    for t, ev in enumerate(power):
        f = flows(p, t, ev)
        total += p.hours * (p.import_price[t] * f.imp - p.export_price[t] * f.exp)
    return total


def clip_to_full(p: Problem, power: list[float]) -> list[float]:
    """The car stops drawing when its battery is full: no power after that point.

    In the slot that fills it the average power may fall below the charger's minimum.
    """
    eff_h = p.efficiency * p.hours
    room = p.capacity - p.energy0
    out = []
    for planned in power:
        kw = max(0.0, min(planned, room / eff_h))
        room -= kw * eff_h
        out.append(kw)
    return out


def build_response(p: Problem, outcome: Outcome, solve_ms: float) -> dict[str, Any]:
    power = clip_to_full(p, outcome.power)
    eff_h = p.efficiency * p.hours
    energy = p.energy0
    slots = []
    by_deadline = p.energy0
    # Each slot ends where the next starts (start + i * slot): each time written once.
    stamps = [s.isoformat() for s in p.starts]
    if p.starts:
        stamps.append((p.starts[-1] + p.request.slot).isoformat())
    for t, ev in enumerate(power):
        f = flows(p, t, ev)
        energy = min(p.capacity, energy + ev * eff_h)
        if t < p.deadline:
            by_deadline = energy
        slots.append(
            {
                "start": stamps[t],
                "end": stamps[t + 1],
                "ev_kw": round(ev, 4),
                "grid_kw": round(f.imp - f.exp, 4),
                "pv_kw": round(p.pv[t] - f.curtailed, 4),
                "import_price": round(p.import_price[t], 6),
                "export_price": round(p.export_price[t], 6),
                "base_load_kw": round(p.base[t], 4),
                "soc_pct": round(100 * energy / p.capacity, 3),
            }
        )
    shortfall = max(0.0, p.target - by_deadline)
    unreachable = shortfall > TARGET_TOLERANCE_KWH
    return {
        "version": 1,
        "status": "target_unreachable" if unreachable else "ok",
        "slots": slots,
        "summary": {
            "energy_kwh": round(sum(power) * p.hours, 4),
            "cost": round(cost(p, power), 6),
            "currency": p.request.currency,
            "soc_at_departure_pct": round(100 * by_deadline / p.capacity, 3),
            "shortfall_kwh": round(shortfall, 4) if unreachable else 0.0,
            "binding": binding(p, power, unreachable),
            "solver": outcome.solver,
            "optimality": outcome.optimality,
            "solver_error": outcome.error,
            "spread_anchor": outcome.anchor,
            "solve_ms": round(solve_ms, 2),
        },
    }


def binding(p: Problem, power: list[float], short: bool) -> list[str]:
    """The limits that shaped the plan.

    A limit binds when it holds the EV at its bound in a slot where more power
    was wanted: the target was not met, or the slot was cheaper than a slot the
    plan did charge in, or as cheap and earlier (so the plan would have moved
    energy there). A limit the base load alone breaks is always named, and so is
    an export limit that made PV go unused.
    """
    names: set[str] = {n for n in p.broken_by_base if n}
    if p.request.mode == "off":
        names.add("mode off")
    if p.forced_by and any(x > EPS for x in p.floor):
        names.add(p.forced_by)
    charged = [t for t, x in enumerate(power) if x > EPS and p.floor[t] < x - EPS]
    worst = max((_marginal(p, t, power[t]) for t in charged), default=None)
    last = max(charged, default=-1)
    for t in range(p.n):
        if not (short or _wanted(p, t, power[t], worst, last)):
            continue
        room_site = p.import_cap[t] - p.base[t] + p.pv[t]
        room = min(p.ev_max[t], room_site)
        if room >= p.ev_min and power[t] < room - 1e-4:
            continue  # not held at a bound
        name = p.ev_max_by[t] if p.ev_max[t] <= room_site else p.import_cap_by[t]
        if name:
            names.add(name)
    if any(flows(p, t, x).curtailed > EPS for t, x in enumerate(power)) and p.export_cap < INF:
        names.add("site.export_limit_kw")
    if short:  # the time available was too short
        names.add("vehicle.departure" if p.request.vehicle.departure else "horizon_hours")
    return sorted(names)


def _wanted(p: Problem, t: int, ev: float, worst: float | None, last: int) -> bool:
    """More power in slot t was wanted: it is cheaper than a slot the plan charged in,
    or as cheap and earlier (the plan prefers charging early)."""
    if worst is None:
        return False
    price = _marginal(p, t, ev)
    return price < worst - EPS or (price <= worst + EPS and t < last)


def _marginal(p: Problem, t: int, ev: float) -> float:
    """The price of one more kWh for the EV in slot t: import, or export forgone."""
    f = flows(p, t, ev)
    if f.imp > EPS or (f.exp <= EPS and f.curtailed <= EPS):
        return p.import_price[t]
    return p.export_price[t] if f.exp > EPS else 0.0
