"""Arrange an nbgrader course directory and drive nbgrader through its Python API.

nbgrader does the work (generate_assignment, autograde, generate_feedback, CSV export); this module
stages the course's sources, checks submissions before nbgrader sees them, and turns one student's
broken submission into a message instead of a failed run.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import unicodedata
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from .integrity import flag_notebook
from .notebooks import NotebookFormatError, read_notebook, read_submission, tag_notebook

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / "assignments"
CONFIG_FILE = Path(__file__).with_name("nbgrader_config.py")

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _put_interpreter_on_path() -> None:
    """nbgrader runs the ``alembic`` executable to version its gradebook; when the interpreter is
    called by path (as ``make`` does, without activating the venv) its bin folder is not on PATH.
    Called when a course is opened, not at import."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def alembic_head() -> str | None:
    """The newest revision of nbgrader's gradebook schema, read from its migration scripts.

    nbgrader stamps every new gradebook with it, and finds it by running ``alembic heads`` in a
    subprocess, which takes about 4 s (one per grading run and per test). The scripts say it: the
    one revision that no other script names as its ``down_revision``. None if that is not one.
    """
    import nbgrader

    revisions, parents = set(), set()
    for path in (Path(nbgrader.__file__).parent / "alembic" / "versions").glob("*.py"):
        text = path.read_text()
        revision = re.search(r"^revision\s*=\s*['\"](\w+)['\"]", text, re.M)
        parent = re.search(r"^down_revision\s*=\s*['\"](\w+)['\"]", text, re.M)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stamp_gradebooks_in_process() -> None:
    import nbgrader.api

    head = alembic_head()
    if head is not None and not getattr(nbgrader.api.get_alembic_version, "_from_scripts", False):

        def get_alembic_version() -> str:
            return head

        get_alembic_version._from_scripts = True
        nbgrader.api.get_alembic_version = get_alembic_version


class Reason(StrEnum):
    """Why a submission (or part of one) could not be graded as handed in."""

    NOT_A_FOLDER = "not-a-folder"
    UNKNOWN_ASSIGNMENT = "unknown-assignment"
    UNEXPECTED_NOTEBOOK = "unexpected-notebook"
    MALFORMED_NOTEBOOK = "malformed-notebook"
    MISSING_NOTEBOOK = "missing-notebook"
    FLAGGED = "flagged"
    KERNEL_DIED = "kernel-died"
    TIMEOUT = "timeout"
    AUTOGRADE_FAILED = "autograde-failed"
    FEEDBACK_FAILED = "feedback-failed"
    TAMPERING = "tampering"
    TORCH_IN_NUMPY = "torch-in-numpy"
    LIMIT = "limit"
    OVERRIDDEN = "overridden"  # a test's score set by the instructor (autograder.overrides)


class PipelineError(RuntimeError):
    """The run as a whole cannot go on (bad arguments, a broken source notebook)."""


