"""Shared by the aggregator's hand-set street tests."""

from __future__ import annotations

import numpy as np

from aggregator import Fleet, HandSetCar, hand_set_fleet
from aggregator.backends import SerialBackend
from aggregator.sources import Array

SERIAL = SerialBackend()  # each home's real optimizer.plan(), in this process


def at(hhmm: str) -> int:
    """The slot of a night (12:00-12:00, 15 min) that starts at `hhmm`."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return ((hours - 12) % 24) * 4 + minutes // 15


def bump_night(bump_kw: float = 3.0) -> tuple[Fleet, Array]:
    """One 7.4 kW car 22:00-06:00 needing 13.32 kWh (14.8 from the grid), and the night's
    expected load: 1 kW, `bump_kw` at 02:00-03:00, the evening's 21 kW at 18:00 (P* = 21)."""
    fleet = hand_set_fleet([HandSetCar("22:00", "06:00", need_kwh=7.4 * 2 * 0.9)], rating_kw=30.0)
    expected = np.ones(96)
    expected[at("18:00")] = 21.0
    expected[at("02:00") : at("03:00")] = bump_kw
    return fleet, expected
