"""manifest.json, hacs.json, services.yaml and both translations agree with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from homeassistant.util.yaml import load_yaml_dict

from custom_components.evflex import PLATFORMS
from custom_components.evflex.button import BUTTONS
from custom_components.evflex.number import SOC_NUMBERS
from custom_components.evflex.sensor import DISPATCH_SENSORS, SENSORS
from custom_components.evflex.status import REASONS

ROOT = Path(__file__).parents[3]
PACKAGE = ROOT / "custom_components" / "evflex"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _paths(tree: Any, prefix: str = "") -> set[str]:
    if isinstance(tree, dict):
        return (
            set().union(*(_paths(v, f"{prefix}/{k}") for k, v in tree.items()))
            if tree
            else {prefix}
        )
    return {prefix}


def _strings(tree: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out |= _strings(value, f"{prefix}/{key}")
        return out
    return {prefix: tree}


def test_manifest_for_hassfest_and_hacs() -> None:
    manifest = _json(PACKAGE / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == "evflex"
    assert manifest["config_flow"] is True
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["documentation"].startswith("https://")
    # exact pins, but pymodbus: a range that holds the one each HA version pins for its
    # own modbus integration (3.8.3 in 2025.4, 3.13.1 in 2026.10)
    pinned = [r for r in manifest["requirements"] if not r.startswith("pymodbus")]
    assert all("==" in r for r in pinned)
    assert "pymodbus>=3.8.3,<3.14" in manifest["requirements"]
    hacs = _json(ROOT / "hacs.json")
    assert hacs["name"] == "EVFlex"
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", hacs["homeassistant"])
    assert (PACKAGE / "brand" / "icon.png").read_bytes()[:4] == b"\x89PNG"


def test_chinese_translation_has_every_english_key_and_placeholder() -> None:
    en = _json(PACKAGE / "translations" / "en.json")
    zh = _json(PACKAGE / "translations" / "zh-Hans.json")
    assert _paths(zh) == _paths(en)
    en_strings, zh_strings = _strings(en), _strings(zh)
    for path, text in en_strings.items():
        assert set(re.findall(r"{\w+}", zh_strings[path])) == set(re.findall(r"{\w+}", text)), path
        assert zh_strings[path].strip(), path


def test_every_entity_and_state_is_translated() -> None:
    entity = _json(PACKAGE / "translations" / "en.json")["entity"]
    assert {d.key for d in (*SENSORS, *DISPATCH_SENSORS)} == set(entity["sensor"])
    assert {d.key for d in BUTTONS} == set(entity["button"])
    assert {d.key for d in SOC_NUMBERS} == set(entity["number"])
    assert set(entity["sensor"]["plan_status"]["state"]) == set(REASONS)
    for description in SENSORS:
        if description.options:
            assert set(description.options) == set(entity["sensor"][description.key]["state"])
    assert {p.value for p in PLATFORMS} == set(entity)


def test_services_yaml_matches_translations() -> None:
    services = load_yaml_dict(str(PACKAGE / "services.yaml"))
    translated = _json(PACKAGE / "translations" / "en.json")["services"]
    assert (
        set(services)
        == set(translated)
        == {
            "get_plan",
            "set_session",
            "boost",
            "cancel_boost",
            "set_schedule",
            "set_departure_override",
        }
    )
    for name, spec in services.items():
        assert set(spec.get("fields", {})) == set(translated[name]["fields"])
    icons = _json(PACKAGE / "icons.json")
    assert set(icons["services"]) == set(services)
