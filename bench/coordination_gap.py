"""Where the coordinated peak's gap to the joint optimum comes from, night by night.

    .venv/bin/python -m bench.coordination_gap [--region cn] [--homes 200] [--days 7]
                                               [--seed 1] [--workers 2]
                                               [--settings perfect,history,study,foresight,
                                                           metered,resolved,live,live1min,
                                                           unexpected]
                                               [--plans optimizer|envelope]
                                               [--non-response SHARE]

For each night, on the street's actual load, the peak (kW) of:
- `optimum`: the joint optimum (perfect foresight, minimum power relaxed);
- for each coordinator setting, `perfect` (perfect forecast, every session and need
  known at noon), `history` (the history forecast, the same) and `study` (the
  study's default: history forecast, cars heard of when they plug in, needs
  estimated from past sessions), `foresight` (the study's default with a perfect
  forecast of the street's load: what the forecast alone costs), `metered` (the study's
  default solved again every slot on the metered load, the last error carried forward:
  `--feedback metered`),
  `resolved` (the same with no error carried forward, decay 0: `--decay 0`), `live`
  (the study's default solved again every slot on the slot itself read at its start:
  `--feedback live`), `live1min` (the same followed a minute into the slot: `--latency
  1`), `unexpected` (the study's default keeping no room for the cars still expected
  tonight: `--no-expected-arrivals`):
  - `lp(f)`: the coordinator's shares as sent (the joint model's solution made
    chargeable), before any home plans: the forecast's share of the gap;
  - `plans(f)`: the homes' plans within their envelopes, before the repair pass;
  - `final(f)`: after the repair pass (sessions that fell short planned once more).
With `--non-response` the same share of homes is silent in every setting and in the
optimum (they charge by their local default). Then the gap of each to the optimum (%),
and the whole study's; and, at each night's peak slot of `plans(perfect)`, the homes'
power above their shares split into the slots whose envelope was raised to the
charger's minimum (share above 0 and below the minimum) and the others (where the
envelope is the share rounded up to 1 W, so a plan can only be below it).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from aggregator.backends import Backend, Progress, open_backend
from aggregator.coordinator import Coordination, coordinate, joint_optimum
from aggregator.plan_requests import Request
from aggregator.population import HOURS_PER_SLOT, Fleet, generate
from aggregator.sources import SLOTS_PER_DAY, Array
from aggregator.study import StudyOptions


class EnvelopeBackend:
    """`--plans envelope`: each home's plan is its envelope, from its start, up to its need
    (no `optimizer.plan()`). The homes' plans reproduce tight envelopes exactly (0.0 kW
    above the shares at every night's peak), so this measures the coordinator's shares in
    seconds; where an envelope holds more than the need it draws the earliest of it."""

    workers = 1

    def map(
        self, requests: Sequence[Request], progress: Progress | None = None
    ) -> list[list[float]]:
        return [_envelope_plan(r) for r in requests]

    def tasks(self, task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [task(item) for item in items]

    def close(self) -> None:
        pass


def _envelope_plan(request: Request) -> list[float]:
    start = datetime.fromisoformat(request["start"])
    vehicle = request["vehicle"]

    def slot(when: str) -> int:
        return int((datetime.fromisoformat(when) - start).total_seconds() // 900)

    power = np.full(slot(vehicle["departure"]), float(request["charger"]["max_power_kw"]))
    for signal in request["signals"]:
        if signal["type"] == "ev_limit":
            power[slot(signal["start"]) : slot(signal["end"])] = signal["limit_kw"]
    need = (vehicle["target_soc_pct"] - vehicle["soc_pct"]) / 100 * vehicle["battery_kwh"]
    left = need / vehicle["charge_efficiency"] / HOURS_PER_SLOT  # kW x slots from the grid
    out = np.zeros_like(power)
    for t, kw in enumerate(power):
        out[t] = min(float(kw), max(left, 0.0))
        left -= out[t]
    return [float(x) for x in out]


def _peaks(street: Array, ev: Array, days: int) -> list[float]:
    load = street + ev.sum(axis=0)
    return [float(load[n * SLOTS_PER_DAY : (n + 1) * SLOTS_PER_DAY].max()) for n in range(days)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--region", choices=("cn", "us"), default="cn")
    parser.add_argument("--homes", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settings", default="perfect,history,study,metered")
    parser.add_argument(
        "--non-response", type=float, default=0.0, help="share of homes that do not respond"
    )
    parser.add_argument(
        "--plans", choices=("optimizer", "envelope"), default="optimizer", help="how homes plan"
    )
    args = parser.parse_args(argv)
    fleet = generate(args.region, args.homes, args.days, args.seed)
    street = fleet.street_kw
    columns: dict[str, list[float]] = {}
    opened: Backend = (
        EnvelopeBackend() if args.plans == "envelope" else open_backend("process", args.workers)
    )
    with contextlib.closing(opened) as backend:
        # The same silent homes (charging by their local default) in the optimum and everywhere.
        base = Coordination(non_response=args.non_response)
        columns["optimum"] = _peaks(street, joint_optimum(fleet, backend, None, base), fleet.days)
        repaired, raised_rows = {}, []
        study = StudyOptions(args.region, non_response=args.non_response).coordination
        every = {
            "perfect": replace(base, forecast="perfect"),
            "history": replace(base, forecast="history"),
            "study": study,
            "foresight": replace(study, forecast="perfect"),
            "metered": replace(study, feedback="metered", decay=None),
            "resolved": replace(study, feedback="metered", decay=0.0),
            "live": replace(study, feedback="live"),
            "live1min": replace(study, feedback="live", latency_min=1.0),
            "unexpected": replace(study, arrival_prior=None),
        }
        settings = {name: every[name] for name in args.settings.split(",")}
        plans = {}
        for forecast, config in settings.items():
            outcome = coordinate(fleet, backend, None, config)
            assert outcome.planned_ev is not None
            columns[f"lp({forecast})"] = _peaks(street, outcome.joint_ev, fleet.days)
            columns[f"plans({forecast})"] = _peaks(street, outcome.planned_ev, fleet.days)
            columns[f"final({forecast})"] = _peaks(street, outcome.ev, fleet.days)
            repaired[forecast] = outcome.repaired
            plans[forecast] = outcome.plans_made
            if forecast == "perfect":
                raised_rows = _attribution(fleet, outcome.joint_ev, outcome.planned_ev)
    print(f"{args.region}, {args.homes} homes, {len(fleet.owners)} EVs, seed {args.seed}: peak kW")
    width = {name: max(15, len(name) + 2) for name in columns}  # names never run together
    print("night " + "".join(f"{name:>{width[name]}}" for name in columns))
    for night in range(fleet.days):
        print(f"{night:>5} " + "".join(f"{c[night]:>{width[n]}.1f}" for n, c in columns.items()))
    best = max(columns["optimum"])
    print("study " + "".join(f"{max(c):>{width[n]}.1f}" for n, c in columns.items()))
    gaps = {n: 100 * (max(c) / best - 1) for n, c in columns.items()}
    print("gap % " + "".join(f"{g:>{width[n]}.1f}" for n, g in gaps.items()))
    print(f"sessions repaired: {repaired}; sessions {len(fleet.sessions)}; plans made {plans}")
    last = list(settings)[-1]
    print(f"the coordinated peak's night ({last}): {int(np.argmax(columns[f'final({last})']))}")
    print("perfect forecast, each night's peak slot of the plans: kW above the LP shares")
    print("night  slot  in raised slots  elsewhere  homes raised there")
    for night, (slot, raised, other, homes) in enumerate(raised_rows):
        print(f"{night:>5} {slot:>5} {raised:>16.1f} {other:>10.1f} {homes:>19}")
    return 0


def _attribution(fleet: Fleet, shares: Array, plans: Array) -> list[tuple[int, float, float, int]]:
    minimum = np.array([h.charger.min_kw for h in fleet.homes])[:, None]
    raised = (shares > 1e-6) & (shares < minimum - 1e-6)
    street = fleet.street_kw
    rows = []
    for night in range(fleet.days):
        first = night * SLOTS_PER_DAY
        t = first + int(np.argmax((street + plans.sum(axis=0))[first : first + SLOTS_PER_DAY]))
        above = plans[:, t] - shares[:, t]
        mask = raised[:, t]
        in_raised, elsewhere = float(above[mask].sum()), float(above[~mask].sum())
        rows.append((t - first, in_raised, elsewhere, int(mask.sum())))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
