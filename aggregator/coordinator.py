"""The coordinator: per transformer and night, one joint optimisation over every
responding home's flexibility; its result goes to the homes as plan-v1 `ev_limit`
envelopes, which each home plans within with its own `optimizer.plan()`.

The joint model (a linear programme, solved by HiGHS through scipy), per night:

- p[i, t] >= 0: EV power of responding session i in slot t, only while plugged
  in, at most its charger's maximum; its energy into the battery is its need:
  sum_t p[i, t] x 0.25 h x efficiency_i = need_i.
- The load the aggregator expects without the responders' EVs, per slot:
  f[t] = its forecast of the street (`forecast_kw`) + the silent homes' EVs
  (opted out or out of touch: they charge by their local default, and the
  aggregator counts on it).
- Objectives, in order (each stage keeps the optimum of the one before):
  1. every home's own cost: no home pays more than its cheapest plan
     (sum_t price[t] x p[i, t] x 0.25 <= c_i*, with c_i* filled cheapest slots
     first), where up to the home's PV surplus (its PV less its household load)
     a kW costs the export price it forgoes: export[t] x p + (price[t] - export[t])
     x g with g >= p - surplus, g >= 0; unless the transformer's rating less the
     margin cannot be kept
     that way: then the rating comes first and the cost is the least total;
  2. the night's peak P = max_t (f[t] + sum_i p[i, t]): P* is the joint optimum;
  3. each home's share as even as it can be, under P*: the least total variation
     sum_t |p[i, t] - p[i, t - 1]| (0 outside its window), which is at least
     twice the home's own peak: a share is a few steady powers, seldom below
     the charger's minimum. The load below P* is not filled flat: on the study's
     streets a flat fill on the forecast put more slots at the level, where the
     forecast's error lifts the real peak (docs/fleet-study.md, Method).
- The chargers' minimum power (0 or between min and max) is relaxed: the
  joint optimum is a lower bound of any plan that keeps it.

Envelopes: first each share is made chargeable (`min_power_shares`): a share below
its charger's minimum in a slot is exchanged with a home charging beside it (every
slot's total kept, `_swap_low`); what no exchange places moves into fewer slots of
its window at or above the minimum, where the expected feeder is lowest among equally cheap
slots, and a remainder too small for a slot of its own goes on top of the share's
charging slots. Home i then gets `ev_limit` = p[i, t] rounded up to 1 W (a share
at or below 1 uW, a solver's residue, is 0), and where a share with no charging
slot at all is still below its charger's minimum, the minimum (it could not
charge there otherwise; the excess over P* this allows is measured, never
hidden). A share sums to the need, so the envelope leaves the home's plan no
room but the share itself. Each home's `optimizer.plan()` then
chooses within its envelope (its own preferences, its own minimum power). A
home whose plan falls short of its need is planned once more with its own plan
plus its share of what is left below the level (the larger of P* and the rating
less the margin).

Forecast (`Coordination.forecast`): `perfect` (the street's load as it will
be), or `history`: per slot of the night, half the mean of the same slot over
the 7 nights before and half the same night a week before, from the street's
metered load (the week before the study, then the study's own nights as they
pass); the silent homes' EVs are forecast from their own metered charging on
the nights before (none on the first). The margin is what the aggregator keeps
free for the forecast's error: the plan is built on the forecast, so a forecast
error up to the margin overloads nothing whenever P* <= rating - margin.

Arrivals (`Coordination.arrivals`): `announced` (every session of the night
known at noon: one joint model per night) or `online`: the model is solved again
at every slot in which a car plugs in, over the sessions plugged in by then, for
what each still needs from that slot on (the slots before are metered: what was
drawn is drawn); with `Coordination.arrival_prior` it also holds the cars still
expected tonight (`_Night._expected`). With `Coordination.feedback` = `metered` the
model is also solved at every slot in which a car is plugged in, on the metered load
so far, with the error metered in the slot before carried into the coming slots times
decay^(k + 1) (`error_decay` when decay is None), for the peak still to come; `live`:
the same with the slot itself read at its start (`latency_min` of it at the chargers'
old power); a home whose plan draws within `REPLAN_KW` of its new share now keeps its
plan.

Needs (`Coordination.needs`): `reported` (the home's need, from its car's state of
charge) or `history`: the mean of the home's last 8 needs,
the first nights' missing ones taken as a prior, until the home plans: a home that
plans tells its car's state (as a plan-v1 request carries it), so its need is known
from then on and a guess too high holds no room at the next event; a home whose plan
within its envelope falls short says so (its plan's shortfall), and the aggregator
solves again at once.

Cost: one LP per night (a few thousand variables for a few hundred homes),
one plan per responding EV home (plus repairs); nights and transformers are
independent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from scipy.optimize import linprog  # type: ignore[import-untyped]

from aggregator.backends import Backend, Progress
from aggregator.plan_requests import session_request
from aggregator.population import (
    HOURS_PER_SLOT,
    WEEK_SLOTS,
    ArrivalPrior,
    Fleet,
    FleetError,
    Session,
)
from aggregator.regions import ChargerType
from aggregator.sources import SLOTS_PER_DAY, Array

SHORT_KWH = 0.01  # a session missing more than this is short
LIMIT_STEP_KW = 0.001  # envelopes are rounded up to 1 W
COST_TOLERANCE = 1e-7
MIN_SHARE_KW = 1e-6  # a share below this is no charging
PEAK_TOLERANCE_KW = 1e-6
HISTORY_NIGHTS = 7
REACH = 0.999  # of what a charger can deliver: the joint model's need stays feasible

NEED_HISTORY = 8  # sessions a need estimate averages over

Forecast = Literal["perfect", "history"]
FORECASTS: tuple[Forecast, ...] = ("perfect", "history")
Arrivals = Literal["announced", "online"]
ARRIVALS: tuple[Arrivals, ...] = ("announced", "online")
Needs = Literal["reported", "history"]
NEEDS: tuple[Needs, ...] = ("reported", "history")
# none: solved again only when a car plugs in; metered: also at every slot a car is plugged
# in, on the street's metered load so far with the forecast corrected by the last error seen;
# live: as metered, with the slot itself read at its start (a monitor at the transformer).
Feedback = Literal["none", "metered", "live"]
FEEDBACKS: tuple[Feedback, ...] = ("none", "metered", "live")
REPLAN_KW = 0.05  # a home whose share now is within this of its plan's power keeps its plan
STAY_WEIGHT = 4.0  # a kW moved from the share sent before weighs 4 kW of variation
ACF_LAGS = 16  # slots (4 h) of the history's error autocorrelation the decay is fitted to
SLOT_MINUTES = 15


@dataclass(frozen=True, slots=True)
class Coordination:
    forecast: Forecast = "perfect"
    margin_share: float = 0.0  # of the rating, kept free for the forecast's error
    non_response: float = 0.0  # share of homes that do not respond (`Fleet.silent`)
    # announced: every session of the night known at noon; online: known when it plugs in.
    arrivals: Arrivals = "announced"
    # reported: the home's need is known; history: estimated from its past sessions.
    needs: Needs = "reported"
    need_prior_kwh: float = 11.5  # the estimate's stand-in for sessions not yet seen
    feedback: Feedback = "none"
    # metered feedback: the error seen at slot t - 1 is expected again at t + k times
    # decay^(k + 1); None: fitted to the metered history (`error_decay`).
    decay: float | None = None
    # live feedback: minutes into a slot before the homes draw its new envelopes (the
    # monitor's reading, the aggregator's solve, the webhook and the charger's ramp).
    latency_min: float = 0.0
    # online arrivals: the region's arrivals as the aggregator knows them before a car plugs
    # in; with it the model also holds the cars still expected tonight (`_expected`).
    arrival_prior: ArrivalPrior | None = None

    def __post_init__(self) -> None:
        if self.feedback not in FEEDBACKS:
            raise FleetError(f"feedback must be one of {', '.join(FEEDBACKS)}")
        if self.decay is not None and not 0.0 <= self.decay < 1.0:
            raise FleetError("decay must be at least 0 and below 1 (per slot)")
        if not 0.0 <= self.latency_min < SLOT_MINUTES:
            raise FleetError(f"latency must be at least 0 and below {SLOT_MINUTES} minutes")
        if self.latency_min > 0 and self.feedback != "live":
            raise FleetError("latency applies to live feedback only (feedback live)")
        if self.forecast not in FORECASTS:
            raise FleetError(f"forecast must be one of {', '.join(FORECASTS)}")
        if self.arrivals not in ARRIVALS:
            raise FleetError(f"arrivals must be one of {', '.join(ARRIVALS)}")
        if self.needs not in NEEDS:
            raise FleetError(f"needs must be one of {', '.join(NEEDS)}")
        if not 0.0 < self.need_prior_kwh <= 200.0:
            raise FleetError("need_prior_kwh must be above 0 and at most 200 kWh")
        if not 0.0 <= self.margin_share < 1.0:
            raise FleetError("margin must be at least 0 and below 1 (a share of the rating)")
        if not 0.0 <= self.non_response <= 1.0:
            raise FleetError("non_response must be between 0 and 1")


def delivered_kwh(fleet: Fleet, ev: Array, s: Session) -> float:
    power = ev[s.home, s.arrival : s.departure]
    return float(power.sum()) * HOURS_PER_SLOT * fleet.homes[s.home].car.efficiency


@dataclass(slots=True)
class NightPlan:
    """The joint optimum of one night: the level P*, each session's power, the cost rule."""

    night: int
    peak_kw: float  # P*, on the aggregator's forecast
    power: dict[int, Array] = field(default_factory=dict)  # session index -> kW per slot
    costs_kept: bool = True  # False: the rating needed some homes to pay more


