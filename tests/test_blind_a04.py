"""The blind catalogue of assignment 4 mistakes (tests/blind/a04_cnn_architectures.py) against the grader's tests.

Each entry replaces its function's solution cell, and the function's full test cell of the SOURCE notebook (visible
and hidden parts, as the grader runs it) is executed in-process, as tests/harness.py runs misconceptions. Every
correct entry must pass; every mistake must fail, and each caught mistake must carry the judgement of its message
(``named``). A mistake the tests let through is a gap in grading: it is recorded in the catalogue (``gap``, why it
passes) and expected to pass here, strictly, so that the day a test catches it this module says so.

How well the messages name the mistakes is printed, not asserted: ``python -m tools.blind_report``.
"""

from __future__ import annotations

import re

import pytest
from blind import a04_cnn_architectures as catalogue

from harness import Assignment
from tools.blind_report import run_entry

A = Assignment("04_cnn_architectures")
pytestmark = A.marks


def _id(entry: dict) -> str:
    same = [e for e in catalogue.ENTRIES if e["function"] == entry["function"] and e["kind"] == entry["kind"]]
    slug = re.sub(r"[^a-z0-9]+", "-", entry["description"].lower())[:40].strip("-")
    return f"{entry['function']}-{entry['kind']}{same.index(entry)}-{slug}"


def _param(entry: dict):
    if entry["kind"] == "mistake" and entry["gap"]:
        return pytest.param(entry, id=_id(entry), marks=pytest.mark.xfail(strict=True, reason="gap: " + entry["gap"]))
    return pytest.param(entry, id=_id(entry))


def test_the_catalogue_covers_every_graded_function():
    assert sorted(catalogue.FUNCTIONS) == sorted(A.test_names())
    for function in catalogue.FUNCTIONS:
        kinds = [e["kind"] for e in catalogue.ENTRIES if e["function"] == function]
        assert 5 <= kinds.count("mistake") <= 10 and 1 <= kinds.count("correct") <= 2, (function, kinds)


@pytest.mark.parametrize("entry", [_param(e) for e in catalogue.ENTRIES])
def test_blind_entry(entry):
    result = run_entry(entry, A)
    if entry["kind"] == "correct":
        assert result.passed, (
            f"a correct {entry['function']} ({entry['description']}) fails its test cell: {result.message}"
        )
        return
    assert not result.passed, f"the mistake in {entry['function']} passes its test cell: {entry['description']}"
    assert entry["named"] in (True, False), (
        f"judge whether this message names the mistake ({entry['description']}) and record it in the catalogue's "
        f"NAMED: {result.kind}: {result.message}"
    )
