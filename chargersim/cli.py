"""evflex-charger-sim: serve a simulated charger, print its state, obey a control endpoint.

    evflex-charger-sim --model {alfen,vestel,abb} --host 127.0.0.1 --port N
                       [--soc 30] [--battery-kwh 60] [--unit ID] [--control-port M]
                       [--speed 1] [--print-every 10]

Control (loopback HTTP/JSON, only with --control-port):
    GET  /state                       the simulator's state
    POST /plug    {"connected": true, "soc": 40}
    POST /fault   {"delay_s": 2, "exception": 4, "garbage": true}   (null clears)
    POST /reboot  {"offline_s": 5}
    POST /drop                        close every Modbus connection
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

from aiohttp import web

from .charger import SimCharger
from .maps import maps
from .server import SimServer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evflex-charger-sim", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, choices=sorted(maps.MODELS))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1502)
    p.add_argument("--unit", type=int, default=None, help="unit id (default: the model's)")
    p.add_argument("--soc", type=float, default=30.0, help="the car's state of charge (%%)")
    p.add_argument("--battery-kwh", type=float, default=60.0)
    p.add_argument("--max-current", type=float, default=32.0)
    p.add_argument("--control-port", type=int, default=None)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument("--print-every", type=float, default=10.0, help="seconds (0: never)")
    return p


def control_app(sim: SimCharger) -> web.Application:
    async def state(_: web.Request) -> web.Response:
        return web.json_response(sim.snapshot())

    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError as err:
            raise web.HTTPBadRequest(text=f"body: not JSON ({err})") from err
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body: must be a JSON object")
        return body

    async def plug(request: web.Request) -> web.Response:
        body = await _body(request)
        connected = body.get("connected", True)
        soc = body.get("soc")
        if not isinstance(connected, bool):
            raise web.HTTPBadRequest(text="connected: must be true or false")
        if soc is not None and not (isinstance(soc, int | float) and 0 <= soc <= 100):
            raise web.HTTPBadRequest(text="soc: must be a number between 0 and 100")
        sim.plug(connected, None if soc is None else float(soc))
        return web.json_response(sim.snapshot())

    async def fault(request: web.Request) -> web.Response:
        body = await _body(request)
        unknown = set(body) - {"delay_s", "exception", "garbage"}
        if unknown:
            raise web.HTTPBadRequest(text=f"{sorted(unknown)[0]}: unknown field")
        if "delay_s" in body:
            delay = body["delay_s"] or 0
            if not isinstance(delay, int | float) or not 0 <= delay <= 60:
                raise web.HTTPBadRequest(text="delay_s: must be between 0 and 60")
            sim.faults.delay_s = float(delay)
        if "exception" in body:
            code = body["exception"]
            if code is not None and not (isinstance(code, int) and 1 <= code <= 11):
                raise web.HTTPBadRequest(text="exception: must be a Modbus code 1..11 or null")
            sim.faults.exception = code
        if "garbage" in body:
            sim.faults.garbage = bool(body["garbage"])
        return web.json_response(sim.snapshot())

    async def reboot(request: web.Request) -> web.Response:
        body = await _body(request)
        offline = body.get("offline_s", 0)
        if not isinstance(offline, int | float) or not 0 <= offline <= 600:
            raise web.HTTPBadRequest(text="offline_s: must be between 0 and 600")
        sim.reboot(float(offline))
        return web.json_response(sim.snapshot())

    async def drop(_: web.Request) -> web.Response:
        sim.drop()
        return web.json_response(sim.snapshot())

    app = web.Application()
    app.add_routes(
        [
            web.get("/state", state),
            web.post("/plug", plug),
            web.post("/fault", fault),
            web.post("/reboot", reboot),
            web.post("/drop", drop),
        ]
    )
    return app


async def run(args: argparse.Namespace) -> None:
    start: float = time.monotonic()
    speed = float(args.speed)

    def clock() -> float:
        return start + (time.monotonic() - start) * speed

    sim = SimCharger(
        args.model,
        soc_pct=args.soc,
        battery_kwh=args.battery_kwh,
        clock=clock,
        unit=args.unit,
        max_current=args.max_current,
    )
    server = SimServer(sim, args.host, args.port)
    await server.start()
    runner: web.AppRunner | None = None
    if args.control_port is not None:
        runner = web.AppRunner(control_app(sim))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.control_port).start()
    print(
        f"evflex-charger-sim: {sim.model.title} on {args.host}:{server.port} "
        f"(unit {sim.unit})"
        + (f", control http://127.0.0.1:{args.control_port}" if runner else ""),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            every = args.print_every if args.print_every > 0 else 3600
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if args.print_every > 0:
                snap = sim.snapshot()
                snap.pop("events")
                print(json.dumps(snap), flush=True)
    finally:
        if runner is not None:
            await runner.cleanup()
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.battery_kwh <= 0 or not 0 <= args.soc <= 100 or args.speed <= 0:
        print(
            "evflex-charger-sim: --battery-kwh and --speed must be > 0, --soc 0..100",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(run(args))
    except OSError as err:
        print(f"evflex-charger-sim: {err}", file=sys.stderr)
        return 1
    return 0
