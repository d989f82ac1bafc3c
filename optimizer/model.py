"""The charging MILP, written in Pyomo and solved by HiGHS (highspy).

Per slot t (length h hours): EV power p[t] in {0} U [min, ev_max[t]] (binary on[t]),
site import/export imp[t], exp[t], curtailed PV cut[t], with
    imp - exp = base + p - pv + cut,   imp <= import_cap,  exp <= export_cap.
The battery only fills, so one row bounds the final energy by the capacity and
one row asks for the target by the deadline, softened by `short` at a penalty
far above any price, so the model is never infeasible: an unreachable target
yields the plan that delivers the most energy.

Objective, in priority order (weights scaled to the price level `ref`):
1. the shortfall (penalty well above any price per kWh);
2. the site's energy cost: sum h * (import price * imp - export price * exp);
3. tie-breaks worth a few thousandths of a kWh at `ref`: a small reward per kWh
   stored beyond the target, counted only for PV that would earn nothing (so it
   is taken, and nothing with a price is bought for it), then the owner's
   preference among plans of equal cost (below), then exporting rather than
   curtailing.

The preference (plan-v1 `preferences.profile`):
- `grid_friendly` (default): the lowest peak EV power (down to the gentle power,
  `gentle_kw`: never spread below it), then the target reached
  `ready_margin_minutes` before departure (softly: the target itself stays the
  hard requirement), then fewer starts and fewer, fuller slots, then charging
  placed around a per-home anchor inside the cheapest slots
  (`preferences.spread_key`), so identical homes do not pick identical slots.
- `as_early_as_possible`: fewer starts, fewer and fuller slots, then earlier.
The preference can trade at most `tie_break_budget` of real cost (plus
`cost_tolerance_pct` where the request allows it): a price difference larger
than that always wins.

The Pyomo model is compiled to matrix form and handed to highspy in one call,
with HiGHS's own output off: no process-wide stdout capture, so it is safe in a
worker thread of Home Assistant.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import logging
import math
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .problem import EPS, INF, Problem

# Tie-break weights, as fractions of the price level `ref` (see module docstring).
EXTRA_REWARD = 2e-3  # per kWh stored beyond the target
START_PENALTY = 1e-3  # per start
SLOT_PENALTY = 2e-4  # per slot charging: fewer, fuller slots
EARLY_WEIGHT = 1e-4  # per kWh, times the slot's position in the horizon
CURTAIL_PENALTY = 1e-5  # per kWh of PV curtailed
# grid_friendly only:
PEAK_WEIGHT = 5e-3  # per kW of the highest EV power above the gentle power
READY_WEIGHT = 5e-4  # per kWh of the target still missing at departure - ready margin
SPREAD_WEIGHT = 1e-4  # per kWh, times the slot's distance from the home's anchor / horizon
SLOT_HOUR_PENALTY = 8e-4  # per hour of charging slots (2e-4 a 15-min slot)
# The gentle power: spreading never asks for less than this share of the charger's
# maximum (nor its minimum). At 6 A an on-board charger's fixed draw (car electronics,
# cooling: a few hundred W) costs a fifth of the energy; a quarter of the maximum
# keeps that loss near today's while still halving the peak of a 7.4 kW charger.
GENTLE_SHARE = 0.25
# Tight gaps: the tie-breaks are small, and a plan must be stable for hand-worked cases.
MIP_REL_GAP = 1e-7
MIP_ABS_GAP = 1e-9
PEAK_GAP_KW = 0.05  # grid_friendly: the peak is resolved to 50 W (see peak_gap)


class SolverError(RuntimeError):
    """HiGHS gave no usable answer (time-out without a solution, error)."""


@dataclass(frozen=True, slots=True)
class Solution:
    power: list[float]
    objective: float
    mip_gap: float
    optimal: bool  # proven optimal within the MIP gaps; False: feasible (time limit)


_local = threading.local()
_banner_lock = threading.Lock()
_banner_shown: list[bool] = []  # non-empty once HiGHS has printed its banner


class _Pause:
    """The solves running with automatic garbage collection paused by this module."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0


_PAUSE = _Pause()


def solve(problem: Problem, time_limit_s: float) -> Solution:
    """Build and solve the MILP for `problem`; raise SolverError if HiGHS cannot answer."""
    _quiet_pyomo_debug()
    import pyomo.environ as pyo  # heavy: imported on first plan, not at import time

    _skip_scipy_extras()

    with _garbage_freed_young():
        model = build_model(problem, pyo)
        solution = _run_highs(model, problem, time_limit_s)
        del model  # cyclic garbage from here: collected on leaving the block
    return solution


