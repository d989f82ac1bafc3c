"""Benchmark the fleet study at scale: fleets of 1,000, 10,000 and 100,000 homes on
realistic transformers, on the in-process pool and on Dask (a local cluster).

    .venv/bin/python -m bench.fleet_bench [--sizes 1000,10000,100000] [--backends process,dask]
        [--mode transformers|rounds] [--region cn|us] [--workers N] [--days 1]
        [--strategies a,b,...] [--json FILE]

A fleet of N homes is cut into transformers of 50-400 homes each (sizes drawn uniformly,
seeded; the remainder is one transformer, or two halves if above 400), each its own street
(`aggregator.population.generate`, its own seed, the region's kVA per home).

Modes: `transformers` (default): each transformer is one task on the backend (`tasks`),
which generates its street and runs its strategies in the worker, so the aggregator's
linear programmes run on the workers too. `rounds`: the streets and the aggregator's
models stay in this process, one thread a transformer, and the homes' plans go to the
backend as one map per coordination round (`aggregator.backends.Rounds`).

Per size it prints: the wall time, seconds per 1,000 homes and how the time grows from
the size before; each strategy's seconds (summed over transformers in `transformers`
mode) and plans; the peak memory: the largest resident set (VmHWM, reset before each
size) of this process (the Dask scheduler lives here) and the sum over its child
processes (the pool's or the cluster's workers and nannies); and the coordinated peak's
gap to the joint optimum's: in aggregate (the sum of the transformers' coordinated peaks
over the sum of their joint-optimum peaks, - 1), the mean over transformers and the worst.

What each size runs (`default_plan`; `--strategies` runs the given ones everywhere):
every strategy at 1,000 homes; the timers, `evflex_coordinated` and `joint_optimum` at
10,000; at 100,000 the timers on every transformer and `evflex_coordinated` and
`joint_optimum` on a seeded 10% of the transformers. The cost is the solvers: a home's
grid-friendly `evflex_local` plan is several times an as-early-as-possible or a
coordinated one, and the coordinator's per-transformer programmes grow faster than
linearly with the transformer's homes (see docs/fleet-study.md "Scale").
The backend is started and warmed before timing (its start-up is printed apart).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from aggregator.backends import (
    Backend,
    Plans,
    Progress,
    Request,
    Rounds,
    SerialBackend,
    open_backend,
)
from aggregator.metrics import feeder_kw
from aggregator.population import Fleet, FleetError, generate
from aggregator.sources import Array
from aggregator.strategies import Strategy
from aggregator.study import StudyOptions, strategies
from optimizer.examples import simulated_home

SIZES = (1_000, 10_000, 100_000)
HOMES_PER_TRANSFORMER = (50, 400)
PLANNED = ("evflex_local", "evflex_local_asap", "evflex_coordinated")
TIMERS = ("uncontrolled", "tou_timer", "tou_timer_random")
SEED_STRIDE = 100_000  # transformer k of fleet seed s is street seed s x stride + k
MODES = ("transformers", "rounds")


@dataclass(frozen=True, slots=True)
class Plan:
    """What a size runs: `every` on every transformer, `sampled` on a seeded share of them."""

    every: tuple[str, ...]
    sampled: tuple[str, ...] = ()
    share: float = 1.0


def default_plan(homes: int) -> Plan:
    """Every strategy at 1,000 homes; the timers, the coordinated strategy and the joint
    optimum at 10,000; at 100,000 the timers on every transformer, the coordinated strategy
    and the joint optimum on a seeded 10% of them."""
    if homes <= 1_000:
        return Plan(tuple(strategies(StudyOptions())))
    if homes <= 10_000:
        return Plan((*TIMERS, "evflex_coordinated", "joint_optimum"))
    return Plan(TIMERS, ("evflex_coordinated", "joint_optimum"), 0.1)


def transformer_sizes(homes: int, seed: int) -> list[int]:
    """Cut `homes` into transformers of 50-400 homes: uniform draws while more than 450 are
    left, then the remainder (51-450) as one, or as two halves above 400."""
    low, high = HOMES_PER_TRANSFORMER
    if homes < low:
        raise ValueError(f"homes must be at least {low}")
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    left = homes
    while left > high + low:
        n = int(rng.integers(low, high + 1))
        sizes.append(n)
        left -= n
    sizes += [left] if left <= high else [left // 2, left - left // 2]
    return sizes


@dataclass(frozen=True, slots=True)
class Street:
    """One transformer's street and the strategies to run on it (a task for a worker)."""

    region: str
    homes: int
    days: int
    seed: int
    names: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()  # StudyOptions fields (--set), e.g. the forecast

    def study(self) -> StudyOptions:
        return replace(StudyOptions(region=self.region), **dict(self.options))


