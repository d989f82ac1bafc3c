"""Command line: `python -m aggregator fleet ...` (the fleet study), `dispatch ...`.

`dispatch send URL --secret S EVENT.json` signs and sends an event to a home and prints
its answer (JSON) on standard output; `dispatch report URL --secret S` and `dispatch
forecast URL --secret S` print the home's report and flexibility forecast. The secret
may come from the environment (EVFLEX_DISPATCH_SECRET) instead of the command line.
Exit 0 when the home answered 2xx, 1 when it answered with a refusal, 2 when the
request could not be made (unreadable file, no secret, the home unreachable).

The summary goes to standard output, progress bars to standard error; anything a
library writes to file descriptor 1 while planning (HiGHS's banner) is sent to
standard error. An option that cannot be used exits 2 with what is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from optimizer.cli import stdout_to_stderr  # stdout stays the answer alone

EXIT_REFUSED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aggregator", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_fleet(sub)
    add_spread(sub)
    add_dispatch(sub)
    args = parser.parse_args(argv)
    commands = {"fleet": fleet, "spread": spread, "dispatch": dispatch}
    return commands[args.command](args)


def add_fleet(sub: Any) -> None:
    from aggregator.backends import BACKENDS
    from aggregator.coordinator import ARRIVALS, FEEDBACKS, FORECASTS, NEEDS

    p = sub.add_parser("fleet", help="the fleet study: every strategy on one street's transformer")
    p.add_argument("--homes", type=int, default=200)
    p.add_argument("--days", type=int, default=7, help="nights to simulate")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, metavar="DIR", help="where the files are written")
    p.add_argument("--region", choices=("cn", "us"), default="cn")
    p.add_argument("--workers", type=int, default=None, help="default: every CPU")
    p.add_argument("--backend", choices=BACKENDS, default="process")
    p.add_argument("--rating-kw", type=float, default=None, help="default: the region's")
    p.add_argument("--ev-share", type=float, default=None, help="default: the region's")
    p.add_argument("--forecast", choices=FORECASTS, default="history")
    p.add_argument("--margin", type=float, default=0.05, help="share of the rating kept free")
    p.add_argument(
        "--non-response", type=float, default=0.0, help="share of homes that do not respond"
    )
    p.add_argument(
        "--arrivals", choices=ARRIVALS, default="online", help="when the aggregator hears of a car"
    )
    p.add_argument(
        "--needs", choices=NEEDS, default="history", help="reported, or estimated from the past"
    )
    p.add_argument(
        "--feedback",
        choices=FEEDBACKS,
        default="none",
        help="metered: also solved every slot on the metered load (the last error carried on);"
        " live: the slot itself read at its start",
    )
    p.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="live feedback: minutes into a slot before the homes draw its new envelopes",
    )
    p.add_argument(
        "--decay",
        type=_decay,
        default=0.0,
        help="feedback: the read error's decay per slot into the slots after it (default 0;"
        " 'fit': fitted to the history)",
    )
    p.add_argument(
        "--no-expected-arrivals",
        action="store_true",
        help="online arrivals: keep no room for the cars still expected tonight",
    )
    p.add_argument("--hosting", action="store_true", help="also find each hosting capacity")
    p.add_argument(
        "--strategies", default="", help="comma-separated strategies for the table (default: all)"
    )
    p.add_argument(
        "--hosting-strategies",
        default="",
        help="comma-separated strategies whose hosting capacity is found (default: all)",
    )
    p.add_argument(
        "--hosting-days", type=int, default=7, help="nights the hosting capacity is judged over"
    )
    p.add_argument(
        "--export",
        metavar="DIR",
        default=None,
        help="also write the instance and every strategy's power (docs/fleet-export.md)",
    )


def _decay(text: str) -> float | None:
    if text == "fit":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a number at least 0 and below 1, or 'fit'"
        ) from None


def fleet(args: argparse.Namespace) -> int:
    from aggregator.population import FleetError
    from aggregator.report import summary, write_outputs
    from aggregator.study import StudyOptions, run_study

    with stdout_to_stderr() as out:
        try:
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
                hosting_days=args.hosting_days,
                only=tuple(x for x in args.strategies.split(",") if x),
                hosting_only=tuple(x for x in args.hosting_strategies.split(",") if x),
                forecast=args.forecast,
                margin_share=args.margin,
                non_response=args.non_response,
                arrivals=args.arrivals,
                needs=args.needs,
                feedback=args.feedback,
                decay=args.decay,
                latency_min=args.latency,
                expect_arrivals=not args.no_expected_arrivals,
            )
            study = run_study(options)
        except FleetError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_REFUSED
        paths = write_outputs(study, Path(args.out))
        if args.export is not None:
            from aggregator.export import export

            paths += export(study, Path(args.export))
        out.write(summary(study) + "\n" + "".join(f"wrote {p}\n" for p in paths))
    return 0


def add_spread(sub: Any) -> None:
    p = sub.add_parser("spread", help="min / median / max over several fleet studies' results")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="directories written by fleet --out")


def spread(args: argparse.Namespace) -> int:
    from aggregator.report import spread as table

    directories = [Path(d) for d in args.dirs]
    missing = [str(d) for d in directories if not (d / "metrics.csv").is_file()]
    if missing:
        print(f"error: DIR: no metrics.csv in {', '.join(missing)}", file=sys.stderr)
        return EXIT_REFUSED
    sys.stdout.write(table(directories))
    return 0


def add_dispatch(sub: Any) -> None:
    p = sub.add_parser("dispatch", help="send a signed dispatch event to a home, read its reports")
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (
        ("send", "sign and send EVENT.json (native or OpenADR 3), print the answer"),
        ("report", "print the home's report of the events delivered"),
        ("forecast", "print the home's day-ahead flexibility forecast"),
    ):
        a = actions.add_parser(name, help=text)
        a.add_argument("url", help="the home's dispatch webhook URL")
        a.add_argument("--secret", default=None, help="the home's whsec_ secret")
        a.add_argument("--retries", type=int, default=4, help="on 429, 5xx, no connection")
        a.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
        if name == "send":
            a.add_argument("event", help="the event's JSON file ('-' for standard input)")


def dispatch(args: argparse.Namespace) -> int:
    import json

    from aggregator import dispatch as client

    secret = args.secret or os.environ.get("EVFLEX_DISPATCH_SECRET")
    if not secret:
        print("error: secret: give --secret or set EVFLEX_DISPATCH_SECRET", file=sys.stderr)
        return EXIT_REFUSED
    options = {"retries": args.retries, "timeout_s": args.timeout}
    try:
        if args.action == "send":
            source = args.event
            try:
                text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
                event = json.loads(text)
            except (OSError, ValueError) as err:
                print(f"error: {source}: {err}", file=sys.stderr)
                return EXIT_REFUSED
            answer = client.send(args.url, secret, event, **options)
        elif args.action == "report":
            answer = client.report(args.url, secret, **options)
        else:
            answer = client.forecast(args.url, secret, **options)
    except client.DispatchError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(answer.body, indent=2, ensure_ascii=False))
    signed = "signed by the home" if answer.signed else "NOT signed with this secret"
    tries = "" if answer.attempts == 1 else f" after {answer.attempts} attempts"
    print(f"HTTP {answer.status}{tries}, {signed}", file=sys.stderr)
    return 0 if 200 <= answer.status < 300 else 1