@contextlib.contextmanager
def _garbage_freed_young() -> Iterator[None]:
    """Automatic collection paused for the solve, its garbage collected at the end.

    The Pyomo model (some 10^4 objects) lives for the solve and then dies as cyclic
    garbage (Pyomo's scalar components, the model among them, hold themselves). With the
    collector running, its objects survive the young collections during the solve,
    are promoted, and every few plans bring on a full collection of the whole heap
    (tens of ms, more in a large process), at a random point of a later plan. Paused,
    they stay in the youngest generation, and one young collection here frees them
    (about 1.5 ms a plan), inside the plan's own time.

    Where the collector is already off when the first solve starts (the caller
    manages it, as Home Assistant's integration does), nothing is touched. Concurrent
    solves share the pause (a counter); the last one out re-enables and collects.
    """
    pause = _PAUSE
    with pause.lock:
        ours = pause.running > 0 or gc.isenabled()
        if ours:
            gc.disable()
            pause.running += 1
    if not ours:
        yield
        return
    try:
        yield
    finally:
        with pause.lock:
            pause.running -= 1
            last = pause.running == 0
            if last:
                gc.enable()
        if last:
            gc.collect(0)  # everything allocated during the pause is still in generation 0


def _skip_scipy_extras() -> None:
    """Pyomo hooks the first import of scipy to import scipy.stats, scipy.integrate and
    scipy.spatial as well, about half of a cold `python -m optimizer plan`; the model
    needs scipy.sparse only. Where scipy is not imported yet, that hook is dropped (its
    identity is checked, so a Pyomo without it is left alone). scipy still loads any
    submodule on first use."""
    if "scipy" in sys.modules:
        return
    from pyomo.common import dependencies

    finalize = getattr(dependencies, "_finalize_scipy", None)
    finder = getattr(dependencies, "DeferredImportCallbackFinder", None)
    waiting = getattr(finder, "_callbacks", {}).get("scipy", [])
    for indicator in waiting:  # the deferred-import indicators, not the module proxies
        if finalize is not None and getattr(indicator, "_callback", None) is finalize:
            indicator._callback = None


def _quiet_pyomo_debug() -> None:
    # Pyomo logs every component it builds at DEBUG, which makes a plan take seconds
    # in an application logging at DEBUG (Home Assistant with debug logs on). Unless
    # the application chose a level for "pyomo" itself, keep it at WARNING.
    pyomo_logger = logging.getLogger("pyomo")
    if pyomo_logger.level == logging.NOTSET:
        pyomo_logger.setLevel(logging.WARNING)


def price_level(problem: Problem) -> float:
    prices = [abs(x) for x in problem.import_price + problem.export_price]
    return max([*prices, 1e-3])


def tie_break_budget(p: Problem, power: list[float]) -> float:
    """The most real cost the tie-breaks can trade in a plan with this power.

    Each start, each charging slot and each kWh moved or stored beyond the target is
    worth a few thousandths of the price level; a plan may cost up to this much more
    than the cheapest one (e.g. forgo a tiny export to keep free PV in the battery).
    Under `grid_friendly`, the peak term adds at most its weight times the span of
    powers, widened to `cost_tolerance_pct` where the request allows it.
    """
    ref = price_level(p)
    slots = sum(1 for x in power if x > EPS)
    energy = sum(power) * p.hours
    common = START_PENALTY * slots + SLOT_PENALTY * slots + EXTRA_REWARD * energy
    if not p.request.preferences.grid_friendly:
        return ref * (common + EARLY_WEIGHT * energy)
    span = max(0.0, max([*p.ev_max, 0.0]) - gentle_kw(p))
    return ref * (common + (READY_WEIGHT + SPREAD_WEIGHT) * energy) + peak_weight(p) * span


def gentle_kw(p: Problem) -> float:
    """The lowest power spreading asks for: a quarter of the charger's maximum, at least
    its minimum."""
    return max(p.ev_min, GENTLE_SHARE * p.request.charger_max_kw)


def peak_weight(p: Problem) -> float:
    """Per kW of peak: PEAK_WEIGHT of the price level, or what `cost_tolerance_pct` of
    the needed energy at the cheapest price the car can charge at allows over the span
    of powers (a bound on the owner's cost of charging, so the tolerance is a share of
    it: the mean import price counted hours the car never uses)."""
    ref = price_level(p)
    tolerance = p.request.preferences.cost_tolerance_pct / 100
    span = max([*p.ev_max, 0.0]) - gentle_kw(p)
    if tolerance <= 0 or span <= EPS:
        return PEAK_WEIGHT * ref
    needed = max(0.0, p.target - p.energy0) / p.efficiency
    plugged = [p.import_price[t] for t in range(p.deadline) if p.ev_max[t] > EPS]
    cheapest = max(0.0, min(plugged, default=0.0))
    return max(PEAK_WEIGHT * ref, tolerance * needed * cheapest / span)


def ready_slot(p: Problem) -> int:
    """Slots before this one count towards being ready `ready_margin_minutes` early."""
    departure = p.request.vehicle.departure
    if departure is None:
        return p.deadline
    latest = departure - timedelta(minutes=p.request.preferences.ready_margin_minutes)
    latest -= p.request.slot  # the last slot that ends by then starts here
    return min(p.deadline, sum(1 for s in p.starts if s <= latest))


