"""The driver on an event loop whose clock stands still (a test's frozen time, a
suspended host): nothing it does when the charger answers, refuses the connection or
drops it mid-request may wait for loop time to pass. Real-time guard: a test that
would hang is cancelled after 10 s of wall-clock time instead, and fails."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from freezegun import freeze_time

from custom_components.evflex.charger.base import ChargerError

from .conftest import Rig

GUARD_S = 10.0


async def _guarded[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro`; cancel it after GUARD_S seconds of wall-clock time (not loop time)."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(coro)
    timer = threading.Timer(GUARD_S, lambda: loop.call_soon_threadsafe(task.cancel))
    timer.start()
    try:
        return await task
    finally:
        timer.cancel()


@pytest.fixture
async def frozen(rig: Rig) -> AsyncIterator[Rig]:
    with freeze_time("2026-11-29 10:00:00"):
        loop = asyncio.get_running_loop()
        before = loop.time()
        await asyncio.sleep(0)
        assert loop.time() == before  # the loop's clock really stands still
        yield rig


@pytest.mark.parametrize("model", ["alfen"])
async def test_connect_and_read_on_a_frozen_clock(frozen: Rig) -> None:
    state = await _guarded(frozen.driver.async_read())
    assert state.connected is True


@pytest.mark.parametrize("model", ["alfen"])
async def test_a_refused_connection_fails_at_once(frozen: Rig) -> None:
    await frozen.server.stop()
    with pytest.raises(ChargerError, match="refused"):
        await _guarded(frozen.driver.async_read())


@pytest.mark.parametrize("model", ["alfen"])
async def test_a_connection_dropped_mid_request_fails_at_once(frozen: Rig) -> None:
    await _guarded(frozen.driver.async_read())
    frozen.sim.faults.delay_s = 30.0  # the answer would come in 30 s of loop time: never

    async def read_then_drop() -> None:
        reading = asyncio.ensure_future(frozen.driver.async_read())
        for _ in range(10_000):  # until the request reached the simulator
            if frozen.sim.requests > requests_before:
                break
            await asyncio.sleep(0)
        frozen.sim.drop()
        await reading

    requests_before = frozen.sim.requests
    with pytest.raises(ChargerError, match="closed the connection"):
        await _guarded(read_then_drop())
    # The simulator's handler still sits in its 30 s delay: end it, as a reboot would.
    for task in asyncio.all_tasks():
        if "handle_request" in repr(task.get_coro()):
            task.cancel()
    await asyncio.sleep(0)


@pytest.mark.parametrize("model", ["alfen"])
async def test_a_drop_while_idle_reconnects_and_leaves_no_unhandled_error(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[str] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(str(context["message"])))
    try:
        await rig.driver.async_read()
        rig.sim.drop()  # nothing in flight: only the disconnect callback sees it
        await asyncio.sleep(0.05)
        state = await rig.driver.async_read()  # a new connection at once, no back-off
        assert state.connected is True
        for _ in range(5):
            await asyncio.sleep(0)  # the old connection's callbacks run and let go
        gc.collect()
        assert not [m for m in unhandled if "never retrieved" in m]
    finally:
        loop.set_exception_handler(None)
