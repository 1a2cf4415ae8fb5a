"""The code base is clean under ruff (lint and format), as `make lint` checks: part of `make test`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["check", "format"])
def test_ruff_is_clean(command):
    assert RUFF, "ruff is not installed: it is in the test extra of pyproject.toml (make env installs it)"
    run = subprocess.run([RUFF, *command], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, (
        f"ruff {' '.join(command)} (fix with `make format`):\n{run.stdout[-4000:]}{run.stderr[-2000:]}"
    )
