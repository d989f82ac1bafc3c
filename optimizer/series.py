"""Interval series -> per-slot values, by time-weighted average.

A slot that an interval covers in part takes the overlap's share of its value;
the rest of the slot counts as 0 (callers that forbid gaps check coverage first).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from .request import Interval


def resample(
    series: Iterable[Interval], start: datetime, slot: timedelta, slots: int
) -> list[float]:
    """Average `series` over `slots` slots of length `slot` from `start`.

    Times are taken as seconds from `start` (floats, exact for whole seconds), which
    is several times faster than datetime arithmetic per slot."""
    out = [0.0] * slots
    width = slot.total_seconds()
    span = slots * width
    for item in series:
        lo = max((item.start - start).total_seconds(), 0.0)
        hi = min((item.end - start).total_seconds(), span)
        if hi <= lo:
            continue
        first = int(lo // width)
        last = min(slots - 1, int(hi // width))
        value = item.value
        for index in range(first, last + 1):
            s_lo = index * width
            overlap = min(hi, s_lo + width) - max(lo, s_lo)
            if overlap > 0:
                out[index] += value * overlap / width
    return out


def overlapping(
    window_start: datetime, window_end: datetime, start: datetime, slot: timedelta, slots: int
) -> range:
    """Indices of the slots that share any time with [window_start, window_end)."""
    first = max(0, int((window_start - start) // slot))
    last = min(slots, -int(-(window_end - start) // slot))
    return range(first, max(first, last))


def clip(series: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    """The parts of `series` inside [lo, hi)."""
    return [
        Interval(max(i.start, lo), min(i.end, hi), i.value)
        for i in series
        if i.start < hi and i.end > lo
    ]


def without(series: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    """The parts of `series` outside [lo, hi)."""
    out: list[Interval] = []
    for i in series:
        if i.start < lo:
            out.append(Interval(i.start, min(i.end, lo), i.value))
        if i.end > hi:
            out.append(Interval(max(i.start, hi), i.end, i.value))
    return out
