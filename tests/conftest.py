"""Shared paths for the suite: the course's own, re-exported so tests import them from one place."""
from autograder.course import DEFAULT_SOURCE as ASSIGNMENTS  # noqa: F401
from autograder.course import ROOT, course_notebooks  # noqa: F401
from autograder.course import find_source_notebooks as assignment_notebooks  # noqa: F401
