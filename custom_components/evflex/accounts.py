"""The month's results of one charger: energy, cost, off-peak and PV energy, savings.

Pure (no Home Assistant). The counters start afresh at the first figure of a new local
month; `month_start` is that month's first instant (UTC), the sensors' `last_reset`.

- cost: each kWh at the price it was bought; a kWh taken from the PV surplus is costed at
  the export price (what the owner gave up by not exporting it), not the import price;
- a kWh without a known price is not costed at zero: it is counted in `unpriced_kwh`,
  and its session gets no savings figure;
- baseline_cost: what the closed sessions would have cost charged at full power from
  plug-in, at the import prices from plug-in; savings = baseline_cost - closed_cost, the
  cost of those same sessions. A session is accounted in the month it closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, NamedTuple

from .session import as_utc, finite_float, parse_instant, require, wall_clock_instant

SCHEMA_VERSION = 1
_EPS = 1e-9


class Price(NamedTuple):
    """An import price over [start, end) (aware datetimes), per kWh."""

    start: datetime
    end: datetime
    value: float


@dataclass(slots=True)
class _Month:
    energy_kwh: float = 0.0
    cost: float = 0.0
    offpeak_kwh: float = 0.0
    pv_kwh: float = 0.0
    unpriced_kwh: float = 0.0
    baseline_cost: float = 0.0
    closed_cost: float = 0.0
    sessions: int = 0  # closed this month
    unpriced_sessions: int = 0  # closed this month without a savings figure


@dataclass(slots=True)
class _Open:
    """The session in progress (since the last close): its cost so far."""

    energy_kwh: float = 0.0
    cost: float = 0.0
    complete: bool = True  # every kWh had a price


class Accounts:
    """Monthly counters of one charger; feed it the session's guarded deltas."""

    def __init__(self, timezone: tzinfo) -> None:
        require(isinstance(timezone, tzinfo), "timezone", "must be a time zone")
        self.timezone = timezone
        self.month_start: datetime | None = None
        self._m = _Month()
        self._open = _Open()

    # --- the figures ---

    @property
    def energy_kwh(self) -> float:
        return self._m.energy_kwh

    @property
    def cost(self) -> float:
        return self._m.cost

    @property
    def offpeak_kwh(self) -> float:
        return self._m.offpeak_kwh

    @property
    def pv_kwh(self) -> float:
        return self._m.pv_kwh

    @property
    def unpriced_kwh(self) -> float:
        return self._m.unpriced_kwh

    @property
    def baseline_cost(self) -> float:
        return self._m.baseline_cost

    @property
    def closed_cost(self) -> float:
        """The cost of the sessions closed this month that have a baseline."""
        return self._m.closed_cost

    @property
    def savings(self) -> float:
        return self._m.baseline_cost - self._m.closed_cost

    @property
    def sessions(self) -> int:
        return self._m.sessions

    @property
    def unpriced_sessions(self) -> int:
        return self._m.unpriced_sessions

    # --- changes ---

    def roll_over(self, at: datetime) -> bool:
        """Start a new month's counters if `at` is in a later local month. True if so."""
        start = month_start(as_utc(at, "at"), self.timezone)
        if self.month_start is None:
            self.month_start = start
            return False
        if start <= self.month_start:
            return False
        self.month_start, self._m = start, _Month()
        return True

    def add(
        self,
        kwh: float,
        at: datetime,
        *,
        import_price: float | None,
        export_price: float | None,
        pv_share: float = 0.0,
        offpeak: bool = False,
    ) -> None:
        """Account `kwh` charged at `at`: a share `pv_share` (0..1) of it from PV surplus.

        The grid part costs `import_price`, the PV part `export_price` (per kWh); a part
        whose price is None is not costed (unpriced_kwh).
        """
        require(_finite(kwh) and kwh >= 0, "kwh", "must be a number of at least 0")
        require(_finite(pv_share) and 0 <= pv_share <= 1, "pv_share", "must be between 0 and 1")
        for name, price in (("import_price", import_price), ("export_price", export_price)):
            require(price is None or _finite(price), name, "must be a finite number or None")
        require(isinstance(offpeak, bool), "offpeak", "must be true or false")
        self.roll_over(at)
        if kwh == 0:
            return
        m, session = self._m, self._open
        from_pv = kwh * pv_share
        from_grid = kwh - from_pv
        cost = 0.0
        for part, price in ((from_grid, import_price), (from_pv, export_price)):
            if part <= 0:
                continue
            if price is None:
                m.unpriced_kwh += part
                session.complete = False
            else:
                cost += part * price
        m.energy_kwh += kwh
        m.cost += cost
        m.pv_kwh += from_pv
        if offpeak:
            m.offpeak_kwh += kwh
        session.energy_kwh += kwh
        session.cost += cost

    def close_session(
        self,
        at: datetime,
        *,
        plugged_at: datetime,
        energy_kwh: float,
        prices: Sequence[Price],
        max_kw: float,
    ) -> float | None:
        """Close the session: its baseline (full power from plug-in at `prices`) and its
        savings go into the month of `at`. Returns the session's savings, or None when
        some of its energy or its baseline had no price (then it adds to neither)."""
        require(_finite(energy_kwh) and energy_kwh >= 0, "energy_kwh", "must be at least 0")
        require(_finite(max_kw) and max_kw > 0, "max_kw", "must be a number above 0")
        start = as_utc(plugged_at, "plugged_at")
        self.roll_over(at)
        baseline = baseline_cost(start, energy_kwh, max_kw, prices)
        session, self._open = self._open, _Open()
        m = self._m
        m.sessions += 1
        if baseline is None or not session.complete:
            m.unpriced_sessions += 1
            return None
        m.baseline_cost += baseline
        m.closed_cost += session.cost
        return baseline - session.cost

    def open_savings(
        self, *, plugged_at: datetime, prices: Sequence[Price], max_kw: float
    ) -> float | None:
        """What the session in progress has saved so far against charging its energy so
        far at full power from plug-in; None when some of it had no price."""
        session = self._open
        if not session.complete:
            return None
        baseline = baseline_cost(
            as_utc(plugged_at, "plugged_at"), session.energy_kwh, max_kw, prices
        )
        return None if baseline is None else baseline - session.cost

    # --- persistence ---

    def to_dict(self) -> dict[str, Any]:
        m, session = self._m, self._open
        return {
            "version": SCHEMA_VERSION,
            "month_start": None if self.month_start is None else self.month_start.isoformat(),
            "month": {
                "energy_kwh": m.energy_kwh,
                "cost": m.cost,
                "offpeak_kwh": m.offpeak_kwh,
                "pv_kwh": m.pv_kwh,
                "unpriced_kwh": m.unpriced_kwh,
                "baseline_cost": m.baseline_cost,
                "closed_cost": m.closed_cost,
                "sessions": m.sessions,
                "unpriced_sessions": m.unpriced_sessions,
            },
            "open": {
                "energy_kwh": session.energy_kwh,
                "cost": session.cost,
                "complete": session.complete,
            },
        }

    @classmethod
    def from_dict(cls, timezone: tzinfo, raw: object) -> Accounts:
        """What `to_dict` saved; bad fields read as defaults (a bad month: a fresh one)."""
        accounts = cls(timezone)
        if not isinstance(raw, dict):
            return accounts
        start = parse_instant(raw.get("month_start"))
        if start is None:
            return accounts
        accounts.month_start = start
        month, session = raw.get("month"), raw.get("open")
        if isinstance(month, dict):
            m = accounts._m
            m.energy_kwh = _nonneg(month.get("energy_kwh"))
            m.cost = _number(month.get("cost"))  # negative prices: a cost can be below 0
            m.offpeak_kwh = _nonneg(month.get("offpeak_kwh"))
            m.pv_kwh = _nonneg(month.get("pv_kwh"))
            m.unpriced_kwh = _nonneg(month.get("unpriced_kwh"))
            m.baseline_cost = _number(month.get("baseline_cost"))
            m.closed_cost = _number(month.get("closed_cost"))
            m.sessions = _count(month.get("sessions"))
            m.unpriced_sessions = min(_count(month.get("unpriced_sessions")), m.sessions)
        if isinstance(session, dict):
            accounts._open = _Open(
                energy_kwh=_nonneg(session.get("energy_kwh")),
                cost=_number(session.get("cost")),
                complete=session.get("complete") is not False,
            )
        return accounts


