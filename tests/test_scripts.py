"""``scripts/test.sh`` names a missing prerequisite before it installs anything.

Each case runs the real script with a PATH that holds only the tools the case allows; the
Python on that PATH logs how it is called, so an install that started would show in the log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")


def tool_dir(tmp_path: Path, tools: list[str], uid: int = 0) -> tuple[Path, Path]:
    """A bin directory with the named real tools, a logging python3 and an ``id`` reporting ``uid``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "env", *tools):
        real = shutil.which(tool)
        assert real is not None, f"{tool} is needed to run this test"
        (bin_dir / tool).symlink_to(real)
    log = tmp_path / "python-calls.log"
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    ident = bin_dir / "id"
    ident.write_text(f"#!/bin/sh\necho {uid}\n")
    ident.chmod(0o755)
    return bin_dir, log


def run_script(bin_dir: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHON", "VIRTUAL_ENV")}
    env.update(PATH=str(bin_dir), **extra_env)
    return subprocess.run(
        [BASH, str(ROOT / "scripts" / "test.sh")], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    ("tools", "uid", "messages"),
    [
        (["git", "redis-server"], 0, ["node not found", "npm not found"]),
        (["git", "node", "npm"], 0, ["redis-server missing and apt-get not found"]),
        (["git", "node", "npm", "apt-get"], 1000, ["installing them needs root, and sudo was not found"]),
        (["node", "npm", "redis-server"], 0, ["not a git checkout (or git not found)"]),
    ],
    ids=["no-node", "no-apt", "no-sudo", "no-git"],
)
def test_a_missing_prerequisite_stops_before_any_install(tmp_path, tools, uid, messages):
    available = [tool for tool in tools if shutil.which(tool)]
    if available != tools:
        pytest.fail(f"this test links real tools; missing here: {sorted(set(tools) - set(available))}")
    bin_dir, log = tool_dir(tmp_path, tools, uid)
    out = run_script(bin_dir)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith("scripts/test.sh: cannot start; nothing was installed:\n")
    for message in messages:
        assert message in out.stderr, out.stderr
    calls = log.read_text()
    assert "-c" in calls, "the script checked its Python"
    assert "pip install" not in calls and out.stdout == "", "nothing was installed"


def test_a_virtual_environment_without_pip_is_named(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    bin_dir, _log = tool_dir(tmp_path, ["git", "node", "npm", "redis-server"])
    out = run_script(bin_dir, PYTHON=str(venv / "bin" / "python"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the active virtual environment has no pip" in out.stderr
    assert out.stdout == "", "nothing was installed"
