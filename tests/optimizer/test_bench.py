"""The benchmark's smoke run: plans on the quick subset are cost-optimal (timings not asserted)."""

from __future__ import annotations

from bench.plan_bench import TARGET_GAP, main


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
