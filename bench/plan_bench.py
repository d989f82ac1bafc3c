"""Benchmark `optimizer.plan`: speed against a raw HiGHS floor, optimality, baselines.

    .venv/bin/python -m bench.plan_bench [--quick] [--reps N] [--json]

For every request of the fixed set in `bench.requests`:
1. times `optimizer.plan(request)` in process, warm (one call first, then N
   repetitions), in wall and CPU time, and where the time goes (parse + slots,
   Pyomo model, compile + HiGHS, the model's garbage, response);
2. times the floor: the same MILP (same slot arrays from `optimizer.problem.build`,
   same variables, constraints and objective weights as `optimizer/model.py`)
   written straight against highspy's own API, model build + solve; `same_milp`
   checks, per request, that it is exactly the matrix Pyomo compiles;
3. checks optimality: the raw model in its textbook form (no tie-breaks, none of
   optimizer.model's tightenings or fixed switches), MIP gaps 0, PV curtailed only
   when the site can neither use nor export it (plan-v1's cost, as
   `optimizer.response.cost` computes it) gives the true optimum; the plan's
   `summary.cost` must be within 0.5% of it, with the same shortfall;
4. costs two baselines with `optimizer.response.cost`: charge on arrival, and
   the cheapest slots first ignoring PV and site limits;
5. reports the peak RSS.
The table goes to standard output; `--json` adds one machine-readable line at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import importlib.metadata
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bench.requests import QUICK, Case, build_requests
from optimizer import parse, plan
from optimizer.model import (
    CURTAIL_PENALTY,
    EARLY_WEIGHT,
    EXTRA_REWARD,
    MIP_ABS_GAP,
    MIP_REL_GAP,
    READY_WEIGHT,
    SLOT_HOUR_PENALTY,
    SLOT_PENALTY,
    SPREAD_WEIGHT,
    START_PENALTY,
    gentle_kw,
    never_worth_it,
    paid_cover,
    peak_gap,
    peak_weight,
    price_level,
    ready_slot,
    set_options,
    spread_anchor,
    worthless_pv,
)
from optimizer.problem import EPS, INF, Problem, build, fill
from optimizer.response import Outcome, build_response, cost, flows

DEFAULT_REPS = 7
QUICK_REPS = 3
OPT_TIME_LIMIT_S = 120.0

# Targets printed next to the figures.
TARGET_RATIO = 2.0
TARGET_P95_MS = 150.0
TARGET_GAP = 0.005

SHORTFALL_TOLERANCE_KWH = 2e-3
LIMIT_TOLERANCE_KW = 1e-4

Json = dict[str, Any]


# --- the raw HiGHS model -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawResult:
    power: list[float]
    shortfall: float
    energy_cost: float  # sum h * (import price * imp - export price * exp), the model's flows
    objective: float
    status: str
    build_s: float
    solve_s: float


@dataclass(frozen=True, slots=True)
class Columns:
    """Where the raw model's column blocks start."""

    imp: int
    exp: int
    p: int
    short: int
    names: tuple[str, ...] = ()  # Pyomo's name of each column, in order


