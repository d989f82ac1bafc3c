"""Many transformers at once: one map per coordination round (`Rounds`), on any backend."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from aggregator.backends import (
    Backend,
    DaskBackend,
    Plans,
    Progress,
    Request,
    Rounds,
    SerialBackend,
    check_plan_versions,
    plan_versions,
)
from aggregator.coordinator import Coordination, evflex_coordinated
from aggregator.population import Fleet, FleetError, HandSetCar, hand_set_fleet
from aggregator.sources import Array


class Counting(SerialBackend):
    """In process, counting the maps and their sizes."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def map(self, requests: Sequence[Request], progress: Progress | None = None) -> Plans:
        self.sizes.append(len(requests))
        return super().map(requests, progress)


class Broken(SerialBackend):
    def map(self, requests: Sequence[Request], progress: Progress | None = None) -> Plans:
        raise RuntimeError("the cluster went away")


def streets() -> list[Fleet]:
    """Three small streets: 2, 3 and 4 cars of 13.32 kWh (2 h at 7.4 kW x 0.9)."""
    return [
        hand_set_fleet([HandSetCar(need_kwh=13.32)] * 2, rating_kw=12.0),
        hand_set_fleet([HandSetCar(arrival="19:00"), HandSetCar(), HandSetCar()], rating_kw=15.0),
        hand_set_fleet(
            [HandSetCar(), HandSetCar(responds=False), HandSetCar(), HandSetCar(departure="06:00")],
            rating_kw=20.0,
        ),
    ]


def coordinated(fleet: Fleet) -> Callable[[Backend], Array]:
    return lambda backend: evflex_coordinated(fleet, backend, None, Coordination(non_response=0.5))


def test_a_job_that_raises_raises_and_the_others_finish() -> None:
    counting = Counting()
    rounds = Rounds(counting)

    def fails(_backend: Backend) -> Array:
        raise ValueError("street 2: no data")

    jobs = [coordinated(streets()[0]), fails, coordinated(streets()[1])]
    with pytest.raises(ValueError, match="street 2: no data"):
        rounds.run(jobs)
    assert sum(counting.sizes) == 2 + 3  # both other streets were planned


def test_a_backend_that_fails_fails_every_job_of_the_round() -> None:
    with pytest.raises(RuntimeError, match="the cluster went away"):
        Rounds(Broken()).run([coordinated(f) for f in streets()])


def test_one_map_per_round_and_the_same_plans_as_street_by_street() -> None:
    fleets = streets()
    alone = [coordinated(f)(SerialBackend()) for f in fleets]
    counting = Counting()
    rounds = Rounds(counting)
    together = rounds.run([coordinated(f) for f in fleets])
    for one, other in zip(alone, together, strict=True):
        assert np.array_equal(one, other)
    # Round 1: the one silent home's local plan (street 3; the other streets' silent lists
    # are empty and add nothing); round 2: the 2 + 3 + 3 responding homes' envelopes. No
    # session falls short, so there is no repair round.
    assert counting.sizes == [1, 8]
    assert (rounds.maps, rounds.requests) == (2, 9)


def test_workers_with_other_plan_packages_are_refused() -> None:
    mine = plan_versions()
    assert mine["highspy"] != "missing"
    check_plan_versions(mine, {"tcp://127.0.0.1:1": dict(mine)})  # the same: accepted
    theirs = {"tcp://127.0.0.1:1": dict(mine), "tcp://127.0.0.1:2": {**mine, "highspy": "0.1"}}
    with pytest.raises(FleetError, match=r"tcp://127.0.0.1:2 has highspy 0.1 \(here "):
        check_plan_versions(mine, theirs)
    del theirs["tcp://127.0.0.1:2"]["pyomo"]
    with pytest.raises(FleetError, match="has pyomo missing"):
        check_plan_versions(mine, theirs)


@pytest.fixture(scope="module")
def dask_offload_thread() -> None:
    """distributed's process-wide offload thread, started before a test counts threads."""
    from distributed.utils import offload

    async def start() -> None:
        await offload(int)

    asyncio.run(start())


def coordinate_street(index: int) -> list[list[float]]:
    """A whole transformer as one task: street `index`, coordinated in the worker."""
    ev = coordinated(streets()[index])(SerialBackend())
    return [[float(x) for x in row] for row in ev]


@pytest.mark.usefixtures("dask_offload_thread", "socket_enabled")  # the cluster is on 127.0.0.1
def test_a_local_dask_cluster_plans_as_in_process_and_reruns_a_dead_workers_task(
    tmp_path: Path,
) -> None:
    fleets = streets()
    alone = [coordinated(f)(SerialBackend()) for f in fleets]
    marker = tmp_path / "died"

    def die_once(index: int) -> list[list[float]]:
        # The first street to start kills its worker's process mid-map (the others run
        # on); the nanny starts a new worker and the scheduler runs the street again.
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            return coordinate_street(index)
        os._exit(1)

    with contextlib.closing(DaskBackend(2)) as cluster:
        rounds = Rounds(cluster)
        together = rounds.run([coordinated(f) for f in fleets])
        whole = cluster.tasks(die_once, [0, 1, 2])
    assert marker.exists()
    for one, other, again in zip(alone, together, whole, strict=True):
        assert np.array_equal(one, other)
        assert np.array_equal(one, np.array(again))
    assert rounds.maps == 2
