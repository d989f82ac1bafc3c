"""EVFlex optimizer: cost-optimal home EV charging plans (plan-v1).

    from optimizer import plan
    response = plan(request_dict)

`plan` validates the request (raising `PlanError` naming the field and the rule),
lays it out on slots, solves the MILP with HiGHS and, should the solver fail or
time out, answers with the documented fallback heuristic instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .fallback import fallback_power
from .problem import Problem, build
from .request import PlanError, PlanRequest, parse
from .response import Outcome, build_response

__all__ = ["PlanError", "PlanRequest", "parse", "plan", "plan_request"]

_LOGGER = logging.getLogger(__name__)


def plan(request: dict[str, Any]) -> dict[str, Any]:
    """Plan charging for a plan-v1 request; return the plan-v1 response."""
    return plan_request(parse(request))


def plan_request(req: PlanRequest) -> dict[str, Any]:
    began = time.perf_counter()
    problem = build(req)
    outcome = _power(problem)
    return build_response(problem, outcome, 1000 * (time.perf_counter() - began))


def _power(problem: Problem) -> Outcome:
    mode = problem.request.mode
    if mode == "off":  # the only plan the mode allows
        return Outcome([0.0] * problem.n, "none", "optimal")
    if mode == "fast":
        return Outcome(list(problem.floor), "none", "optimal")
    try:
        from .model import SolverError, solve  # lazy: Pyomo is heavy

        solution = solve(problem, problem.request.solver_time_limit_s)
    except (SolverError, ImportError, RuntimeError, ValueError) as err:
        _LOGGER.warning("Solver failed (%s); planning with the fallback heuristic", err)
        return Outcome(fallback_power(problem), "fallback", "fallback", str(err))
    optimality = "optimal" if solution.optimal else "feasible"
    req = problem.request
    if mode != "smart" or not req.preferences.grid_friendly:
        return Outcome(solution.power, "highs", optimality)
    from .model import ready_slot, spread_anchor
    from .polish import place_at_anchor

    anchor, ready = spread_anchor(problem), ready_slot(problem) or problem.deadline
    power = place_at_anchor(problem, solution.power, anchor, ready)
    pinned = req.preferences.spread_anchor  # echoed as given, even beyond the horizon
    at = pinned if pinned is not None else problem.starts[0] + anchor * req.slot
    return Outcome(power, "highs", optimality, anchor=at.isoformat())
