"""The developer entry points: ./dev and .ci/run (cheap checks only; nothing is installed)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "dev"
CI_RUN = ROOT / ".ci" / "run"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEV), *args], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("script", [DEV, CI_RUN], ids=["dev", "ci-run"])
def test_scripts_are_executable_bash(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script} must be executable (chmod +x)"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


def test_ci_runs_dev_test() -> None:
    assert 'exec ./dev test "$@"' in CI_RUN.read_text()


def test_unknown_command_prints_usage() -> None:
    result = _run("no-such-command")
    assert result.returncode == 2
    assert "unknown command: no-such-command" in result.stderr
    assert "usage: ./dev" in result.stderr


def test_no_command_prints_usage() -> None:
    result = _run()
    assert result.returncode == 2
    assert "usage: ./dev" in result.stderr


def test_help() -> None:
    result = _run("help")
    assert result.returncode == 0
    for command in ("setup", "demo", "test"):
        assert re.search(rf"^\s+{command}\b", result.stderr, re.MULTILINE)


def test_apt_package_list() -> None:
    match = re.search(r'^APT_PACKAGES="([^"]*)"$', DEV.read_text(), re.MULTILINE)
    assert match, "the apt package list lives in one APT_PACKAGES variable"
    packages = match.group(1).split()
    for needed in ("python3", "python3-venv", "python3-dev", "git", "libegl1", "chromium"):
        assert needed in packages


def test_pytest_no_tests_is_a_failure() -> None:
    text = DEV.read_text()
    assert re.search(r'"\$rc" -eq 5', text), "pytest exit 5 (no tests) must fail ./dev test"