def min_cost_kwh(
    prices: Array,
    max_kw: float,
    grid_kwh: float,
    export: Array | None = None,
    surplus_kw: Array | None = None,
) -> float:
    """The cheapest cost of charging `grid_kwh` at most `max_kw` over slots priced `prices`;
    with the home's PV `surplus_kw` per slot, up to it a slot costs its `export` price (the
    feed-in forgone), beyond it the import price: the cheapest tranches first."""
    top = np.full(len(prices), max_kw)
    sun = np.zeros(len(prices)) if surplus_kw is None else np.minimum(surplus_kw, top)
    out = np.zeros(len(prices)) if export is None else export
    tranche_price = np.r_[out, prices]
    tranche_kwh = np.r_[sun, top - sun] * HOURS_PER_SLOT
    left, cost = grid_kwh, 0.0
    for k in np.argsort(tranche_price, kind="stable"):
        take = min(left, float(tranche_kwh[k]))
        cost += take * float(tranche_price[k])
        left -= take
        if left <= 0:
            break
    return cost


def joint_night(
    fleet: Fleet,
    night: int,
    sessions: Sequence[Session],
    expected_kw: Array,
    level_cap_kw: float,
    previous: Sequence[Array] | None = None,
) -> NightPlan:
    """The joint optimum of one night's `sessions` over the load `expected_kw` (96 slots of the
    night: what is on the feeder without them); `level_cap_kw`: rating less margin;
    `previous`: each session's share sent before (over its window), which the last stage
    keeps to as near as it can besides keeping the share even."""
    first = night * SLOTS_PER_DAY
    n_t = SLOTS_PER_DAY
    price = fleet.import_price[first : first + n_t]
    columns: list[tuple[int, int]] = []  # (session row, slot of night)
    upper: list[float] = []
    for row, s in enumerate(sessions):
        top = fleet.homes[s.home].charger.max_kw
        for t in range(s.arrival - first, s.departure - first):
            columns.append((row, t))
            upper.append(top)
    n_p = len(columns)
    if n_p == 0:
        return NightPlan(night, float(expected_kw.max()))
    rows_s = np.array([c[0] for c in columns])
    slot_of = np.array([c[1] for c in columns])
    eff = np.array([fleet.homes[s.home].car.efficiency for s in sessions])
    need = np.array([s.need_kwh for s in sessions])
    col = np.arange(n_p)
    # The home's own PV: EV power up to its expected surplus (PV less household load, as
    # the home plans with it) costs the export price it forgoes, beyond it the import price.
    export = fleet.export_price[first : first + n_t]
    surplus = np.clip(
        fleet.pv_kw[[sessions[r].home for r in rows_s], first + slot_of]
        - fleet.base_kw[[sessions[r].home for r in rows_s], first + slot_of],
        0.0,
        None,
    )
    sunny = np.flatnonzero(surplus > MIN_SHARE_KW)
    # Variables: p (n_p), P (1), g (the grid part of p where sunny).
    n_g = len(sunny)
    n_var = n_p + 1 + n_g
    a_eq = sparse.csr_matrix(
        (HOURS_PER_SLOT * eff[rows_s], (rows_s, col)), shape=(len(sessions), n_var)
    )
    # Peak rows: sum_i p[i, t] - P <= -f[t].
    peak = sparse.hstack(
        [
            sparse.csr_matrix((np.ones(n_p), (slot_of, col)), shape=(n_t, n_p)),
            sparse.csr_matrix(-np.ones((n_t, 1))),
            sparse.csr_matrix((n_t, n_g)),
        ]
    ).tocsr()
    # Cost: price x p where no surplus; export x p + (price - export) x g where sunny, with
    # g >= p - surplus (and g >= 0): the grid's part.
    cost_row = HOURS_PER_SLOT * price[slot_of]
    cost_row[sunny] = HOURS_PER_SLOT * export[slot_of[sunny]]
    g_cost = HOURS_PER_SLOT * (price - export)[slot_of[sunny]]
    cost = sparse.hstack(
        [
            sparse.csr_matrix((cost_row, (rows_s, col)), shape=(len(sessions), n_p)),
            sparse.csr_matrix((len(sessions), 1)),
            sparse.csr_matrix(
                (g_cost, (rows_s[sunny], np.arange(n_g))), shape=(len(sessions), n_g)
            ),
        ]
    ).tocsr()
    grid_part = sparse.csr_matrix(
        (
            np.r_[np.ones(n_g), -np.ones(n_g)],
            (np.r_[np.arange(n_g), np.arange(n_g)], np.r_[sunny, n_p + 1 + np.arange(n_g)]),
        ),
        shape=(n_g, n_var),
    )
    grid_b = surplus[sunny]
    c_star = np.array(
        [
            min_cost_kwh(
                price[s.arrival - first : s.departure - first],
                fleet.homes[s.home].charger.max_kw,
                s.need_kwh / fleet.homes[s.home].car.efficiency,
                export[s.arrival - first : s.departure - first],
                surplus[rows_s == row],
            )
            for row, s in enumerate(sessions)
        ]
    )
    cost_cap = c_star * (1 + COST_TOLERANCE) + COST_TOLERANCE
    bounds = [(0.0, u) for u in upper] + [(None, None)] + [(0.0, None)] * n_g
    minus_f = -expected_kw

    def solve(
        objective: Array, a_ub: sparse.csr_matrix, b_ub: Array, what: str, extra: int = 0
    ) -> tuple[Array, float]:
        eq = a_eq if not extra else sparse.hstack([a_eq, sparse.csr_matrix((a_eq.shape[0], extra))])
        done = linprog(
            objective,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=eq,
            b_eq=need,
            bounds=bounds + [(0.0, None)] * extra,
            method="highs",
        )
        if done.status != 0:
            raise FleetError(f"night {night}: the joint model ({what}) failed: {done.message}")
        return np.asarray(done.x), float(done.fun)

    peak_obj = np.zeros(n_var)
    peak_obj[n_p] = 1.0
    costs_kept = True
    x, p_star = solve(
        peak_obj,
        sparse.vstack([peak, cost, grid_part]).tocsr(),
        np.r_[minus_f, cost_cap, grid_b],
        "P",
    )
    fixed_rows = [cost, grid_part]
    fixed_b = [cost_cap, grid_b]
    if p_star > level_cap_kw + PEAK_TOLERANCE_KW:
        # The rating comes first: the least peak at any cost, then the least total cost.
        x, p_free = solve(peak_obj, peak, minus_f, "P at any cost")
        if p_free < p_star - PEAK_TOLERANCE_KW:
            costs_kept = False
            p_star = max(p_free, level_cap_kw)
            total = sparse.csr_matrix(np.asarray(cost.sum(axis=0)))
            capped = _cap_peak(peak, n_p, p_star)
            x, least = solve(
                np.asarray(total.todense()).ravel(),
                sparse.vstack([capped[0], grid_part]).tocsr(),
                np.r_[capped[1] + minus_f, grid_b],
                "cost",
            )
            fixed_rows = [total, grid_part]
            fixed_b = [np.array([least * (1 + COST_TOLERANCE) + 1e-9]), grid_b]
    # Stage 3: each home's share as even as it can be (its plan's own preference), under P*.
    capped_a, capped_b = _cap_peak(peak, n_p, p_star + PEAK_TOLERANCE_KW)
    a_ub = sparse.vstack([capped_a, *fixed_rows]).tocsr()
    b_ub = np.r_[capped_b + minus_f, *fixed_b]
    before = None
    if previous is not None:
        before = np.array([previous[r][t - (sessions[r].arrival - first)] for r, t in columns])
    x = _gentle(solve, a_ub, b_ub, rows_s, n_var, before)
    out = NightPlan(night, p_star, costs_kept=costs_kept)
    power = np.clip(x[:n_p], 0.0, None)
    for row, s in enumerate(sessions):
        kw = np.zeros(s.departure - s.arrival)
        mine = rows_s == row
        kw[slot_of[mine] - (s.arrival - first)] = power[mine]
        out.power[row] = kw
    return out