def spread_fraction(p: Problem) -> float:
    """A number in [0, 1) fixed by the request: `preferences.spread_key`, else the
    departure, battery and charger (stable while a night's plan is remade)."""
    key = p.request.preferences.spread_key
    if key is None:
        req = p.request
        departure = req.vehicle.departure.isoformat() if req.vehicle.departure else ""
        key = f"{departure}|{req.vehicle.battery_kwh}|{req.charger_min_kw}|{req.charger_max_kw}"
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def spread_anchor(p: Problem) -> float:
    """Where this home's charging is centred, in slots from the horizon's start.

    Among the cheapest plugged-in slots before it should be ready: the block it needs
    at the gentle power, placed by its spread fraction between the first and the last
    place it fits. That place moves as the horizon's start moves into those slots (a
    replan at 23:00 sees less of a 22:00 valley and would put a 23:00 start later each
    time), so a caller that replans pins the first plan's anchor
    (`preferences.spread_anchor`, returned as `summary.spread_anchor`).
    """
    pinned = p.request.preferences.spread_anchor
    if pinned is not None:
        at = (pinned - p.starts[0]) / p.request.slot
        return min(float(p.n), max(0.0, at))  # beyond the horizon, its nearer end
    ready = ready_slot(p) or p.deadline
    plugged = [t for t in range(ready) if p.ev_max[t] > EPS and p.ev_max[t] >= p.ev_min - EPS]
    if not plugged:
        return 0.0
    lowest = min(p.import_price[t] for t in plugged)
    cheap = [t for t in plugged if p.import_price[t] <= lowest + EPS]
    lo, hi = cheap[0], cheap[-1] + 1
    block = max(0.0, p.target - p.energy0) / (p.efficiency * p.hours * max(gentle_kw(p), EPS))
    block = min(block, hi - lo)
    return lo + block / 2 + spread_fraction(p) * (hi - lo - block)


def paid_cover(
    p: Problem, can: list[int], free_slots: list[int], switched: set[int]
) -> tuple[list[int], int] | None:
    """Grid-friendly: the paid slots (grid-only, a price above 0, before the deadline,
    under the peak) and k, the most of them a plan charges in: the needed kWh fill at
    most k slots at the charger's minimum. None where that rule could cost the owner.

    More than k paid slots store more than the target from the grid. Where every slot
    the car can charge in before the deadline, forced ones aside, is paid, the paid
    slots are alike (one maximum power, no other limit below it) and k of them can take
    the need, dropping the dearest of those slots and moving its kWh into the others
    meets the target at no more cost; so the rule costs nothing. (With a slot of PV or
    of a price at or below 0 beside them, the kWh dropped could go there at another
    price: no rule then.) It keeps a plan from
    buying energy beyond the target to lower its peak, and it is what lets HiGHS bound
    the peak: with at most k slots, sum(p) <= k x peak, which the slot-by-slot rows
    cannot say (their relaxation spreads a fraction of a slot's power thinly, and the
    proof of the peak took HiGHS to its time limit: 6 kWh on a 4.14-11.04 kW charger in
    an 8-hour valley, 10 s; 50 ms with these rows).
    """
    needed = p.target - p.energy0
    if needed <= EPS or p.ev_min <= EPS or any(p.ev_max[t] > EPS for t in range(p.deadline, p.n)):
        return None
    paid = [
        t
        for t in free_slots
        if t in switched and t < p.deadline and p.pv[t] <= p.base[t] + EPS and p.import_price[t] > 0
    ]
    if not paid:
        return None
    # Any other slot the car may charge in (PV, a price of 0 or below, under the peak's
    # gentle power) could take the kWh dropped from a paid slot at another price.
    chargeable = [t for t in can if t < p.deadline and p.floor[t] <= EPS]
    if len(chargeable) != len(paid):
        return None
    most = p.ev_max[paid[0]]
    if any(abs(p.ev_max[t] - most) > EPS or p.headroom(t) < most - EPS for t in paid):
        return None
    per_slot = p.efficiency * p.hours
    k = math.floor(needed / (p.ev_min * per_slot) + 1e-9)
    if k < 1 or k >= len(paid) or k * most * per_slot < needed - EPS:
        return None
    return paid, k


