"""The book: updates by modification time, cancels, expiry, overlaps, reductions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.evflex.dispatch.book import Book, Record, Slot, fraction
from custom_components.evflex.dispatch.events import Event, Part

T0 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
Q = timedelta(minutes=15)


def event(
    eid: str = "e",
    kind: str = "ev_limit",
    value: float = 3.0,
    minutes: int = 60,
    modified: int = 0,
    priority: int = 0,
    cancel: bool = False,
    randomize_s: float = 0.0,
) -> Event:
    parts = () if cancel else (Part(kind, T0, T0 + timedelta(minutes=minutes), value),)
    return Event(
        eid,
        cancel,
        T0 - timedelta(hours=1) + timedelta(minutes=modified),
        priority,
        parts,
        randomize_s=randomize_s,
    )


def test_newer_modification_wins_older_is_stale() -> None:
    book = Book("home")
    assert book.apply(Record(event(value=3.0, modified=0))) == "created"
    assert book.apply(Record(event(value=5.0, modified=0))) == "stale"  # same time
    assert book.apply(Record(event(value=1.0, modified=-5))) == "stale"  # older
    assert book.apply(Record(event(value=2.0, modified=5))) == "updated"
    assert book.records["e"].event.parts[0].value == 2.0


def test_cancel_then_a_late_copy_does_not_return() -> None:
    book = Book("home")
    book.apply(Record(event(modified=0)))
    assert book.apply(Record(event(cancel=True, modified=1))) == "cancelled"
    assert book.records == {}
    assert book.apply(Record(event(modified=0))) == "stale"  # the original, delivered late
    assert book.apply(Record(event(cancel=True, modified=2))) == "unknown"
    assert book.apply(Record(event(modified=3))) == "created"  # a newer one does


def test_expiry() -> None:
    book = Book("home")
    book.apply(Record(event("a", minutes=30)))
    book.apply(Record(event("b", minutes=90)))
    assert [r.event.id for r in book.expire(T0 + timedelta(minutes=30))] == ["a"]
    assert list(book.records) == ["b"]
    assert book.signals(T0 + timedelta(minutes=90), 11.0) == []


def test_overlapping_caps_all_reach_the_planner_and_prices_by_priority() -> None:
    book = Book("home")
    book.apply(Record(event("a", "import_limit", 6.0)))
    book.apply(Record(event("b", "import_limit", 4.0)))
    book.apply(Record(event("p1", "price", 0.5, priority=1)))
    book.apply(Record(event("p0", "price", 0.1, priority=0)))
    signals = book.signals(T0, 11.0)
    limits = sorted(s["limit_kw"] for s in signals if s["type"] == "import_limit")
    assert limits == [4.0, 6.0]  # the optimizer keeps the lower per slot: the stricter holds
    # Price signals are applied in order, the last wins: priority 0 goes last.
    assert [s["series"][0]["value"] for s in signals if s["type"] == "price"] == [0.5, 0.1]


def test_simple_levels() -> None:
    book = Book("home")
    for level in range(4):
        book.apply(Record(event(f"s{level}", "simple", float(level))))
    caps = {s["id"]: s["limit_kw"] for s in book.signals(T0, 12.0)}
    # (3 - L) / 3 of 12 kW: level 1 -> 8, level 2 -> 4, level 3 -> 0; level 0 sets none.
    assert caps == {"s1#0": 8.0, "s2#0": 4.0, "s3#0": 0.0}


def test_reduction_against_the_baseline_per_slot() -> None:
    # Baseline: 11 kW, 7 kW, nothing, 11 kW from 14:00. Reduce by 5 kW for the hour.
    base = tuple(Slot(T0 + i * Q, T0 + (i + 1) * Q, kw) for i, kw in enumerate([11, 7, 0, 11]))
    book = Book("home")
    book.apply(Record(event("r", "reduction", 5.0), baseline=base))
    limits = [s["limit_kw"] for s in book.signals(T0, 11.0)]
    assert limits == [6.0, 2.0, 0.0, 6.0]  # 11-5, 7-5, max(0, 0-5), 11-5


def test_reduction_without_a_baseline_means_no_charging() -> None:
    book = Book("home")
    book.apply(Record(event("r", "reduction", 5.0)))
    (signal,) = book.signals(T0, 11.0)
    assert (signal["type"], signal["limit_kw"]) == ("ev_limit", 0.0)


def test_relaxation_raises_the_caps() -> None:
    book = Book("home")
    book.apply(Record(event(value=5.0), relax_kw=2.5))
    assert book.signals(T0, 11.0)[0]["limit_kw"] == 7.5


def test_randomize_start_is_home_specific_and_bounded() -> None:
    starts = set()
    for home in ("a", "b", "c", "d"):
        book = Book(home)
        book.apply(Record(event(randomize_s=600)))
        start = datetime.fromisoformat(book.signals(T0, 11.0)[0]["start"])
        assert T0 <= start <= T0 + timedelta(minutes=10)
        assert start - T0 == timedelta(seconds=round(fraction(home, "e") * 600))
        starts.add(start)
    assert len(starts) == 4


def test_round_trip() -> None:
    book = Book("home")
    base = (Slot(T0, T0 + Q, 11.0),)
    book.apply(
        Record(
            event("r", "reduction", 5.0),
            baseline=base,
            relax_kw=1.0,
            answer={"status": "accepted"},
            received=T0,
            free_until=T0 + Q,
        )
    )
    book.apply(Record(event("x")))
    book.apply(Record(event("x", cancel=True, modified=1)))
    again = Book.from_dict("home", book.to_dict())
    assert again.records == book.records
    assert again.cancelled == book.cancelled
