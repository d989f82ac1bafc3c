"""The benchmark's smoke run: plans on the quick subset are cost-optimal (timings not asserted)."""

from __future__ import annotations

import pytest

from bench.plan_bench import TARGET_GAP, RawHighs, main, same_milp
from bench.requests import build_requests
from optimizer import parse
from optimizer.problem import build


def test_quick_bench_plans_are_optimal() -> None:
    result = main(["--quick"])

    assert result["request_set_size"] >= 20
    rows = result["requests"]
    assert len(rows) == 3
    for row in rows:
        assert row["gap"] <= TARGET_GAP, (row["name"], row["cost"], row["opt_cost"])
        assert row["shortfall_equal"], (row["name"], row["shortfall_kwh"])
        assert not row["breaches"], (row["name"], row["breaches"])
    assert result["optimality"]["all_within"]


@pytest.mark.parametrize("profile", ["grid_friendly", "as_early_as_possible"])
def test_raw_floor_is_the_models_milp(profile: str) -> None:
    # The floor the plan time is compared with must be the same MILP, not a cousin:
    # same columns in the same order, costs, bounds, integrality, rows and row bounds.
    raw = RawHighs()
    for case in build_requests().cases:
        request = {**case.request, "preferences": {"profile": profile}}
        assert same_milp(build(parse(request)), raw) is None, case.name