def never_worth_it(p: Problem) -> set[int]:
    """Plugged-in slots no optimal plan charges in: their switch is fixed off.

    Only grid-only slots (no PV surplus, nothing forced) are considered, against
    `cheap` ones: grid-only, plugged in before the deadline, nothing forced, each
    able to take the charger's most. A plan stores at least the minimum power's kWh
    in each slot it charges, and an optimal one at most the target from the grid
    where every grid-only price is above what the tie-breaks are worth per kWh (else
    the battery's room, plus the one slot allowed past full), so it charges in at
    most `most` of them. If `cheap` has more than that many slots, any plan charging
    in slot t leaves one of them idle; moving t's power there keeps every row (same
    kWh, by the deadline, under the import limit and the peak) and changes the
    tie-breaks by at most two starts and each per-kWh weight once. Where t's price is
    above the (most + 1)-th cheapest by more than that is worth per kWh at the minimum
    power, the move is strictly cheaper, so no optimal plan charges in t. HiGHS would
    find most of these by reduced costs after its first root solve and then restart;
    this saves that first round.
    """
    if p.ev_min <= EPS:
        return set()
    h, ref = p.hours, price_level(p)
    grid_only = [
        t
        for t in range(p.n)
        if p.ev_max[t] > EPS
        and p.ev_max[t] >= p.ev_min - EPS
        and p.floor[t] <= EPS
        and p.pv[t] <= p.base[t] + EPS
    ]
    most_kw = max(p.ev_max)
    cheap = sorted(
        p.import_price[t] for t in grid_only if t < p.deadline and p.headroom(t) >= most_kw - EPS
    )
    slot_kwh = p.ev_min * p.efficiency * h  # the least a charging slot stores
    weights = SPREAD_WEIGHT + READY_WEIGHT + EARLY_WEIGHT + CURTAIL_PENALTY
    margin = 2 * START_PENALTY * ref / slot_kwh + weights * ref + 1e-6  # per kWh
    if all(p.import_price[t] > margin for t in grid_only):
        # Grid energy beyond the target costs more than any tie-break it could buy (a
        # start saved, being ready earlier), so an optimal plan stores at most the
        # target from the grid (one slot at the least).
        stored = max(p.target - p.energy0, slot_kwh)
    else:  # paid to import: a plan may fill the battery
        room = p.capacity - p.energy0
        stored = room + max(0.0, (p.target - p.energy0) + slot_kwh - room)
    most = math.floor(stored / slot_kwh + 1e-9)
    if len(cheap) <= most:
        return set()
    threshold = cheap[most] + margin
    return {t for t in grid_only if p.import_price[t] > threshold}


def worthless_pv(p: Problem, t: int) -> float:
    """kW of PV surplus in slot t that earns nothing whatever the car does."""
    surplus = p.pv[t] - p.base[t]
    exportable = p.export_cap if p.export_price[t] > 0 else 0.0
    return max(0.0, surplus - exportable)


