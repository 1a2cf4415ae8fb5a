"""Grading of the course's assignments with nbgrader: sandboxed, parallel, out of the student's reach."""

import tools  # noqa: F401 (its import-time fix: nbformat loads ~1.7 s faster in every grading process)
