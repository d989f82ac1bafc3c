"""Benchmark the dispatch webhook: a burst of signed requests against a running HA.

    .venv/bin/python -m bench.dispatch_bench [--requests 500] [--concurrency 50] [--json]

Needs Home Assistant's frontend, as scripts/demo does (it installs it):
`.venv/bin/python -m pip install -c requirements/constraints.txt -r requirements/demo.txt`.

Starts a Home Assistant of its own on loopback (a temporary config directory, EVFlex
set up through its real config flow on the simulated charger, as scripts/demo does),
switches flexibility participation on, reads the webhook id and secret from EVFlex's
store (where they are kept; the owner sees the secret once in a notification), then
sends `--requests` signed requests at once (`--concurrency` in flight): valid
`ev_limit` events, each with its own id. Printed: how many were served (200), rate-
limited (429) and anything else; the answer time p50/p99/max; the burst's wall time;
and the event loop's lag: a probe asks HA's `/api/` (a handler that does nothing)
every 20 ms during the burst, and its worst answer time, less the idle one, bounds
how long the loop was kept from answering (an upper bound: it includes HTTP).
Nothing is timed in a unit test; this prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from demo_configure import _api, add_evflex, free_port, login, mark_onboarded, write_home

from aggregator.dispatch import signed_headers

ROOT = Path(__file__).parents[1]
USER, PASSWORD = "bench", "evflex-bench"
FLOW: list[dict[str, Any]] = [
    {"name": "Bench home", "charger_source": "simulated"},
    {"phases": "3", "voltage": 230, "min_current": 6, "max_current": 16},
    {"battery_kwh": 60, "efficiency": 0.92, "arrival_soc": 30},
    {},
    {"tariff_kind": "preset"},
    {"preset": "shanghai_residential_tou"},
    {"import_limit_kw": 10, "max_start_delay_s": 0},
]


# Home Assistant started through this: every garbage collection of 20 ms or more is
# logged (which generation, in which thread: a collection holds the GIL, so the event
# loop waits for it wherever it runs); with a slow-callback threshold, asyncio's debug
# mode logs each callback or task step that held the loop longer ("Executing ...
# took"); "plain" plans with the collector on, as before EVFlex's `young` (the figures
# before the fix).
LAUNCHER = """
import asyncio, gc, sys, threading, time
slow, gc_mode = sys.argv.pop(1), sys.argv.pop(1)
if gc_mode == "plain":
    sys.path.insert(0, sys.argv[sys.argv.index("-c") + 1])
    import custom_components.evflex.planning as planning
    planning.young = lambda func, *args, **kwargs: func(*args, **kwargs)
if slow != "-":
    asyncio.BaseEventLoop.slow_callback_duration = float(slow)
    sys.argv.append("--debug")
started = {}
def collected(phase, info):
    me = threading.get_ident()
    if phase == "start":
        started[me] = time.perf_counter()
    elif me in started:
        took = time.perf_counter() - started.pop(me)
        if took >= 0.02:
            where = threading.current_thread().name
            print(f"GC generation {info['generation']} in {where} took {took:.3f} seconds",
                  file=sys.stderr, flush=True)