class RawHighs:
    """HiGHS straight through highspy: a new quiet instance per solve, as `optimizer.model`
    makes one (creating it is part of the floor's time)."""

    def __init__(self) -> None:
        import highspy

        self.hs = highspy
        with quiet_stdout():
            self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)  # threads: default, as optimizer.model

    def version(self) -> str:
        return str(self.highs.version())

    def solve(
        self,
        p: Problem,
        *,
        tie_breaks: bool,
        rel_gap: float,
        time_limit_s: float,
        abs_gap: float = MIP_ABS_GAP,
        plain: bool | None = None,
    ) -> RawResult:
        """Solve the raw model; `plain` (default: without tie-breaks) is its textbook form."""
        began = time.perf_counter()
        lp, col = self.build(
            p, tie_breaks=tie_breaks, plain=not tie_breaks if plain is None else plain
        )
        built = time.perf_counter()
        highs = self.hs.Highs()
        highs.setOptionValue("output_flag", False)
        set_options(highs, time_limit_s, rel_gap, abs_gap)  # the solver settings of optimizer.model
        highs.passModel(lp)
        highs.run()
        status = highs.getModelStatus()
        info = highs.getInfo()
        solution = highs.getSolution()
        done = time.perf_counter()
        if info.primal_solution_status != 2 or not solution.value_valid:
            raise RuntimeError(f"raw HiGHS: {highs.modelStatusToString(status)}")
        x = list(solution.col_value)
        n, h = p.n, p.hours
        energy = sum(
            h * (p.import_price[t] * x[col.imp + t] - p.export_price[t] * x[col.exp + t])
            for t in range(n)
        )
        return RawResult(
            power=[0.0 if abs(v) < 1e-6 else v for v in x[col.p : col.p + n]],
            shortfall=x[col.short],
            energy_cost=energy,
            objective=info.objective_function_value,
            status=highs.modelStatusToString(status),
            build_s=built - began,
            solve_s=done - built,
        )

    def build(self, p: Problem, *, tie_breaks: bool, plain: bool = False) -> tuple[Any, Columns]:
        """The MILP of `optimizer/model.py`, column by column, row by row.

        Columns and rows come in the order Pyomo's standard-form compiler gives
        them for optimizer.model (columns as they first appear in the objective,
        then in the rows; `same_milp` checks it), so HiGHS sees the same matrix and
        does the same work: imp[t], exp[t], short, extra (kWh stored beyond the
        target), unused (planned beyond a full battery), start[k], peak and late
        (grid_friendly), on[k] (the switched slots), p[t], cut[t], importing[k]
        (the grid switches), free[k] (worthless PV taken by the car). Without
        `tie_breaks` the objective is the energy cost, the shortfall penalty and
        the price of `unused` only.

        PV is curtailed only when the site can neither use nor export it, and the
        site never imports while it exports or curtails (plan-v1, and
        `optimizer.response.flows`). As optimizer.model: exports and curtailment
        bounded by the PV surplus (PV - house), no import where that surplus covers
        the car's most, and a binary importing[k] only where the surplus is between
        0 and the car's most and the export price beats the import price or the
        import price is negative, with big-M coefficients from the surplus. `plain`
        (the optimum's model) keeps the textbook form instead, independent of
        those tightenings: PV bounds, a binary in every such slot with PV, big-Ms
        from the house + car and the PV.
        """
        hs = self.hs
        inf = hs.kHighsInf
        n, h, eff = p.n, p.hours, p.efficiency
        ref = price_level(p)
        idle = set() if plain else never_worth_it(p)  # slots no optimal plan charges in
        can = [
            t
            for t in range(n)
            if p.ev_max[t] > EPS and p.ev_max[t] >= p.ev_min - EPS and t not in idle
        ]
        switched = [t for t in can if p.ev_min > EPS and p.floor[t] < p.ev_min - EPS]
        export_pays = {t for t in range(n) if p.export_price[t] > p.import_price[t] + EPS}
        import_pays = {t for t in range(n) if p.import_price[t] < -EPS}
        pays = export_pays | import_pays
        over = [p.pv[t] - p.base[t] for t in range(n)]  # the PV surplus, negative if none
        car_max = [max(p.ev_max[t], p.floor[t]) for t in range(n)]
        if plain:
            grid = sorted(t for t in pays if p.pv[t] > EPS)
            never_imports: set[int] = set()
            exportable, curtailable = list(p.pv), list(p.pv)
            imp_most = [p.base[t] + car_max[t] for t in range(n)]
        else:
            grid = sorted(t for t in pays if EPS < over[t] < car_max[t] - EPS)
            never_imports = {t for t in pays if over[t] > EPS and over[t] >= car_max[t] - EPS}
            exportable = [max(0.0, x) for x in over]
            curtailable = list(exportable)
            imp_most = [car_max[t] - over[t] for t in range(n)]
        free = {t: worthless_pv(p, t) for t in can}
        use = [t for t, kw in free.items() if kw > EPS]
        grid_friendly = p.request.preferences.grid_friendly
        preference = tie_breaks and grid_friendly
        needed = p.target - p.energy0
        ready = ready_slot(p)
        has_late = preference and needed > EPS and 0 < ready < p.deadline
        gentle = gentle_kw(p)
        surplus = [max(0.0, p.pv[t] - p.base[t]) for t in range(n)]
        free_slots = [t for t in can if p.floor[t] <= EPS and p.ev_max[t] > surplus[t] + gentle]

        names: list[str] = []

        def block(name: str, keys: Sequence[int] | None) -> int:
            first = len(names)
            names.extend([name] if keys is None else [f"{name}[{k}]" for k in keys])
            return first

        col_imp, col_exp = block("imp", range(n)), block("exp", range(n))
        col_short, col_extra = block("short", None), block("extra", None)
        col_unused = block("unused", None)
        col_start = block("start", switched)
        col_peak = block("peak", None) if preference else -1
        col_late = block("late", None) if has_late else -1
        col_on = block("on", switched)
        col_p, col_cut = block("p", range(n)), block("cut", range(n))
        col_importing, col_free = block("importing", grid), block("free", use)
        ncol = len(names)

        cost_c = [0.0] * ncol
        lower = [0.0] * ncol
        upper = [inf] * ncol
        integer = [False] * ncol
        export_cap = inf if p.export_cap == INF else p.export_cap
        if preference:  # the peak EV grid power over the slots the plan chooses
            lower[col_peak] = gentle
            upper[col_peak] = max([p.ev_max[t] - surplus[t] for t in free_slots] + [gentle])
            cost_c[col_peak] = peak_weight(p)
        if has_late:  # kWh still missing at departure - ready margin
            upper[col_late] = needed
            cost_c[col_late] = READY_WEIGHT * ref
        anchor = spread_anchor(p) if preference else 0.0
        is_can = set(can)
        for t in range(n):
            lower[col_p + t] = p.floor[t]
            upper[col_p + t] = p.ev_max[t] if t in is_can else p.floor[t]
            upper[col_imp + t] = inf if p.import_cap[t] == INF else p.import_cap[t]
            if t in never_imports:
                upper[col_imp + t] = 0.0
            upper[col_exp + t] = min(export_cap, exportable[t])  # exports only PV
            upper[col_cut + t] = curtailable[t]
            cost_c[col_imp + t] = h * p.import_price[t]
            cost_c[col_exp + t] = -h * p.export_price[t]
            if not tie_breaks:
                continue
            cost_c[col_cut + t] = CURTAIL_PENALTY * ref * h
            if not grid_friendly:
                cost_c[col_p + t] = EARLY_WEIGHT * ref * (t + 1) / n * h
            elif t in is_can and surplus[t] <= EPS:  # spread: where charging means importing
                cost_c[col_p + t] = SPREAD_WEIGHT * ref * abs(t + 0.5 - anchor) / n * h
        cost_c[col_short] = 100 * ref / eff + 1.0
        if tie_breaks:
            cost_c[col_extra] = -EXTRA_REWARD * ref
        room = p.capacity - p.energy0  # the slot that fills the battery, if the target needs it
        upper[col_unused] = max(0.0, (p.target - p.energy0) + p.ev_min * eff * h - room)
        cost_c[col_unused] = max(0.0, -min(p.import_price)) / eff + CURTAIL_PENALTY * ref
        for k in range(len(switched)):
            upper[col_on + k] = 1.0
            integer[col_on + k] = True
            upper[col_start + k] = 1.0
            if tie_breaks:
                cost_c[col_on + k] = (
                    SLOT_HOUR_PENALTY * ref * h if grid_friendly else SLOT_PENALTY * ref
                )
                cost_c[col_start + k] = START_PENALTY * ref
        for k, t in enumerate(use):
            upper[col_free + k] = free[t]
        for col in range(col_importing, col_importing + len(grid)):
            upper[col] = 1.0
            integer[col] = True

        starts: list[int] = [0]
        index: list[int] = []
        value: list[float] = []
        row_lo: list[float] = []
        row_hi: list[float] = []

        def row(cols: Sequence[int], vals: Sequence[float], lo: float, hi: float) -> None:
            index.extend(cols)
            value.extend(vals)
            starts.append(len(index))
            row_lo.append(lo)
            row_hi.append(hi)

        for t in range(n):  # balance: imp - exp - p - cut = base - pv
            rhs = p.base[t] - p.pv[t]
            row((col_imp + t, col_exp + t, col_p + t, col_cut + t), (1, -1, -1, -1), rhs, rhs)
        for k, t in enumerate(switched):  # p <= max * on
            row((col_p + t, col_on + k), (1.0, -p.ev_max[t]), -inf, 0.0)
        for k, t in enumerate(switched):  # p >= min * on, as Pyomo writes it: min * on - p <= 0
            row((col_p + t, col_on + k), (-1.0, p.ev_min), -inf, 0.0)
        position = {t: k for k, t in enumerate(switched)}
        for k, t in enumerate(switched):  # start-ups: on[t] - on[t - 1] - start[t] <= 0
            before = t - 1
            if before in position:
                row((col_start + k, col_on + k, col_on + position[before]), (-1, 1, -1), -inf, 0)
            elif before >= 0 and p.floor[before] > EPS:
                continue  # already charging: continuing is no new start
            else:
                row((col_start + k, col_on + k), (-1.0, 1.0), -inf, 0.0)
        for k, t in enumerate(grid):  # imp <= most * importing
            row((col_imp + t, col_importing + k), (1.0, -imp_most[t]), -inf, 0.0)
        for k, t in enumerate(grid):  # no export while importing
            if t in export_pays:
                most = p.pv[t] if plain else min(export_cap, over[t])
                row((col_exp + t, col_importing + k), (1.0, most), -inf, most)
        for k, t in enumerate(grid):  # no curtailing while importing
            if t in import_pays:
                most = p.pv[t] if plain else over[t]
                row((col_cut + t, col_importing + k), (1.0, most), -inf, most)
        # Valid inequalities: importing <=> the car takes at least the surplus.
        tight = [(k, t) for k, t in enumerate(grid) if 0 < over[t] < p.ev_max[t]]
        for k, t in tight:  # surplus * importing - p <= 0
            row((col_p + t, col_importing + k), (-1.0, over[t]), -inf, 0.0)
        for k, t in tight:
            row((col_p + t, col_importing + k), (1.0, -(p.ev_max[t] - over[t])), -inf, over[t])
        if not plain:  # where the charger switches too: the three-state rows
            both = [(k, t) for k, t in tight if t in position]
            for k, t in both:  # importing - on <= 0
                row((col_importing + k, col_on + position[t]), (1.0, -1.0), -inf, 0.0)
            for k, t in both:  # min * on + (surplus - min) * importing - p <= 0
                if over[t] > p.ev_min:
                    cols_t = (col_on + position[t], col_importing + k, col_p + t)
                    row(cols_t, (p.ev_min, over[t] - p.ev_min, -1.0), -inf, 0.0)
            for k, t in both:  # p - surplus * on - (max - surplus) * importing <= 0
                cols_t = (col_p + t, col_on + position[t], col_importing + k)
                row(cols_t, (1.0, -over[t], -(p.ev_max[t] - over[t])), -inf, 0.0)
        stored = [eff * h] * n
        row([*range(col_p, col_p + n), col_unused], [*stored, -1.0], -inf, room)
        if needed > EPS:  # the target, softened by the shortfall
            cols = [*range(col_p, col_p + p.deadline), col_short]
            row(cols, [*stored[: p.deadline], 1.0], needed, inf)
        # Beyond the target only PV worth nothing: free[k] <= p[t],
        # extra <= stored + short - max(needed, 0), extra <= eff * h * sum(free)
        for k, t in enumerate(use):
            row((col_free + k, col_p + t), (1.0, -1.0), -inf, 0.0)
        cols = [col_extra, *range(col_p, col_p + n), col_short]
        row(cols, [1.0, *(-x for x in stored), -1.0], -inf, -max(needed, 0.0))
        cols = [col_extra, *range(col_free, col_free + len(use))]
        row(cols, [1.0, *([-eff * h] * len(use))], -inf, 0.0)
        if preference:  # p <= peak + surplus, less gentle * (1 - on) where switched
            for t in free_slots:
                if t in position:
                    cols_t = (col_p + t, col_peak, col_on + position[t])
                    row(cols_t, (1.0, -1.0, -gentle), -inf, surplus[t] - gentle)
                else:
                    row((col_p + t, col_peak), (1.0, -1.0), -inf, surplus[t])
            cover = paid_cover(p, can, free_slots, set(position))
            if cover is not None:  # at most k paid slots, their power at most k x peak
                paid, k = cover
                row([col_on + position[t] for t in paid], [1.0] * len(paid), -inf, float(k))
                cols = [*(col_p + t for t in paid), col_peak]
                row(cols, [*([1.0] * len(paid)), -float(k)], -inf, 0.0)
        if has_late:  # stored by the ready slot + late >= needed
            row([*range(col_p, col_p + ready), col_late], [*stored[:ready], 1.0], needed, inf)

        import numpy as np

        lp = hs.HighsLp()
        lp.num_col_ = ncol
        lp.num_row_ = len(row_lo)
        lp.col_cost_ = np.asarray(cost_c)
        lp.col_lower_ = np.asarray(lower)
        lp.col_upper_ = np.asarray(upper)
        lp.row_lower_ = np.asarray(row_lo)
        lp.row_upper_ = np.asarray(row_hi)
        lp.a_matrix_.format_ = hs.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(value, dtype=np.float64)
        kinds = hs.HighsVarType
        lp.integrality_ = [kinds.kInteger if i else kinds.kContinuous for i in integer]
        return lp, Columns(imp=col_imp, exp=col_exp, p=col_p, short=col_short, names=tuple(names))


