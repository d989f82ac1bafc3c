"""The register maps, loaded from the integration's own table file.

`custom_components/evflex/charger/modbus/maps.py` imports nothing but the standard
library; it is loaded here by path, so the simulator speaks exactly the tables the
driver reads without importing Home Assistant (the integration's package would).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

PATH = (
    Path(__file__).resolve().parents[1]
    / "custom_components"
    / "evflex"
    / "charger"
    / "modbus"
    / "maps.py"
)
_NAME = "chargersim._charger_maps"


def _load() -> ModuleType:
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"charger maps not found at {PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from custom_components.evflex.charger.modbus import maps
else:
    maps = _load()

__all__ = ["PATH", "maps"]