def build_model(p: Problem, pyo: Any) -> Any:
    """The MILP in Pyomo. Rows and the objective are written as linear expressions from
    coefficient lists (`lin`) over variables indexed once, rather than grown term by
    term with Pyomo's operators: the same model, built and compiled in about two thirds
    of the CPU time (bench/plan_bench.py's `same_milp` checks the matrix HiGHS gets)."""
    from pyomo.core.expr.numeric_expr import LinearExpression

    def lin(coefs: list[float], variables: list[Any], constant: float = 0.0) -> Any:
        return LinearExpression(constant=constant, linear_coefs=coefs, linear_vars=variables)

    n, h, eff = p.n, p.hours, p.efficiency
    ref = price_level(p)
    m = pyo.ConcreteModel("evflex_charging")
    T = range(n)
    idle = never_worth_it(p)
    can = [t for t in T if p.ev_max[t] > EPS and p.ev_max[t] >= p.ev_min - EPS and t not in idle]
    is_can = set(can)
    # Index sets are handed to Pyomo as SetOf views of the Python lists: each component
    # would otherwise copy its list into a new ordered Set of its own (about a tenth of
    # the build), and the order, so the matrix, is the same.
    slots = pyo.SetOf(T)

    def bounded(var: Any, bounds: Iterator[tuple[float, float | None]]) -> list[Any]:
        # Bounds set on each variable once built: a per-index bounds rule costs Pyomo
        # about twice as much per variable. The variables, in index order.
        out = list(var.values())
        for v, (lo, hi) in zip(out, bounds, strict=True):
            v.setlb(lo)
            v.setub(hi)
        return out

    m.p = pyo.Var(slots)
    P = bounded(m.p, ((p.floor[t], p.ev_max[t] if t in is_can else p.floor[t]) for t in T))
    # Where importing pays more than using or exporting PV, the site would import while
    # it exports (export price above import price) or curtails (negative import price).
    # A real site does neither: its PV serves the house, then the car, and only the rest
    # (the surplus left) is exported or curtailed. So a slot imports only once the car
    # takes more than the surplus, and exports or curtails only what the car leaves of
    # it; elsewhere importing to export (or to curtail) at a loss is never chosen.
    # Every bound below is that surplus, not the PV: in a slot whose house takes all the
    # PV nothing is exported or curtailed, and in one whose surplus covers the car's
    # most nothing is imported, with no switch either way. Only a slot in between, where
    # the surplus is above 0 and below the car's most and the import price is negative
    # or below the export price, needs its switch `importing`.
    surplus = [p.pv[t] - p.base[t] for t in T]
    spare = [max(0.0, x) for x in surplus]
    car_max = [max(p.ev_max[t], p.floor[t]) for t in T]
    export_pays = {t for t in T if p.export_price[t] > p.import_price[t] + EPS}
    import_pays = {t for t in T if p.import_price[t] < -EPS}
    pays = export_pays | import_pays
    never_imports = {t for t in pays if surplus[t] > EPS and surplus[t] >= car_max[t] - EPS}
    switched_grid = sorted(t for t in pays if EPS < surplus[t] < car_max[t] - EPS)

    def import_bounds(t: int) -> tuple[float, float | None]:
        if t in never_imports:
            return (0.0, 0.0)
        return (0.0, None if p.import_cap[t] == INF else p.import_cap[t])

    m.imp = pyo.Var(slots)
    imp = bounded(m.imp, (import_bounds(t) for t in T))
    m.exp = pyo.Var(slots)
    exp = bounded(m.exp, ((0, min(p.export_cap, spare[t])) for t in T))
    m.cut = pyo.Var(slots)
    cut = bounded(m.cut, ((0, spare[t]) for t in T))
    m.short = pyo.Var(bounds=(0, None))
    m.balance = pyo.Constraint(  # imp - exp = base + p - pv + cut
        slots,
        rule=lambda _, t: (
            lin([1.0, -1.0, -1.0, -1.0], [imp[t], exp[t], P[t], cut[t]]) == p.base[t] - p.pv[t]
        ),
    )

    switched = [t for t in can if p.ev_min > EPS and p.floor[t] < p.ev_min - EPS]
    switches = pyo.SetOf(switched)
    m.on = pyo.Var(switches, domain=pyo.Binary)
    m.start = pyo.Var(switches, bounds=(0, 1))
    on, start = dict(m.on.items()), dict(m.start.items())
    m.p_max = pyo.Constraint(  # p <= max * on
        switches, rule=lambda _, t: lin([1.0, -p.ev_max[t]], [P[t], on[t]]) <= 0.0
    )
    m.p_min = pyo.Constraint(  # p >= min * on
        switches, rule=lambda _, t: lin([p.ev_min, -1.0], [on[t], P[t]]) <= 0.0
    )

    def started(_: Any, t: int) -> Any:  # start[t] >= on[t] - on[t - 1]
        before = t - 1
        if before in on:
            return lin([1.0, -1.0, -1.0], [on[t], on[before], start[t]]) <= 0.0
        if before >= 0 and p.floor[before] > EPS:
            return pyo.Constraint.Skip  # already charging: continuing is no new start
        return lin([1.0, -1.0], [on[t], start[t]]) <= 0.0

    m.started = pyo.Constraint(switches, rule=started)

    grid_switches = pyo.SetOf(switched_grid)
    m.importing = pyo.Var(grid_switches, domain=pyo.Binary)
    importing = dict(m.importing.items())
    m.no_imp = pyo.Constraint(  # imp <= (car's most - surplus) * importing
        grid_switches,
        rule=lambda _, t: lin([1.0, -(car_max[t] - surplus[t])], [imp[t], importing[t]]) <= 0.0,
    )

    def no_exp(_: Any, t: int) -> Any:  # exp <= min(export limit, surplus) * (1 - importing)
        most = min(p.export_cap, surplus[t])
        return lin([1.0, most], [exp[t], importing[t]]) <= most

    m.no_exp = pyo.Constraint(pyo.SetOf(sorted(export_pays & set(switched_grid))), rule=no_exp)
    m.no_cut = pyo.Constraint(  # cut <= surplus * (1 - importing)
        pyo.SetOf(sorted(import_pays & set(switched_grid))),
        rule=lambda _, t: lin([1.0, surplus[t]], [cut[t], importing[t]]) <= surplus[t],
    )
    # Valid inequalities that tighten the relaxation: importing means the car draws at
    # least the PV surplus; exporting (or curtailing) means at most that surplus.
    tight = [t for t in switched_grid if surplus[t] < p.ev_max[t]]
    tight_set = pyo.SetOf(tight)
    m.above_surplus = pyo.Constraint(  # p >= surplus * importing
        tight_set, rule=lambda _, t: lin([surplus[t], -1.0], [importing[t], P[t]]) <= 0.0
    )
    m.below_surplus = pyo.Constraint(  # p <= surplus + (max - surplus) * importing
        tight_set,
        rule=lambda _, t: (
            lin([1.0, -(p.ev_max[t] - surplus[t])], [P[t], importing[t]]) <= surplus[t]
        ),
    )
    # Where the charger switches too, a slot is in one of three states: off, charging
    # from the surplus only (between the minimum and the surplus), or importing (from the
    # surplus up to the maximum). Three more valid rows describe that union more tightly
    # for the relaxation (the integer plans are the same): importing only while on,
    # p >= minimum * on + (surplus - minimum) * importing, and
    # p <= surplus * on + (maximum - surplus) * importing.
    both = [t for t in tight if t in on]
    both_set = pyo.SetOf(both)
    m.import_needs_on = pyo.Constraint(
        both_set, rule=lambda _, t: lin([1.0, -1.0], [importing[t], on[t]]) <= 0.0
    )

    def import_above(_: Any, t: int) -> Any:
        coefs = [p.ev_min, surplus[t] - p.ev_min, -1.0]
        return lin(coefs, [on[t], importing[t], P[t]]) <= 0.0

    m.import_above = pyo.Constraint(
        pyo.SetOf([t for t in both if surplus[t] > p.ev_min]), rule=import_above
    )

    def export_below(_: Any, t: int) -> Any:
        coefs = [1.0, -surplus[t], -(p.ev_max[t] - surplus[t])]
        return lin(coefs, [P[t], on[t], importing[t]]) <= 0.0

    m.export_below = pyo.Constraint(both_set, rule=export_below)

    every = [eff * h] * n  # kWh stored per kW of each slot
    # The car stops drawing when full, so the slot that fills it may be planned at the
    # charger's minimum although only part of it fits (the response clips that slot).
    # Allowed only where the target needs it: a target within one minimum-power slot of
    # full; elsewhere the model could plan energy that is never drawn.
    # The part planned beyond full (`unused`) is never drawn; it pays back the best price
    # it could have earned, so planning it never looks profitable.
    room = p.capacity - p.energy0
    overshoot = max(0.0, (p.target - p.energy0) + p.ev_min * eff * h - room)
    m.unused = pyo.Var(bounds=(0, overshoot))
    m.full = pyo.Constraint(expr=lin([*every, -1.0], [*P, m.unused]) <= room)
    unused_price = max(0.0, -min(p.import_price)) / eff + CURTAIL_PENALTY * ref
    needed = p.target - p.energy0
    if needed > EPS:  # stored by the deadline + short >= needed
        m.target = pyo.Constraint(
            expr=lin([*every[: p.deadline], 1.0], [*P[: p.deadline], m.short]) >= needed
        )
    # Beyond the target the car may only take PV that is worth nothing: surplus that
    # could not be exported (above the export limit) or would be exported at a price <= 0.
    free = {t: worthless_pv(p, t) for t in can}
    use = [t for t, kw in free.items() if kw > EPS]
    free_set = pyo.SetOf(use)
    m.free = pyo.Var(free_set)
    free_kw = bounded(m.free, ((0, free[t]) for t in use))
    m.free_is_charged = pyo.Constraint(  # free <= p
        free_set, rule=lambda _, t: lin([1.0, -1.0], [m.free[t], P[t]]) <= 0.0
    )
    m.extra = pyo.Var(bounds=(0, None))  # kWh stored beyond the target, all of it free
    m.beyond = pyo.Constraint(  # extra <= stored + short - needed
        expr=lin([1.0, *(-x for x in every), -1.0], [m.extra, *P, m.short]) <= -max(needed, 0.0)
    )
    m.extra_is_free = pyo.Constraint(  # extra <= stored free PV
        expr=lin([1.0, *([-eff * h] * len(use))], [m.extra, *free_kw]) <= 0.0
    )

    # The objective, its variables in the order HiGHS has always been given them.
    coefs: list[float] = []
    variables: list[Any] = []
    for t in T:
        coefs += [h * p.import_price[t], -h * p.export_price[t]]
        variables += [imp[t], exp[t]]
    coefs += [100 * ref / eff + 1.0, -EXTRA_REWARD * ref, unused_price]  # shortfall first
    variables += [m.short, m.extra, m.unused]
    coefs += [START_PENALTY * ref] * len(switched)
    variables += [start[t] for t in switched]
    _preference(p, m, pyo, lin, can, switched, needed, coefs, variables)
    coefs += [CURTAIL_PENALTY * ref * h] * n
    variables += cut
    m.cost = pyo.Objective(expr=lin(coefs, variables), sense=pyo.minimize)
    return m