def same_milp(p: Problem, raw: RawHighs) -> str | None:
    """None if the raw model of `p` is exactly `optimizer.model`'s MILP as Pyomo compiles
    it (columns in the same order, same costs, bounds, integrality, rows in the same
    order with the same coefficients and bounds, to 1e-9), else the first difference."""
    import numpy as np
    import pyomo.environ as pyo

    from optimizer.model import _compiler, build_model

    model = build_model(p, pyo)  # kept: its variables' names need it
    form = _compiler().write(model, mixed_form=True)
    lp, col = raw.build(p, tie_breaks=True)
    names = [v.name for v in form.columns]
    if names != list(col.names):
        extra = sorted(set(col.names) - set(names))[:3]
        missing = sorted(set(names) - set(col.names))[:3]
        return f"columns differ (raw only {extra}, model only {missing}, or their order)"
    inf = raw.hs.kHighsInf

    def bound(x: float | None, default: float) -> float:
        return default if x is None else float(x)

    lower = [bound(v.lb, -inf) for v in form.columns]
    upper = [bound(v.ub, inf) for v in form.columns]
    cost = np.asarray(form.c.todense()).ravel()
    integer = [v.is_integer() or v.is_binary() for v in form.columns]
    raw_integer = [kind == raw.hs.HighsVarType.kInteger for kind in lp.integrality_]
    for label, ours, theirs in (
        ("cost", cost, lp.col_cost_),
        ("lower bound", lower, lp.col_lower_),
        ("upper bound", upper, lp.col_upper_),
    ):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if not _close(float(a), float(b)):
                return f"{label} of {names[i]}: model {a!r}, raw {b!r}"
    if integer != raw_integer:
        return "integrality differs"
    if len(form.rows) != lp.num_row_:
        return f"{len(form.rows)} rows in the model, {lp.num_row_} in the raw one"
    a_rows = form.A.tocsr()
    starts, index, value = lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_
    for i, (con, sense) in enumerate(form.rows):
        lo = -inf if sense > 0 else float(form.rhs[i])  # mixed form: 1 <=, -1 >=, 0 ==
        hi = inf if sense < 0 else float(form.rhs[i])
        ours_row = {
            int(j): float(x)
            for j, x in zip(
                a_rows.indices[a_rows.indptr[i] : a_rows.indptr[i + 1]],
                a_rows.data[a_rows.indptr[i] : a_rows.indptr[i + 1]],
                strict=True,
            )
            if x != 0
        }
        first, last = starts[i], starts[i + 1]
        theirs_row = {
            int(j): float(x)
            for j, x in zip(index[first:last], value[first:last], strict=True)
            if x != 0
        }
        raw_lo, raw_hi = float(lp.row_lower_[i]), float(lp.row_upper_[i])
        if not (_close(lo, raw_lo) and _close(hi, raw_hi)):
            return f"row {i} ({con.name}): bounds [{lo}, {hi}] vs [{raw_lo}, {raw_hi}]"
        if ours_row.keys() != theirs_row.keys() or not all(
            _close(x, theirs_row[j]) for j, x in ours_row.items()
        ):
            return f"row {i} ({con.name}): coefficients differ"
    return None


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null (HiGHS prints its banner there, from C++)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
        ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


