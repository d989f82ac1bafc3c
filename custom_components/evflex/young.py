"""Planning without full garbage collections in Home Assistant's process.

A plan builds a Pyomo model of some 10^5 objects that live for the length of the
solve (tens to hundreds of ms) and then die as cyclic garbage. Run with the garbage
collector on, they survive the young collections that happen during the solve, are
promoted to the oldest generation and push CPython (3.13) into a FULL collection of
Home Assistant's whole heap every few plans: 250-290 ms with the GIL held, during which
the event loop answers nothing (measured: bench/dispatch_bench.py --slow-ms).

`young(func, *args)` runs `func` (in an executor thread) with automatic collection
paused and, once no plan is running, collects the young generations in that same
thread: the model's garbage is freed while it is still young and never counts
towards a full collection. The pause is process-wide for the length of a solve (the
collector cannot be paused for one thread); nested and concurrent plans share it
(a counter), and the collector's state before the first is what is restored.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable


class _Pause:
    """The plans running now, and whether the collector ran before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.was_enabled = True


_PAUSE = _Pause()


def young[**P, R](func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    pause = _PAUSE
    with pause.lock:
        if pause.running == 0:
            pause.was_enabled = gc.isenabled()
            gc.disable()
        pause.running += 1
    try:
        return func(*args, **kwargs)
    finally:
        with pause.lock:
            pause.running -= 1
            last = pause.running == 0
            if last and pause.was_enabled:
                gc.enable()
        if last:
            gc.collect(1)  # the young generations only: the solve's garbage, here
