"""Grid-friendly plans placed at their anchor exactly, after the solve.

HiGHS stops within its MIP gap (for `grid_friendly`, what 50 W of EV peak is worth:
`model.peak_gap`). The spread term that places a home's charging around its anchor is
far smaller than that, so among slots alike in every other respect the solver's block
lands wherever its search first found it: one replan at 00:30, the next at 03:30.
Solving the placement to optimality would cost seconds on the hard requests; it is
exact and cheap to do here instead: a block of charging inside a run of alike slots
(same prices, same maximum power, room under every limit, no PV surplus, nothing
forced, before the ready slot) moves within the run to where the spread term is
least. Nothing else in the objective can tell those positions apart: the cost, the
peak, the starts, the slots and the ready term are the same for each, so the plan
is still optimal within the same gap, and now reproducible.
"""

from __future__ import annotations

from .problem import EPS, Problem


def place_at_anchor(p: Problem, power: list[float], anchor: float, ready: int) -> list[float]:
    """`power` with each lone block of charging in a run of alike slots moved to the
    position nearest `anchor` (slots from the horizon's start)."""
    out = list(power)
    for first, end in _runs(p, ready):
        on = [t for t in range(first, end) if out[t] > EPS]
        if not on or on[-1] - on[0] + 1 != len(on):
            continue  # idle, or more than one block: moving them could change the starts
        lo, hi = on[0], on[-1] + 1
        if (first > 0 and out[first - 1] > EPS) or (end < p.n and out[end] > EPS):
            continue  # the block continues outside the run: its neighbours fix it
        block = out[lo:hi]
        if any(p.headroom(t) < max(block) - EPS for t in range(first, end)):
            continue

        def spread(at: int, block: list[float] = block) -> float:
            return sum(kw * abs(at + i + 0.5 - anchor) for i, kw in enumerate(block))

        best = min(range(first, end - len(block) + 1), key=lambda at: (spread(at), at))
        if best != lo:
            out[lo:hi] = [0.0] * len(block)
            out[best : best + len(block)] = block
    return out


def _runs(p: Problem, ready: int) -> list[tuple[int, int]]:
    """Maximal runs [first, end) of consecutive slots before `ready` that are alike:
    plugged in, grid only, nothing forced, and the same import and export prices and
    maximum power as their neighbours."""
    runs: list[tuple[int, int]] = []
    first = None
    for t in range(min(ready, p.n) + 1):
        fits = (
            t < min(ready, p.n)
            and p.ev_max[t] > EPS
            and p.floor[t] <= EPS
            and p.pv[t] <= p.base[t] + EPS
        )
        same = (
            fits
            and first is not None
            and abs(p.import_price[t] - p.import_price[first]) <= EPS
            and abs(p.export_price[t] - p.export_price[first]) <= EPS
            and abs(p.ev_max[t] - p.ev_max[first]) <= EPS
        )
        if first is not None and not same:
            if t - first > 1:
                runs.append((first, t))
            first = None
        if fits and first is None:
            first = t
    return runs