# --- baselines -----------------------------------------------------------------


def needed_energy(p: Problem) -> float:
    return max(0.0, p.target - p.energy0)


def charge_on_arrival(p: Problem) -> list[float]:
    """Full available power from the first plugged-in slot until the target."""
    return fill(p, needed_energy(p), range(p.deadline))


def cheapest_slots(p: Problem) -> list[float]:
    """The cheapest plugged-in slots by import price, at the charger's maximum,
    ignoring PV, the site limits and the signals."""
    req = p.request
    veh = req.vehicle
    plugged_from = veh.arrival or req.start
    plugged = [
        t
        for t in range(p.deadline)
        if p.starts[t] >= plugged_from
        and (veh.departure is None or p.starts[t] + req.slot <= veh.departure)
    ]
    power = [0.0] * p.n
    eff_h = p.efficiency * p.hours
    left = min(needed_energy(p), p.capacity - p.energy0)  # kWh into the battery
    previous: int | None = None
    for t in sorted(plugged, key=lambda t: (p.import_price[t], t)):
        if left <= EPS:
            break
        kw = min(req.charger_max_kw, left / eff_h)
        if kw < p.ev_min - EPS:
            # The rest is below the charger's minimum: run at the minimum here and that
            # much less in the previous slot, so the target is met exactly.
            if previous is None or power[previous] - (p.ev_min - kw) < p.ev_min - EPS:
                break
            power[previous] -= p.ev_min - kw
            power[t] = p.ev_min
        else:
            power[t] = kw
        left -= kw * eff_h
        previous = t
    return power


def limit_breaches(p: Problem, power: list[float]) -> int:
    """Slots where `power` breaks the site import bound or the EV bound."""
    return sum(
        1
        for t, kw in enumerate(power)
        if p.base[t] + kw - p.pv[t] > p.import_cap[t] + LIMIT_TOLERANCE_KW
        or kw > p.ev_max[t] + LIMIT_TOLERANCE_KW
    )


def delivered_by_deadline(p: Problem, power: list[float]) -> float:
    stored = sum(power[: p.deadline]) * p.efficiency * p.hours
    return min(p.capacity, p.energy0 + stored) - p.energy0