def _gentle(
    solve: Any,
    a_ub: sparse.csr_matrix,
    b_ub: Array,
    rows_s: Array,
    n_var: int,
    before: Array | None = None,
) -> Array:
    """Minimise every session's total variation, sum_t |p[i, t] - p[i, t - 1]| with p = 0
    outside its window, the peak and the costs kept: each home's share as even as it can be
    (at least twice its own peak), so seldom below its charger's minimum. With `before` (each
    column's share sent before), also STAY_WEIGHT x sum |p - before|: a share moves only
    where the new forecast needs it to, so few homes plan again. Extra variables: d (the
    variation of each pair of neighbouring slots) and, with `before`, u (each move)."""
    n_p = len(rows_s)
    pairs = [k for k in range(n_p - 1) if rows_s[k] == rows_s[k + 1]]
    n_d = len(pairs)
    n_u = 0 if before is None else n_p
    n_x = n_d + n_u
    wide = sparse.hstack([a_ub, sparse.csr_matrix((a_ub.shape[0], n_x))]).tocsr()
    k = np.array(pairs, dtype=int)
    d = np.arange(n_d)
    u = np.arange(n_u)

    def diff(sign: float) -> sparse.csr_matrix:
        # sign x (p[k + 1] - p[k]) - d <= 0
        left = sparse.csr_matrix(
            (np.r_[np.full(n_d, sign), np.full(n_d, -sign)], (np.r_[d, d], np.r_[k + 1, k])),
            shape=(n_d, n_var),
        )
        extra = sparse.csr_matrix((-np.ones(n_d), (d, d)), shape=(n_d, n_x))
        return sparse.hstack([left, extra])

    def move(sign: float) -> sparse.csr_matrix:
        # sign x p - u <= sign x before
        left = sparse.csr_matrix((np.full(n_u, sign), (u, u)), shape=(n_u, n_var))
        extra = sparse.csr_matrix((-np.ones(n_u), (u, n_d + u)), shape=(n_u, n_x))
        return sparse.hstack([left, extra])

    edges = np.zeros(n_var)
    starts = np.r_[True, rows_s[1:] != rows_s[:-1]]
    ends = np.r_[rows_s[1:] != rows_s[:-1], True]
    edges[:n_p] = starts.astype(float) + ends.astype(float)
    rows = [wide, diff(1.0), diff(-1.0)]
    bounds: list[Array] = [b_ub, np.zeros(2 * n_d)]
    what = "each home's variation"
    if before is not None:
        rows += [move(1.0), move(-1.0)]
        bounds += [before, -before]
        what += " and moves"
    x, _ = solve(
        np.r_[edges, np.ones(n_d), np.full(n_u, STAY_WEIGHT)],
        sparse.vstack(rows).tocsr(),
        np.concatenate(bounds),
        what,
        extra=n_x,
    )
    out: Array = x[:n_var]
    return out


