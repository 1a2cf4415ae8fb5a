"""Shared paths and helpers for the suite."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ROOT / "assignments"


def course_notebooks() -> list[Path]:
    """Every notebook the course ships: lectures, seminars and assignment sources."""
    return sorted([*ROOT.glob("lectures/*.ipynb"), *ROOT.glob("seminars/*.ipynb"),
                   *ROOT.glob("assignments/*/*.ipynb")])


def assignment_notebooks() -> list[Path]:
    return sorted(ASSIGNMENTS.glob("*/*.ipynb"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