def baseline_cost(
    plugged_at: datetime, energy_kwh: float, max_kw: float, prices: Sequence[Price]
) -> float | None:
    """The cost of `energy_kwh` charged at `max_kw` from `plugged_at` at `prices`.

    None when the prices do not cover that time without a gap (an unknown price is not
    extended or guessed).
    """
    require(_finite(max_kw) and max_kw > 0, "max_kw", "must be a number above 0")
    for price in prices:
        require(_finite(price.value), "prices", "each value must be a finite number")
        require(
            as_utc(price.end, "prices") > as_utc(price.start, "prices"),
            "prices",
            "each interval must end after it starts",
        )
    left, cost = energy_kwh, 0.0
    cursor = as_utc(plugged_at, "plugged_at")
    for price in sorted(prices, key=lambda p: p.start):
        if left <= _EPS:
            break
        if price.end <= cursor:
            continue
        if price.start > cursor:
            return None  # a gap in the prices
        hours = (price.end - cursor).total_seconds() / 3600
        take = min(left, max_kw * hours)
        cost += take * price.value
        left -= take
        cursor = price.end
    return cost if left <= _EPS else None


# --- helpers --------------------------------------------------------------------------


def _finite(value: object) -> bool:
    return finite_float(value) is not None


def month_start(at: datetime, zone: tzinfo) -> datetime:
    """The first instant of `at`'s month in `zone` (UTC; DST-safe: midnight in a gap
    moves to the first valid instant)."""
    day = at.astimezone(zone).date().replace(day=1)
    return wall_clock_instant(day, 0, 0, zone)


def _number(value: object) -> float:
    number = finite_float(value)
    return 0.0 if number is None else number


def _nonneg(value: object) -> float:
    return max(_number(value), 0.0)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


__all__ = ["Accounts", "Price", "baseline_cost"]