gc.callbacks.append(collected)
from homeassistant.__main__ import main
sys.exit(main())
"""


@contextlib.contextmanager
def running_ha(
    config: Path, port: int, slow_s: float | None = None, plain_gc: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    py = sys.executable
    (config / "custom_components").mkdir(parents=True)
    (config / "custom_components" / "evflex").symlink_to(ROOT / "custom_components" / "evflex")
    write_home(config, "EVFlex bench", port)
    mark_onboarded(config)
    subprocess.run(
        [py, "-m", "homeassistant", "--script", "auth", "-c", str(config), "add", USER, PASSWORD],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    log = open(config / "ha.log", "wb")  # noqa: SIM115 (closed below)
    slow = "-" if slow_s is None else str(slow_s)
    proc = subprocess.Popen(
        [
            py,
            "-c",
            LAUNCHER,
            slow,
            "plain" if plain_gc else "young",
            "-c",
            str(config),
            "--skip-pip",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _event(n: int, now: datetime) -> bytes:
    start = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return json.dumps(
        {
            "id": f"bench-{n}",
            "type": "ev_limit",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "limit_kw": 5.0 + (n % 5),
        }
    ).encode()


async def _probe(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], stop: asyncio.Event
) -> list[float]:
    times: list[float] = []
    while not stop.is_set():
        t0 = time.perf_counter()
        async with session.get(f"{url}/api/", headers=headers) as resp:
            await resp.read()
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)
    return times


async def bench(requests: int, concurrency: int, config: Path, url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        headers = await login(session, url, USER, PASSWORD)
        entry_id = await add_evflex(session, url, headers, FLOW)
        store = config / ".storage" / f"evflex.dispatch.{entry_id}"
        for _ in range(120):
            if store.exists():
                break
            await asyncio.sleep(1)
        data = json.loads(store.read_text(encoding="utf-8"))["data"]
        secret, webhook_id = data["keys"]["current"], data["webhook_id"]
        await _api(
            session,
            "POST",
            f"{url}/api/services/switch/turn_on",
            headers=headers,
            json={"entity_id": "switch.bench_home_flexibility_participation"},
        )
        await asyncio.sleep(2)  # the first plans settle
        idle = await _idle_probe(session, url, headers)

        hook = f"{url}/api/webhook/{webhook_id}"
        gate = asyncio.Semaphore(concurrency)
        now = datetime.now(UTC)

        async def one(n: int) -> tuple[int, float]:
            body = _event(n, now)
            async with gate:
                sent = {"content-type": "application/json"}
                sent |= signed_headers(secret, body, f"bench-{n}-{time.time_ns()}")
                t0 = time.perf_counter()
                async with session.post(hook, data=body, headers=sent) as resp:
                    await resp.read()
                return resp.status, time.perf_counter() - t0

        stop = asyncio.Event()
        log = config / "ha.log"
        mark = log.stat().st_size
        probe = asyncio.create_task(_probe(session, url, headers, stop))
        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(n) for n in range(requests)))
        wall = time.perf_counter() - t0
        stop.set()
        probes = await probe
        await asyncio.sleep(0.5)  # HA writes its log from a thread of its own
        with log.open("rb") as handle:
            handle.seek(mark)
            burst_log = handle.read().decode(errors="replace")
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    times = sorted(t for _, t in results)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "wall_s": round(wall, 3),
        "served_200": statuses.get(200, 0),
        "rate_limited_429": statuses.get(429, 0),
        "other": {str(k): v for k, v in statuses.items() if k not in (200, 429)},
        "p50_ms": round(1000 * statistics.median(times), 1),
        "p99_ms": round(1000 * times[max(0, int(len(times) * 0.99) - 1)], 1),
        "max_ms": round(1000 * times[-1], 1),
        "probe_idle_ms": round(1000 * idle, 1),
        "probe_worst_ms": round(1000 * max(probes), 1) if probes else None,
        "loop_lag_bound_ms": round(1000 * (max(probes) - idle), 1) if probes else None,
        "probes": len(probes),
        "gc_pauses": _gc_pauses(burst_log),
        "slow": _slow(burst_log),
    }


_GC = re.compile(r"GC generation (?P<gen>\d) in (?P<thread>\S+) took (?P<s>[0-9.]+) seconds")
_SLOW = re.compile(r"Executing (?P<what>.*?) took (?P<s>[0-9.]+) seconds")


def _gc_pauses(log: str) -> dict[str, Any]:
    """Garbage collections of 20 ms or more during the burst, per generation."""
    out: dict[str, Any] = {}
    for m in _GC.finditer(log):
        gen = out.setdefault(f"gen{m['gen']}", {"count": 0, "longest_ms": 0.0})
        gen["count"] += 1
        gen["longest_ms"] = max(gen["longest_ms"], round(float(m["s"]) * 1000, 1))
    return out


def _slow(log: str, most: int = 5) -> list[str]:
    """asyncio's "Executing <...> took N seconds" (debug mode), slowest first."""
    found = sorted(_SLOW.finditer(log), key=lambda m: -float(m["s"]))[:most]
    return [
        f"{float(m['s']) * 1000:.0f} ms {re.sub(r' at 0x[0-9a-f]+', '', m['what'])[:200]}"
        for m in found
    ]


