"""Shared by the aggregator's hand-set street tests."""

from __future__ import annotations

from aggregator.backends import SerialBackend

SERIAL = SerialBackend()  # each home's real optimizer.plan(), in this process


def at(hhmm: str) -> int:
    """The slot of a night (12:00-12:00, 15 min) that starts at `hhmm`."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return ((hours - 12) % 24) * 4 + minutes // 15