class _Counting(SerialBackend):
    def __init__(self) -> None:
        self.plans = 0

    def map(self, requests: Sequence[Request], progress: Progress | None = None) -> Plans:
        self.plans += len(requests)
        return super().map(requests, progress)


def street_task(street: Street) -> dict[str, Any]:
    """Generate one transformer's street and run its strategies in this process: the seconds
    each took, the plans it made and the feeder's peak."""
    began, cpu_began = time.perf_counter(), time.process_time()
    fleet = generate(street.region, street.homes, street.days, street.seed)
    seconds = {"generate": time.perf_counter() - began}
    cpu = {"generate": time.process_time() - cpu_began}
    every = strategies(street.study())
    peaks, plans = {}, {}
    for name in street.names:
        backend = _Counting()
        began, cpu_began = time.perf_counter(), time.process_time()
        ev = every[name](fleet, backend, None)
        seconds[name] = time.perf_counter() - began
        cpu[name] = time.process_time() - cpu_began
        peaks[name] = float(feeder_kw(fleet, ev).max())
        plans[name] = backend.plans
    return {
        "sessions": len(fleet.sessions),
        "seconds": seconds,
        "cpu": cpu,
        "peaks": peaks,
        "plans": plans,
    }


@dataclass(slots=True)
class SizeResult:
    backend: str
    mode: str
    homes: int
    transformers: int
    sessions: int
    every: list[str]
    sampled: list[str]
    sampled_transformers: int
    seconds: dict[str, float] = field(default_factory=dict)  # summed over transformers
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU time, summed likewise
    plans: dict[str, int] = field(default_factory=dict)
    maps: dict[str, int] = field(default_factory=dict)  # rounds mode: maps sent
    total_s: float = 0.0  # wall time of the size, generation included
    main_peak_mib: float = 0.0
    children_peak_mib: float = 0.0
    gap_aggregate_pct: float | None = None
    gap_mean_pct: float | None = None
    gap_worst_pct: float | None = None
    load_average: float = 0.0  # the machine's 1-minute load when the size ended


