"""Grading in parallel and again: ``grade(jobs=2)``, on a Dask cluster, ``resume`` after an
interruption, and a re-run into the same folder, all giving the same grades as one at a time."""

from __future__ import annotations

import nbformat
import pytest

import fixture_course as fx
from autograder.course import grade, release
from conftest import UNSAFE

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("grading-parallel")]

EXPECTED = {"reference": 5.0, "blank": 0.0, "hardcoded": 3.0, "square_only": 3.0}


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parallel")
    source = fx.build(tmp / "source")
    [released_path] = release(tmp / "release", source)
    released = nbformat.read(released_path, as_version=4)
    answers = {
        "reference": fx.answer(released, fx.ADD, fx.SQUARE),
        "blank": released,
        "hardcoded": fx.answer(released, "def add(a, b):\n    return 3", fx.SQUARE),
        "square_only": fx.answer(released, None, fx.SQUARE),
    }
    for student, nb in answers.items():
        path = tmp / "submissions" / student / fx.ASSIGNMENT / fx.NOTEBOOK
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return tmp, source


def scores(report) -> dict[str, float]:
    return {s: report.scores[(s, fx.ASSIGNMENT)][0] for s in report.students}


def executions(out):
    """When each submission's execution was last written (the cache ``grade`` keeps)."""
    return {p.parent.parent.name: p.stat().st_mtime_ns for p in (out / ".executed").glob("*/*/key.json")}


def test_two_jobs_then_resume_then_rerun(class_folder):
    tmp, source = class_folder
    out = tmp / "graded"
    first = grade(tmp / "submissions", out, source, progress=False, unsafe=UNSAFE, jobs=2)
    assert scores(first) == EXPECTED, first.table()
    csv_first = (out / "grades.csv").read_text()
    ran = executions(out)
    assert sorted(ran) == sorted(EXPECTED)

    # Interrupted half way: two executions are missing. Resuming runs those two only.
    for student in ("blank", "hardcoded"):
        for path in (out / ".executed" / student).rglob("*"):
            if path.is_file():
                path.unlink()
    resumed = grade(tmp / "submissions", out, source, progress=False, unsafe=UNSAFE, jobs=2, resume=True)
    assert scores(resumed) == EXPECTED
    now = executions(out)
    assert {s for s in EXPECTED if now[s] != ran[s]} == {"blank", "hardcoded"}
    assert (out / "grades.csv").read_text() == csv_first
    assert (out / "feedback" / "reference" / fx.ASSIGNMENT / "fixture.html").exists()

    # A changed submission is executed again on resume, whatever the cache holds.
    changed = tmp / "submissions" / "blank" / fx.ASSIGNMENT / fx.NOTEBOOK
    original = changed.read_text()
    released = nbformat.reads(original, as_version=4)
    nbformat.write(fx.answer(released, fx.ADD, fx.SQUARE), changed)
    try:
        again = grade(tmp / "submissions", out, source, progress=False, unsafe=UNSAFE, resume=True)
        assert scores(again) == {**EXPECTED, "blank": 5.0}
    finally:
        changed.write_text(original)

    # Without --resume the run starts afresh, and gives the same grades.
    rerun = grade(tmp / "submissions", out, source, progress=False, unsafe=UNSAFE)
    assert scores(rerun) == EXPECTED
    assert (out / "grades.csv").read_text() == csv_first


def test_a_dask_cluster_grades_like_one_process(class_folder):
    distributed = pytest.importorskip("distributed")
    tmp, source = class_folder
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        # As `grade --scheduler tcp://host:8786` does; `executor=client.get_executor()` works too.
        report = grade(
            tmp / "submissions",
            tmp / "graded-dask",
            source,
            progress=False,
            unsafe=UNSAFE,
            scheduler=cluster.scheduler_address,
        )
    assert scores(report) == EXPECTED, report.table()


def test_a_worker_that_dies_costs_only_its_own_submission(tmp_path):
    """A submission that kills its worker process breaks the pool: the submissions queued on it run
    again, each alone, and only the one that kills its worker again is lost, with a message."""
    from fixture_workers import execute_or_die

    from autograder.course import _execute
    from autograder.parallel import Settings

    students = ["crasher", *(f"s{i}" for i in range(6))]
    booked = {}
    _execute(
        tmp_path,
        [(s, "a1") for s in students],
        Settings(),
        tmp_path / "cache",
        False,
        2,
        None,
        None,
        False,
        lambda done: booked.setdefault(done.student, done),
        run=execute_or_die,
    )
    assert sorted(booked) == sorted(students)
    for student in students[1:]:
        assert booked[student].error is None and booked[student].notebooks == {"a.ipynb": f"executed for {student}"}
    assert booked["crasher"].notebooks == {} and "worker process died" in booked["crasher"].error