MESSAGE_CHARS = 500  # longest problem message; the details are in the student's notebook
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object, limit: int | None = MESSAGE_CHARS) -> str:
    """``text`` as one line that cannot restyle or rearrange a terminal or a page: control characters
    (C0, C1, ANSI escapes), invisible format characters (bidi overrides among them) and line separators
    written as Python escapes (``\\n``, ``\\x1b``, ``\\u202e``); at most ``limit`` characters kept."""
    text = str(text)
    cut = limit is not None and len(text) > limit
    kept = text[:limit] if cut else text
    out = "".join(
        _ESCAPES.get(ch) or ascii(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in kept
    )
    return out + f"... ({len(text) - limit} more characters)" if cut else out


@dataclass
class Problem:
    """Something wrong with one student's submission; it costs only that student.

    The message is kept printable (``printable``), so a problem is always one line, and the line
    begins with the student and assignment the grader attributes it to.
    """

    student: str
    assignment: str | None
    message: str
    reason: Reason = Reason.AUTOGRADE_FAILED

    def __post_init__(self) -> None:
        self.message = printable(self.message)

    def __str__(self) -> str:
        where = printable(self.student, 100) + (f"/{printable(self.assignment, 100)}" if self.assignment else "")
        return f"{where} [{self.reason}]: {self.message}"


@dataclass
class GradeReport:
    """Scores by ``(student, assignment)`` as ``(score, max_score)``, and the problems met."""

    assignments: list[str]
    students: list[str]
    scores: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    csv_path: Path | None = None
    feedback_dir: Path | None = None
    report_path: Path | None = None  # report.html, with problems.json beside it

    def total(self, student: str) -> tuple[float, float]:
        pairs = [self.scores.get((student, a), (0.0, self.max_score(a))) for a in self.assignments]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

    def max_score(self, assignment: str) -> float:
        return max((m for (s, a), (_, m) in self.scores.items() if a == assignment), default=0.0)

    def table(self) -> str:
        header = ["student", *self.assignments, "total"]
        rows = []
        for student in self.students:  # names are folder names: printable() keeps each on its line
            cells = []
            for a in self.assignments:
                score = self.scores.get((student, a))
                cells.append("-" if score is None else f"{score[0]:g}/{score[1]:g}")
            got, out_of = self.total(student)
            rows.append([printable(student, 100), *cells, f"{got:g}/{out_of:g}"])
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def find_source_notebooks(source: Path = DEFAULT_SOURCE) -> list[Path]:
    """Assignment source notebooks: ``source/<assignment>/<notebook>.ipynb``."""
    return sorted(Path(source).glob("*/*.ipynb"))


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook the course ships: lectures, seminars and assignment sources."""
    return sorted(
        [*root.glob("lectures/*.ipynb"), *root.glob("seminars/*.ipynb"), *find_source_notebooks(root / "assignments")]
    )


def assignment_names(source: Path = DEFAULT_SOURCE) -> list[str]:
    return sorted({p.parent.name for p in find_source_notebooks(source)})


def load_config(
    root: Path | None = None,
    db_url: str | None = None,
    timeout: int | None = None,
    sandboxed: bool = True,
    memory: int | None = None,
    replay_dir: Path | None = None,
):
    """The course's nbgrader configuration (``nbgrader_config.py``), with the run's own settings."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    if root is not None:
        config.CourseDirectory.root = str(root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    if timeout is not None:
        config.Execute.timeout = timeout
    config.GradingExecute.sandbox = sandboxed
    if memory is not None:
        config.GradingExecute.memory = memory
    if replay_dir is not None:
        config.GradingExecute.replay_dir = str(replay_dir)
    return config


def make_api(config):
    """nbgrader's Python API on the course directory ``config`` names."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _put_interpreter_on_path()
    _stamp_gradebooks_in_process()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.ERROR)
    return api


class Course:
    """One nbgrader course directory under ``root``, built from the assignment sources."""

    def __init__(
        self,
        root: Path,
        source: Path = DEFAULT_SOURCE,
        db_url: str | None = None,
        timeout: int | None = None,
        sandboxed: bool = True,
        memory: int | None = None,
        replay_dir: Path | None = None,
    ):
        self.root = Path(root).resolve()
        self.source = Path(source)
        if not self.source.is_dir():
            raise PipelineError(f"assignment source folder {self.source} does not exist")
        self.assignments = assignment_names(self.source)
        if not self.assignments:
            raise PipelineError(f"no assignment notebooks under {self.source}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_url = db_url or f"sqlite:///{self.root / 'gradebook.db'}"
        self.config = load_config(self.root, self.db_url, timeout, sandboxed, memory, replay_dir)
        self.api = make_api(self.config)

    # -- sources ---------------------------------------------------------------------------
    def notebooks(self, assignment: str) -> list[str]:
        """Names of the assignment's notebooks, e.g. ``["backprop.ipynb"]``."""
        return sorted(p.name for p in (self.source / assignment).glob("*.ipynb"))

    def stage(self) -> None:
        """Copy every assignment into ``source/`` with fresh nbgrader metadata, then generate
        the student versions (``release/``) and record the tests in the gradebook."""
        for assignment in self.assignments:
            dst = self.root / "source" / assignment
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(
                self.source / assignment, dst, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
            )
            for path in dst.glob("*.ipynb"):
                try:
                    nb = tag_notebook(read_notebook(path), f"{assignment}/{path.name}")
                except NotebookFormatError as exc:
                    raise PipelineError(f"source notebook is malformed: {exc}") from None
                nbformat.write(nb, path)
            result = self.api.generate_assignment(assignment, force=True, create=True)
            if not result["success"]:
                raise PipelineError(
                    f"nbgrader could not generate {assignment}:\n{result.get('error') or result.get('log')}"
                )

    def locked_ids(self, assignment: str, notebook: str) -> set[str]:
        """Grade ids of the locked cells of a staged source notebook."""
        nb = read_notebook(self.root / "source" / assignment / notebook)
        return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata["nbgrader"].get("locked")}

    def released(self, assignment: str) -> Path:
        return self.root / "release" / assignment

    # -- grading ---------------------------------------------------------------------------
    def add_student(self, student: str) -> None:
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url) as gb:
            gb.update_or_create_student(student)

    def submit(self, student: str, assignment: str, folder: Path) -> list[Problem]:
        """Check one submission folder and copy its notebooks into ``submitted/``.

        A notebook that cannot be read (``read_submission``: too big, too deeply nested, not a
        notebook, a link), an unknown notebook name or a missing notebook is a problem for this
        student only. Only the kernelspec of the notebook's own metadata is kept, reset to the
        course's kernel, so that a notebook saved from another environment still runs and nothing
        the student wrote there reaches the grader; a cell whose nbgrader metadata is not a dict
        loses it (nbgrader then grades it as a cell the student added).
        """
        problems = []
        expected = self.notebooks(assignment)
        dst = self.root / "submitted" / student / assignment
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        for path in sorted(folder.iterdir()):
            if path.suffix != ".ipynb" or path.name.startswith("."):
                continue
            if path.name not in expected:
                problems.append(
                    Problem(
                        student,
                        assignment,
                        f"unexpected notebook {path.name} (expected {', '.join(expected)}); not graded",
                        Reason.UNEXPECTED_NOTEBOOK,
                    )
                )
                continue
            try:
                nb = read_submission(path)
                nb.metadata = {"kernelspec": dict(KERNELSPEC)}
                seen: set = set()
                for cell in nb.cells:  # nbgrader reads its metadata as a dict: anything else makes an added cell
                    if not isinstance(cell.metadata.get("nbgrader", {}), dict):
                        del cell.metadata["nbgrader"]
                    # A pasted copy of a cell repeats its grade id, which nbgrader refuses for the whole
                    # notebook: the first keeps it, a later copy is graded as a cell the student added.
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    if grade_id is not None and str(grade_id) in seen:
                        del cell.metadata["nbgrader"]
                    elif grade_id is not None:
                        seen.add(str(grade_id))
                nbformat.write(nb, dst / path.name)
            except Exception as exc:  # noqa: BLE001 (whatever the file does, it costs only this student)
                (dst / path.name).unlink(missing_ok=True)
                said = str(exc) if isinstance(exc, NotebookFormatError) else f"{path.name}: {type(exc).__name__}"
                problems.append(Problem(student, assignment, f"{said}; scored 0", Reason.MALFORMED_NOTEBOOK))
                continue
            flags = flag_notebook(nb, self.locked_ids(assignment, path.name))
            if flags:
                problems.append(
                    Problem(
                        student,
                        assignment,
                        "flagged for review (score unchanged): "
                        + "; ".join(flags[:5])
                        + (" ..." if len(flags) > 5 else ""),
                        Reason.FLAGGED,
                    )
                )
        for name in expected:
            if not (folder / name).exists():
                problems.append(Problem(student, assignment, f"{name} is missing; scored 0", Reason.MISSING_NOTEBOOK))
        return problems

    def autograde(self, student: str, assignment: str) -> tuple[bool, list[Problem]]:
        """Autograde one submission: whether nbgrader finished, and the problems met."""
        result = self.api.autograde(assignment, student, force=True, create=True)
        if not result["success"]:
            message, reason = _reason(result)
            return False, [Problem(student, assignment, "autograding failed: " + message, reason)]
        return True, self.incidents(student, assignment)

    def incidents(self, student: str, assignment: str) -> list[Problem]:
        """What the grading run itself caught in a submission (tampering, torch inside a numpy
        function, a limit hit, a dead kernel): the list the execute step writes into each autograded
        notebook's ``metadata.dl_grading.incidents``, ``{"cell": n, "kind": ..., "message": ...}``.

        Nothing else in the notebook counts: its error outputs (names included) are the student's to
        forge, and the execute step overwrites whatever the submitted file had in that place.
        """
        reasons = {
            "tampering": Reason.TAMPERING,
            "torch-in-numpy": Reason.TORCH_IN_NUMPY,
            "limit": Reason.LIMIT,
            "kernel-died": Reason.KERNEL_DIED,
        }
        found: dict[tuple[Reason, str], None] = {}
        for path in sorted((self.root / "autograded" / student / assignment).glob("*.ipynb")):
            try:
                said = read_notebook(path).metadata.get("dl_grading", {}).get("incidents", [])
            except (NotebookFormatError, AttributeError):
                continue
            for incident in said if isinstance(said, list) else []:
                if isinstance(incident, dict) and incident.get("kind") in reasons:
                    where = f"{path.name}, cell {incident.get('cell', '?')}"
                    found[(reasons[incident["kind"]], f"{where}: {incident.get('message', '')}")] = None
        return [Problem(student, assignment, message, reason) for reason, message in found]

    def feedback(self, student: str, assignment: str, out: Path) -> Problem | None:
        result = self.api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            return Problem(student, assignment, "feedback failed: " + _reason(result)[0], Reason.FEEDBACK_FAILED)
        src = self.root / "feedback" / student / assignment
        dst = out / student / assignment
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("timestamp.txt"))
        from .feedback import ship_mathjax

        ship_mathjax(out)  # the pages' MathJax, once for the class (autograder/feedback.py)
        return None

    def scores(self) -> dict[tuple[str, str], tuple[float, float]]:
        from nbgrader.api import Gradebook, MissingEntry

        result = {}
        with Gradebook(self.db_url) as gb:
            for assignment in gb.assignments:
                for student in gb.students:
                    try:
                        sub = gb.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        continue
                    result[(student.id, assignment.name)] = (float(sub.score), float(sub.max_score))
        return result

    def export_csv(self, path: Path) -> None:
        from nbgrader.api import Gradebook
        from nbgrader.plugins import CsvExportPlugin

        plugin = CsvExportPlugin(config=self.config)
        plugin.to = str(path)
        with Gradebook(self.db_url) as gb:
            plugin.export(gb)


