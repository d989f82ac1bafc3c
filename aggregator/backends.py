"""Where the homes' plans run: in process, in a process pool, or on Dask or Ray.

Every backend does one thing, `map(requests)`: plan-v1 requests in, each
plan's EV power (kW per slot) out, in order. The strategies never see which
backend ran them, so a cluster backend plugs in behind `--backend` alone.

The process pool hands each worker chunks of requests (one inter-process
round trip per chunk, not per home) and warms every worker once: a worker's
first plan imports Pyomo, about a second.
Use one as `with contextlib.closing(open_backend(...)) as backend:`.

Many transformers at once (`Rounds`): each transformer's strategy runs in its own
thread against a proxy backend; the `map` calls that the transformers make in the
same coordination round (the silent homes' local plans, the envelopes, the
repairs) are sent to the real backend as one map, so a cluster sees one map per
round, chunked over all of its threads, rather than one small map per transformer
with idle workers between them.
Dask is installed with the project's development requirements and tested on a
local cluster; Ray is optional. Either, chosen but not installed, fails with a
message that says so.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from aggregator.population import FleetError

BACKENDS = ("process", "dask", "ray")
# What a plan's result depends on: a worker must carry the same versions as this process.
PLAN_PACKAGES = ("evflex-optimizer", "numpy", "scipy", "pyomo", "highspy", "voluptuous", "tzdata")
CHUNKS_PER_WORKER = 4
RETRIES = 2  # a chunk whose task raised is run again this many times (Dask)

Request = dict[str, Any]
Progress = Callable[[int], None]
Plans = list[list[float]]


def plan_ev(request: Request) -> list[float]:
    """One home's plan: its EV power per slot (kW)."""
    from optimizer import plan

    return [float(slot["ev_kw"]) for slot in plan(request)["slots"]]


def plan_chunk(requests: Sequence[Request]) -> list[list[float]]:
    return [plan_ev(r) for r in requests]


def plan_versions() -> dict[str, str]:
    """The installed version of every package a plan depends on ("missing" if none)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in PLAN_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def check_plan_versions(mine: dict[str, str], theirs: dict[str, dict[str, str]]) -> None:
    """Refuse workers whose plan packages differ from this process's (`theirs`: by worker)."""
    wrong = [
        f"{worker} has {name} {got.get(name, 'missing')} (here {want})"
        for worker, got in sorted(theirs.items())
        for name, want in mine.items()
        if got.get(name, "missing") != want
    ]
    if wrong:
        raise FleetError("the cluster's workers plan with other packages: " + "; ".join(wrong))


def warm_up() -> None:
    """Import the optimizer and Pyomo, and solve once, before the first real plan."""
    from optimizer.examples import simulated_home

    plan_ev(simulated_home())


class Backend(Protocol):
    workers: int

    def map(
        self, requests: Sequence[Request], progress: Progress | None = None
    ) -> list[list[float]]:
        """Plan every request; call `progress(n)` as n more are done."""
        ...

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`task(item)` for every item, one item a task, in order (whole transformers, say)."""
        ...

    def close(self) -> None: ...


def _chunks(requests: Sequence[Request], workers: int) -> list[Sequence[Request]]:
    size = max(1, math.ceil(len(requests) / (workers * CHUNKS_PER_WORKER)))
    return [requests[i : i + size] for i in range(0, len(requests), size)]


def _gather(parts: Iterator[list[list[float]]], progress: Progress | None) -> list[list[float]]:
    out: list[list[float]] = []
    for part in parts:
        out.extend(part)
        if progress is not None:
            progress(len(part))
    return out


class SerialBackend:
    """In this process, one plan after another (tests, one core)."""

    workers = 1

    def map(
        self, requests: Sequence[Request], progress: Progress | None = None
    ) -> list[list[float]]:
        return _gather(([plan_ev(r)] for r in requests), progress)

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [task(item) for item in items]

    def close(self) -> None:
        return None


class ProcessBackend:
    """A `concurrent.futures.ProcessPoolExecutor`, warmed once, fed in chunks."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # spawn: forking a process that runs threads (HiGHS, tqdm) may deadlock.
        context = multiprocessing.get_context("spawn")
        self._pool: Executor = ProcessPoolExecutor(workers, context, initializer=warm_up)

    def map(
        self, requests: Sequence[Request], progress: Progress | None = None
    ) -> list[list[float]]:
        return _gather(self._pool.map(plan_chunk, _chunks(requests, self.workers)), progress)

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(self._pool.map(task, items))

    def close(self) -> None:
        self._pool.shutdown()


