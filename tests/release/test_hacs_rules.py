"""HACS's rules for an integration repository, those that can be checked without GitHub.

From HACS's checks (https://hacs.xyz/docs/publish/include): hacs.json (test_release),
the manifest's keys, the layout (one folder in custom_components/), brand assets in the
integration, an information file (README) and a licence GitHub can identify. The
repository's description, topics and issues are GitHub settings, not files.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import release
from awesomeversion import AwesomeVersion

ROOT = Path(__file__).resolve().parents[2]


def _zip(tmp_path: Path) -> zipfile.ZipFile:
    release.build(tmp_path / "evflex.zip", ROOT)
    return zipfile.ZipFile(tmp_path / "evflex.zip")


def test_one_integration_in_custom_components() -> None:
    assert [p.name for p in (ROOT / "custom_components").iterdir() if p.is_dir()] == ["evflex"]


def test_the_zips_manifest_has_the_keys_hacs_requires(tmp_path: Path) -> None:
    with _zip(tmp_path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert isinstance(manifest["codeowners"], list)
    assert manifest["codeowners"]
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://"), key
    assert manifest["domain"] == "evflex"
    assert manifest["name"]
    assert AwesomeVersion(manifest["version"]).valid
    assert manifest["version"] == release.project_version(ROOT)


def test_brand_assets_ship_in_the_integration(tmp_path: Path) -> None:
    with _zip(tmp_path) as archive:
        icon = archive.read("brand/icon.png")
        names = archive.namelist()
    assert icon[:8] == b"\x89PNG\r\n\x1a\n"
    assert "brand/icon@2x.png" in names
    assert (ROOT / "custom_components/evflex/brand/icon.png").is_file()


def test_an_information_file_and_an_identifiable_licence() -> None:
    assert (ROOT / "README.md").read_text(encoding="utf-8").startswith("# EVFlex")
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence
    assert 'license = { text = "Apache-2.0" }' in (ROOT / "pyproject.toml").read_text("utf-8")