def _reason(result: dict) -> tuple[str, Reason]:
    """The most telling line of a failed nbgrader call's traceback or log, and what it means."""
    text = "\n".join(filter(None, [result.get("error"), result.get("log")]))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    markers = [
        ("DeadKernelError", Reason.KERNEL_DIED),
        ("Kernel died", Reason.KERNEL_DIED),
        ("CellTimeoutError", Reason.TIMEOUT),
        ("TimeoutError", Reason.TIMEOUT),
        ("Error:", Reason.AUTOGRADE_FAILED),
        ("Exception", Reason.AUTOGRADE_FAILED),
    ]
    for marker, reason in markers:
        hits = [ln for ln in lines if marker in ln]
        if hits:
            return hits[-1][:300], reason
    return (lines[-1][:300] if lines else "no details from nbgrader"), Reason.AUTOGRADE_FAILED


def _quiet_gradebook(fn):
    """Run ``fn`` with nbgrader's SQLAlchemy autoflush warnings (nbgrader-internal) hidden, and the
    global warning filters as they were afterwards."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not in session.*")
            return fn(*args, **kwargs)

    return wrapper


@_quiet_gradebook
def release(out: Path, source: Path = DEFAULT_SOURCE) -> list[Path]:
    """Write the student version of every assignment to ``out/<assignment>/``; return the notebooks."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="nbgrader-release-") as tmp:
        course = Course(Path(tmp), source)
        course.stage()
        written = []
        for assignment in course.assignments:
            dst = out / assignment
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(course.released(assignment), dst)
            written += sorted(dst.glob("*.ipynb"))
    return written