def _preference(
    p: Problem,
    m: Any,
    pyo: Any,
    lin: Any,
    can: list[int],
    switched: list[int],
    needed: float,
    coefs: list[float],
    variables: list[Any],
) -> None:
    """The owner's preference among plans of equal cost: its variables and rows, and
    its objective terms appended to `coefs` and `variables`."""
    n, h, eff, ref = p.n, p.hours, p.efficiency, price_level(p)
    P, on = list(m.p.values()), dict(m.on.items())
    if not p.request.preferences.grid_friendly:
        coefs += [SLOT_PENALTY * ref] * len(switched)
        variables += [on[t] for t in switched]
        coefs += [EARLY_WEIGHT * ref * (t + 1) / n * h for t in range(n)]
        variables += P
        return
    # The peak of what the EV draws from the grid (PV surplus taken does not load it),
    # over the slots the plan chooses (a forced minimum-SoC slot is not chosen).
    gentle = gentle_kw(p)
    surplus = [max(0.0, p.pv[t] - p.base[t]) for t in range(n)]
    free_slots = [t for t in can if p.floor[t] <= EPS and p.ev_max[t] > surplus[t] + gentle]
    top = max([p.ev_max[t] - surplus[t] for t in free_slots] + [gentle])
    m.peak = pyo.Var(bounds=(gentle, top))
    # p <= peak * on, linearised at peak's lower bound (McCormick): an idle slot leaves
    # p <= peak - gentle, so the relaxation cannot spread a fraction of a slot's power
    # thinly under a low peak; that keeps HiGHS's bound close to the integer optimum.

    def under_peak(_: Any, t: int) -> Any:  # p <= peak + surplus - gentle * (1 - on)
        if t in on:
            return lin([1.0, -1.0, -gentle], [P[t], m.peak, on[t]]) <= surplus[t] - gentle
        return lin([1.0, -1.0], [P[t], m.peak]) <= surplus[t]

    m.under_peak = pyo.Constraint(pyo.SetOf(free_slots), rule=under_peak)
    cover = paid_cover(p, can, free_slots, set(on))
    if cover is not None:  # at most k paid slots, so their power is at most k x peak
        paid, k = cover
        m.paid_slots = pyo.Constraint(expr=lin([1.0] * len(paid), [on[t] for t in paid]) <= k)
        m.paid_peak = pyo.Constraint(
            expr=lin([*([1.0] * len(paid)), -float(k)], [*(P[t] for t in paid), m.peak]) <= 0
        )
    coefs.append(peak_weight(p))
    variables.append(m.peak)
    ready = ready_slot(p)
    if needed > EPS and 0 < ready < p.deadline:
        m.late = pyo.Var(bounds=(0, needed))
        m.ready = pyo.Constraint(  # stored by the ready slot + late >= needed
            expr=lin([*([eff * h] * ready), 1.0], [*P[:ready], m.late]) >= needed
        )
        coefs.append(READY_WEIGHT * ref)
        variables.append(m.late)
    anchor = spread_anchor(p)
    coefs += [SLOT_HOUR_PENALTY * ref * h] * len(switched)
    variables += [on[t] for t in switched]
    grid_slots = [t for t in can if surplus[t] <= EPS]  # where charging means importing
    coefs += [SPREAD_WEIGHT * ref * abs(t + 0.5 - anchor) / n * h for t in grid_slots]
    variables += [P[t] for t in grid_slots]