def plan_breaches(p: Problem, power: list[float]) -> list[str]:
    """Every rule of plan-v1 the plan's power breaks (should be none)."""
    out = []
    for t, kw in enumerate(power):
        if kw > EPS and kw < p.ev_min - LIMIT_TOLERANCE_KW and kw > p.floor[t] + EPS:
            out.append(f"slot {t}: {kw:.3f} kW below the charger minimum")
        if kw > max(p.ev_max[t], p.floor[t]) + LIMIT_TOLERANCE_KW:
            out.append(f"slot {t}: {kw:.3f} kW above the EV bound {p.ev_max[t]:.3f}")
        f = flows(p, t, kw)
        if f.imp > p.import_cap[t] + LIMIT_TOLERANCE_KW:
            out.append(f"slot {t}: import {f.imp:.3f} above {p.import_cap[t]:.3f}")
    if sum(power) * p.efficiency * p.hours > p.capacity - p.energy0 + 1e-3:
        out.append("charges past a full battery")
    return out


# --- timing --------------------------------------------------------------------


def timed(
    fn: Callable[[], Any], reps: int, cpu: list[float] | None = None
) -> tuple[list[float], Any]:
    """Call once to warm up, then `reps` times; the times in ms and the last result.

    `cpu`, if given, receives each call's CPU time in ms (this process, every thread:
    HiGHS's workers included), a figure that other people's load moves far less than
    the wall time."""
    result = fn()
    times = []
    for _ in range(reps):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(1000 * (time.perf_counter() - began))
        if cpu is not None:
            cpu.append(1000 * (time.process_time() - began_cpu))
    return times, result


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def breakdown(case: Case, reps: int) -> dict[str, float] | None:
    """Median ms of each step of `plan` (parse + slots, Pyomo model, compile + HiGHS,
    collecting the model's garbage, response), through optimizer.model's internals;
    None if they have moved."""
    model = importlib.import_module("optimizer.model")
    build_model = getattr(model, "build_model", None)
    run_highs = getattr(model, "_run_highs", None)
    if build_model is None or run_highs is None:
        return None
    import pyomo.environ as pyo

    # As optimizer.model.solve: garbage collection paused for the build and the solve,
    # the model's garbage collected on leaving (timed as `collect`).
    paused = getattr(model, "_garbage_freed_young", contextlib.nullcontext)
    steps: dict[str, list[float]] = {"parse_slots": [], "pyomo_model": [], "compile_solve": []}
    steps["collect"] = []
    steps["response"] = []
    for rep in range(reps + 1):
        t0 = time.perf_counter()
        p = build(parse(case.request))
        with paused():
            t1 = time.perf_counter()
            m = build_model(p, pyo)
            t2 = time.perf_counter()
            solution = run_highs(m, p, p.request.solver_time_limit_s)
            t3 = time.perf_counter()
            del m
        t4 = time.perf_counter()
        build_response(p, Outcome(solution.power, "highs", "optimal"), 0.0)
        t5 = time.perf_counter()
        if rep:  # the first round warms up
            for key, lo, hi in (
                ("parse_slots", t0, t1),
                ("pyomo_model", t1, t2),
                ("compile_solve", t2, t3),
                ("collect", t3, t4),
                ("response", t4, t5),
            ):
                steps[key].append(1000 * (hi - lo))
    out = {key: statistics.median(values) for key, values in steps.items()}
    out["model_objective"] = float(solution.objective)
    return out


# --- one request ---------------------------------------------------------------


def bench_case(
    case: Case, raw: RawHighs, reps: int
) -> tuple[Json, list[float], list[float], list[float]]:
    problem = build(parse(case.request))
    p = problem
    plan_cpu: list[float] = []
    raw_cpu: list[float] = []
    plan_times, response = timed(lambda: plan(case.request), reps, plan_cpu)
    limit = p.request.solver_time_limit_s
    raw_rounds: list[RawResult] = []

    def raw_full() -> RawResult:
        result = raw.solve(
            p, tie_breaks=True, rel_gap=MIP_REL_GAP, abs_gap=peak_gap(p), time_limit_s=limit
        )
        raw_rounds.append(result)
        return result

    raw_times, raw_result = timed(raw_full, reps, raw_cpu)
    timed_rounds = raw_rounds[1:]
    steps = breakdown(case, reps)

    opt = raw.solve(p, tie_breaks=False, rel_gap=0.0, abs_gap=0.0, time_limit_s=OPT_TIME_LIMIT_S)
    summary = response["summary"]
    power = [float(s["ev_kw"]) for s in response["slots"]]
    plan_cost = float(summary["cost"])
    plan_energy = float(summary["energy_kwh"])
    mean_price = statistics.fmean(abs(x) for x in p.import_price)
    scale = max(abs(opt.energy_cost), 0.01 * plan_energy * mean_price, 1e-9)
    gap = (plan_cost - opt.energy_cost) / scale
    opt_short = opt.shortfall if opt.shortfall > 1e-3 else 0.0
    plan_short = float(summary["shortfall_kwh"])

    early_request = {**case.request, "preferences": {"profile": "as_early_as_possible"}}
    early_times, early = timed(lambda: plan(early_request), reps)
    early_power = [float(s["ev_kw"]) for s in early["slots"]]

    arrival = charge_on_arrival(p)
    cheap = cheapest_slots(p)
    zero = cost(p, [0.0] * p.n)
    model_objective = steps.pop("model_objective") if steps else None
    row: Json = {
        "name": case.name,
        "tariff": case.tariff,
        "currency": p.request.currency,
        "note": case.note,
        "slots": p.n,
        "binaries": _binaries(p),
        "status": response["status"],
        "solver": summary["solver"],
        "plan_ms": statistics.median(plan_times),
        "raw_ms": statistics.median(raw_times),
        "plan_cpu": plan_cpu,
        "raw_cpu": raw_cpu,
        "raw_build_ms": statistics.median(1000 * r.build_s for r in timed_rounds),
        "raw_solve_ms": statistics.median(1000 * r.solve_s for r in timed_rounds),
        "raw_status": raw_result.status,
        "steps_ms": steps,
        "model_objective": model_objective,
        "raw_objective": raw_result.objective,
        "same_milp": same_milp(p, raw),  # None: the floor is optimizer.model's MILP
        "optimality": summary["optimality"],
        "cost": plan_cost,
        "peak_kw": max(power, default=0.0),
        "early_ms": statistics.median(early_times),
        "early_cost": float(early["summary"]["cost"]),
        "early_peak_kw": max(early_power, default=0.0),
        "opt_cost": opt.energy_cost,
        "opt_cost_as_response": cost(p, opt.power),
        "opt_status": opt.status,
        "gap": gap,
        "energy_kwh": plan_energy,
        "shortfall_kwh": plan_short,
        "opt_shortfall_kwh": opt_short,
        "shortfall_equal": abs(plan_short - opt_short) <= SHORTFALL_TOLERANCE_KWH,
        "breaches": plan_breaches(p, power),
        "no_charging_cost": zero,
        "arrival_cost": cost(p, arrival),
        "cheapest_cost": cost(p, cheap),
        "cheapest_breaches": limit_breaches(p, cheap),
        "delivered_kwh": {
            "plan": delivered_by_deadline(p, power),
            "arrival": delivered_by_deadline(p, arrival),
            "cheapest": delivered_by_deadline(p, cheap),
        },
    }
    return row, plan_times, raw_times, early_times


