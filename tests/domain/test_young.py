"""Planning with automatic garbage collection paused (custom_components/evflex/young.py)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from custom_components.evflex.young import young


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_paused_while_planning_and_back_after() -> None:
    seen = young(gc.isenabled)
    assert seen is False
    assert gc.isenabled()


def test_a_failing_plan_restores_the_collector() -> None:
    def fails() -> None:
        raise RuntimeError("solver")

    with pytest.raises(RuntimeError, match="solver"):
        young(fails)
    assert gc.isenabled()


def test_a_collector_switched_off_by_someone_else_stays_off() -> None:
    gc.disable()
    assert young(lambda: 1) == 1
    assert not gc.isenabled()


def test_the_solve_garbage_is_freed_young() -> None:
    """A model's cyclic garbage is collected as the plan ends, not left to a full
    collection later."""

    class Node:
        def __init__(self) -> None:
            self.me = self

    refs: list[weakref.ref[Node]] = []

    def plan() -> int:
        nodes = [Node() for _ in range(5000)]  # cycles: garbage once the plan returns
        refs.append(weakref.ref(nodes[0]))
        return len(nodes)

    assert young(plan) == 5000
    assert refs[0]() is None


def test_concurrent_plans_share_one_pause() -> None:
    """The first plan to end does not switch the collector on under the second."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def plan_a() -> None:
        a_in.set()
        b_in.wait(5)

    def plan_b() -> None:
        b_in.set()
        a_out.wait(5)
        seen["b after a ended"] = gc.isenabled()

    first = threading.Thread(target=young, args=(plan_a,))
    second = threading.Thread(target=young, args=(plan_b,))
    first.start()
    a_in.wait(5)
    second.start()
    first.join(5)
    a_out.set()
    second.join(5)
    assert seen == {"b after a ended": False}
    assert gc.isenabled()
