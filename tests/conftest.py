"""Shared paths for the suite, taken from where this file lies (so a scratch copy of the course
tests itself), and one pytest marker per assignment."""

from __future__ import annotations

from pathlib import Path

from autograder import course

ROOT = Path(__file__).resolve().parents[1]


def _sandbox_missing() -> bool:
    from autograder import sandbox

    try:
        sandbox.check()
        return False
    except sandbox.SandboxUnavailable:
        return True


# Grading tests use the sandbox, as an instructor does; only where it cannot work do they grade
# without it (the tests of the sandbox itself then skip, saying why).
UNSAFE = _sandbox_missing()
ASSIGNMENTS = ROOT / "assignments"


def course_notebooks() -> list[Path]:
    return course.course_notebooks(ROOT)


def assignment_notebooks() -> list[Path]:
    return course.find_source_notebooks(ASSIGNMENTS)


def pytest_configure(config):
    """One marker per assignment, ``aNN`` (``pytest -m a02`` runs assignment 2's tests only)."""
    for folder in sorted(ASSIGNMENTS.iterdir()):
        if folder.is_dir() and folder.name[:2].isdigit():
            config.addinivalue_line("markers", f"a{folder.name[:2]}: tests of assignments/{folder.name}")


def run_in_kernel(kc, code: str, timeout: float = 120) -> str:
    """Execute ``code`` with a jupyter_client kernel client; return its printed text and errors
    (``Name: message``) as one string."""
    out, msg_id = [], kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


def errors_of(cell) -> list[tuple[str, str]]:
    """``(ename, evalue)`` of each error output of a notebook cell."""
    return [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"]
