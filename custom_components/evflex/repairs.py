"""Repair issues that the owner can act on, raised only once a problem has lasted.

A failed read or one refused plan is logged and retried; it becomes a repair issue
only when it persists (`after`), and the issue goes away by itself when the
problem does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)


class Repairs:
    def __init__(self, hass: HomeAssistant, entry_id: str, title: str) -> None:
        self.hass, self.entry_id, self.title = hass, entry_id, title
        self._since: dict[str, datetime] = {}
        self._raised: set[str] = set()

    def _issue_id(self, key: str) -> str:
        return f"{key}_{self.entry_id}"

    def problem(self, key: str, now: datetime, after: timedelta, **placeholders: str) -> bool:
        """`key` is wrong now; raise its issue once it has been wrong for `after`.

        Returns True the first time the problem is seen (log it then, once).
        """
        first = key not in self._since
        since = self._since.setdefault(key, now)
        if key not in self._raised and now - since >= after:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._issue_id(key),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=key,
                translation_placeholders={"title": self.title, **placeholders},
            )
            self._raised.add(key)
        return first

    def fixed(self, key: str) -> bool:
        """`key` is fine again. Returns True if it had been a problem (log that, once)."""
        if self._since.pop(key, None) is None:
            return False
        if key in self._raised:
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(key))
            self._raised.discard(key)
        return True

    def active(self, key: str) -> bool:
        return key in self._since
