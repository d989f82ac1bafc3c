"""scripts/release: the zip HACS unpacks into config/custom_components/evflex/, one version."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest
import release
import voluptuous as vol
from homeassistant.util.yaml import load_yaml_dict
from release import ReleaseError

ROOT = Path(__file__).resolve().parents[2]

MANIFEST = {"domain": "evflex", "name": "EVFlex", "version": "1.2.3"}
CHANGELOG = "# Changelog\n\n## [Unreleased]\n\n## [1.2.3] - 2026-12-01\n\n## [1.2.2] - 2026-11-01\n"


def _repo(tmp_path: Path, **override: str) -> Path:
    """A repository in miniature: the files the release reads, and some it must leave out."""
    files = {
        "pyproject.toml": '[project]\nname = "x"\nversion = "1.2.3"\n',
        "CHANGELOG.md": CHANGELOG,
        "custom_components/evflex/manifest.json": json.dumps(MANIFEST, indent=2) + "\n",
        "custom_components/evflex/__init__.py": "",
        "custom_components/evflex/translations/en.json": "{}",
        "custom_components/evflex/__pycache__/const.cpython-313.pyc": "byte code",
        "optimizer/__init__.py": "from .model import solve\n",
        "optimizer/model.py": "",
        "optimizer/stray.pyc": "byte code",
        "optimizer/tariffs/presets/a.json": "{}",
        "optimizer/tariffs/__pycache__/x.pyc": "byte code",
        "optimizer/fleet/__init__.py": "from optimizer import plan\n",
    } | override
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "custom_components/evflex/optimizer").symlink_to("../../optimizer")
    return tmp_path


# --- refusals first ----------------------------------------------------------


def test_a_manifest_that_disagrees_is_refused_naming_the_file(tmp_path: Path) -> None:
    root = _repo(
        tmp_path,
        **{"custom_components/evflex/manifest.json": json.dumps(MANIFEST | {"version": "1.2.4"})},
    )
    with pytest.raises(ReleaseError, match=r"manifest\.json version: 1\.2\.4, not 1\.2\.3"):
        release.build(tmp_path / "out.zip", root)
    assert not (tmp_path / "out.zip").exists()


def test_a_changelog_without_the_version_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path, **{"CHANGELOG.md": "## [Unreleased]\n\n## [1.2.2] - 2026-11-01\n"})
    with pytest.raises(ReleaseError, match=r"CHANGELOG\.md newest entry: 1\.2\.2, not 1\.2\.3"):
        release.check_versions(root)


def test_a_changelog_entry_without_a_date_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path, **{"CHANGELOG.md": "## [1.2.3]\n"})
    with pytest.raises(ReleaseError, match=r"1\.2\.3\] - YYYY-MM-DD"):
        release.check_versions(root)


def test_a_changelog_with_no_release_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path, **{"CHANGELOG.md": "# Changelog\n\n## [Unreleased]\n"})
    with pytest.raises(ReleaseError, match="no released entry"):
        release.check_versions(root)


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "1.2.3.dev0", ""])
def test_a_version_that_is_not_major_minor_patch_is_refused(tmp_path: Path, version: str) -> None:
    root = _repo(tmp_path, **{"pyproject.toml": f'[project]\nversion = "{version}"\n'})
    with pytest.raises(ReleaseError, match=r"project\.version: must be MAJOR\.MINOR\.PATCH"):
        release.check_versions(root)


def test_a_tag_that_is_not_v_version_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    with pytest.raises(ReleaseError, match=r"tag: 1\.2\.3, not v1\.2\.3"):
        release.check_versions(root, "1.2.3")
    assert release.check_versions(root, "v1.2.3") == "1.2.3"


def test_every_disagreement_is_named_at_once(tmp_path: Path) -> None:
    root = _repo(
        tmp_path,
        **{
            "custom_components/evflex/manifest.json": json.dumps(MANIFEST | {"version": "0.9.0"}),
            "CHANGELOG.md": "## [0.8.0] - 2026-01-01\n",
        },
    )
    with pytest.raises(ReleaseError) as raised:
        release.check_versions(root, "v0.7.0")
    assert re.findall(r"(?<![\d.])0\.\d\.0", str(raised.value)) == ["0.9.0", "0.8.0", "0.7.0"]


def test_the_notes_are_the_versions_changelog_entry(tmp_path: Path) -> None:
    root = _repo(
        tmp_path,
        **{
            "CHANGELOG.md": "## [Unreleased]\n\n## [1.2.3] - 2026-12-01\n\n### Fixed\n- a\n\n"
            "## [1.2.2] - 2026-11-01\n- b\n\n[1.2.3]: https://example.org/v1.2.3\n"
        },
    )
    assert release.changelog_notes("1.2.3", root) == "### Fixed\n- a\n"
    assert release.changelog_notes("1.2.2", root) == "- b\n"
    with pytest.raises(ReleaseError, match=r"no entry for 1\.2\.4"):
        release.changelog_notes("1.2.4", root)


def test_a_planner_that_is_not_the_link_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "custom_components/evflex/optimizer").unlink()
    (root / "custom_components/evflex/optimizer").mkdir()  # a second copy would drift
    with pytest.raises(ReleaseError, match=r"must be a link to \.\./\.\./optimizer"):
        release.release_files(root)


def test_another_link_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "optimizer/elsewhere.py").symlink_to("/etc/hostname")
    with pytest.raises(ReleaseError, match=r"elsewhere\.py: an unexpected link"):
        release.release_files(root)


# --- what the zip holds ------------------------------------------------------


def test_the_zip_holds_the_integration_at_its_root_and_a_real_planner_copy(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    release.build(tmp_path / "evflex.zip", root)
    with zipfile.ZipFile(tmp_path / "evflex.zip") as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        infos = archive.infolist()
    # No fleet, no byte code, no folder named after custom_components: HACS extracts the
    # zip as it is into config/custom_components/evflex/.
    assert names == [
        "__init__.py",
        "manifest.json",
        "optimizer/__init__.py",
        "optimizer/model.py",
        "optimizer/tariffs/presets/a.json",
        "translations/en.json",
    ]
    assert manifest == MANIFEST
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_the_manifest_is_stamped_from_pyproject(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    source = root / "custom_components/evflex/manifest.json"
    assert json.loads(release.stamped_manifest(source, "9.9.9"))["version"] == "9.9.9"


def test_one_tree_gives_one_zip_byte_for_byte(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    first = release.build(tmp_path / "a.zip", root)
    for path in (root / "optimizer").rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000))  # 2033: a later checkout
    (root / "optimizer/__pycache__").mkdir()
    (root / "optimizer/__pycache__/model.cpython-314.pyc").write_bytes(b"new byte code")
    second = release.build(tmp_path / "b.zip", root)
    assert first == second
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


# --- this repository ---------------------------------------------------------


def test_this_repository_has_one_version() -> None:
    """pyproject.toml is the source; manifest.json and the changelog must agree with it."""
    version = release.check_versions(ROOT)
    assert version == release.manifest_version(ROOT) == release.changelog_version(ROOT)


def test_this_repository_zip_has_every_integration_and_planner_file(tmp_path: Path) -> None:
    release.build(tmp_path / "evflex.zip", ROOT)
    with zipfile.ZipFile(tmp_path / "evflex.zip") as archive:
        names = set(archive.namelist())
    package = ROOT / "custom_components" / "evflex"
    expected = {
        str(p.relative_to(package))
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and "optimizer" not in p.parts
    } | {
        f"optimizer/{p.relative_to(ROOT / 'optimizer')}"
        for p in (ROOT / "optimizer").rglob("*")
        if p.is_file() and not {"__pycache__", "fleet"} & set(p.parts) and p.suffix != ".pyc"
    }
    assert names == expected
    assert {"manifest.json", "optimizer/model.py", "optimizer/tariffs/tou.py"} < names
    assert not any(n.startswith("optimizer/fleet/") or "__pycache__" in n for n in names)


# HACS's documented hacs.json keys (https://hacs.xyz/docs/publish/start/#hacsjson); an
# integration released as a zip also needs `filename` (HACS downloads that release asset).
HACS_JSON = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("content_in_root"): bool,
        vol.Optional("zip_release"): bool,
        vol.Optional("filename"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("homeassistant"): str,
        vol.Optional("hacs"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
    },
    extra=vol.PREVENT_EXTRA,
)


def test_hacs_json_points_at_the_zip_the_script_builds() -> None:
    hacs = HACS_JSON(json.loads((ROOT / "hacs.json").read_text(encoding="utf-8")))
    assert hacs["zip_release"] is True
    assert hacs["filename"] == release.ZIP_NAME == "evflex.zip"
    assert "content_in_root" not in hacs  # the integration lives in custom_components/evflex


def test_the_release_workflow_tests_then_uploads_the_zip_hacs_asks_for() -> None:
    workflow = load_yaml_dict(str(ROOT / ".github/workflows/release.yml"))
    # YAML 1.1 reads the key `on` as true; GitHub reads it as "on".
    assert workflow.get("on", workflow.get(True)) == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "write"}
    assert workflow["jobs"]["validate"] == {"uses": "./.github/workflows/validate.yml"}
    job = workflow["jobs"]["release"]
    assert job["needs"] == "validate"
    assert job["timeout-minutes"] <= 90
    runs = [step.get("run", "") for step in job["steps"]]
    tests = next(i for i, run in enumerate(runs) if "scripts/test" in run)
    build = next(i for i, run in enumerate(runs) if "--tag" in run and "--check" not in run)
    upload = next(i for i, run in enumerate(runs) if "gh release" in run)
    assert tests < build < upload
    assert f"dist/{release.ZIP_NAME}" in runs[upload]
    assert json.loads((ROOT / "hacs.json").read_text("utf-8"))["filename"] == release.ZIP_NAME
