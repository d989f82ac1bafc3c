"""Every third-party import is declared where it will be installed from.

- The planner as a distribution (`pip install .`): what optimizer/ imports at run time
  (imports inside functions included) is in pyproject's dependencies; the plot may use
  the `plot` extra. The fleet study is not part of this check.
- The integration as HACS installs it (the release zip, planner copy included): what it
  imports is provided by Home Assistant itself (what installing homeassistant brings) or
  by manifest.json's requirements (with their own dependencies), which Home Assistant
  installs.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, packages_distributions, requires, version
from pathlib import Path, PurePosixPath

import release
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"optimizer", "custom_components"}
# optimizer/ modules allowed an optional extra: the plot is `pip install .[plot]`.
OPTIONAL = {"plot.py": "plot"}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the module's path, relative to its root
    top: str  # the imported top-level name
    line: int
    relative: tuple[int, str | None, tuple[str, ...]] | None = None  # (level, module, names)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imports_of(path: Path, name: str) -> list[Import]:
    """Every import in a module, at any depth, and `importlib.import_module("...")` calls."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names = tuple(a.name for a in node.names)
                found.append(Import(name, "", node.lineno, (node.level, node.module, names)))
            else:
                found.append(Import(name, (node.module or "").split(".")[0], node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            found.append(Import(name, node.args[0].value.split(".")[0], node.lineno))
    return found


def third_party(found: Iterable[Import]) -> list[Import]:
    return [
        i
        for i in found
        if i.relative is None and i.top not in sys.stdlib_module_names and i.top != "__future__"
    ]


@functools.cache
def _top_level_names() -> Mapping[str, list[str]]:
    return packages_distributions()  # a scan of every installed distribution: once


def distributions_of(top: str) -> set[str]:
    return {_canonical(d) for d in _top_level_names().get(top, [])}


def names_of(requirements: Iterable[str]) -> set[str]:
    return {_canonical(Requirement(r).name) for r in requirements}


def undeclared(found: Iterable[Import], allowed: dict[str, set[str]]) -> list[str]:
    """`module:line imports X (distribution D)` for each import not in `allowed[module]`."""
    problems = []
    for i in third_party(found):
        if i.top in FIRST_PARTY:
            problems.append(f"{i.module}:{i.line} imports {i.top} absolutely (must be relative)")
            continue
        dists = distributions_of(i.top)
        if not dists:
            problems.append(f"{i.module}:{i.line} imports {i.top}: no installed distribution")
        elif not dists & allowed[i.module]:
            problems.append(f"{i.module}:{i.line} imports {i.top} ({', '.join(sorted(dists))})")
    return problems


# --- the checks themselves, on made-up modules first ------------------------------


def test_imports_inside_functions_and_import_module_calls_are_found(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os, json\n"
        "from . import sibling\n"
        "def f():\n"
        "    import pyomo.environ as pyo\n"
        "    from scipy import sparse\n"
        "    return importlib.import_module('highspy')\n",
        encoding="utf-8",
    )
    found = imports_of(source, "m.py")
    assert [(i.top, i.line) for i in third_party(found)] == [
        ("pyomo", 4),
        ("scipy", 5),
        ("highspy", 6),
    ]
    assert [i.relative for i in found if i.relative] == [(1, None, ("sibling",))]


def test_an_undeclared_import_is_named_with_its_distribution(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    import yaml\n    import voluptuous\n", encoding="utf-8")
    problems = undeclared(imports_of(source, "m.py"), {"m.py": {"voluptuous"}})
    assert problems == ["m.py:2 imports yaml (pyyaml)"]


def test_an_absolute_first_party_import_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from optimizer.request import parse\n", encoding="utf-8")
    assert undeclared(imports_of(source, "m.py"), {"m.py": set()}) == [
        "m.py:1 imports optimizer absolutely (must be relative)"
    ]


def test_an_import_nothing_installed_provides_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import no_such_module_anywhere\n", encoding="utf-8")
    assert undeclared(imports_of(source, "m.py"), {"m.py": set()}) == [
        "m.py:1 imports no_such_module_anywhere: no installed distribution"
    ]


# --- the planner as a distribution -------------------------------------------------


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_planner_declares_every_run_time_import() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    declared = names_of(project["dependencies"])
    extras = {k: names_of(v) for k, v in project.get("optional-dependencies", {}).items()}
    planner = ROOT / "optimizer"
    modules = sorted(p for p in planner.rglob("*.py") if p.relative_to(planner).parts[0] != "fleet")
    assert len(modules) > 10
    found: list[Import] = []
    allowed: dict[str, set[str]] = {}
    for path in modules:
        name = str(path.relative_to(planner))
        found += imports_of(path, name)
        allowed[name] = declared | extras.get(OPTIONAL.get(name, ""), set())
    assert undeclared(found, allowed) == []
    # What the solver path needs is among them (scipy: Pyomo's standard-form compiler).
    assert {"pyomo", "highspy", "scipy", "voluptuous"} <= declared


# --- the integration as HACS installs it -------------------------------------------


def _zip_modules() -> dict[str, Path]:
    """The release zip's Python modules: name in the zip -> source file."""
    return {name: path for name, path in release.release_files(ROOT) if name.endswith(".py")}


def _resolve(module: str, level: int, target: str | None, names: Iterable[str]) -> set[str]:
    """The zip modules a relative import in `module` loads."""
    base = PurePosixPath(module).parent
    for _ in range(level - 1):
        base = base.parent
    if target:
        base = base.joinpath(*target.split("."))
    candidates = (
        {f"{base}.py", f"{base}/__init__.py"}
        | {f"{base / n}.py" for n in names}
        | {f"{base / n}/__init__.py" for n in names}
    )
    return {c.removeprefix("./") for c in candidates}


def reachable(modules: dict[str, Path], roots: Iterable[str]) -> set[str]:
    """Modules the integration loads, following relative imports (packages' __init__ too)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        parts = PurePosixPath(name).parts
        todo += [str(PurePosixPath(*parts[:n], "__init__.py")) for n in range(len(parts))]
        for i in imports_of(modules[name], name):
            if i.relative:
                todo += sorted(_resolve(name, *i.relative) & set(modules))
    return seen


def installed_with(name: str) -> set[str]:
    """`name` and every distribution installing it brings (its requirements, transitively).

    Home Assistant 2026.10 no longer lists voluptuous itself (voluptuous-serialize brings
    it): what counts is what a user's Home Assistant has, not its first level."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = _canonical(todo.pop())
        if current in seen:
            continue
        seen.add(current)
        try:
            needed = requires(current) or []
        except PackageNotFoundError:
            continue  # an optional dependency this platform does not install
        for text in needed:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_what_home_assistant_brings_is_found_transitively() -> None:
    provided = installed_with("homeassistant")
    assert {"homeassistant", "aiohttp", "voluptuous", "yarl", "multidict"} <= provided
    assert not {"pyomo", "highspy", "pytest"} & provided


def test_reachability_follows_relative_imports() -> None:
    modules = _zip_modules()
    loaded = reachable(modules, ["config_flow.py"])
    assert {"optimizer/tariffs/tou.py", "optimizer/tariffs/__init__.py"} <= loaded
    assert "optimizer/plot.py" not in loaded  # the CLI's plot is never imported by HA


def test_the_integration_needs_only_home_assistant_and_its_manifest() -> None:
    manifest = json.loads((ROOT / "custom_components/evflex/manifest.json").read_text("utf-8"))
    # A listed requirement brings its own dependencies (highspy and scipy bring numpy,
    # which Home Assistant 2026.10 no longer has itself): computed from the installed
    # distributions, which are the manifest's pins (test_the_manifest_pins_are_installed).
    listed = set().union(*map(installed_with, names_of(manifest["requirements"])))
    provided = installed_with("homeassistant")
    modules = _zip_modules()
    # Home Assistant imports the integration's own modules (platforms, flows, services).
    loaded = reachable(modules, [m for m in modules if not m.startswith("optimizer/")])
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    extras = set().union(*map(names_of, project.get("optional-dependencies", {}).values()))
    allowed = {m: listed | provided | (set() if m in loaded else extras) for m in modules}
    found = [i for name, path in modules.items() for i in imports_of(path, name)]
    assert undeclared(found, allowed) == []


def test_the_manifest_pins_what_pyproject_allows() -> None:
    """The versions Home Assistant installs are ones the planner declares it works with."""
    manifest = json.loads((ROOT / "custom_components/evflex/manifest.json").read_text("utf-8"))
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    declared = {_canonical(r.name): r for r in map(Requirement, project["dependencies"])}
    for pin in map(Requirement, manifest["requirements"]):
        assert _canonical(pin.name) in declared, pin.name
        exact = [s.version for s in pin.specifier if s.operator == "=="]
        if exact:
            assert declared[_canonical(pin.name)].specifier.contains(exact[0]), str(pin)
        else:  # a range (pymodbus: it must install beside Home Assistant's own pin)
            assert str(declared[_canonical(pin.name)].specifier) == str(pin.specifier), str(pin)


def test_the_manifest_pins_are_installed_here() -> None:
    manifest = json.loads((ROOT / "custom_components/evflex/manifest.json").read_text("utf-8"))
    for pin in map(Requirement, manifest["requirements"]):
        installed = version(pin.name)
        assert pin.specifier.contains(installed), f"{pin.name} {installed} installed: {pin}"


def test_the_manifest_requires_no_unpublished_package() -> None:
    manifest = json.loads((ROOT / "custom_components/evflex/manifest.json").read_text("utf-8"))
    assert not names_of(manifest["requirements"]) & {"evflex-optimizer", "evflex"}