def _binaries(p: Problem) -> int:
    can = [t for t in range(p.n) if p.ev_max[t] > EPS and p.ev_max[t] >= p.ev_min - EPS]
    switched = [t for t in can if p.ev_min > EPS and p.floor[t] < p.ev_min - EPS]
    pays = [
        t
        for t in range(p.n)
        if p.pv[t] > EPS
        and (p.export_price[t] > p.import_price[t] + EPS or p.import_price[t] < -EPS)
    ]
    return len(switched) + len(pays)


# --- the run ---------------------------------------------------------------------


def machine(raw: RawHighs) -> Json:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "nproc": affinity or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "python": sys.version.split()[0],
        "highspy": version("highspy"),
        "highs": raw.version(),
        "pyomo": version("pyomo"),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
    }


def run(quick: bool, reps: int) -> Json:
    request_set = build_requests()
    cases = [c for c in request_set.cases if c.name in QUICK] if quick else request_set.cases
    raw = RawHighs()

    began = time.perf_counter()
    plan(cases[0].request)  # the first plan in the process imports Pyomo
    first_call_ms = 1000 * (time.perf_counter() - began)

    rows: list[Json] = []
    all_plan: list[float] = []
    all_raw: list[float] = []
    all_early: list[float] = []
    for case in cases:
        row, plan_times, raw_times, early_times = bench_case(case, raw, reps)
        rows.append(row)
        all_plan.extend(plan_times)
        all_raw.extend(raw_times)
        all_early.extend(early_times)

    plan_median = statistics.median(all_plan)
    plan_cpu = [x for r in rows for x in r.pop("plan_cpu")]
    raw_cpu = [x for r in rows for x in r.pop("raw_cpu")]
    raw_median = statistics.median(all_raw)
    exceeding = [r["name"] for r in rows if r["gap"] > TARGET_GAP or r["opt_status"] != "Optimal"]
    short_mismatch = [r["name"] for r in rows if not r["shortfall_equal"]]
    max_gap = max(r["gap"] for r in rows)
    steps = [r["steps_ms"] for r in rows if r["steps_ms"]]
    step_medians = (
        {key: statistics.median(s[key] for s in steps) for key in steps[0]} if steps else {}
    )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "machine": machine(raw),
        "price_source": request_set.price_source,
        "request_set_size": len(request_set.cases),
        "quick": quick,
        "reps": reps,
        "requests": rows,
        "timing": {
            "first_plan_ms": first_call_ms,
            "plan_median_ms": plan_median,
            "plan_p95_ms": p95(all_plan),
            "plan_max_ms": max(all_plan),
            "raw_median_ms": raw_median,
            "raw_p95_ms": p95(all_raw),
            "ratio": plan_median / raw_median,
            "steps_median_ms": step_medians,
            "early_median_ms": statistics.median(all_early),
            "early_p95_ms": p95(all_early),
            "cold_cli_ms": cold_cli_ms(cases[0].request),
            "plan_cpu_median_ms": statistics.median(plan_cpu),
            "plan_cpu_p95_ms": p95(plan_cpu),
            "raw_cpu_median_ms": statistics.median(raw_cpu),
            "raw_cpu_p95_ms": p95(raw_cpu),
            "cpu_ratio": statistics.median(plan_cpu) / statistics.median(raw_cpu),
            "load_1min": os.getloadavg()[0],
        },
        "preference": preference_cost(rows),
        "optimality": {
            "max_gap": max_gap,
            "exceeding": exceeding,
            "shortfall_mismatch": short_mismatch,
            "all_within": not exceeding and not short_mismatch,
        },
        "baselines": baselines(rows),
        "memory": {"peak_rss_mb": peak_rss_mb},
        "targets": {
            "ratio": plan_median / raw_median <= TARGET_RATIO,
            "p95": p95(all_plan) < TARGET_P95_MS,
            "optimality": not exceeding and not short_mismatch,
        },
    }