def _cap_peak(peak: sparse.csr_matrix, n_p: int, level: float) -> tuple[sparse.csr_matrix, Array]:
    """Rows sum_i p[i, t] <= level - f[t] (returned as A and level; the caller adds -f)."""
    a = peak.tolil()
    a[:, n_p] = 0.0
    n_t = peak.shape[0]
    return a.tocsr(), np.full(n_t, level)


def expected_street_kw(fleet: Fleet, config: Coordination, night: int, metered: Array) -> Array:
    """The aggregator's forecast of the street without EVs for one night (96 slots).

    `metered`: the street's metered load so far (slots before this night are real)."""
    first = night * SLOTS_PER_DAY
    if config.forecast == "perfect":
        return np.asarray(fleet.street_kw[first : first + SLOTS_PER_DAY], dtype=float)
    past = np.r_[fleet.history_kw, metered[:first]]
    nights = past[-HISTORY_NIGHTS * SLOTS_PER_DAY :].reshape(-1, SLOTS_PER_DAY)
    # Half the week's mean, half the same night a week before (its day of the week): on
    # cn seeds 1-3 the LP's peak on the actual load is 1-2 points nearer the optimum than
    # with the mean alone (the same night alone: 0.5-3 points; its day type's mean: none).
    forecast: Array = 0.5 * nights.mean(axis=0) + 0.5 * nights[0]
    return forecast


