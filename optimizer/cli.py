"""Command line: `python -m optimizer plan REQUEST.json [--plot FILE.png]`, `serve`;
`fleet` and `dispatch` are aliases of `python -m aggregator fleet` and `... dispatch`.

`plan` prints the response JSON on standard output and nothing else: anything a
library writes to file descriptor 1 while planning (HiGHS's banner) is sent to
standard error instead. A refused request exits 2 with `field: rule` on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

EXIT_REFUSED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_plan = sub.add_parser("plan", help="plan one request (plan-v1 JSON file, - for stdin)")
    p_plan.add_argument("request", help="path to a plan-v1 request, or - for standard input")
    p_plan.add_argument("--plot", metavar="FILE.png", help="also draw the plan to this PNG file")
    sub.add_parser("demo-request", help="print the embedded simulated home's request")
    p_demo = sub.add_parser("demo", help="plan the simulated home and explain the plan")
    p_demo.add_argument("--plot", metavar="FILE.png", help="also draw the plan")
    p_serve = sub.add_parser("serve", help="serve POST /v1/plan over HTTP")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8765)
    sub.add_parser("fleet", help="alias of `python -m aggregator fleet` (the fleet study)")
    sub.add_parser("dispatch", help="alias of `python -m aggregator dispatch` (send, report)")
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] in (["fleet"], ["dispatch"]):
        return _fleet(args_list)
    args = parser.parse_args(args_list)
    if args.command == "demo-request":
        from .examples import simulated_home

        print(json.dumps(simulated_home(), indent=2))
        return 0
    if args.command == "demo":
        return _demo(args.plot)
    if args.command == "serve":
        from .service import run

        run(args.host, args.port)
        return 0
    return _plan(args.request, args.plot)


def _plan(source: str, plot_path: str | None) -> int:
    from . import PlanError, plan

    with stdout_to_stderr() as out:
        try:
            raw = _read(source)
            response = plan(raw)
        except PlanError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_REFUSED
        if plot_path:
            from .plot import draw

            draw(raw, response, Path(plot_path))
        out.write(json.dumps(response, indent=2) + "\n")
        out.flush()
    return 0


def _demo(plot_path: str | None) -> int:
    from . import plan
    from .examples import simulated_home
    from .explain import explain

    request = simulated_home()
    with stdout_to_stderr() as out:
        response = plan(request)
        if plot_path:
            from .plot import draw

            draw(request, response, Path(plot_path))
        out.write(explain(request, response) + "\n")
    return 0


def _fleet(argv: list[str]) -> int:
    """The fleet study is the aggregator's (`aggregator/`): hand over to its command line.

    A process of its own: the planner, also shipped inside the integration, never imports it.
    """
    return subprocess.call([sys.executable, "-m", "aggregator", *argv])


def _read(source: str) -> Any:
    from . import PlanError

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as err:
        raise PlanError("", f"cannot read {source}: {err.strerror}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise PlanError("", f"not valid JSON: {err}") from err


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[TextIO]:
    """Point fd 1 at stderr for the duration; yield a stream on the real stdout."""
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)
    stream = os.fdopen(os.dup(real), "w", encoding="utf-8")
    try:
        yield stream
    finally:
        stream.close()
        sys.stdout.flush()
        os.dup2(real, 1)
        os.close(real)
