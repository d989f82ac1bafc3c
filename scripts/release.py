"""Build the HACS release artifact dist/evflex.zip (standard library only).

The zip holds what goes into a user's `config/custom_components/evflex/`: the
integration's files at its root, with the `optimizer` link replaced by a real copy of
the planner (without `optimizer/fleet/`, which the integration never imports). It is
reproducible: entries sorted, fixed timestamps and modes, so one tree gives one zip.

The version lives in one place, `pyproject.toml` `project.version`. The zip's
manifest.json is stamped with it; the build refuses to run when the repository's
manifest.json (which a development install reads through the link) or the newest
CHANGELOG.md entry says otherwise, or when `--tag` is not `v<version>`.

    python3 scripts/release.py [--out dist/evflex.zip] [--tag v0.1.0] [--notes FILE] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "evflex"
ZIP_NAME = f"{DOMAIN}.zip"
# Left out of the zip: the fleet study (not imported by the integration) and byte code.
EXCLUDED_DIRS = frozenset({"__pycache__"})
EXCLUDED_PLANNER_DIRS = frozenset({"fleet"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o100644  # a regular file, rw-r--r--
VERSION_RE = re.compile(r"\d+\.\d+\.\d+")
CHANGELOG_RELEASE_RE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\S+))?", re.M)


class ReleaseError(Exception):
    """The repository is not in a state to release; the message says what to fix."""


def project_version(root: Path = ROOT) -> str:
    """`project.version` from pyproject.toml: the one place the version lives."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    version = data.get("project", {}).get("version")
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise ReleaseError(
            f"pyproject.toml project.version: must be MAJOR.MINOR.PATCH, not {version!r}"
        )
    return version


def changelog_version(root: Path = ROOT) -> str:
    """The newest released version in CHANGELOG.md (`## [X.Y.Z] - YYYY-MM-DD`)."""
    path = root / "CHANGELOG.md"
    if not path.is_file():
        raise ReleaseError("CHANGELOG.md: missing")
    for match in CHANGELOG_RELEASE_RE.finditer(path.read_text(encoding="utf-8")):
        if match["version"].lower() == "unreleased":
            continue
        if not match["date"] or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", match["date"]):
            raise ReleaseError(
                f"CHANGELOG.md: the entry for {match['version']} needs a date: "
                f"'## [{match['version']}] - YYYY-MM-DD'"
            )
        return match["version"]
    raise ReleaseError("CHANGELOG.md: no released entry '## [X.Y.Z] - YYYY-MM-DD'")


def changelog_notes(version: str, root: Path = ROOT) -> str:
    """The CHANGELOG.md entry of `version`, without its heading (the release's notes)."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = list(CHANGELOG_RELEASE_RE.finditer(text))
    for match, following in zip(headings, [*headings[1:], None], strict=True):
        if match["version"] == version:
            end = following.start() if following else text.find("\n[", match.end())
            return text[match.end() : end if end >= 0 else len(text)].strip() + "\n"
    raise ReleaseError(f"CHANGELOG.md: no entry for {version}")


def manifest_version(root: Path = ROOT) -> str:
    manifest = json.loads(_integration(root).joinpath("manifest.json").read_text("utf-8"))
    return str(manifest.get("version"))


def check_versions(root: Path = ROOT, tag: str | None = None) -> str:
    """The version, once manifest.json, CHANGELOG.md and the tag (if any) agree with it."""
    version = project_version(root)
    problems = []
    if (found := manifest_version(root)) != version:
        problems.append(f"custom_components/{DOMAIN}/manifest.json version: {found}, not {version}")
    if (found := changelog_version(root)) != version:
        problems.append(f"CHANGELOG.md newest entry: {found}, not {version}")
    if tag is not None and tag != f"v{version}":
        problems.append(f"tag: {tag}, not v{version}")
    if problems:
        raise ReleaseError(
            f"the version is {version} (pyproject.toml project.version), but " + "; ".join(problems)
        )
    return version


def _integration(root: Path) -> Path:
    return root / "custom_components" / DOMAIN


def _walk(
    folder: Path, prefix: PurePosixPath, excluded: frozenset[str]
) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = prefix / path.name
        if path.name in excluded or path.name in EXCLUDED_DIRS:
            continue
        if path.is_symlink():
            raise ReleaseError(f"{path}: an unexpected link (only optimizer/ may be one)")
        if path.is_dir():
            yield from _walk(path, name, frozenset())
        elif path.is_file():
            if not path.name.endswith(EXCLUDED_SUFFIXES):
                yield str(name), path
        else:
            raise ReleaseError(f"{path}: neither a file nor a folder")


def release_files(root: Path = ROOT) -> list[tuple[str, Path]]:
    """(name in the zip, source file) for every file, sorted by name."""
    package = _integration(root)
    planner = package / "optimizer"
    if not planner.is_symlink() or planner.resolve() != (root / "optimizer").resolve():
        raise ReleaseError(f"{planner}: must be a link to ../../optimizer (the one source)")
    own = list(_walk(package, PurePosixPath(), frozenset({"optimizer"})))
    copy = list(_walk(root / "optimizer", PurePosixPath("optimizer"), EXCLUDED_PLANNER_DIRS))
    return sorted(own + copy)


def stamped_manifest(source: Path, version: str) -> bytes:
    manifest = json.loads(source.read_text(encoding="utf-8"))
    manifest["version"] = version
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build(out: Path, root: Path = ROOT, tag: str | None = None) -> str:
    """Write the zip to `out`; return its SHA-256."""
    version = check_versions(root, tag)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in release_files(root):
            data = stamped_manifest(path, version) if name == "manifest.json" else path.read_bytes()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is read
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    partial.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / ZIP_NAME)
    parser.add_argument("--tag", help="the release tag; must be v<version>")
    parser.add_argument("--check", action="store_true", help="check the versions agree only")
    parser.add_argument("--notes", type=Path, help="also write the changelog entry to this file")
    args = parser.parse_args(argv)
    try:
        if args.check:
            print(f"version {check_versions(ROOT, args.tag)}: pyproject, manifest, changelog agree")
            return 0
        digest = build(args.out, ROOT, args.tag)
        if args.notes:
            args.notes.write_text(changelog_notes(project_version()), encoding="utf-8")
    except ReleaseError as err:
        print(f"scripts/release: {err}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(args.out) as archive:
        count = len(archive.namelist())
    print(
        f"{args.out}: EVFlex {project_version()}, {count} files, "
        f"{args.out.stat().st_size} bytes, sha256 {digest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