def run_size(
    region: str,
    homes: int,
    days: int,
    seed: int,
    backend: tuple[str, Backend],
    plan: Plan,
    mode: str = "transformers",
    options: tuple[tuple[str, Any], ...] = (),
) -> SizeResult:
    """One fleet of `homes` homes: each transformer's street and strategies on `backend`,
    whole transformers as tasks (`transformers`) or one map per round (`rounds`)."""
    _reset_peaks()
    began = time.perf_counter()
    sizes = transformer_sizes(homes, seed)
    rng = np.random.default_rng(seed)
    count = max(1, round(plan.share * len(sizes))) if plan.sampled else 0
    picked = {int(k) for k in rng.choice(len(sizes), count, replace=False)}
    streets = [
        Street(
            region,
            n,
            days,
            seed * SEED_STRIDE + k,
            plan.every + (plan.sampled * (k in picked)),
            options,
        )
        for k, n in enumerate(sizes)
    ]
    out = SizeResult(
        backend[0], mode, homes, len(sizes), 0, list(plan.every), list(plan.sampled), len(picked)
    )
    if mode == "transformers":
        # By its module's name (not __main__), so that workers import the task.
        task = importlib.import_module("bench.fleet_bench").street_task
        results = backend[1].tasks(task, streets)
    else:
        results = _rounds(streets, backend[1], out)
    out.total_s = time.perf_counter() - began
    out.sessions = sum(r["sessions"] for r in results)
    for r in results:
        for name, seconds in r["seconds"].items():
            out.seconds[name] = out.seconds.get(name, 0.0) + seconds
        for name, seconds in r.get("cpu", {}).items():
            out.cpu_s[name] = out.cpu_s.get(name, 0.0) + seconds
        for name, count in r["plans"].items():
            out.plans[name] = out.plans.get(name, 0) + count
    out.main_peak_mib, out.children_peak_mib = _peaks_mib()
    out.load_average = _load_average()
    both = [
        r["peaks"] for r in results if {"evflex_coordinated", "joint_optimum"} <= set(r["peaks"])
    ]
    if both:
        coordinated = np.array([p["evflex_coordinated"] for p in both])
        joint = np.array([p["joint_optimum"] for p in both])
        gaps = 100 * (coordinated / joint - 1)
        out.gap_aggregate_pct = float(100 * (coordinated.sum() / joint.sum() - 1))
        out.gap_mean_pct, out.gap_worst_pct = float(gaps.mean()), float(gaps.max())
    return out


def _rounds(streets: Sequence[Street], backend: Backend, out: SizeResult) -> list[dict[str, Any]]:
    """Every street here, each strategy over every transformer at once: the aggregator's
    models in this process (one thread a transformer), one map per round to `backend`."""
    began = time.perf_counter()
    fleets = [generate(s.region, s.homes, s.days, s.seed) for s in streets]
    results: list[dict[str, Any]] = [
        {"sessions": len(f.sessions), "seconds": {}, "peaks": {}, "plans": {}} for f in fleets
    ]
    results[0]["seconds"]["generate"] = time.perf_counter() - began
    every = strategies(streets[0].study())
    for name in dict.fromkeys(n for s in streets for n in s.names):
        chosen = [k for k, s in enumerate(streets) if name in s.names]
        rounds = Rounds(backend)
        began = time.perf_counter()
        evs = rounds.run([_job(every[name], fleets[k]) for k in chosen])
        results[0]["seconds"][name] = time.perf_counter() - began  # wall time, all at once
        results[0]["plans"][name] = rounds.requests
        out.maps[name] = rounds.maps
        for k, ev in zip(chosen, evs, strict=True):
            results[k]["peaks"][name] = float(feeder_kw(fleets[k], ev).max())
    return results


def _job(strategy: Strategy, fleet: Fleet) -> Callable[[Backend], Array]:
    return lambda backend: strategy(fleet, backend, None)


# --- peak memory (Linux /proc) ---------------------------------------------------


def _children(pid: int) -> list[int]:
    """Every descendant process of `pid`."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _reset_peaks() -> None:
    """Reset VmHWM (the peak resident set) of this process and its children."""
    for pid in [os.getpid(), *_children(os.getpid())]:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def _hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _load_average() -> float:
    """The 1-minute load average (/proc/loadavg; os.getloadavg read 0 here at times)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def _peaks_mib() -> tuple[float, float]:
    return _hwm_mib(os.getpid()), sum(_hwm_mib(p) for p in _children(os.getpid()))


# --- the command line -------------------------------------------------------------


def _print_header(backend: str, workers: int, startup: float, region: str, days: int) -> None:
    print(
        f"\nfleet bench: region {region}, {days} night(s), {backend} backend, {workers} workers "
        f"on {os.cpu_count()} CPUs; backend start-up and warm-up {startup:.1f} s",
        flush=True,
    )