def error_decay(history_kw: Array) -> float:
    """The per-slot decay of the street's forecast error, fitted to its metered history:
    the error of each slot against the mean of the same slot over the history's nights,
    its autocorrelation within the nights at lags 1 to `ACF_LAGS` (4 h), and the rho whose
    rho^k is nearest it (least squares, rho on a 0.001 grid). So an error seen at one
    slot is expected again k slots on times rho^k, as the history says it persists."""
    nights = history_kw[: len(history_kw) // SLOTS_PER_DAY * SLOTS_PER_DAY]
    error = nights.reshape(-1, SLOTS_PER_DAY)
    error = error - error.mean(axis=0)
    lags = np.arange(1, ACF_LAGS + 1)
    acf = []
    for k in lags:
        a, b = error[:, :-k].ravel(), error[:, k:].ravel()
        scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
        acf.append(float((a * b).sum()) / scale if scale > 0 else 0.0)
    rhos = np.arange(0, 1000) / 1000
    misfit = ((rhos[:, None] ** lags[None, :] - np.array(acf)[None, :]) ** 2).sum(axis=1)
    return float(rhos[int(np.argmin(misfit))])


def _silent_forecast(fleet: Fleet, config: Coordination, night: int, silent_ev: Array) -> Array:
    first = night * SLOTS_PER_DAY
    total = silent_ev.sum(axis=0)
    if config.forecast == "perfect":
        return np.asarray(total[first : first + SLOTS_PER_DAY], dtype=float)
    if night == 0:
        return np.zeros(SLOTS_PER_DAY)
    past = total[max(0, first - HISTORY_NIGHTS * SLOTS_PER_DAY) : first]
    forecast: Array = past.reshape(-1, SLOTS_PER_DAY).mean(axis=0)
    return forecast


def min_power_shares(
    fleet: Fleet, night: int, sessions: Sequence[Session], plan: NightPlan, expected_kw: Array
) -> None:
    """Make every share chargeable: 0 or at least the charger's minimum in each slot.

    The joint model relaxes the minimum power; a share between 0 and the minimum would
    need its envelope raised to the minimum in every such slot, room that the homes'
    planners all take in the same (earliest) slots. First such shares are exchanged with
    other homes' (`_swap_low`: every slot's total kept). What is left, session by
    session: the energy of its sub-minimum slots is moved into n = floor(energy / minimum) slots of
    its window, each at energy / n, chosen where the expected feeder load is lowest
    among the slots as cheap as the cheapest it leaves (so no home pays more). A
    share whose energy is below one minimum slot is left as it is."""
    first = night * SLOTS_PER_DAY
    load = expected_kw + sum(
        (
            np.pad(plan.power[row], (s.arrival - first, first + SLOTS_PER_DAY - s.departure))
            for row, s in enumerate(sessions)
        ),
        np.zeros(SLOTS_PER_DAY),
    )
    price = fleet.import_price[first : first + SLOTS_PER_DAY]
    _swap_low(fleet, night, sessions, plan, price)
    for row, s in enumerate(sessions):
        lo, hi = s.arrival - first, s.departure - first
        _chargeable(plan.power, row, fleet.homes[s.home].charger, load[lo:hi], price[lo:hi])


def _swap_low(
    fleet: Fleet, night: int, sessions: Sequence[Session], plan: NightPlan, price: Array
) -> None:
    """Exchanges that keep every slot's total: a share a below its charger's minimum in
    slot t goes to another home charging in t (which has room for it), and that home gives
    a back in a slot t' as cheap as t where the first home can take it (where it charges
    most already: fewer starts); never in a slot within either home's PV surplus. Each
    home's energy, cost and every slot's total stay the same; only the split between
    homes moves. The model is degenerate in that split (its costs rise alike in every
    home), so it leaves a correction to one home, often below its minimum; moved to other
    slots instead, that energy lifts them above the level."""
    first = night * SLOTS_PER_DAY
    n = len(sessions)
    if n < 2:
        return
    p = np.zeros((n, SLOTS_PER_DAY))
    inside = np.zeros((n, SLOTS_PER_DAY), dtype=bool)
    for row, s in enumerate(sessions):
        lo, hi = s.arrival - first, s.departure - first
        p[row, lo:hi] = plan.power[row]
        inside[row, lo:hi] = True
    lo_kw = np.array([fleet.homes[s.home].charger.min_kw for s in sessions])[:, None]
    hi_kw = np.array([fleet.homes[s.home].charger.max_kw for s in sessions])[:, None]
    eps = MIN_SHARE_KW
    # Only slots priced at the import price for the home: a kW within its own PV surplus
    # costs the export price instead, so moving it would change what the home pays.
    homes = [s.home for s in sessions]
    slots = slice(first, first + SLOTS_PER_DAY)
    inside &= fleet.pv_kw[homes, slots] - fleet.base_kw[homes, slots] <= eps
    swapped = False
    for i, t in zip(*np.nonzero((p > eps) & (p < lo_kw - eps)), strict=True):
        a = p[i, t]
        if not eps < a < lo_kw[i, 0] - eps or not inside[i, t]:
            continue  # changed by an exchange before, or within its PV surplus
        takers = inside[:, t] & (p[:, t] >= lo_kw[:, 0] - eps) & (p[:, t] + a <= hi_kw[:, 0])
        takers[i] = False
        # t': in i's window, as cheap as t, where i's share plus a is chargeable.
        gets = p[i] + a
        back = inside[i] & (np.abs(price - price[t]) <= 1e-9) & (gets >= lo_kw[i, 0] - eps)
        back &= gets <= hi_kw[i, 0]
        back[t] = False
        if not takers.any() or not back.any():
            continue
        left = p - a  # what each home would keep in t' after giving a
        gives = inside & ((left >= lo_kw - eps) | (np.abs(left) <= eps))
        pairs = gives & takers[:, None] & back[None, :]
        if not pairs.any():
            continue
        # Into the slot where i charges most (fewer starts), then the nearest, then from
        # the home that has most there.
        near = np.abs(np.arange(SLOTS_PER_DAY) - t)
        score = np.round(p[i], 3)[None, :] * 1e6 - near[None, :] * 1e3 + p
        j, u = np.unravel_index(int(np.argmax(np.where(pairs, score, -np.inf))), p.shape)
        p[i, t] -= a
        p[j, t] += a
        p[j, u] = max(0.0, p[j, u] - a)
        p[i, u] += a
        swapped = True
    if swapped:
        for row, s in enumerate(sessions):
            plan.power[row] = p[row, s.arrival - first : s.departure - first].copy()


def _chargeable(
    power: dict[int, Array], row: int, charger: ChargerType, window_load: Array, window_price: Array
) -> None:
    """One share made 0 or at least `charger`'s minimum in each slot (`min_power_shares`);
    `window_load` (the expected feeder over the session's window) is updated in place."""
    p = power[row].copy()
    low = (p > MIN_SHARE_KW) & (p < charger.min_kw - MIN_SHARE_KW)
    if not low.any():
        return
    energy = float(p[low].sum())  # kW x slots
    n = int(energy // charger.min_kw)
    cheapest = window_price[low].min() + 1e-9
    window_load -= np.where(low, p, 0.0)
    p[low] = 0.0
    if n > 0:
        free = (p <= MIN_SHARE_KW) & (window_price <= cheapest)
        picks = np.argsort(np.where(free, window_load, np.inf), kind="stable")[:n]
        if free[picks].all():
            kw = min(energy / n, charger.max_kw)
            p[picks] = kw
            window_load[picks] += kw
            energy -= kw * n
    # What is left (less than one slot at the minimum: often a solver's residue of a few
    # watts) goes on top of the share's own charging slots where the feeder is lowest, as
    # cheap as the slots it leaves; only a share with no such slot keeps it (raised later).
    while energy > MIN_SHARE_KW:
        room = np.where(
            (p >= charger.min_kw - MIN_SHARE_KW) & (window_price <= cheapest),
            charger.max_kw - p,
            0.0,
        )
        if room.max() <= MIN_SHARE_KW:
            back = np.flatnonzero(low)[0]
            p[back] += energy
            window_load[back] += energy
            break
        t = int(np.argmin(np.where(room > MIN_SHARE_KW, window_load, np.inf)))
        add = min(energy, float(room[t]))
        p[t] += add
        window_load[t] += add
        energy -= add
    power[row] = p


def local_plans(
    fleet: Fleet, sessions: Sequence[Session], backend: Backend, progress: Progress | None
) -> Array:
    """Each session's own plan with no signal (the home's local default)."""
    ev = np.zeros((fleet.n_homes, fleet.n_slots))
    powers = backend.map([session_request(fleet, s) for s in sessions], progress)
    for s, power in zip(sessions, powers, strict=True):
        ev[s.home, s.arrival : s.arrival + len(power)] = power
    return ev


def envelope(fleet: Fleet, s: Session, kw: Array) -> Array:
    """A session's `ev_limit` per fleet slot from its share of the joint optimum."""
    home = fleet.homes[s.home]
    limits = np.full(fleet.n_slots, home.charger.max_kw)
    share = np.where(kw > MIN_SHARE_KW, kw, 0.0)  # a solver's residue is no charging
    up = np.ceil(share / LIMIT_STEP_KW - 1e-6) * LIMIT_STEP_KW
    up = np.where((up > 0) & (up < home.charger.min_kw), home.charger.min_kw, up)
    limits[s.arrival : s.departure] = np.minimum(up, home.charger.max_kw)
    return limits


@dataclass(slots=True)
class Outcome:
    """What the coordinator did: the EV power per home and slot, and each night's optimum."""

    ev: Array
    nights: list[NightPlan]
    joint_ev: Array  # the shares sent (each 0 or at least its minimum), silent homes included
    planned_ev: Array | None = None  # the homes' plans within their envelopes, before repair
    repaired: int = 0  # sessions planned once more because they fell short
    plans_made: int = 0  # the homes' plans within envelopes (repairs not counted)
    decay: float = 0.0  # the forecast error's decay per slot (metered feedback)


def estimated_needs(
    fleet: Fleet, sessions: Sequence[Session], config: Coordination
) -> dict[Session, float]:
    """What the aggregator expects each session to need (kWh into the battery).

    `reported`: the need itself (the home tells it, from its car's state of charge).
    `history`: the mean of the home's last 8 needs (metered after each session), the
    missing ones of the first nights taken as `need_prior_kwh`; capped at what the
    car takes and what its charger delivers while plugged in (both known)."""
    if config.needs == "reported":
        return {s: s.need_kwh for s in sessions}
    past: dict[int, list[float]] = {}
    out = {}
    for s in sorted(sessions, key=lambda x: (x.night, x.home)):
        guess = _last_mean(past.setdefault(s.home, []), config.need_prior_kwh)
        home = fleet.homes[s.home]
        reach = home.charger.max_kw * home.car.efficiency * len(s.slots) * HOURS_PER_SLOT
        out[s] = min(guess, home.car.battery_kwh, reach)
        past[s.home].append(s.need_kwh)
    return out


def _last_mean(needs: Sequence[float], prior: float) -> float:
    """The mean of the last `NEED_HISTORY` needs, the missing ones taken as `prior`."""
    last = needs[-NEED_HISTORY:]
    return (sum(last) + prior * (NEED_HISTORY - len(last))) / NEED_HISTORY


def need_guesses(fleet: Fleet, sessions: Sequence[Session], config: Coordination) -> Array:
    """Per home and night, the aggregator's guess of a session's need before it plugs in:
    the mean of the home's last 8 needs before that night, the missing ones taken as
    `need_prior_kwh` (as `estimated_needs` does for a session it hears of)."""
    out = np.full((fleet.n_homes, fleet.days), config.need_prior_kwh)
    past: dict[int, list[float]] = {}
    by_night = sorted(sessions, key=lambda x: (x.night, x.home))
    for night in range(fleet.days):
        for h, seen in past.items():
            out[h, night] = _last_mean(seen, config.need_prior_kwh)
        for s in by_night:
            if s.night == night:
                past.setdefault(s.home, []).append(s.need_kwh)
    return out


def coordinate(
    fleet: Fleet,
    backend: Backend,
    progress: Progress | None = None,
    config: Coordination | None = None,
    actual_street_kw: Array | None = None,
) -> Outcome:
    """Coordinate every night; `actual_street_kw` (default: the fleet's) is what the meters
    read, the forecast is the aggregator's (`config.forecast`).

    Per night, at each event (`announced`: once, at noon, every session known; `online`:
    at every slot in which a car plugs in, the sessions plugged in by then), the joint
    model is solved from that slot on for what the sessions still need (the slots before
    are metered), and the homes are sent their envelopes. A home that draws nothing
    before the next event under its envelope is planned at a later one (its plan could
    draw nothing meanwhile either way; with estimated needs only once it has planned, as
    its real need may draw at once); at the night's last event every home plugged in
    plans. With estimated needs, a home's need is known once it has planned; a home whose
    plan falls short of its need says so (its plan's shortfall): the aggregator then
    solves again at once and sends new envelopes."""
    cfg = config or Coordination()
    street = fleet.street_kw if actual_street_kw is None else actual_street_kw
    silent = fleet.silent(cfg.non_response)
    quiet = [s for s in fleet.sessions if s.home in silent]
    talking = [s for s in fleet.sessions if s.home not in silent]
    silent_ev = local_plans(fleet, quiet, backend, progress)
    ev = silent_ev.copy()
    joint_ev = silent_ev.copy()
    cap = fleet.rating_kw * (1.0 - cfg.margin_share)
    assumed = estimated_needs(fleet, talking, cfg)
    guesses = need_guesses(fleet, talking, cfg)
    owners = sorted(fleet.owners - silent)
    by_night: dict[int, list[Session]] = {}
    for s in talking:
        by_night.setdefault(s.night, []).append(s)
    plans: list[NightPlan] = []
    expected = np.zeros(fleet.n_slots)
    order: list[Session] = []
    decay = cfg.decay if cfg.decay is not None else error_decay(fleet.history_kw)
    made = 0
    for night in range(fleet.days):
        first = night * SLOTS_PER_DAY
        window = slice(first, first + SLOTS_PER_DAY)
        expected[window] = expected_street_kw(fleet, cfg, night, street) + _silent_forecast(
            fleet, cfg, night, silent_ev
        )
        group = sorted(by_night.get(night, []), key=lambda s: s.home)
        night_run = _Night(fleet, cfg, night, group, assumed, cap, backend, progress, decay)
        night_run.expecting = [(h, float(guesses[h, night])) for h in owners]
        plans.append(night_run.run(expected[window], street[window] + silent_ev[:, window].sum(0)))
        made += night_run.plans_made
        ev[:, window] += night_run.ev
        joint_ev[:, window] += night_run.shares
        order += group
    planned = ev.copy()
    repaired = _repair(fleet, ev, order, plans, expected, cap, backend, progress)
    return Outcome(ev, plans, joint_ev, planned, repaired, made, decay)


class _Night:
    """One night's coordination, event by event (`coordinate`)."""

    def __init__(
        self,
        fleet: Fleet,
        cfg: Coordination,
        night: int,
        group: list[Session],
        assumed: dict[Session, float],
        cap: float,
        backend: Backend,
        progress: Progress | None,
        decay: float = 0.0,
    ) -> None:
        self.fleet, self.cfg, self.night, self.group = fleet, cfg, night, group
        self.need = {s: assumed[s] for s in group}
        self.cap, self.backend, self.progress = cap, backend, progress
        self.decay = decay
        self.first = night * SLOTS_PER_DAY
        self.ev = np.zeros((fleet.n_homes, SLOTS_PER_DAY))  # what the homes draw
        self.shares = np.zeros((fleet.n_homes, SLOTS_PER_DAY))  # what they were sent
        self.planned: dict[Session, Array] = {}  # each home's current plan, per night slot
        # What each home's charger was last told to draw, per night slot (live feedback).
        self.standing: dict[Session, Array] = {}
        self.expecting: list[tuple[int, float]] = []  # (EV home, its need's guess) tonight
        self.plans_made = 0

    def delivered(self, s: Session, at: int) -> float:
        """What session `s` drew before slot `at` (kWh into the battery)."""
        kw = self.ev[s.home, s.arrival - self.first : max(s.arrival, at) - self.first]
        return float(kw.sum()) * HOURS_PER_SLOT * self.fleet.homes[s.home].car.efficiency

    def events(self) -> list[int]:
        """The slots the model is solved at: noon (announced) or each slot a car plugs in
        (online); with metered feedback also every slot in which a car is plugged in."""
        if not self.group:
            return [self.first]
        if self.cfg.arrivals == "announced":
            events = {self.first}
        else:
            events = {s.arrival for s in self.group}
        if self.cfg.feedback != "none":
            start = min(events)
            for s in self.group:
                events.update(range(max(start, s.arrival), s.departure))
        return sorted(events)

    def run(self, forecast: Array, metered_without: Array) -> NightPlan:
        """`forecast`: the expected load without the responders' EVs; `metered_without`:
        what the meters will read without them (slots before an event are known)."""
        events = self.events()
        plan = NightPlan(self.night, float(forecast.max()))
        level = 0.0  # the highest level any solve of the night planned to
        for k, at in enumerate(events):
            until = events[k + 1] if k + 1 < len(events) else self.first + SLOTS_PER_DAY
            expected = forecast.copy()
            past = at - self.first
            expected[:past] = metered_without[:past] + self.ev[:, :past].sum(axis=0)
            # The last slot read: the one before (metered) or this one, at its start (live).
            seen = past if self.cfg.feedback == "live" else past - 1
            if self.cfg.feedback == "live":
                expected[past] = metered_without[past]
            if self.cfg.feedback != "none" and seen >= 0:
                # The error just read persists, fading by the decay per slot.
                error = metered_without[seen] - forecast[seen]
                ahead = np.arange(1, SLOTS_PER_DAY - seen)
                expected[seen + 1 :] += error * self.decay**ahead
            plan = self.event(at, until, expected, last=k + 1 == len(events))
            level = max(level, plan.peak_kw)
        # A later solve's P* is the peak still to come (the cars gone by then are past):
        # the night's is the highest.
        return replace(plan, peak_kw=level) if events else plan

    def event(self, at: int, until: int, expected: Array, *, last: bool) -> NightPlan:
        plugged = [s for s in self.group if s.arrival <= at < s.departure]
        if self.cfg.arrivals == "announced":
            plugged = [s for s in self.group if at < s.departure]
        plan, rest = self._solve(at, plugged, expected)
        standing = dict(self.standing)  # what the chargers were told before this slot
        asked = self._ask(plan, rest, until, last, standing)
        if self.cfg.needs == "reported":
            return plan
        # Every home that planned told its car's state (a plan-v1 request carries it): its
        # need is known from now on, so a need guessed too high holds no room at the next
        # event. The homes that fell short said so (their plans' shortfall): solved again
        # at once.
        short = any(_short(self.fleet, r, p) for r, _s, p in asked)
        for _r, s, _p in asked:
            self.need[s] = s.need_kwh
        if short:
            plan, rest = self._solve(at, plugged, expected)
            self._ask(plan, rest, until, last, standing)
        return plan

    def _solve(
        self, at: int, plugged: list[Session], expected: Array
    ) -> tuple[NightPlan, list[tuple[Session, Session]]]:
        """The joint model from slot `at` for what each plugged session still needs (as the
        aggregator believes it): (trimmed session, session) pairs in model order."""
        rest = []
        for s in plugged:
            start = max(s.arrival, at)
            home = self.fleet.homes[s.home]
            # Never more than its charger can still deliver (an estimate made for the
            # whole window may not fit what is left of it).
            reach = home.charger.max_kw * home.car.efficiency * (s.departure - start)
            drawn = self.delivered(s, at)
            left = min(self.need[s] - drawn, reach * HOURS_PER_SLOT * REACH)
            if s.need_kwh - drawn <= SHORT_KWH / 10:
                left = 0.0  # the car is full: its charger says so (it stops drawing)
            if left > SHORT_KWH / 10 and start < s.departure:
                rest.append((replace(s, arrival=start, need_kwh=left), s))
        trimmed = [r for r, _ in rest]
        expected_cars = self._expected(at)
        previous = None
        if self.cfg.feedback != "none":
            previous = [
                self.shares[s.home, r.arrival - self.first : s.departure - self.first]
                for r, s in rest
            ]
        model = expected
        if previous is not None and at > self.first:
            # The peak to come, not the night's so far: a metered slot above the plan does
            # not lift the level the rest of the night is planned to (no ratchet).
            model = expected.copy()
            model[: at - self.first] = expected[at - self.first :].min()
        if previous is not None:
            previous += [np.zeros(g.departure - g.arrival) for g in expected_cars]
        sessions = trimmed + expected_cars
        plan = joint_night(self.fleet, self.night, sessions, model, self.cap, previous)
        if expected_cars and plan.peak_kw > self.cap + PEAK_TOLERANCE_KW:
            # Room for a car that may not come never fills the cars plugged in above the
            # rating less the margin: solved for them alone.
            sessions, expected_cars = trimmed, []
            if previous is not None:
                previous = previous[: len(trimmed)]
            plan = joint_night(self.fleet, self.night, sessions, model, self.cap, previous)
        if expected_cars:  # room kept: the cars still expected
            model = model.copy()
        for row in range(len(trimmed), len(sessions)):
            g = sessions[row]
            model[g.arrival - self.first : g.departure - self.first] += plan.power.pop(row)
        min_power_shares(self.fleet, self.night, trimmed, plan, model)
        for row, (r, s) in enumerate(rest):
            lo = r.arrival - self.first
            self.shares[s.home, lo : s.departure - self.first] = plan.power[row]
        for s in plugged:  # nothing more for a session the model no longer holds
            if all(s is not o for _, o in rest):
                lo = max(s.arrival, at) - self.first
                self.shares[s.home, lo : s.departure - self.first] = 0.0
        return plan, rest

    def _expected(self, at: int) -> list[Session]:
        """Online arrivals: each EV home not plugged in tonight by `at` as the car it may
        still bring (`arrival_prior`): with the chance p S / (1 - p + p S) (p: it plugs in on
        a night, S: the prior's chance of an arrival after `at`) times its need's guess,
        from the prior's median arrival after `at` to the mean stay's departure. The model
        keeps room for them; they get no envelope."""
        prior = self.cfg.arrival_prior
        if prior is None or self.cfg.arrivals != "online":
            return []
        past = at - self.first
        later = np.asarray(prior.chance[past + 1 :])
        chance = float(later.sum())
        if chance <= 0.0:
            return []
        p = prior.plug_in
        odds = p * chance / (1 - p + p * chance)
        k = past + 1 + int(np.searchsorted(np.cumsum(later), chance / 2))
        arrival, departure = self.first + k, self.first + prior.leaves[k]
        seen = {s.home for s in self.group if s.arrival <= at}
        out = []
        for h, guess in self.expecting:
            home = self.fleet.homes[h]
            reach = home.charger.max_kw * home.car.efficiency * (departure - arrival)
            need = min(odds * guess, reach * HOURS_PER_SLOT * REACH)
            if h not in seen and need > SHORT_KWH:
                out.append(Session(h, self.night, arrival, departure, need, 0.0))
        return out

    def _keeps(self, r: Session, s: Session, share: Array) -> bool:
        """Metered feedback: whether the home keeps the plan it has (its power now is within
        `REPLAN_KW` of its new share now, so what it draws now hardly moves; the model is
        solved again next slot on what it drew)."""
        mine = self.planned.get(s)
        if self.cfg.feedback == "none" or mine is None:
            return False
        return abs(float(mine[r.arrival - self.first]) - float(share[0])) <= REPLAN_KW

    def _ask(
        self,
        plan: NightPlan,
        rest: list[tuple[Session, Session]],
        until: int,
        last: bool,
        standing: dict[Session, Array],
    ) -> list[tuple[Session, Session, Array]]:
        """Send the envelopes; the homes that can draw before `until` plan within them and
        draw until then (all of them at the last event, to their departure). With metered
        feedback a home whose plan still draws about its share now keeps its plan."""
        asked, requests = [], []
        kept: set[Session] = set()
        end = self.first + SLOTS_PER_DAY
        # Live: for the first minutes of the slot a charger draws what it was told before.
        lag = self.cfg.latency_min / SLOT_MINUTES if self.cfg.feedback == "live" else 0.0
        before = {
            s: float(standing[s][r.arrival - self.first])
            for r, s in rest
            if lag > 0 and s in standing
        }
        for row, (r, s) in enumerate(rest):
            if self._keeps(r, s, plan.power[row]):
                kept.add(s)
                continue
            soon = plan.power[row][: until - r.arrival]
            # With estimated needs a home that has not planned yet plans now: its share is
            # built on a guess, so that it draws nothing before the next event says nothing
            # of what its real need draws (a guess too low left idle for hours).
            unknown = self.cfg.needs == "history" and s not in self.planned
            if not last and not unknown and not (soon > MIN_SHARE_KW).any():
                continue
            truth = replace(r, need_kwh=max(0.0, s.need_kwh - self.delivered(s, r.arrival)))
            limits = envelope(self.fleet, truth, plan.power[row])
            requests.append(session_request(self.fleet, truth, ev_limits=limits))
            asked.append((truth, s))
        # Sessions left out draw nothing from here until the next event; those that keep
        # their plans draw them.
        for r, s in rest:
            lo, hi = r.arrival - self.first, (end if last else until) - self.first
            mine = self.planned.get(s)
            self.ev[s.home, lo : until - self.first] = 0.0
            if s in kept and mine is not None:
                self.ev[s.home, lo:hi] = mine[lo:hi]
        powers = self.backend.map(requests, self.progress) if requests else []
        self.plans_made += len(requests)
        out = []
        for (r, s), power in zip(asked, powers, strict=True):
            stop = max(r.arrival, min(r.arrival + len(power), end if last else until))
            lo = r.arrival - self.first
            self.ev[r.home, lo : stop - self.first] = power[: stop - r.arrival]
            mine = np.zeros(SLOTS_PER_DAY)
            mine[lo : lo + len(power)] = power[: SLOTS_PER_DAY - lo]
            self.planned[s] = mine
            out.append((r, s, np.asarray(power, dtype=float)))
        told = {o for _r, o in asked}
        for r, s in rest:
            if s not in kept:  # told its new plan, or to draw nothing until the next event
                self.standing[s] = self.planned[s] if s in told else _IDLE
            if s in before:
                now = self.ev[s.home, r.arrival - self.first]
                self.ev[s.home, r.arrival - self.first] = lag * before[s] + (1 - lag) * now
        return out


_IDLE = np.zeros(SLOTS_PER_DAY)


def _short(fleet: Fleet, r: Session, power: Array) -> bool:
    """Whether the plan `power` made for `r` falls short of its need (what the home's
    answer says): its whole plan, not only what it draws before the next event."""
    got = float(power.sum()) * HOURS_PER_SLOT * fleet.homes[r.home].car.efficiency
    return r.need_kwh - got > SHORT_KWH


def _repair(
    fleet: Fleet,
    ev: Array,
    sessions: Sequence[Session],
    plans: Sequence[NightPlan],
    expected: Array,
    cap: float,
    backend: Backend,
    progress: Progress | None,
) -> int:
    """Plan the sessions that fell short once more (in `ev`); return how many."""
    short = [s for s in sessions if s.need_kwh - delivered_kwh(fleet, ev, s) > SHORT_KWH]
    if not short:
        return 0
    level = np.repeat([max(p.peak_kw, cap) for p in plans], SLOTS_PER_DAY)
    room = np.clip(level - expected - _talking_total(ev, sessions, fleet), 0.0, None)
    weights = np.zeros((len(short), fleet.n_slots))
    for row, s in enumerate(short):
        weights[row, s.arrival : s.departure] = fleet.homes[s.home].charger.max_kw
    total = weights.sum(axis=0)
    shares = np.divide(weights * room, total, out=np.zeros_like(weights), where=total > 0)
    requests = [
        session_request(fleet, s, ev_limits=np.floor((ev[s.home] + shares[row]) * 1000) / 1000)
        for row, s in enumerate(short)
    ]
    for s, power in zip(short, backend.map(requests, progress), strict=True):
        ev[s.home, s.arrival : s.arrival + len(power)] = power
    return len(short)


def _talking_total(ev: Array, sessions: Sequence[Session], fleet: Fleet) -> Array:
    homes = sorted({s.home for s in sessions})
    total: Array = ev[homes].sum(axis=0) if homes else np.zeros(fleet.n_slots)
    return total


def evflex_coordinated(
    fleet: Fleet,
    backend: Backend,
    progress: Progress | None = None,
    config: Coordination | None = None,
) -> Array:
    return coordinate(fleet, backend, progress, config).ev


def joint_optimum(
    fleet: Fleet,
    backend: Backend,
    progress: Progress | None = None,
    config: Coordination | None = None,
) -> Array:
    """The lower bound: the joint model on the street's actual load (perfect foresight), the
    silent homes as they charge, the chargers' minimum power relaxed; no home plans."""
    cfg = config or Coordination()
    silent = fleet.silent(cfg.non_response)
    quiet = [s for s in fleet.sessions if s.home in silent]
    ev = local_plans(fleet, quiet, backend, progress)
    cap = fleet.rating_kw * (1.0 - cfg.margin_share)
    for night in range(fleet.days):
        window = slice(night * SLOTS_PER_DAY, (night + 1) * SLOTS_PER_DAY)
        expected = fleet.street_kw[window] + ev.sum(axis=0)[window]
        group = sorted(
            (s for s in fleet.sessions if s.night == night and s.home not in silent),
            key=lambda s: s.home,
        )
        plan = joint_night(fleet, night, group, np.asarray(expected, dtype=float), cap)
        for row, s in enumerate(group):
            ev[s.home, s.arrival : s.departure] = plan.power[row]
    if progress is not None:
        progress(len(fleet.sessions) - len(quiet))
    return ev


__all__ = [
    "FORECASTS",
    "SHORT_KWH",
    "WEEK_SLOTS",
    "Coordination",
    "NightPlan",
    "Outcome",
    "coordinate",
    "delivered_kwh",
    "evflex_coordinated",
    "joint_night",
    "joint_optimum",
]