def cold_cli_ms(request: Json, runs: int = 3) -> float:
    """Median wall time of `python -m optimizer plan REQUEST.json` in a fresh interpreter."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(request, f)
    times = []
    try:
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "optimizer", "plan", f.name],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            times.append(1000 * (time.perf_counter() - began))
    finally:
        os.unlink(f.name)
    return statistics.median(times)


def preference_cost(rows: list[Json]) -> Json:
    """What grid_friendly (the default) costs against as_early_as_possible (today's)."""
    extra = [r["cost"] - r["early_cost"] for r in rows]
    lower = [r for r in rows if r["peak_kw"] < r["early_peak_kw"] - 1e-3]
    return {
        "max_extra_cost": max(extra),
        "total_extra_cost": sum(extra),
        "requests_with_lower_peak": len(lower),
        "peak_sum_kw": sum(r["peak_kw"] for r in rows),
        "early_peak_sum_kw": sum(r["early_peak_kw"] for r in rows),
    }


def baselines(rows: list[Json]) -> Json:
    by_currency: dict[str, Json] = {}
    for r in rows:
        tot = by_currency.setdefault(
            r["currency"],
            {"requests": 0, "plan": 0.0, "arrival": 0.0, "cheapest": 0.0, "no_charging": 0.0},
        )
        tot["requests"] += 1
        tot["plan"] += r["cost"]
        tot["arrival"] += r["arrival_cost"]
        tot["cheapest"] += r["cheapest_cost"]
        tot["no_charging"] += r["no_charging_cost"]
    for tot in by_currency.values():
        for name in ("arrival", "cheapest"):
            tot[f"saving_vs_{name}_pct"] = _saving(tot["plan"], tot[name])
            tot[f"ev_saving_vs_{name}_pct"] = _saving(
                tot["plan"] - tot["no_charging"], tot[name] - tot["no_charging"]
            )
    # Per request, in % of the EV's own cost (site cost minus the cost without charging),
    # where that cost is positive: a % of a cost near zero or below it means nothing.
    ev_rows = [r for r in rows if r["arrival_cost"] - r["no_charging_cost"] > 1e-6]
    return {
        "by_currency": by_currency,
        "median_ev_saving_vs_arrival_pct": _median(
            _saving(r["cost"] - r["no_charging_cost"], r["arrival_cost"] - r["no_charging_cost"])
            for r in ev_rows
        ),
        "median_ev_saving_vs_cheapest_pct": _median(
            _saving(r["cost"] - r["no_charging_cost"], r["cheapest_cost"] - r["no_charging_cost"])
            for r in ev_rows
            if r["cheapest_cost"] - r["no_charging_cost"] > 1e-6
        ),
        "cheapest_breaching_requests": sum(1 for r in rows if r["cheapest_breaches"]),
    }


def _saving(plan_cost: float, baseline: float) -> float:
    """How much cheaper the plan is than the baseline, in % of the baseline's cost
    (nan where that cost is not positive: a % of an earning means nothing)."""
    return 100 * (baseline - plan_cost) / baseline if baseline > 1e-9 else float("nan")


def _median(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else float("nan")


# --- printing ----------------------------------------------------------------------


def _ok(flag: bool) -> str:
    return "OK  " if flag else "MISS"


def report(result: Json) -> None:
    m = result["machine"]
    print("EVFlex plan benchmark")
    print(
        f"machine: nproc {m['nproc']} (cpu_count {m['cpu_count']}), {m['processor']}, "
        f"{m['platform']}"
    )
    print(
        f"python {m['python']}, highspy {m['highspy']} (HiGHS {m['highs']}), pyomo {m['pyomo']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}"
    )
    print(f"day-ahead prices: {result['price_source']}")
    rows = result["requests"]
    print(
        f"requests: {len(rows)} of a set of {result['request_set_size']}, "
        f"{result['reps']} warm repetitions each (after one warm-up call)"
    )
    print()
    head = (
        f"{'request':28} {'slots':>5} {'bin':>4} {'plan ms':>8} {'raw ms':>7} {'x':>5} "
        f"{'cost':>9} {'optimum':>9} {'gap %':>7} {'short':>6} status"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        flag = ""
        if r["gap"] > TARGET_GAP or not r["shortfall_equal"]:
            flag += "  <-- gap"
        if r["breaches"]:
            flag += f"  <-- {len(r['breaches'])} limit breaches"
        ratio = r["plan_ms"] / r["raw_ms"]
        print(
            f"{r['name']:28} {r['slots']:5} {r['binaries']:4} {r['plan_ms']:8.1f} "
            f"{r['raw_ms']:7.1f} {ratio:5.1f} {r['cost']:9.3f} {r['opt_cost']:9.3f} "
            f"{100 * r['gap']:7.3f} {r['shortfall_kwh']:6.2f} {r['status']}{flag}"
        )
    t = result["timing"]
    o = result["optimality"]
    targets = result["targets"]
    print()
    print(f"first plan in the process (imports Pyomo): {t['first_plan_ms']:8.1f} ms")
    print(
        f"plan, median of all calls:                 {t['plan_median_ms']:8.1f} ms   "
        f"raw HiGHS floor {t['raw_median_ms']:.1f} ms   ratio {t['ratio']:.2f}x   "
        f"[{_ok(targets['ratio'])}] target <= {TARGET_RATIO:g}x"
    )
    print(
        f"plan, p95 of all calls:                    {t['plan_p95_ms']:8.1f} ms   "
        f"(max {t['plan_max_ms']:.1f} ms, raw p95 {t['raw_p95_ms']:.1f} ms)   "
        f"[{_ok(targets['p95'])}] target < {TARGET_P95_MS:g} ms"
    )
    print(
        f"the same in CPU time (this process, HiGHS's threads included): median "
        f"{t['plan_cpu_median_ms']:.1f} ms vs raw {t['raw_cpu_median_ms']:.1f} ms (ratio "
        f"{t['cpu_ratio']:.2f}x), p95 {t['plan_cpu_p95_ms']:.1f} ms vs raw "
        f"{t['raw_cpu_p95_ms']:.1f} ms; load average at the end {t['load_1min']:.1f} "
        f"on {m['nproc']} CPUs"
    )
    print(
        f"optimality, max gap:                       {100 * o['max_gap']:8.3f} %    "
        f"[{_ok(targets['optimality'])}] target: every plan within {100 * TARGET_GAP:g}% "
        "of the optimum, same shortfall"
    )
    if o["exceeding"]:
        print(f"  beyond {100 * TARGET_GAP:g}%: {', '.join(o['exceeding'])}")
    for r in rows:
        if r["opt_status"] != "Optimal":
            print(f"  {r['name']}: the exact optimum was not proven ({r['opt_status']})")
    if o["shortfall_mismatch"]:
        print(f"  shortfall differs from the optimum: {', '.join(o['shortfall_mismatch'])}")
    steps = t["steps_median_ms"]
    if steps:
        raw_build = statistics.median(r["raw_build_ms"] for r in rows)
        raw_solve = statistics.median(r["raw_solve_ms"] for r in rows)
        print(
            "where plan's time goes (medians over requests): "
            f"parse + slots {steps['parse_slots']:.1f} ms, Pyomo model {steps['pyomo_model']:.1f}"
            f" ms, compile + HiGHS {steps['compile_solve']:.1f} ms, "
            f"garbage {steps.get('collect', 0.0):.1f} ms, "
            f"response {steps['response']:.1f} ms; raw: build {raw_build:.2f} ms, "
            f"HiGHS {raw_solve:.1f} ms"
        )
    objective_gaps = [
        abs(r["model_objective"] - r["raw_objective"]) / max(1.0, abs(r["raw_objective"]))
        for r in rows
        if r["model_objective"] is not None
    ]
    differ = [(r["name"], r["same_milp"]) for r in rows if r["same_milp"] is not None]
    print(
        f"raw model vs optimizer.model: the same MILP (matrix, bounds, costs, order) in "
        f"{len(rows) - len(differ)} of {len(rows)} requests"
    )
    for name, text in differ:
        print(f"  {name}: {text}")
    if objective_gaps:
        print(
            "raw model vs optimizer.model, objective at the optimum: max relative difference "
            f"{max(objective_gaps):.1e} (the floor solves the same MILP)"
        )
    breaches = [(r["name"], b) for r in rows for b in r["breaches"]]
    for name, text in breaches[:10]:
        print(f"  plan breaks a limit: {name}: {text}")
    not_optimal = [r["name"] for r in rows if r["optimality"] != "optimal"]
    print(f"summary.optimality not optimal: {', '.join(not_optimal) or 'none'}")
    print(f"cold `python -m optimizer plan REQUEST.json`, wall time: {t['cold_cli_ms']:8.1f} ms")

    print()
    print("the preference: grid_friendly (default) against as_early_as_possible (today's plan)")
    head = (
        f"{'request':28} {'ms':>7} {'ms early':>8} {'cost':>9} {'early':>9} {'extra':>8} "
        f"{'peak kW':>7} {'early kW':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['name']:28} {r['plan_ms']:7.1f} {r['early_ms']:8.1f} {r['cost']:9.3f} "
            f"{r['early_cost']:9.3f} {r['cost'] - r['early_cost']:8.4f} {r['peak_kw']:7.2f} "
            f"{r['early_peak_kw']:8.2f}"
        )
    pref = result["preference"]
    print(
        f"median {t['plan_median_ms']:.1f} ms vs {t['early_median_ms']:.1f} ms early, "
        f"p95 {t['plan_p95_ms']:.1f} vs {t['early_p95_ms']:.1f} ms; extra cost: max "
        f"{pref['max_extra_cost']:.4f}, total {pref['total_extra_cost']:.4f}; lower peak in "
        f"{pref['requests_with_lower_peak']} of {len(rows)} requests, sum of peaks "
        f"{pref['peak_sum_kw']:.1f} kW vs {pref['early_peak_sum_kw']:.1f} kW"
    )

    print()
    head = (
        f"{'request':28} {'cur':3} {'EVFlex':>9} {'arrival':>9} {'cheapest':>9} {'breach':>6} "
        f"{'saved/arr':>9} {'saved/chp':>9}  delivered kWh plan/arr/chp"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        d = r["delivered_kwh"]
        print(
            f"{r['name']:28} {r['currency']:3} {r['cost']:9.3f} {r['arrival_cost']:9.3f} "
            f"{r['cheapest_cost']:9.3f} {r['cheapest_breaches']:6} "
            f"{r['arrival_cost'] - r['cost']:9.3f} {r['cheapest_cost'] - r['cost']:9.3f}  "
            f"{d['plan']:.1f}/{d['arrival']:.1f}/{d['cheapest']:.1f}"
        )
    b = result["baselines"]
    print("totals (site energy cost over the horizon, base load included):")
    for currency, tot in b["by_currency"].items():
        print(
            f"  {currency}: {tot['requests']:2} requests  EVFlex {tot['plan']:9.2f}  "
            f"arrival {tot['arrival']:9.2f}  cheapest {tot['cheapest']:9.2f}  "
            f"saving {tot['saving_vs_arrival_pct']:5.1f}% / {tot['saving_vs_cheapest_pct']:5.1f}%"
            f"  (EV's share only: {tot['ev_saving_vs_arrival_pct']:5.1f}% / "
            f"{tot['ev_saving_vs_cheapest_pct']:5.1f}%)"
        )
    print(
        "  median saving per request on the EV's own cost: "
        f"{b['median_ev_saving_vs_arrival_pct']:.1f}% vs charge on arrival, "
        f"{b['median_ev_saving_vs_cheapest_pct']:.1f}% vs cheapest slots "
        f"(which breaks a limit in {b['cheapest_breaching_requests']} requests)"
    )
    print()
    print(f"peak RSS: {result['memory']['peak_rss_mb']:.1f} MB")


def _plain_json(value: Any) -> Any:
    """`value` with NaN and infinities as null, so the line is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(item) for item in value]
    return value


def main(argv: Sequence[str] | None = None) -> Json:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help=f"{len(QUICK)} requests, {QUICK_REPS} repetitions"
    )
    parser.add_argument("--reps", type=int, default=None, help="warm repetitions per request")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    reps = args.reps if args.reps is not None else (QUICK_REPS if args.quick else DEFAULT_REPS)
    if reps < 1:
        parser.error("--reps must be at least 1")
    result = run(args.quick, reps)
    report(result)
    if args.json:
        print(json.dumps(_plain_json(result), separators=(",", ":"), allow_nan=False))
    sys.stdout.flush()
    return result


if __name__ == "__main__":
    main()