def _print_result(r: SizeResult, before: SizeResult | None) -> None:
    per_k = 1000 * r.total_s / r.homes
    growth = ""
    if before is not None:
        growth = f", x{r.total_s / before.total_s:.1f} time for x{r.homes / before.homes:g} homes"
    gap = (
        "-"
        if r.gap_aggregate_pct is None
        else f"{r.gap_aggregate_pct:.1f}% aggregate, mean {r.gap_mean_pct:.1f}%, "
        f"worst {r.gap_worst_pct:.1f}%"
    )
    sampled = f"; {', '.join(r.sampled)} on {r.sampled_transformers} of them" if r.sampled else ""
    print(
        f"{r.homes:,} homes on {r.transformers} transformers ({r.mode}), {r.sessions:,} EV "
        f"sessions: {r.total_s:.1f} s wall ({per_k:.2f} s per 1,000 homes{growth}); peak "
        f"memory {r.main_peak_mib:.0f} MiB here + {r.children_peak_mib:.0f} MiB in workers; "
        f"coordinated vs joint optimum {gap}; load average {r.load_average:.1f}"
        f"\n    ran {', '.join(r.every)} on every "
        f"transformer{sampled}",
        flush=True,
    )
    what = "s wall" if r.mode == "rounds" else "s (summed over transformers)"
    for name, seconds in r.seconds.items():
        plans = r.plans.get(name, 0)
        maps = f" in {r.maps[name]} maps" if name in r.maps else ""
        rate = f", {plans:,} plans{maps}, {1000 * seconds / plans:.0f} ms a plan" if plans else ""
        cpu = f", {r.cpu_s[name]:.1f} s CPU" if name in r.cpu_s else ""
        print(f"    {name:<20} {seconds:8.1f} {what}{cpu}{rate}", flush=True)


def parse_set(items: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """`NAME=VALUE` pairs for `StudyOptions` fields (the coordination's), typed as the
    field's default; the region, sizes and strategies have options of their own."""
    defaults = StudyOptions()
    allowed = {f.name for f in fields(StudyOptions)} - {
        "region",
        "homes",
        "days",
        "seed",
        "workers",
        "backend",
        "progress",
        "hosting",
        "rating_kw",
    }
    out = []
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in allowed:
            raise ValueError(
                f"--set {item}: NAME=VALUE with NAME one of {', '.join(sorted(allowed))}"
            )
        default = getattr(defaults, name)
        value: Any = text
        if default is None or isinstance(default, float):
            value = float(text)
        elif isinstance(default, bool):
            value = text.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            value = int(text)
        out.append((name, value))
    replace(defaults, **dict(out)).coordination  # noqa: B018 (validates the values)
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES), help="homes, a list")
    parser.add_argument("--backends", default="process,dask", help="process, dask, ray: a list")
    parser.add_argument("--mode", choices=MODES, default="transformers")
    parser.add_argument("--region", choices=("cn", "us"), default="cn")
    parser.add_argument("--workers", type=int, default=None, help="default: every CPU")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strategies", default=None, help="a list, on every transformer")
    parser.add_argument("--json", type=Path, default=None, help="append the results here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a study option of the coordination, e.g. forecast=perfect (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        options = parse_set(args.set)
    except (ValueError, FleetError) as err:
        parser.error(str(err))
    sizes = [int(n) for n in args.sizes.split(",")]
    workers = args.workers or os.cpu_count() or 1
    known = tuple(strategies(StudyOptions()))
    chosen = tuple(args.strategies.split(",")) if args.strategies else None
    for name in chosen or ():
        if name not in known:
            parser.error(f"--strategies: {name} is not one of {', '.join(known)}")
    for backend_name in args.backends.split(","):
        began = time.perf_counter()
        with contextlib.closing(open_backend(backend_name, workers)) as backend:
            backend.map([simulated_home()] * workers)  # a pool starts lazily: start and warm it
            startup = time.perf_counter() - began
            _print_header(backend_name, workers, startup, args.region, args.days)
            before = None
            for homes in sizes:
                plan = Plan(chosen) if chosen else default_plan(homes)
                result = run_size(
                    args.region,
                    homes,
                    args.days,
                    args.seed,
                    (backend_name, backend),
                    plan,
                    args.mode,
                    options,
                )
                _print_result(result, before)
                before = result
                if args.json is not None:
                    with args.json.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