def _run_highs(model: Any, problem: Problem, time_limit_s: float) -> Solution:
    import highspy
    import numpy as np

    form = _compiler().write(model, mixed_form=True)
    columns = form.columns
    a = form.A.tocsc()
    inf = highspy.kHighsInf
    # One pass over the columns: bounds (None is nan as a float, then infinite) and
    # domains; each is a Python property, so they are read once per column.
    bounds = np.array([v.bounds for v in columns], dtype=np.float64).reshape(-1, 2)
    lower = np.where(np.isnan(bounds[:, 0]), -inf, bounds[:, 0])
    upper = np.where(np.isnan(bounds[:, 1]), inf, bounds[:, 1])
    rhs = np.asarray(form.rhs, dtype=np.float64)
    sense = np.fromiter((s for _, s in form.rows), dtype=np.int8, count=len(form.rows))
    row_lo = np.where(sense <= 0, rhs, -inf)  # mixed form: 1 is <=, -1 is >=, 0 is ==
    row_hi = np.where(sense >= 0, rhs, inf)
    cost = np.asarray(form.c.todense()).ravel()

    lp = highspy.HighsLp()
    lp.num_col_ = len(columns)
    lp.num_row_ = len(rhs)
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = row_lo
    lp.row_upper_ = row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    kinds = highspy.HighsVarType
    real = _reals()
    lp.integrality_ = [
        kinds.kContinuous
        if v.domain is real or not (v.is_integer() or v.is_binary())
        else kinds.kInteger
        for v in columns
    ]

    highs = _highs()
    set_options(highs, time_limit_s, abs_gap=peak_gap(problem))
    highs.passModel(lp)
    run_status = highs.run()
    status = highs.getModelStatus()
    info = highs.getInfo()
    solution = highs.getSolution()
    if run_status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS: {_error_reason(highs)}")
    if info.primal_solution_status != 2 or not solution.value_valid:  # 2: feasible
        raise SolverError(f"HiGHS: {highs.modelStatusToString(status)}")
    position = {id(v): i for i, v in enumerate(columns)}
    x = solution.col_value
    power = []
    for var in model.p.values():  # a column the compiler dropped is fixed at its bound
        i = position.get(id(var))
        power.append(_clean(x[i] if i is not None else var.lb or 0.0))
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = 0.0 if optimal else info.mip_gap
    return Solution(
        power=power, objective=info.objective_function_value, mip_gap=gap, optimal=optimal
    )


