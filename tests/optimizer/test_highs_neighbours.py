"""EVFlex and another HiGHS user in one process, in either order (Home Assistant runs
many integrations in one process; HiGHS has one thread scheduler per process).

Each case runs in a fresh interpreter, so the order of the tests cannot hide the bug:
whoever solves first in a process starts HiGHS's scheduler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from optimizer import plan
from tests.optimizer.helpers import in_fresh_process, request

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
from optimizer import plan
from tests.optimizer.helpers import neighbour_solve, request

def ours():
    s = plan(request())["summary"]
    return {"solver": s["solver"], "optimality": s["optimality"], "error": s["solver_error"]}

order = sys.argv[1]
out = {"plans": [], "neighbour": []}
for step in order:
    if step == "n":
        out["neighbour"].append(neighbour_solve())
    else:
        out["plans"].append(ours())
print(json.dumps(out))
"""


def _run(order: str) -> dict[str, list[dict[str, object]]]:
    result: dict[str, list[dict[str, object]]] = in_fresh_process(SCRIPT, order)
    return result


@pytest.mark.parametrize(
    "order",
    ["npp", "ppn", "pnp"],
    ids=["neighbour first", "evflex first", "interleaved"],
)
def test_evflex_and_a_default_highs_neighbour_both_solve(order: str) -> None:
    out = _run(order)
    assert len(out["plans"]) == order.count("p")
    for summary in out["plans"]:
        assert summary == {"solver": "highs", "optimality": "optimal", "error": None}
    assert len(out["neighbour"]) == 1
    neighbour = out["neighbour"][0]
    # x = 1, y = 0: objective 1.
    assert neighbour["run"] == "HighsStatus.kOk"
    assert neighbour["model"] == "Optimal"
    assert neighbour["objective"] == pytest.approx(1.0)


def test_a_highs_error_is_reported_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # An instance that asks for a thread count other than the running scheduler's makes
    # run() fail (the bug EVFlex had with threads=1): the plan falls back and says why,
    # in HiGHS's own words, rather than "Not Set".
    from optimizer import model

    assert plan(request())["summary"]["solver"] == "highs"  # the scheduler is running
    real = model.set_options

    def asking_for_threads(highs: Any, time_limit_s: float, *args: float, **gaps: float) -> None:
        real(highs, time_limit_s, *args, **gaps)
        highs.setOptionValue("threads", 13)

    monkeypatch.setattr(model, "set_options", asking_for_threads)
    summary = plan(request())["summary"]
    assert summary["solver"] == "fallback"
    assert summary["optimality"] == "fallback"
    assert summary["solver_error"].startswith("HiGHS: ERROR: Option 'threads' is set to 13")
    monkeypatch.undo()
    assert plan(request())["summary"]["solver"] == "highs"