def _optional(module: str, backend: str, install: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise FleetError(
            f"--backend {backend} needs {install}, which is not installed "
            f"(pip install {install}), or use --backend process"
        ) from err


class DaskBackend:
    """Dask's distributed scheduler: a local cluster of `workers` processes on 127.0.0.1, or
    the cluster at DASK_SCHEDULER.

    Why Dask: pure-Python wheels (Python 3.13 and 3.14 alike, no daemon to install), a
    local cluster in a few seconds, and its scheduler reruns a task whose worker died (up
    to `distributed.scheduler.allowed-failures` times). A task that raises is retried
    `retries` times. The workers must carry this process's package versions, Dask's own
    (`get_versions(check=True)`) and those a plan depends on (`PLAN_PACKAGES`), checked on
    connect; the chunk size follows the cluster's thread count.
    """

    def __init__(
        self,
        workers: int,
        *,
        retries: int = RETRIES,
        task: Callable[[Sequence[Request]], Plans] = plan_chunk,
    ) -> None:
        distributed = _optional("dask.distributed", "dask", "'dask[distributed]'")
        import dask

        address = os.environ.get("DASK_SCHEDULER")
        self._cluster: Any = None
        if address:
            self._client = distributed.Client(address)
        else:
            # No statistical profiler: it costs CPU, and its thread outlives close().
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self._cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
                self._client = distributed.Client(self._cluster)
        try:
            self._client.get_versions(check=True)  # Dask's own packages
            check_plan_versions(plan_versions(), self._client.run(plan_versions))
            self._client.run(warm_up)
        except BaseException:
            self.close()
            raise
        self.workers = max(1, sum(self._client.nthreads().values()))
        self._retries = retries
        self._task = task

    def map(
        self, requests: Sequence[Request], progress: Progress | None = None
    ) -> list[list[float]]:
        chunks = _chunks(requests, self.workers)
        futures = self._client.map(self._task, chunks, pure=False, retries=self._retries)
        # In order, so progress counts whole chunks as they are gathered.
        return _gather((future.result() for future in futures), progress)

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        futures = self._client.map(task, items, pure=False, retries=self._retries)
        return [future.result() for future in futures]

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


class RayBackend:
    """Ray tasks (a local Ray of `workers` CPUs, or the cluster RAY_ADDRESS names)."""

    def __init__(self, workers: int) -> None:
        self._ray = _optional("ray", "ray", "ray")
        if not self._ray.is_initialized():
            self._ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else workers)
        self.workers = workers
        self._task = self._ray.remote(plan_chunk)

    def map(
        self, requests: Sequence[Request], progress: Progress | None = None
    ) -> list[list[float]]:
        refs = [self._task.remote(chunk) for chunk in _chunks(requests, self.workers)]
        return _gather((self._ray.get(ref) for ref in refs), progress)

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        remote = self._ray.remote(task)
        return [self._ray.get(ref) for ref in [remote.remote(item) for item in items]]

    def close(self) -> None:
        self._ray.shutdown()


@dataclass(slots=True)
class _Call:
    requests: Sequence[Request]
    progress: Progress | None
    plans: Plans | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(slots=True)
class Rounds:
    """Run one job per transformer, each in its own thread, and send the `map` calls of each
    round (one call from every job still running) to `backend` as one map.

    A job is a function of a backend (e.g. `lambda b: strategy(fleet, b, None)`); its
    `map` blocks until every other running job has called `map` too or finished, then
    the last one to arrive plans all their requests in one `backend.map` and hands each
    job its own plans. `maps` counts the maps sent; `requests` the requests planned."""

    backend: Backend
    maps: int = 0
    requests: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _running: int = 0
    _waiting: list[_Call] = field(default_factory=list)

    @property
    def workers(self) -> int:
        return self.backend.workers

    def run[T](self, jobs: Sequence[Callable[[Backend], T]]) -> list[T]:
        """Every job's result, in order; the first job that raised raises here."""
        results: list[Any] = [None] * len(jobs)
        errors: list[BaseException] = []
        proxy = _RoundProxy(self)

        def one(index: int) -> None:
            try:
                results[index] = jobs[index](proxy)
            except BaseException as err:  # handed to the caller below
                errors.append(err)
            finally:
                with self._cond:
                    self._running -= 1
                    self._dispatch_if_all_arrived()

        with self._cond:
            self._running = len(jobs)
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def map(self, requests: Sequence[Request], progress: Progress | None = None) -> Plans:
        call = _Call(requests, progress)
        with self._cond:
            self._waiting.append(call)
            self._dispatch_if_all_arrived()
            while not call.done:
                self._cond.wait()
        if call.error is not None:
            raise call.error
        assert call.plans is not None
        if progress is not None:
            progress(len(call.plans))
        return call.plans

    def _dispatch_if_all_arrived(self) -> None:
        """With the lock held: if every running job waits in `map`, plan the round (the
        lock is released meanwhile, so no job can join or leave: they all wait)."""
        if not self._waiting or len(self._waiting) < self._running:
            return
        calls, self._waiting = self._waiting, []
        batch = [r for c in calls for r in c.requests]
        self._cond.release()
        try:
            plans = self.backend.map(batch) if batch else []
            error: BaseException | None = None
        except BaseException as err:  # every caller of the round raises it
            plans, error = [], err
        finally:
            self._cond.acquire()
        if batch:
            self.maps += 1
            self.requests += len(batch)
        start = 0
        for c in calls:
            c.error = error
            if error is None:
                c.plans = plans[start : start + len(c.requests)]
            start += len(c.requests)
            c.done = True
        self._cond.notify_all()

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return self.backend.tasks(task, items)

    def close(self) -> None:
        return None


class _RoundProxy:
    """The backend a job of `Rounds` sees."""

    def __init__(self, rounds: Rounds) -> None:
        self.rounds = rounds
        self.workers = rounds.workers

    def map(self, requests: Sequence[Request], progress: Progress | None = None) -> Plans:
        return self.rounds.map(requests, progress)

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return self.rounds.tasks(task, items)

    def close(self) -> None:
        return None


def open_backend(name: str = "process", workers: int | None = None) -> Backend:
    """The named backend with `workers` workers (default: every CPU); 1 worker runs in process."""
    count = workers or os.cpu_count() or 1
    if name not in BACKENDS:
        raise FleetError(f"--backend must be one of {', '.join(BACKENDS)}")
    if name == "dask":
        return DaskBackend(count)
    if name == "ray":
        return RayBackend(count)
    return SerialBackend() if count == 1 else ProcessBackend(count)
