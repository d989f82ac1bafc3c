"""Command line: `python -m optimizer plan REQUEST.json [--plot FILE.png]`, `serve` and `fleet`.

`plan` prints the response JSON on standard output and nothing else: anything a
library writes to file descriptor 1 while planning (HiGHS's banner) is sent to
standard error instead. A refused request exits 2 with `field: rule` on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
    _add_fleet(sub)
    args = parser.parse_args(argv)
    if args.command == "demo-request":
        from .examples import simulated_home

        print(json.dumps(simulated_home(), indent=2))
        return 0
    if args.command == "demo":
        return _demo(args.plot)
    if args.command == "fleet":
        return _fleet(args)
    if args.command == "serve":
        from .service import run

        run(args.host, args.port)
        return 0
    return _plan(args.request, args.plot)


def _plan(source: str, plot_path: str | None) -> int:
    from . import PlanError, plan

    with _stdout_to_stderr() as out:
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
    with _stdout_to_stderr() as out:
        response = plan(request)
        if plot_path:
            from .plot import draw

            draw(request, response, Path(plot_path))
        out.write(explain(request, response) + "\n")
    return 0


def _add_fleet(sub: Any) -> None:
    p = sub.add_parser("fleet", help="the fleet study: every strategy on one street's transformer")
    p.add_argument("--homes", type=int, default=200)
    p.add_argument("--days", type=int, default=7, help="nights to simulate")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, metavar="DIR", help="where the files are written")
    p.add_argument("--region", choices=("cn", "us"), default="cn")
    p.add_argument("--workers", type=int, default=None, help="default: every CPU")
    p.add_argument("--backend", choices=("process", "dask", "ray"), default="process")
    p.add_argument("--rating-kw", type=float, default=None, help="default: the region's")
    p.add_argument("--ev-share", type=float, default=None, help="default: the region's")
    p.add_argument("--batch", type=int, default=None, help="homes per coordination batch")
    p.add_argument("--hosting", action="store_true", help="also find each hosting capacity")


def _fleet(args: argparse.Namespace) -> int:
    from .fleet.population import FleetError
    from .fleet.report import summary, write_outputs
    from .fleet.study import StudyOptions, run_study

    defaults = StudyOptions()
    options = StudyOptions(
        region=args.region,
        homes=args.homes,
        days=args.days,
        seed=args.seed,
        workers=args.workers,
        backend=args.backend,
        rating_kw=args.rating_kw,
        ev_share=args.ev_share,
        hosting=args.hosting,
        batch=args.batch or defaults.batch,
    )
    with _stdout_to_stderr() as out:
        try:
            study = run_study(options)
        except FleetError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_REFUSED
        paths = write_outputs(study, Path(args.out))
        out.write(summary(study) + "\n" + "".join(f"wrote {p}\n" for p in paths))
    return 0


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
def _stdout_to_stderr() -> Iterator[TextIO]:
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