def peak_gap(p: Problem) -> float:
    """The absolute MIP gap: what PEAK_GAP_KW of EV peak is worth under `grid_friendly`
    (a plan HiGHS stops at has at most that much more peak than the best), else tight;
    never half a start's weight or more, so a widened peak weight (`cost_tolerance_pct`)
    cannot let HiGHS stop at a plan with a start too many."""
    if not p.request.preferences.grid_friendly:
        return MIP_ABS_GAP
    ceiling = 0.5 * START_PENALTY * price_level(p)
    return max(MIP_ABS_GAP, min(PEAK_GAP_KW * peak_weight(p), ceiling))


def _error_reason(highs: Any) -> str:
    """Why HiGHS's run() failed, in its own words: the model is run once more with its
    log captured (only on this path: HiGHS's log stays off for every plan that works)."""
    lines: list[str] = []

    def keep(event: Any) -> None:
        text = str(event.message).strip()
        if text.startswith(("ERROR", "WARNING")):
            lines.append(text)

    highs.setOptionValue("output_flag", True)
    highs.setOptionValue("log_to_console", False)
    highs.cbLogging.subscribe(keep)
    try:
        highs.run()
    finally:
        highs.cbLogging.unsubscribe(keep)
        highs.setOptionValue("output_flag", False)
    errors = [line for line in lines if line.startswith("ERROR")] or lines
    if not errors:
        return str(highs.modelStatusToString(highs.getModelStatus()))
    return " ".join(" ".join(line.split()) for line in errors)


def _compiler() -> Any:
    """Pyomo's standard-form compiler, given scipy.sparse directly.

    Left to itself the compiler reaches scipy through Pyomo's deferred import, whose
    first use imports scipy.stats, scipy.integrate and scipy.spatial too: most of a
    cold `python -m optimizer plan`. The compiler's matrix hooks are class attributes
    meant to be set (pyomo.repn.plugins.standard_form); only scipy.sparse is needed.
    """
    import numpy as np
    import scipy.sparse  # type: ignore[import-untyped]
    from pyomo.repn.plugins import standard_form

    impl = getattr(standard_form, "_LinearStandardFormCompiler_impl", None)
    if impl is not None and getattr(impl, "_to_vector", None) is None:
        impl._to_vector = np.fromiter
        impl._csc_matrix = scipy.sparse.csc_array
        impl._csr_matrix = scipy.sparse.csr_array
    return standard_form.LinearStandardFormCompiler()


def set_options(
    highs: Any, time_limit_s: float, rel_gap: float = MIP_REL_GAP, abs_gap: float = MIP_ABS_GAP
) -> None:
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("mip_rel_gap", rel_gap)
    highs.setOptionValue("mip_abs_gap", abs_gap)
    # The RINS/RENS sub-MIP heuristics spent most of the time on plans with negative
    # prices and PV (bench/plan_bench.py: 1.3 s -> 0.4 s), and never found better plans.
    highs.setOptionValue("mip_heuristic_run_rins", False)
    highs.setOptionValue("mip_heuristic_run_rens", False)
    # HiGHS restarts its root (presolve again, cuts again) once reduced costs fix a
    # tenth of the binaries. On the plans with PV feed-in above the import price the
    # second and third roots were most of the time (bench/plan_bench.py: the fixed
    # feed-in request 229 -> 112 ms, the Shanghai feed-in one 110 -> 69 ms, the set
    # 744 -> 618 ms of HiGHS), and branching on the first root's model finds the
    # same plans.
    highs.setOptionValue("mip_allow_restart", False)


def _reals() -> Any:
    from pyomo.core.base.set import Reals

    return Reals


def _clean(x: float) -> float:
    return 0.0 if abs(x) < 1e-6 else x


def _highs() -> Any:
    """A new HiGHS instance for each solve, created quietly (its banner goes to stdout).

    Not one reused per thread: HiGHS checks `time_limit` against an instance's total run
    time for a linear programme (no binaries: `solar_only`, a charger without a minimum),
    so a reused instance failed every such plan once its plans added up to the limit (a
    day or two of replans). A new instance costs about 0.1 ms. The last one stays
    readable as `last_highs()` (the bench reads its counters).
    """
    import highspy

    with _quiet_stdout():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    # `threads` stays at HiGHS's default: HiGHS has one scheduler per process, and an
    # instance that asks for a thread count other than the one it started with fails
    # (run() returns an error). A default instance accepts whatever scheduler exists, so
    # EVFlex works after any other HiGHS user, and leaves a default-option neighbour
    # working after it.
    _local.highs = highs
    return highs


def last_highs() -> Any:
    """This thread's most recent HiGHS instance (None before its first solve)."""
    return getattr(_local, "highs", None)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    # HiGHS prints its banner once per process, from C++, on file descriptor 1.
    with _banner_lock:
        if _banner_shown:
            yield
            return
        libc = ctypes.CDLL(None)
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
            libc.fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
            _banner_shown.append(True)