@_quiet_gradebook
def grade(
    submissions: Path,
    out: Path,
    source: Path = DEFAULT_SOURCE,
    db_url: str | None = None,
    timeout: int | None = None,
    progress: bool = True,
    unsafe: bool = False,
    memory: int | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overrides: Path | None = None,
) -> GradeReport:
    """Autograde ``submissions/<student_id>/<assignment>/<notebook>.ipynb`` into ``out``.

    Writes ``out/grades.csv`` (nbgrader's export columns) and
    ``out/feedback/<student_id>/<assignment>/<notebook>.html``; the nbgrader course directory it
    used stays in ``out/course`` for inspection. With the default SQLite gradebook
    (``out/course/gradebook.db``) every run starts afresh; a ``db_url`` is used as it is.

    Each notebook runs in the bubblewrap sandbox (``autograder.sandbox``) with ``memory`` bytes of
    memory (heap) per process; where the sandbox cannot work, grading refuses with the reason,
    unless ``unsafe`` (then student code runs with the grader's rights, said loudly).

    Notebooks execute ``jobs`` at a time in worker processes, or on ``executor`` (any
    ``concurrent.futures.Executor``), or on the Dask cluster at ``scheduler``; nbgrader then books
    the results one by one (``autograder.parallel``). ``resume`` reuses the executions of an
    earlier, maybe interrupted, run into the same ``out`` whose submission, source and settings are
    unchanged; without it every run starts afresh, and gives the same grades. ``overrides`` is the
    instructor's CSV file of scores set by hand (``autograder.overrides``).
    """
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise PipelineError(
            f"submissions folder {submissions} does not exist (expected "
            f"{submissions}/<student_id>/<assignment>/<notebook>.ipynb)"
        )
    if unsafe:
        print(
            "WARNING: grading without the sandbox (--unsafe): student code runs with your rights and can "
            "read or delete the gradebook, other students' work and your files.",
            file=sys.stderr,
        )
    from . import overrides as hand
    from . import parallel, zygote
    from . import sandbox as sandbox_module

    try:
        by_hand = hand.read_overrides(overrides) if overrides is not None else []
    except hand.OverrideError as exc:
        raise PipelineError(str(exc)) from None
    zygote_before = os.environ.get(sandbox_module.ZYGOTE_ENV)
    if not unsafe and zygote.available() and executor is None and scheduler is None:
        # One kernel fork server for the run, started now: it imports numpy and torch while the
        # course is staged. Workers started below inherit its address (an executor's own workers,
        # started before, each start theirs).
        os.environ[sandbox_module.ZYGOTE_ENV] = zygote.start()
    pool = None
    if executor is None and scheduler is None and jobs > 1:
        # Started before the sandbox is checked and the course staged: the workers load what they
        # need meanwhile.
        pool = executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_worker_context())
        for _ in range(jobs):
            pool.submit(int)
    try:
        if not unsafe:
            from . import sandbox

            try:
                sandbox.check()
            except sandbox.SandboxUnavailable as exc:
                raise PipelineError(
                    f"the grading sandbox does not work on this machine: {exc}. Student code would run with "
                    "your rights; fix the sandbox, or pass --unsafe to grade anyway (only for work you trust)."
                ) from None
        out.mkdir(parents=True, exist_ok=True)
        course_root, cache = out / "course", out / ".executed"
        shutil.rmtree(course_root, ignore_errors=True)
        shutil.rmtree(out / "feedback", ignore_errors=True)
        if not resume:
            shutil.rmtree(cache, ignore_errors=True)
        course = Course(
            course_root, source, db_url=db_url, timeout=timeout, sandboxed=not unsafe, memory=memory, replay_dir=cache
        )
        course.stage()
        settings = parallel.Settings(timeout=timeout, sandboxed=not unsafe, memory=memory)

        students, problems, todo = [], [], []
        for entry in sorted(submissions.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() or not entry.is_dir():
                # A link could lend a student someone else's folder, or a file outside the class.
                problems.append(
                    Problem(
                        entry.name,
                        None,
                        f"a {'link' if entry.is_symlink() else 'file'} where a student folder was expected; ignored",
                        Reason.NOT_A_FOLDER,
                    )
                )
                continue
            students.append(entry.name)
            course.add_student(entry.name)
            for sub in sorted(entry.iterdir()):
                if sub.name.startswith("."):
                    continue
                if sub.is_symlink() or not sub.is_dir() or sub.name not in course.assignments:
                    problems.append(
                        Problem(
                            entry.name,
                            None,
                            f"unknown assignment {sub.name!r} (known: {', '.join(course.assignments)}); ignored",
                            Reason.UNKNOWN_ASSIGNMENT,
                        )
                    )
                    continue
                todo.append((entry.name, sub.name, sub))

        tests = {a: hand.tests_of(sorted((course.root / "source" / a).glob("*.ipynb"))) for a in course.assignments}
        try:
            hand.check(by_hand, set(students), tests)
        except hand.OverrideError as exc:
            raise PipelineError(f"{overrides}, {exc}") from None
        report = GradeReport(course.assignments, students, problems=problems)
        ready = []
        for student, assignment, folder in todo:
            report.problems += course.submit(student, assignment, folder)
            if any((course.root / "submitted" / student / assignment).glob("*.ipynb")):
                ready.append((student, assignment))

        booked: dict[tuple[str, str], list[Problem]] = {}

        def book(done: parallel.Executed) -> None:
            """nbgrader's autograde (replaying the execution) and feedback for one submission, in this
            process, while the workers execute the next ones. Whatever goes wrong costs only this
            submission: it becomes one of its problems, and the run goes on."""
            found = booked.setdefault((done.student, done.assignment), [])
            try:
                settle(done, found)
            except Exception as exc:  # noqa: BLE001
                found.append(
                    Problem(
                        done.student,
                        done.assignment,
                        f"grading failed: {type(exc).__name__}: {exc}",
                        Reason.AUTOGRADE_FAILED,
                    )
                )

        def settle(done: parallel.Executed, found: list[Problem]) -> None:
            if done.error is not None:
                found.append(
                    Problem(done.student, done.assignment, "autograding failed: " + done.error, _reason_of(done.error))
                )
                return
            graded, incidents = course.autograde(done.student, done.assignment)
            found += incidents
            mine = [o for o in by_hand if (o.student, o.assignment) == (done.student, done.assignment)]
            if graded and mine:
                for said in hand.apply(course.db_url, mine, tests[done.assignment]):
                    found.append(Problem(done.student, done.assignment, said, Reason.OVERRIDDEN))
            if graded:
                problem = course.feedback(done.student, done.assignment, out / "feedback")
                if problem is not None:
                    found.append(problem)

        _execute(course.root, ready, settings, cache, resume, jobs, executor, scheduler, progress, book)
        for key in ready:  # in submission order, whatever order they finished in
            report.problems += booked.get(key, [])
        report.scores = course.scores()
        report.csv_path = out / "grades.csv"
        course.export_csv(report.csv_path)
        report.feedback_dir = out / "feedback"
        from .report import write_report

        report.report_path, _ = write_report(report, course.root, out)
        return report
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if zygote_before is None:
            os.environ.pop(sandbox_module.ZYGOTE_ENV, None)
        else:
            os.environ[sandbox_module.ZYGOTE_ENV] = zygote_before


def _reason_of(message: str) -> Reason:
    return _reason({"error": message})[1]


# What every grading worker imports: loaded once in the fork server, so each worker starts as a fork
# of a process that has them (about 3 s of CPU saved per worker) rather than importing them again.
WORKER_PRELOAD = ["autograder.parallel", "autograder.replay", "nbgrader.apps", "numpy", "torch", "utils"]


def _worker_context():
    """Workers forked from a fork server: a clean process (the grader's own threads, if any, are
    not copied, as a plain fork would) that has already imported ``WORKER_PRELOAD``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx


def _execute(
    course_root: Path,
    ready: list[tuple[str, str]],
    settings,
    cache: Path,
    resume: bool,
    jobs: int,
    executor: Executor | None,
    scheduler: str | None,
    progress: bool,
    book,
    run=None,
) -> None:
    """Execute every ready submission (``autograder.parallel``) and ``book`` each as it is done;
    cached results are kept in ``cache``.

    A worker process that dies (killed for memory, a crash in a library) breaks the whole pool, and
    every submission still queued on it would fail with it. So the submissions the pool had not
    finished run again, each in a fresh process of its own: the one that kills its worker again
    costs only itself, with a message that says so. ``run`` stands in for
    ``parallel.execute_in_copy`` (a test's own, importable by the workers)."""
    from concurrent.futures import BrokenExecutor

    from . import parallel

    run = run or parallel.execute_in_copy

    def finish(done, key: str) -> None:
        try:
            parallel.save(cache, done, key)
        except Exception:  # noqa: BLE001 (the cache only saves time on a resumed run)
            pass
        book(done)

    pending = []
    for student, assignment in ready:
        key = parallel.resume_key(course_root, student, assignment, settings)
        hit = parallel.load(cache, student, assignment, key) if resume else None
        if hit is not None:
            book(hit)
        else:
            pending.append((student, assignment, key))
    bar = tqdm(total=len(pending), desc="executing", unit="submission", disable=not progress)
    with contextlib.ExitStack() as stack:
        if executor is None and scheduler is not None:
            from distributed import Client

            executor = stack.enter_context(Client(scheduler)).get_executor()
        if executor is None and jobs > 1 and len(pending) > 1:
            ctx = _worker_context()
            executor = stack.enter_context(ProcessPoolExecutor(max_workers=jobs, mp_context=ctx))
        if executor is None:
            for student, assignment, key in pending:
                try:
                    done = run(str(course_root), student, assignment, settings)
                except Exception as exc:  # noqa: BLE001 (as a worker's failure below: this submission's only)
                    done = parallel.Executed(student, assignment, {}, f"{type(exc).__name__}: {exc}")
                finish(done, key)
                bar.update()
        else:
            futures = {
                executor.submit(run, str(course_root), student, assignment, settings): (student, assignment, key)
                for student, assignment, key in pending
            }
            orphaned = []  # on a pool that broke: to run again, alone
            for future in as_completed(futures):
                student, assignment, key = futures[future]
                try:
                    done = future.result()
                except BrokenExecutor:
                    orphaned.append((student, assignment, key))
                    continue
                except Exception as exc:  # noqa: BLE001 (a worker's failure costs only this submission)
                    done = parallel.Executed(student, assignment, {}, f"{type(exc).__name__}: {exc}")
                finish(done, key)
                bar.update()
            for student, assignment, key in orphaned:
                with ProcessPoolExecutor(max_workers=1, mp_context=_worker_context()) as alone:
                    try:
                        done = alone.submit(run, str(course_root), student, assignment, settings).result()
                    except BrokenExecutor:
                        done = parallel.Executed(
                            student,
                            assignment,
                            {},
                            "the grader's worker process died while it executed this submission (killed for "
                            "memory, or a crash), also when it ran alone",
                        )
                    except Exception as exc:  # noqa: BLE001
                        done = parallel.Executed(student, assignment, {}, f"{type(exc).__name__}: {exc}")
                finish(done, key)
                bar.update()
    bar.close()
