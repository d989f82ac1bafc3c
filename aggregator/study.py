"""Run the fleet study: one street, every strategy, the metrics, optionally hosting capacity."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aggregator.backends import Backend, Progress, open_backend
from aggregator.coordinator import (
    Arrivals,
    Coordination,
    Feedback,
    Forecast,
    Needs,
    evflex_coordinated,
    joint_optimum,
)
from aggregator.hosting import MAX_GROWTH, grown_street, hosting_beyond
from aggregator.metrics import Metrics, measure
from aggregator.population import Fleet, FleetError, arrival_prior, generate
from aggregator.regions import REGIONS
from aggregator.sources import Array
from aggregator.strategies import STRATEGIES, Strategy
from aggregator.thermal import daily_ambient_c

JOINT = "joint_optimum"


@dataclass(frozen=True, slots=True)
class StudyOptions:
    region: str = "cn"
    homes: int = 200
    days: int = 7
    seed: int = 1
    workers: int | None = None  # default: every CPU
    backend: str = "process"
    rating_kw: float | None = None  # default: the region's kVA per home x homes
    ev_share: float | None = None  # default: the region's
    hosting: bool = False
    hosting_days: int = 7  # nights the hosting capacity is judged over
    only: tuple[str, ...] = ()  # the strategies in the table (default: all)
    hosting_only: tuple[str, ...] = ()  # the strategies whose hosting is found (default: all)
    forecast: Forecast = "history"
    margin_share: float = 0.05
    non_response: float = 0.0
    arrivals: Arrivals = "online"
    needs: Needs = "history"
    feedback: Feedback = "none"
    decay: float | None = 0.0  # the error read carried on (None: fitted to the history)
    latency_min: float = 0.0  # live feedback: minutes before the homes follow
    expect_arrivals: bool = True  # online: room kept for the cars still expected tonight
    progress: bool = True

    @property
    def coordination(self) -> Coordination:
        return Coordination(
            self.forecast,
            self.margin_share,
            self.non_response,
            self.arrivals,
            self.needs,
            need_prior_kwh(self.region) if self.region in REGIONS else 11.5,
            self.feedback,
            self.decay,
            self.latency_min,
            arrival_prior(self.region) if self.expect_arrivals and self.region in REGIONS else None,
        )


def need_prior_kwh(region: str) -> float:
    """The need the aggregator assumes for sessions it has not seen yet: the region's
    mean daily distance x the middle of its consumption range x the mean days between
    sessions (1 / the chance of plugging in on a night)."""
    reg = REGIONS[region]
    return reg.km_per_day * sum(reg.kwh_per_km) / 2 / reg.plug_in_probability


@dataclass(slots=True)
class Study:
    options: StudyOptions
    fleet: Fleet
    ev: dict[str, Array] = field(default_factory=dict)
    metrics: list[Metrics] = field(default_factory=list)
    hosting: dict[str, int] = field(default_factory=dict)
    ambient_c: Array | None = None  # per slot, for the thermal model


def ambient_c(options: StudyOptions, fleet: Fleet) -> Array:
    """The region's ambient temperature per slot of the study (°C)."""
    low, high = REGIONS[options.region].ambient_c
    return daily_ambient_c(fleet.n_slots, low, high)


def strategies(options: StudyOptions) -> dict[str, Strategy]:
    """Every strategy, the coordinated one and the joint optimum with the study's options."""
    config = options.coordination

    def coordinated(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
        return evflex_coordinated(fleet, backend, progress, config)

    def joint(fleet: Fleet, backend: Backend, progress: Progress | None = None) -> Array:
        return joint_optimum(fleet, backend, progress, config)

    return {**STRATEGIES, "evflex_coordinated": coordinated, JOINT: joint}


def run_study(options: StudyOptions, backend: Backend | None = None) -> Study:
    """The study on a street generated from `options`; plans run on `backend` (or a new one)."""
    if options.region not in REGIONS:
        raise FleetError(f"--region must be one of {', '.join(REGIONS)}")
    options.coordination  # noqa: B018 (validates the coordination options first)
    if options.hosting_days < 1:
        raise FleetError("--hosting-days must be at least 1")
    for field_name, names in (
        ("--strategies", options.only),
        ("--hosting-strategies", options.hosting_only),
    ):
        unknown = sorted(set(names) - set(STRATEGIES))
        if unknown:
            raise FleetError(
                f"{field_name}: {', '.join(unknown)} is not one of {', '.join(STRATEGIES)}"
            )
    fleet = generate(
        options.region,
        options.homes,
        options.days,
        options.seed,
        ev_share=options.ev_share,
        rating_kw=options.rating_kw,
    )
    study = Study(options, fleet, ambient_c=ambient_c(options, fleet))
    with _backend(options, backend) as runner:
        for name, strategy in strategies(options).items():
            if options.only and name not in options.only:
                continue
            with _bar(options, name, len(fleet.sessions), "session") as tick:
                study.ev[name] = strategy(fleet, runner, tick)
        local = study.ev.get("evflex_local")
        joint = study.ev.get(JOINT)
        joint_peak = None if joint is None else float((fleet.street_kw + joint.sum(axis=0)).max())
        for name, ev in study.ev.items():
            compared = local if name == "evflex_coordinated" else None
            study.metrics.append(measure(fleet, name, ev, compared, joint_peak, study.ambient_c))
        if options.hosting:
            study.hosting = _hosting(options, runner)
    return study


def _hosting(options: StudyOptions, runner: Backend) -> dict[str, int]:
    """Each strategy's hosting capacity beyond the street (`hosting.hosting_beyond`), over
    the first `hosting_days` nights of the study's week."""
    days = min(options.hosting_days, options.days)
    street = generate(
        options.region,
        options.homes,
        days,
        options.seed,
        ev_share=options.ev_share,
        rating_kw=options.rating_kw,
    )
    heat = ambient_c(options, street)

    def grow(count: int) -> Fleet:
        return grown_street(options.region, street, count, options.seed, options.ev_share)

    out = {}
    for name, strategy in strategies(replace(options, progress=False)).items():
        if name == JOINT or (options.hosting_only and name not in options.hosting_only):
            continue
        with _bar(options, f"hosting {name}", None, "try") as tick:
            out[name] = hosting_beyond(
                grow,
                street.ev_count,
                strategy,
                runner,
                heat,
                MAX_GROWTH * options.homes,
                lambda _n, _ok: tick(1),
            )
    return out


@contextlib.contextmanager
def _backend(options: StudyOptions, given: Backend | None) -> Iterator[Backend]:
    if given is not None:
        yield given
        return
    with contextlib.closing(open_backend(options.backend, options.workers)) as runner:
        yield runner


@contextlib.contextmanager
def _bar(options: StudyOptions, label: str, total: int | None, unit: str) -> Iterator[Progress]:
    if not options.progress:
        yield _ignore
        return
    from tqdm import tqdm  # type: ignore[import-untyped]

    bar: Any = tqdm(total=total, desc=f"{label:>28}", unit=unit, file=sys.stderr, leave=True)
    try:
        yield bar.update
    finally:
        bar.close()


def _ignore(_count: int) -> None:
    return None
