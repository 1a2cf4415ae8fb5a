"""The instructor's overrides (``grade --overrides``, ``autograder.overrides``): applied through the
real pipeline to grades.csv, the feedback and the report; a bad file stops the run with its line."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest

import fixture_course as fx
from autograder.course import PipelineError, Reason, grade, release
from autograder.overrides import OverrideError, read_overrides
from conftest import UNSAFE

WRONG_SQUARE = "def square(x):\n    return x * x + 1"
HEADER = "student,assignment,test,score,reason\n"


def submissions(tmp_path):
    source = fx.build(tmp_path / "source")
    [released_path] = release(tmp_path / "release", source)
    released = nbformat.read(released_path, as_version=4)
    for student, square in (("honest", fx.SQUARE), ("reviewed", WRONG_SQUARE)):
        path = tmp_path / "subs" / student / fx.ASSIGNMENT / fx.NOTEBOOK
        path.parent.mkdir(parents=True)
        nbformat.write(fx.answer(released, fx.ADD, square), path)
    return source, tmp_path / "subs"


@pytest.mark.pipeline
@pytest.mark.xdist_group("pipeline-fixture")
def test_an_override_sets_the_score_everywhere_the_grade_shows(tmp_path):
    source, subs = submissions(tmp_path)
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(HEADER + 'reviewed,00_fixture,square,3,"reviewed by hand: an off-by-one, accepted"\n')
    out = tmp_path / "graded"
    report = grade(subs, out, source, progress=False, unsafe=UNSAFE, overrides=overrides)
    assert report.scores[("reviewed", fx.ASSIGNMENT)] == (5.0, 5.0), report.table()
    assert report.scores[("honest", fx.ASSIGNMENT)] == (5.0, 5.0), report.table()
    rows = {r["student_id"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert float(rows["reviewed"]["score"]) == 5.0
    [said] = [p for p in report.problems if p.reason == Reason.OVERRIDDEN]
    assert said.student == "reviewed" and "square: 3 of 3 points, set by the instructor" in said.message
    assert "off-by-one" in said.message and "the autograder gave 0" in said.message
    problems = json.loads((out / "problems.json").read_text())["problems"]
    assert any(p["reason"] == "overridden" and p["student"] == "reviewed" for p in problems)
    feedback = (out / "feedback" / "reviewed" / fx.ASSIGNMENT / "fixture.html").read_text()
    assert "5.0 / 5.0" in feedback or "5 / 5" in feedback, "the feedback should show the overridden total"


@pytest.mark.parametrize(
    "text, message",
    [
        ("student,test,score\n", "the first line must be the header"),
        (HEADER + "reviewed,00_fixture,square,three,\n", "line 2: the score 'three' is not a number"),
        (HEADER + "reviewed,00_fixture,,3,\n", "line 2: expected 5 columns"),
        (HEADER + "reviewed,00_fixture,square,3,x\nreviewed,00_fixture,square,1,y\n", "line 3: a second row"),
    ],
)
def test_a_malformed_overrides_file_names_its_line(tmp_path, text, message):
    path = tmp_path / "overrides.csv"
    path.write_text(text)
    with pytest.raises(OverrideError, match=message):
        read_overrides(path)


@pytest.mark.pipeline
@pytest.mark.xdist_group("pipeline-fixture")
@pytest.mark.parametrize(
    "row, message",
    [
        ("nobody,00_fixture,square,3,", "line 2: no submission from a student 'nobody'"),
        ("reviewed,99_other,square,3,", "line 2: no assignment '99_other'"),
        ("reviewed,00_fixture,cube,3,", "line 2: 00_fixture has no test 'cube' \\(its tests: add, square\\)"),
        ("reviewed,00_fixture,square,4,", "line 2: square is worth 3 points; 4 is out of range"),
    ],
)
def test_an_override_that_names_nothing_gradable_stops_the_run_before_grading(tmp_path, row, message):
    source, subs = submissions(tmp_path)
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(HEADER + row + "\n")
    with pytest.raises(PipelineError, match=message):
        grade(subs, tmp_path / "graded", source, progress=False, unsafe=UNSAFE, overrides=overrides)
    assert not (tmp_path / "graded" / "grades.csv").exists()
    assert not list((tmp_path / "graded" / "course").glob("autograded/*")), "nothing should have been graded"
