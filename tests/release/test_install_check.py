"""install_check.py reads the log strictly (the real run is scripts/test-install)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import install_check
from demo_configure import write_home

REQUIREMENTS = ["highspy==1.16.0", "pyomo==6.10.1"]
INSTALLED = (
    "2026-12-01 08:57:19.001 INFO (SyncWorker_1) [homeassistant.util.package] "
    "Attempting install of highspy==1.16.0\n"
    "2026-12-01 08:57:19.002 INFO (SyncWorker_1) [homeassistant.util.package] "
    "Attempting install of pyomo==6.10.1\n"
)


def _log(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "home-assistant.log"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_blocking_call_warning_fails(tmp_path: Path) -> None:
    line = (
        "2026-12-01 08:57:20.100 WARNING (MainThread) [homeassistant.util.loop] Detected "
        "blocking call to scandir with args (...) inside the event loop by custom integration "
        "'evflex' at custom_components/evflex/config_flow.py, line 157"
    )
    problems = install_check.check_log(_log(tmp_path, INSTALLED + line + "\n"), REQUIREMENTS)
    assert problems == [f"blocking call: {line}"]


def test_an_error_about_evflex_fails_and_other_errors_do_not(tmp_path: Path) -> None:
    ours = (
        "2026-12-01 08:57:21.000 ERROR (MainThread) [homeassistant.setup] Setup failed for "
        "custom integration 'evflex': Requirements for evflex not found: ['pyomo==6.10.1']"
    )
    theirs = "2026-12-01 08:57:21.500 ERROR (MainThread) [homeassistant.components.sun] boom"
    text = INSTALLED + ours + "\n" + theirs + "\n"
    assert install_check.check_log(_log(tmp_path, text), REQUIREMENTS) == [f"error: {ours}"]


def test_a_failed_install_of_a_requirement_fails_and_of_another_package_is_noted(
    tmp_path: Path,
) -> None:
    ours = (
        "2026-12-01 08:57:22.000 ERROR (SyncWorker_1) [homeassistant.util.package] "
        "Unable to install package pyomo==6.10.1: No solution found"
    )
    # Home Assistant 2026.10 on Python 3.14 cannot build a wheel for its voice pipeline.
    theirs = (
        "2026-12-01 09:04:57.369 ERROR (SyncWorker_3) [homeassistant.util.package] "
        "Unable to install package pymicro-vad==1.0.1: error: Failed to build"
    )
    log = _log(tmp_path, INSTALLED + ours + "\n" + theirs + "\n" + theirs + "\n")
    assert install_check.check_log(log, REQUIREMENTS) == [f"error: {ours}"]
    assert install_check.others_failing(log, REQUIREMENTS) == ["pymicro-vad==1.0.1"]


def test_a_requirement_home_assistant_did_not_install_itself_fails(tmp_path: Path) -> None:
    # Already in the venv (not fresh): Home Assistant skips it, so no install line.
    text = INSTALLED.splitlines()[0] + "\n"
    assert install_check.check_log(_log(tmp_path, text), REQUIREMENTS) == [
        "Home Assistant did not install pyomo==6.10.1 itself "
        "(no 'Attempting install of pyomo==6.10.1' in the log)"
    ]


def test_a_clean_log_passes(tmp_path: Path) -> None:
    warning = (
        "2026-12-01 08:57:17.561 WARNING (SyncWorker_0) [homeassistant.loader] We found a "
        "custom integration evflex which has not been tested by Home Assistant."
    )
    assert install_check.check_log(_log(tmp_path, INSTALLED + warning + "\n"), REQUIREMENTS) == []


def test_the_requirements_are_read_from_the_zip_and_the_server_stays_on_loopback(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "evflex.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"domain": "evflex", "requirements": ["a==1"]}))
    assert install_check._requirements(archive) == ["a==1"]
    write_home(tmp_path, "EVFlex install check", 18123, install_check.LOGS)
    text = (tmp_path / "configuration.yaml").read_text(encoding="utf-8")
    assert "  server_host: 127.0.0.1\n  server_port: 18123\n" in text
    assert "\ndefault_config:" not in text  # go2rtc needs a binary
    assert "\n    homeassistant.requirements: info\n" in text  # the pip step is read from it