async def _idle_probe(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> float:
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        async with session.get(f"{url}/api/", headers=headers) as resp:
            await resp.read()
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)
    return statistics.median(times)


def run(args: argparse.Namespace, plain_gc: bool) -> dict[str, Any] | None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    slow_s = None if args.slow_ms is None else args.slow_ms / 1000
    with tempfile.TemporaryDirectory(prefix="evflex-dispatch-bench-") as tmp:
        config = Path(tmp) / "config"
        with running_ha(config, port, slow_s, plain_gc):
            try:
                return asyncio.run(bench(args.requests, args.concurrency, config, url))
            except (RuntimeError, TimeoutError, aiohttp.ClientError, KeyError) as err:
                print(f"dispatch_bench: {err}; see the log below", file=sys.stderr)
                log = (config / "ha.log").read_text(errors="replace").splitlines()
                print("\n".join(x for x in log if " ERROR " in x)[-3000:], file=sys.stderr)
                return None


def show(result: dict[str, Any], title: str) -> None:
    gcs = ", ".join(
        f"{gen}: {v['count']} (longest {v['longest_ms']} ms)"
        for gen, v in sorted(result["gc_pauses"].items())
    )
    print(
        f"{title}: {result['requests']} signed requests, {result['concurrency']} in flight, "
        f"in {result['wall_s']:.2f} s (cores: {os.cpu_count()})\n"
        f"  served 200: {result['served_200']}   rate-limited 429: "
        f"{result['rate_limited_429']}   other: {result['other'] or 'none'}\n"
        f"  answer time: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"max {result['max_ms']} ms\n"
        f"  event loop: probe {result['probe_idle_ms']} ms idle, worst "
        f"{result['probe_worst_ms']} ms in the burst ({result['probes']} probes): "
        f"lag at most {result['loop_lag_bound_ms']} ms\n"
        f"  garbage collections of 20 ms or more in the burst: {gcs or 'none'}"
    )
    for line in result["slow"]:
        print(f"  held the loop: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="one machine-readable line too")
    parser.add_argument(
        "--compare",
        type=int,
        default=0,
        metavar="N",
        help="N runs each, alternating: plans with the collector on (before the fix) and "
        "as shipped; prints each run and the worst lag of each side",
    )
    parser.add_argument(
        "--slow-ms",
        type=float,
        help="asyncio debug mode: list what held the loop longer than this in the burst "
        "(debug mode slows everything: its other timings are not the figures)",
    )
    args = parser.parse_args()
    if not args.compare:
        result = run(args, plain_gc=False)
        if result is None:
            return 1
        show(result, "as shipped")
        if args.json:
            print(json.dumps(result))
        return 0
    lags: dict[str, list[float]] = {"plain": [], "young": []}
    for _ in range(args.compare):
        for side in ("plain", "young"):
            result = run(args, plain_gc=side == "plain")
            if result is None:
                return 1
            title = "before (collector on while planning)" if side == "plain" else "as shipped"
            show(result, title)
            lags[side].append(result["loop_lag_bound_ms"])
            if args.json:
                print(json.dumps({"side": side, **result}))
    for side, values in lags.items():
        print(f"{side}: worst loop lag per run {values} ms; median {statistics.median(values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
