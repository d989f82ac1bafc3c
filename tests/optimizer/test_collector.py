"""A plan pauses automatic garbage collection for its solve and frees its Pyomo model
while it is young, leaving the collector as it found it (optimizer.model)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from optimizer import model, plan
from tests.optimizer.helpers import request


def recorder(collections: list[int]) -> Any:
    def collect(generation: int = 2) -> int:
        collections.append(generation)
        return 0

    return collect


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_a_failing_solve_still_re_enables_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        assert not gc.isenabled()  # paused while the model is built and solved
        raise model.SolverError("HiGHS: Time limit reached")

    monkeypatch.setattr(model, "_run_highs", broken)
    gc.enable()
    response = plan(request())
    assert response["summary"]["solver"] == "fallback"
    assert gc.isenabled()
    assert model._PAUSE.running == 0


def test_a_collector_the_caller_paused_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", recorder(collections))
    gc.disable()
    assert plan(request())["summary"]["solver"] == "highs"
    assert not gc.isenabled()
    assert collections == []  # the caller (Home Assistant's integration) collects


def test_the_solve_runs_paused_and_collects_the_young_generation_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    run_highs = model._run_highs

    def watched(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return run_highs(*args)

    collections: list[int] = []
    collect = gc.collect
    monkeypatch.setattr(model, "_run_highs", watched)
    monkeypatch.setattr(gc, "collect", recorder(collections))
    gc.enable()
    assert plan(request())["summary"]["solver"] == "highs"
    assert seen == [False]
    assert gc.isenabled()
    assert collections == [0]
    monkeypatch.setattr(gc, "collect", collect)
    models: list[weakref.ref[Any]] = []
    build_model = model.build_model

    def kept(*args: Any) -> Any:
        built = build_model(*args)
        models.append(weakref.ref(built))
        return built

    monkeypatch.setattr(model, "build_model", kept)
    plan(request())
    assert models[-1]() is None  # the model (cyclic garbage) is freed by the plan


def test_concurrent_plans_share_the_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    inside = threading.Barrier(2)
    states: list[bool] = []
    run_highs = model._run_highs

    def both_inside(*args: Any) -> Any:
        inside.wait(timeout=30)  # both solves are in their pause at once
        states.append(gc.isenabled())
        inside.wait(timeout=30)  # and neither has left it
        return run_highs(*args)

    monkeypatch.setattr(model, "_run_highs", both_inside)
    gc.enable()
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(plan(request())["summary"]["solver"]))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == ["highs", "highs"]
    assert states == [False, False]
    assert gc.isenabled()
    assert model._PAUSE.running == 0
