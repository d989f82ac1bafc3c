"""optimizer.model's tightened MILP against its textbook form, on random requests.

The model bounds the site's import/export switch by the PV surplus, adds three-state
rows where the charger switches too, and fixes off the switches of slots no optimal
plan charges in (`never_worth_it`). The bench's raw model in its `plain` form has
none of that: PV bounds, a switch in every slot with PV where exporting or
curtailing pays, no fixed slots, but the same objective with every tie-break. Both
must have the same optimum, to the MIP gaps HiGHS works to.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from bench.plan_bench import RawHighs
from optimizer import parse
from optimizer.model import MIP_REL_GAP, peak_gap, solve
from optimizer.problem import build
from tests.optimizer.test_properties import requests

RAW = RawHighs()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_tightened_model_has_the_textbook_optimum(req: dict[str, Any]) -> None:
    problem = build(parse(req))
    if problem.request.mode != "smart":
        return
    ours = solve(problem, 30.0)
    gap = peak_gap(problem)
    plain = RAW.solve(
        problem, tie_breaks=True, rel_gap=MIP_REL_GAP, abs_gap=gap, time_limit_s=30.0, plain=True
    )
    assert ours.optimal
    assert plain.status == "Optimal"
    tolerance = gap + MIP_REL_GAP * (abs(ours.objective) + abs(plain.objective))
    assert abs(ours.objective - plain.objective) <= 2 * tolerance + 1e-7
