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
from .response import build_response

__all__ = ["PlanError", "PlanRequest", "parse", "plan", "plan_request"]

_LOGGER = logging.getLogger(__name__)


def plan(request: dict[str, Any]) -> dict[str, Any]:
    """Plan charging for a plan-v1 request; return the plan-v1 response."""
    return plan_request(parse(request))


def plan_request(req: PlanRequest) -> dict[str, Any]:
    began = time.perf_counter()
    problem = build(req)
    power, solver = _power(problem)
    return build_response(problem, power, solver, 1000 * (time.perf_counter() - began))


def _power(problem: Problem) -> tuple[list[float], str]:
    mode = problem.request.mode
    if mode == "off":
        return [0.0] * problem.n, "none"
    if mode == "fast":
        return list(problem.floor), "none"
    from .model import SolverError, solve  # lazy: Pyomo is heavy

    try:
        return solve(problem, problem.request.solver_time_limit_s).power, "highs"
    except (SolverError, ImportError, RuntimeError, ValueError) as err:
        _LOGGER.warning("Solver failed (%s); planning with the fallback heuristic", err)
        return fallback_power(problem), "fallback"
