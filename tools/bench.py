"""`make bench`: the course's speed targets, measured and printed as a table.

    python -m tools.bench [--only notebooks,grading,class,conv,rnn,site,cleanroom]

- seconds to execute each notebook top to bottom (target: under 60 s on 2 cores), run one at a
  time so that the numbers are not inflated by each other;
- seconds for nbgrader to autograde one reference submission of each assignment, and to write its
  feedback;
- a class of reference submissions graded whole: submissions per minute with one job and two, and
  the sandbox's overhead;
- the convolution rows of tools/bench_conv.py (the reference im2col against torch's conv2d);
- the LSTM rows of tools/bench_rnn.py (the reference numpy LSTM forward+backward against nn.LSTM);
- seconds to build the website (tools/build_site.py, the notebooks executed two at a time);
- what the clean room costs per submission (``autograder.cleanroom``): starting it and loading a
  reference solution, and repeating that assignment's numpy-only tests outside the kernel.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import nbformat

from autograder.course import course_notebooks
from tools.notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_LIMIT = 60.0
LOADED_LIMIT = 2.5  # issue 22: beside one CPU-bound process, no notebook more than 2.5x slower than alone


def _spin_forever() -> None:
    while True:
        _spin()


def notebook_rows() -> list[dict]:
    """Each course notebook executed alone, then beside one CPU-bound process (what a student meets on a shared
    JupyterHub node, and a grader with --jobs): the ratio of the two is held to LOADED_LIMIT."""
    import multiprocessing

    rows = []
    for path in course_notebooks():
        start = time.perf_counter()
        run_notebook(path, timeout=600)
        seconds = time.perf_counter() - start
        hog = multiprocessing.get_context("fork").Process(target=_spin_forever, daemon=True)
        hog.start()
        try:
            start = time.perf_counter()
            run_notebook(path, timeout=600)
            loaded = time.perf_counter() - start
        finally:
            hog.kill()
            hog.join()
        verdict = "ok" if seconds < NOTEBOOK_LIMIT else f"OVER the {NOTEBOOK_LIMIT:.0f} s target"
        ratio = loaded / seconds
        beside = "ok" if ratio <= LOADED_LIMIT else f"OVER the {LOADED_LIMIT}x target"
        rows.append({"name": f"execute {path.relative_to(ROOT)}", "seconds": seconds, "note": verdict})
        rows.append(
            {
                "name": f"execute {path.relative_to(ROOT)} beside a CPU-bound process",
                "seconds": loaded,
                "note": f"{ratio:.2f}x alone: {beside}",
            }
        )
        print(f"  {rows[-2]['name']}: {seconds:.1f} s, {loaded:.1f} s loaded", file=sys.stderr, flush=True)
    return rows


def grading_rows() -> list[dict]:
    from autograder.course import Course
    from autograder.demo import EXAMPLE_STUDENTS, fill_solutions
    from autograder.notebooks import read_notebook

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        course = Course(Path(tmp) / "course")
        course.stage()
        course.add_student("reference")
        for assignment in course.assignments:
            folder = Path(tmp) / "submission" / assignment
            folder.mkdir(parents=True)
            for name in course.notebooks(assignment):
                released = read_notebook(course.released(assignment) / name)
                source = read_notebook(course.root / "source" / assignment / name)
                nbformat.write(fill_solutions(released, source, EXAMPLE_STUDENTS["reference"]), folder / name)
            course.submit("reference", assignment, folder)
            start = time.perf_counter()
            _, problems = course.autograde("reference", assignment)
            graded = time.perf_counter() - start
            score = course.scores().get(("reference", assignment), (0, 0))
            rows.append(
                {
                    "name": f"autograde one submission of {assignment}",
                    "seconds": graded,
                    "note": "; ".join(map(str, problems)) or f"score {score[0]:g}/{score[1]:g}",
                }
            )
            start = time.perf_counter()
            problem = course.feedback("reference", assignment, Path(tmp) / "feedback")
            rows.append(
                {
                    "name": f"feedback for one submission of {assignment}",
                    "seconds": time.perf_counter() - start,
                    "note": str(problem) if problem else "",
                }
            )
    return rows


def _spin(n: int = 12_000_000) -> int:
    total = 0
    for i in range(n):
        total += i & 7
    return total


def parallel_ceiling(rounds: int = 3, n: int = 12_000_000) -> float:
    """The best speed-up any two-job run can show here: two copies of a CPU-bound loop, one after
    the other in this process, against the two at once in two forked processes (median of
    ``rounds``). On a virtual machine two "cores" may share one physical core or a busy host, and
    then this is well below 2."""
    import multiprocessing
    import statistics

    fork = multiprocessing.get_context("fork")
    ratios = []
    for _ in range(rounds):
        start = time.perf_counter()
        _spin(n), _spin(n)
        serial = time.perf_counter() - start
        start = time.perf_counter()
        procs = [fork.Process(target=_spin, args=(n,)) for _ in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        ratios.append(serial / (time.perf_counter() - start))
    return statistics.median(ratios)


def class_rows(assignment: str = "01_backprop", students: int = 6, source: Path | None = None) -> list[dict]:
    """A class of ``students`` reference submissions of ``assignment`` graded whole, as an
    instructor does, with one job and two, with and without the sandbox; then the class twice as
    large with one job and two.

    Targets (issue 10): two jobs grade >= 1.8x as many submissions per minute as one; the sandbox
    costs <= 15% per submission; <= 5 s per submission on 2 cores. A run has fixed costs (staging
    the course, starting the workers, the last submission finishing alone, the report), which two
    jobs cannot halve: the smaller the class, the more they weigh. So the speed-up is given for
    both classes, and per further submission (the difference between the two). Beside them, the
    machine's own ceiling for two processes, measured before and after the runs.
    """
    from autograder.course import DEFAULT_SOURCE, grade, release
    from autograder.demo import EXAMPLE_STUDENTS, fill_solutions, sandbox_works
    from autograder.notebooks import read_notebook, tag_notebook

    source = Path(source or DEFAULT_SOURCE)
    sandboxed = sandbox_works()
    rows, seconds_for = [], {}
    ceiling_before = parallel_ceiling() if sandboxed else None
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        tmp = Path(tmp)
        only = tmp / "source"
        only.mkdir()
        os.symlink((source / assignment).resolve(), only / assignment)
        for path in release(tmp / "release", only):
            answers = tag_notebook(read_notebook(source / assignment / path.name), f"{assignment}/{path.name}")
            nb = fill_solutions(read_notebook(path), answers, EXAMPLE_STUDENTS["reference"])
            for i in range(students):
                target = tmp / "submissions" / f"student{i:02d}" / assignment / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, target)
        # One untimed submission first: the first kernel of a run pays for cold disk caches.
        warm = tmp / "warm" / "student00"
        shutil.copytree(tmp / "submissions" / "student00", warm)
        grade(warm.parent, tmp / "graded", only, progress=False, unsafe=not sandboxed)

        def timed(label: str, size: int, jobs: int, unsafe: bool) -> None:
            start = time.perf_counter()
            report = grade(tmp / "submissions", tmp / "graded", only, progress=False, unsafe=unsafe, jobs=jobs)
            seconds = time.perf_counter() - start
            full = sum(report.scores[(s, assignment)][0] == report.scores[(s, assignment)][1] for s in report.students)
            seconds_for[(label, size)] = seconds
            rows.append(
                {
                    "name": f"grade {size} submissions of {assignment} ({label})",
                    "seconds": seconds,
                    "note": f"{60 * size / seconds:.1f} submissions/min, {seconds / size:.1f} s each"
                    + ("" if full == size else f"; only {full} scored full marks"),
                }
            )

        timed("jobs 1, no sandbox", students, 1, True)
        if sandboxed:
            from autograder import zygote

            if zygote.available():  # the isolation alone, kernels started by bwrap as without root
                with mock.patch.object(zygote, "available", return_value=False):
                    timed("jobs 1, sandbox, no fork server", students, 1, False)
            timed("jobs 1, sandbox", students, 1, False)
            timed("jobs 2, sandbox", students, 2, False)
            for i in range(students, 2 * students):
                shutil.copytree(tmp / "submissions" / "student00", tmp / "submissions" / f"student{i:02d}")
            timed("jobs 1, sandbox", 2 * students, 1, False)
            timed("jobs 2, sandbox", 2 * students, 2, False)
    if not sandboxed:
        return rows
    ceiling_after = parallel_ceiling()
    rows.append(
        {
            "name": "this machine's ceiling: a CPU-bound loop in 2 processes vs 1",
            "seconds": 0.0,
            "note": f"{ceiling_before:.2f}x before the runs, {ceiling_after:.2f}x after (no two-job run beats it; "
            "the host's load moves it)",
        }
    )
    for size in (students, 2 * students):
        one, two = seconds_for[("jobs 1, sandbox", size)], seconds_for[("jobs 2, sandbox", size)]
        rows.append(
            {
                "name": f"speed-up of --jobs 2 over --jobs 1, class of {size}",
                "seconds": two / size,
                "note": f"{one / two:.2f}x (target >= 1.8x); {two / size:.1f} s per submission with 2 jobs "
                "(target <= 5 s)",
            }
        )
    marginal = {
        jobs: (seconds_for[(f"jobs {jobs}, sandbox", 2 * students)] - seconds_for[(f"jobs {jobs}, sandbox", students)])
        / students
        for jobs in (1, 2)
    }
    rows.append(
        {
            "name": "speed-up of --jobs 2 over --jobs 1 per further submission",
            "seconds": marginal[2],
            "note": f"{marginal[1] / marginal[2]:.2f}x; each further submission takes {marginal[2]:.1f} s with "
            f"2 jobs, {marginal[1]:.1f} s with 1",
        }
    )
    bare = seconds_for[("jobs 1, no sandbox", students)]
    for label in ("jobs 1, sandbox, no fork server", "jobs 1, sandbox"):
        if (label, students) in seconds_for:
            boxed = seconds_for[(label, students)]
            rows.append(
                {
                    "name": "sandbox overhead per submission" + (" (bwrap alone)" if "no fork" in label else ""),
                    "seconds": (boxed - bare) / students,
                    "note": f"{100 * (boxed / bare - 1):+.0f}% (target <= 15%)",
                }
            )
    return rows


def conv_rows() -> list[dict]:
    from tools import bench_conv

    return bench_conv.rows()


def rnn_rows() -> list[dict]:
    from tools import bench_rnn

    return bench_rnn.rows()


def site_rows() -> list[dict]:
    from tools import build_site

    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        start = time.perf_counter()
        build_site.build(Path(tmp) / "site", jobs=2)
        seconds = time.perf_counter() - start
    return [
        {
            "name": "build the website (make site, 2 jobs)",
            "seconds": seconds,
            "note": "every lecture and seminar executed",
        }
    ]


CLEAN_ROOM_TARGET = 1.5


def cleanroom_rows() -> list[dict]:
    """Per assignment: the clean room started and loaded with the reference solution, then the whole
    repeat of the numpy-only tests (the clean room answering every graded call), with the CPU time
    of the grader's side and of the room's processes (what a quiet machine's wall time would be)."""
    from autograder import cleanroom, replay
    from autograder import sandbox as sb
    from autograder.course import find_source_notebooks
    from autograder.execute import grading_rules
    from autograder.notebooks import read_notebook, tag_notebook

    rows = []
    uid, lock = sb.claim_uid()
    rooms: list[float] = []  # CPU seconds of each room's processes, read as it stops
    stop = cleanroom.CleanRoom.stop

    def counted_stop(room):
        if room.proc is not None and room.proc.poll() is None:
            rooms.append(cleanroom.process_tree_cpu(room.proc.pid))
        return stop(room)

    try:
        for path in find_source_notebooks():
            source = tag_notebook(read_notebook(path))
            rules = grading_rules(path)
            limits = sb.Limits(uid=uid)
            with tempfile.TemporaryDirectory(prefix="bench-cleanroom-") as tmp:
                tagged = Path(tmp) / path.name
                nbformat.write(source, tagged)
                start = time.perf_counter()
                blocks = cleanroom.student_blocks(source, source)
                locked = cleanroom.locked_labels(source, source)
                blocks, _ = cleanroom.loadable(blocks, rules.get("forbidden", {}), locked)
                with cleanroom.CleanRoom(blocks, rules, limits=limits) as room:
                    room.start()
                started = time.perf_counter() - start
                # First, so that the imports both need (torch.optim's, matplotlib's) are not the repeat's.
                alone = _tests_in_process(source, rules)
                nb = nbformat.from_dict(source)
                calls, rooms[:] = [], []
                with (
                    mock.patch.object(cleanroom.CleanRoom, "call", _counted(cleanroom.CleanRoom.call, calls)),
                    mock.patch.object(cleanroom.CleanRoom, "stop", counted_stop),
                ):
                    start, cpu = time.perf_counter(), time.process_time()
                    summary = replay.check_outside(nb, tagged, rules, 300, None, limits=limits)
                    repeat, cpu = time.perf_counter() - start, time.process_time() - cpu
            name = path.parent.name
            total = started + max(repeat - alone, 0.0)
            verdict = "ok" if total < CLEAN_ROOM_TARGET else f"OVER the {CLEAN_ROOM_TARGET} s target"
            rows.append(
                {
                    "name": f"the same tests of {name} in one process (no room)",
                    "seconds": alone,
                    "note": "the references and checks themselves: what any repeat costs",
                }
            )
            rows.append({"name": f"clean room: start and load {name}", "seconds": started, "note": "ok"})
            rows.append(
                {
                    "name": f"repeat {name}'s tests outside the kernel",
                    "seconds": repeat,
                    "note": f"{len(summary['passed'])} tests, {len(calls)} calls; CPU {cpu:.1f} s here, "
                    f"{sum(rooms):.1f} s in rooms",
                }
            )
            rows.append(
                {
                    "name": f"clean room's cost per {name} submission",
                    "seconds": total,
                    "note": f"start + (repeat - the same tests in one process): {verdict}",
                }
            )
            print(f"  {name}: {started:.2f} s to start, {repeat:.1f} s to repeat", file=sys.stderr, flush=True)
    finally:
        if lock is not None:
            lock.close()
    return rows


def _tests_in_process(source, rules) -> float:
    """Seconds the repeat's own cells (the locked cells it runs first, then every test cell, hidden
    parts included) take in one process, with the reference solutions and no room: the part of a
    repeat that is the checks' own work, whatever runs the student's code."""
    import contextlib
    import io

    import matplotlib

    from autograder import replay
    from autograder.notebooks import cell_kind, strip_magics

    matplotlib.use("Agg")
    clean, tests, _, _ = replay.plan(source, set(rules.get("numpy_only", [])))
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for cell in source.cells:  # the notebook as the kernel ran it, tests aside
            if cell.cell_type == "code" and cell_kind(cell) != "test":
                with contextlib.suppress(Exception):
                    exec(compile(strip_magics(cell.source), "<cell>", "exec"), namespace)  # noqa: S102
        start = time.perf_counter()
        for cell in [*clean, *tests]:
            with contextlib.suppress(Exception):
                exec(compile(strip_magics(cell.source), "<cell>", "exec"), namespace)  # noqa: S102
        return time.perf_counter() - start


def _counted(call, calls: list):
    def counted(self, *args, **kwargs):
        calls.append(None)
        return call(self, *args, **kwargs)

    return counted


SUITES = {
    "notebooks": notebook_rows,
    "grading": grading_rows,
    "class": class_rows,
    "conv": conv_rows,
    "rnn": rnn_rows,
    "site": site_rows,
    "cleanroom": cleanroom_rows,
}


def table(rows: list[dict]) -> str:
    width = max((len(r["name"]) for r in rows), default=10)
    lines = [f"{'benchmark'.ljust(width)}  {'seconds':>9}  note", f"{'-' * width}  {'-' * 9}  {'-' * 30}"]
    lines += [f"{r['name'].ljust(width)}  {r['seconds']:9.3f}  {r.get('note', '')}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated: " + ", ".join(SUITES))
    args = parser.parse_args(argv)
    rows = []
    for name in args.only.split(","):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += SUITES[name.strip()]()
    print(f"\n{os.cpu_count()} CPU core(s)\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
