"""Execute submissions in parallel, each in a private copy of the course; let nbgrader book the results.

nbgrader autogrades one submission at a time (its issue #174) into one SQLite gradebook, which does
not take concurrent writers. So grading is split in two:

1. **Execution**, in parallel on any ``concurrent.futures.Executor`` (a process pool, or a Dask
   cluster through ``distributed.Client.get_executor()``): ``execute_in_copy`` copies the submission,
   its assignment's source and the gradebook into a scratch course folder and runs nbgrader's own
   autograde there (sandboxed execution included). It returns the executed notebooks as JSON.
2. **Booking**, in the grader's process, one submission at a time as soon as its execution is
   done (while the workers execute the next ones): nbgrader's autograde again, on the real
   gradebook, with ``GradingExecute.replay_dir`` pointing at the executed notebooks, so its
   Execute step copies their outputs instead of running anything; then its feedback.

Executed notebooks are kept in ``<out>/.executed/<student>/<assignment>/`` with a key (a hash of the
submission, the source and the settings): ``grade --resume`` reuses those whose key still matches.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

KEY_FILE = "key.json"


@dataclass(frozen=True)
class Settings:
    """What execution depends on besides the notebooks (part of the resume key)."""

    timeout: int | None = None
    sandboxed: bool = True
    memory: int | None = None


@dataclass
class Executed:
    """One submission's execution: the executed notebooks by file name, or why it failed."""

    student: str
    assignment: str
    notebooks: dict[str, str]
    error: str | None = None


def execute_in_copy(course_root: str, student: str, assignment: str, settings: Settings) -> Executed:
    """Run nbgrader's autograde for one submission in a scratch copy of ``course_root``.

    Only the assignment's source, the student's submission and the gradebook are copied; the copy
    is deleted afterwards. Safe to run in another process or on a Dask worker that sees
    ``course_root``.
    """
    from .course import _quiet_gradebook, _reason, load_config, make_api

    root = Path(course_root)
    with tempfile.TemporaryDirectory(prefix="dl-job-") as tmp:
        copy = Path(tmp) / "course"
        shutil.copytree(root / "source" / assignment, copy / "source" / assignment)
        # symlinks=True: a link in a student's folder stays a link (and is left out of the kernel's
        # scratch copy), never read as root.
        submitted = root / "submitted" / student / assignment
        shutil.copytree(submitted, copy / "submitted" / student / assignment, symlinks=True)
        config = load_config(
            copy, f"sqlite:///{copy / 'gradebook.db'}", settings.timeout, settings.sandboxed, settings.memory
        )
        api = make_api(config)
        if (root / "gradebook.db").exists():
            shutil.copy2(root / "gradebook.db", copy / "gradebook.db")
        else:  # the run's gradebook is on a database server: record the assignment in a scratch one
            _quiet_gradebook(api.generate_assignment)(assignment, force=True, create=True)
        result = _quiet_gradebook(api.autograde)(assignment, student, force=True, create=True)
        if not result["success"]:
            return Executed(student, assignment, {}, _reason(result)[0])
        done = copy / "autograded" / student / assignment
        return Executed(student, assignment, {p.name: p.read_text() for p in sorted(done.glob("*.ipynb"))})


def resume_key(course_root: Path, student: str, assignment: str, settings: Settings) -> str:
    """A hash of everything an execution depends on."""
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    for folder in (course_root / "submitted" / student / assignment, course_root / "source" / assignment):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "timestamp.txt":
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def save(cache: Path, executed: Executed, key: str) -> None:
    folder = cache / executed.student / executed.assignment
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, text in executed.notebooks.items():
        (folder / name).write_text(text)
    (folder / KEY_FILE).write_text(json.dumps({"key": key, "error": executed.error}))


def load(cache: Path, student: str, assignment: str, key: str) -> Executed | None:
    """A cached execution with this key, or None."""
    folder = cache / student / assignment
    try:
        meta = json.loads((folder / KEY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    notebooks = {p.name: p.read_text() for p in sorted(folder.glob("*.ipynb"))}
    return Executed(student, assignment, notebooks, meta.get("error"))
