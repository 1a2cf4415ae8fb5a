"""Shared paths for the suite, taken from where this file lies (so a scratch copy of the course
tests itself), and one pytest marker per assignment."""

from __future__ import annotations

from pathlib import Path

from autograder import course

ROOT = Path(__file__).resolve().parents[1]


NOT_ISOLATED = "the sandbox is not isolated as expected"


def _sandbox_missing() -> bool:
    from autograder import sandbox

    try:
        sandbox.check()
        return False
    except sandbox.SandboxUnavailable as exc:
        # A sandbox that starts but leaks (network, uid, a namespace) is a regression, not a machine without one:
        # the sandbox tests then run and fail, rather than skip (tests/test_grading_sandbox.py).
        return not str(exc).startswith(NOT_ISOLATED)


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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After a run that included the blind catalogues (tests/test_blind.py), their share of mistakes whose message
    names them, per assignment, as judged in each catalogue's NAMED table (issue 23's measure)."""
    stats = terminalreporter.stats
    if not any(
        getattr(r, "nodeid", "").startswith("tests/test_blind.py")
        for key in ("passed", "failed")
        for r in stats.get(key, [])
    ):
        return
    from tools.blind_report import catalogues

    terminalreporter.write_sep("-", "blind catalogues: mistakes caught, and named by their first message (issue 23)")
    totals = [0, 0, 0]
    for catalogue in catalogues():
        mistakes = [e for e in catalogue.ENTRIES if e["kind"] == "mistake"]
        caught = [e for e in mistakes if not e.get("gap")]
        named = [e for e in caught if e.get("named") is True]
        for i, n in enumerate((len(mistakes), len(caught), len(named))):
            totals[i] += n
        share = 100 * len(named) / max(len(caught), 1)
        counts = f"{len(mistakes):4} mistakes, {len(caught):4} caught, {len(named):4} named ({share:.0f}%)"
        terminalreporter.write_line(f"{catalogue.ASSIGNMENT:24} {counts}")
    share = 100 * totals[2] / max(totals[1], 1)
    terminalreporter.write_line(
        f"{'all':24} {totals[0]:4} mistakes, {totals[1]:4} caught, {totals[2]:4} named ({share:.0f}%)"
    )
