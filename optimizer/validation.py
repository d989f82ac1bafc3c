"""Voluptuous errors -> (field, rule) in the words plan-v1 uses.

Home Assistant 2026.9+ swaps voluptuous for probatio behind the same import, whose
messages differ; both vocabularies map to the same rules here.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol


class FieldError(ValueError):
    """Input that breaks a rule: `field` names where, `rule` says what."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}" if field else rule)
        self.field = field
        self.rule = rule


RULES = {
    "extra keys not allowed": "unknown field",
    "not a valid option": "unknown field",  # probatio
    "required key not provided": "is required",
    "expected dict": "must be an object",
    "expected a dictionary": "must be an object",
    "expected a mapping": "must be an object",  # probatio
    "expected list": "must be a list",
    "expected a list": "must be a list",
}


def field_path(parts: list[Any]) -> str:
    """['signals', 0, 'end'] -> 'signals[0].end'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def first_error(err: vol.Invalid) -> tuple[str, str]:
    """The first error's (field, rule): deterministic in voluptuous."""
    first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
    return field_path(first.path), RULES.get(first.error_message, first.error_message)
