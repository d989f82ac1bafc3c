"""HiGHS's work per request of the bench set: simplex iterations and branch-and-bound nodes.

    PYTHONPATH=. .venv/bin/python -m bench.solver_work [--profile as_early_as_possible]

Wall times on a shared machine move by a factor of two or more with the load; the
iterations and nodes HiGHS needs for `optimizer.model`'s MILP do not, so this is the
figure to compare two formulations or solver settings by. Time is printed too.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from bench.requests import build_requests
from optimizer import parse
from optimizer.model import _run_highs, build_model, last_highs
from optimizer.problem import build


def main(argv: Sequence[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(prog="python -m bench.solver_work")
    parser.add_argument("--profile", choices=("grid_friendly", "as_early_as_possible"))
    args = parser.parse_args(argv)
    import pyomo.environ as pyo

    iterations = nodes = 0
    print(f"{'request':32s} {'iters':>7s} {'nodes':>6s} {'ms':>8s} {'peak kW':>8s} status")
    for case in build_requests().cases:
        request = case.request
        if args.profile:
            request = {**request, "preferences": {"profile": args.profile}}
        problem = build(parse(request))
        model = build_model(problem, pyo)
        began = time.perf_counter()
        solution = _run_highs(model, problem, problem.request.solver_time_limit_s)
        ms = 1000 * (time.perf_counter() - began)
        info = last_highs().getInfo()
        iterations += int(info.simplex_iteration_count)
        nodes += int(info.mip_node_count)
        status = "optimal" if solution.optimal else "feasible"
        print(
            f"{case.name:32s} {info.simplex_iteration_count:7d} {info.mip_node_count:6d}"
            f" {ms:8.1f} {max(solution.power, default=0.0):8.3f} {status}"
        )
    print(f"{'total':32s} {iterations:7d} {nodes:6d}")
    return {"iterations": iterations, "nodes": nodes}


if __name__ == "__main__":
    main()
