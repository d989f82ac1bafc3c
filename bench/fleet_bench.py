"""Benchmark the fleet study at scale: homes per second, and the run time for 100,
1,000 and 10,000 homes over one night.

    .venv/bin/python -m bench.fleet_bench [--quick] [--max-homes N] [--region cn|us]
                                          [--workers N] [--backend process|dask|ray]

For each street size: generate the street (real data), then run every strategy
on it, timing each, and the coordinated peak's gap to the joint optimum (%).
The planners (`evflex_local`, `evflex_local_asap`, `evflex_coordinated`) plan one
request per EV session with `optimizer.plan()` on the chosen backend, started and
warmed once before any timing (its start-up is printed apart). `--quick`: 100 and 1,000 homes only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

from aggregator.backends import Backend, open_backend
from aggregator.metrics import feeder_kw
from aggregator.population import generate
from aggregator.study import StudyOptions, strategies
from optimizer.examples import simulated_home

SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
PLANNERS = ("evflex_local", "evflex_coordinated")


def run_size(region: str, homes: int, backend: Backend) -> dict[str, float]:
    """Seconds for each step on a street of `homes` homes, one night; also its sessions."""
    began = time.perf_counter()
    fleet = generate(region, homes, 1, seed=1)
    out = {"sessions": float(len(fleet.sessions)), "generate": time.perf_counter() - began}
    peaks = {}
    for name, strategy in strategies(StudyOptions(region=region)).items():
        began = time.perf_counter()
        peaks[name] = float(feeder_kw(fleet, strategy(fleet, backend, None)).max())
        out[name] = time.perf_counter() - began
    out["gap_pct"] = 100 * (peaks["evflex_coordinated"] / peaks["joint_optimum"] - 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 homes only")
    parser.add_argument("--max-homes", type=int, default=None, help="skip larger streets")
    parser.add_argument("--region", choices=("cn", "us"), default="cn")
    parser.add_argument("--workers", type=int, default=None, help="default: every CPU")
    parser.add_argument("--backend", choices=("process", "dask", "ray"), default="process")
    args = parser.parse_args(argv)
    sizes = [n for n in (QUICK_SIZES if args.quick else SIZES) if n <= (args.max_homes or n)]
    workers = args.workers or os.cpu_count() or 1

    began = time.perf_counter()
    with contextlib.closing(open_backend(args.backend, workers)) as backend:
        backend.map([simulated_home()] * workers)  # a pool starts lazily: start and warm it
        startup = time.perf_counter() - began
        print(
            f"fleet bench: region {args.region}, one night, {args.backend} backend, "
            f"{workers} workers on {os.cpu_count()} CPUs; backend start-up {startup:.1f} s"
        )
        header = f"{'homes':>7} {'EV sessions':>11} {'generate':>9} {'timers':>7} "
        header += f"{'local':>8} {'coord.':>8} {'joint':>7} {'total':>8} {'homes/s':>8} "
        header += f"{'plans/s':>8} {'gap':>6}"
        print(header)
        for homes in sizes:
            t = run_size(args.region, homes, backend)
            timers = t["uncontrolled"] + t["tou_timer"] + t["tou_timer_random"]
            planned = t["evflex_local"] + t["evflex_coordinated"]
            total = t["generate"] + timers + planned + t["evflex_local_asap"] + t["joint_optimum"]
            plans = 2 * t["sessions"]
            print(
                f"{homes:>7,} {int(t['sessions']):>11,} {t['generate']:>8.1f}s {timers:>6.1f}s "
                f"{t['evflex_local']:>7.1f}s {t['evflex_coordinated']:>7.1f}s "
                f"{t['joint_optimum']:>6.1f}s {total:>7.1f}s "
                f"{homes / total:>8.1f} {plans / planned:>8.1f} {t['gap_pct']:>5.1f}%",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
