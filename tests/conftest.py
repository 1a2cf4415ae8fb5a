"""Shared paths for the suite: the course's own, re-exported so tests import them from one place."""
from autograder.course import DEFAULT_SOURCE as ASSIGNMENTS  # noqa: F401
from autograder.course import ROOT, course_notebooks  # noqa: F401
from autograder.course import find_source_notebooks as assignment_notebooks  # noqa: F401


def pytest_configure(config):
    """One marker per assignment, ``aNN`` (``pytest -m a02`` runs assignment 2's tests only)."""
    for folder in sorted(ASSIGNMENTS.iterdir()):
        if folder.is_dir() and folder.name[:2].isdigit():
            config.addinivalue_line("markers", f"a{folder.name[:2]}: tests of assignments/{folder.name}")
