"""The owner's reward: the programme terms they agreed, and what they have earned.

Pure (no Home Assistant). The terms are entered in the options (in Home Assistant's
currency) and validated here:

- `monthly`: a fixed payment for each calendar month (the owner's time zone) in which
  participation was on at some moment, like BGE's $10 a month for being enrolled. It
  is credited the first time EVFlex sees participation on in that month.
- `per_kw`: per event, per kW of capacity delivered, like Jiangsu's 10 CNY/kW. "kW
  delivered" is the event's mean delivered kW from its M&V report (`delivered_kw` of
  `reports.measure`): the baseline's energy minus the metered energy over the part of
  the event's window that passed, never below 0, divided by that part's hours.
- `per_kwh`: per event, per kWh delivered (`delivered_kwh` of the same report).

A share of the event's revenue is not offered: an event carries no revenue EVFlex
could check (an OpenADR 3 PRICE payload is a tariff for the window, not what the
aggregator is paid), so the owner's side would be a number the aggregator chose. An
event is paid in the month (owner's time zone) in which it ended.

The figures are in the currency Home Assistant had when the first was credited, and
stay in it (and so do the terms, as the options step says) if Home Assistant's
currency changes later: nothing is converted, nothing is relabelled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import voluptuous as vol

from ..const import CONF_REWARD_MONTHLY, CONF_REWARD_PER_KW, CONF_REWARD_PER_KWH

MAX_AMOUNT = 1_000_000.0
PAID_KEPT = 240  # months and events remembered as paid (each is paid once)


def _amount(value: Any) -> float:
    if isinstance(value, bool):
        raise vol.Invalid("must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise vol.Invalid("must be a number") from err
    if not math.isfinite(number):
        raise vol.Invalid("must be a finite number")
    if number < 0:
        raise vol.Invalid("must be at least 0")
    if number > MAX_AMOUNT:
        raise vol.Invalid(f"must be at most {MAX_AMOUNT:g}")
    return number


TERMS_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_REWARD_MONTHLY, default=0.0): _amount,
        vol.Optional(CONF_REWARD_PER_KW, default=0.0): _amount,
        vol.Optional(CONF_REWARD_PER_KWH, default=0.0): _amount,
    },
    extra=vol.REMOVE_EXTRA,
)
# The rule each message stands for (the options form's error keys).
RULES = {
    "must be a number": "not_a_number",
    "must be a finite number": "not_a_number",
    "must be at least 0": "below_zero",
    f"must be at most {MAX_AMOUNT:g}": "too_large",
}


def validate_terms(values: Mapping[str, Any]) -> dict[str, str]:
    """{field: rule} for every term that breaks one (empty: all valid)."""
    errors: dict[str, str] = {}
    try:
        TERMS_SCHEMA(dict(values))
    except vol.MultipleInvalid as err:
        for error in err.errors:
            errors[str(error.path[0])] = RULES.get(error.msg, "not_a_number")
    return errors


@dataclass(frozen=True, slots=True)
class Terms:
    monthly: float = 0.0
    per_kw: float = 0.0
    per_kwh: float = 0.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Terms:
        """The terms in an entry's options; a value that breaks a rule counts as 0."""
        clean = {}
        for key in (CONF_REWARD_MONTHLY, CONF_REWARD_PER_KW, CONF_REWARD_PER_KWH):
            try:
                clean[key] = _amount(config.get(key) or 0.0)
            except vol.Invalid:
                clean[key] = 0.0
        return cls(
            clean[CONF_REWARD_MONTHLY], clean[CONF_REWARD_PER_KW], clean[CONF_REWARD_PER_KWH]
        )

    def for_event(self, report: Mapping[str, Any]) -> float:
        """What one event's M&V report earns: per kW of mean delivered power, per kWh."""
        kw = max(0.0, _finite(report.get("delivered_kw")))
        kwh = max(0.0, _finite(report.get("delivered_kwh")))
        return self.per_kw * kw + self.per_kwh * kwh


def _key(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def _finite(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


@dataclass(slots=True)
class Earnings:
    """This month's programme earnings, the total, and what was paid (each once)."""

    month: str = ""  # "YYYY-MM" in the owner's time zone; "" before the first figure
    month_amount: float = 0.0
    total: float = 0.0
    months_paid: list[str] = field(default_factory=list)
    events_paid: list[str] = field(default_factory=list)
    currency: str = ""  # the figures' currency; "" before the first figure

    def this_month(self, now: datetime, zone: tzinfo) -> float:
        return self.month_amount if self.month == _key(now, zone) else 0.0

    def _add(self, amount: float, at: datetime, zone: tzinfo) -> None:
        key = _key(at, zone)
        if key != self.month:
            if key < self.month:  # a late figure for an earlier month: the total only
                self.total = round(self.total + amount, 6)
                return
            self.month, self.month_amount = key, 0.0
        self.month_amount = round(self.month_amount + amount, 6)
        self.total = round(self.total + amount, 6)

    def credit_month(self, terms: Terms, now: datetime, zone: tzinfo, currency: str = "") -> float:
        """The fixed monthly payment, once per month (call while participation is on).

        `currency`: Home Assistant's, taken only if no figure has been credited yet."""
        key = _key(now, zone)
        if key in self.months_paid or terms.monthly <= 0:  # no payment agreed (yet)
            return 0.0
        self.months_paid = [*self.months_paid, key][-PAID_KEPT:]
        self.currency = self.currency or currency
        self._add(terms.monthly, now, zone)
        return terms.monthly

    def credit_event(
        self,
        terms: Terms,
        report: Mapping[str, Any],
        now: datetime,
        zone: tzinfo,
        currency: str = "",
    ) -> float:
        """An ended event's payment, once per event (its id and start)."""
        key = f"{report.get('event_id')}@{report.get('start')}"
        if key in self.events_paid:
            return 0.0
        self.events_paid = [*self.events_paid, key][-PAID_KEPT:]
        amount = terms.for_event(report)
        if amount > 0:
            self.currency = self.currency or currency
        self._add(amount, now, zone)
        return amount

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "month_amount": self.month_amount,
            "total": self.total,
            "months_paid": list(self.months_paid),
            "events_paid": list(self.events_paid),
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Earnings:
        """What the store kept; anything unreadable starts afresh rather than failing."""
        if not isinstance(data, Mapping):
            return cls()
        month = data.get("month")
        paid = data.get("months_paid")
        events = data.get("events_paid")
        currency = data.get("currency")
        return cls(
            month=month if isinstance(month, str) else "",
            month_amount=max(0.0, _finite(data.get("month_amount"))),
            total=max(0.0, _finite(data.get("total"))),
            months_paid=[str(m) for m in paid] if isinstance(paid, list) else [],
            events_paid=[str(e) for e in events] if isinstance(events, list) else [],
            currency=currency if isinstance(currency, str) else "",
        )
