"""Reading and executing notebooks: what the tests, the site builder, the benchmarks and the grader share.

Nothing here knows about grading; ``autograder.notebooks`` adds nbgrader's markers on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

# Seconds a cell of a course notebook may run in the tests and the site build before it counts as
# hung (every notebook takes well under a minute in all; grading has its own, shorter limit).
NOTEBOOK_CELL_TIMEOUT = 300


class NotebookFormatError(ValueError):
    """A notebook that cannot be used as it is, with a message that says where and why."""


def read_notebook(path: Path | str) -> NotebookNode:
    """Read and validate a notebook; raise :class:`NotebookFormatError` with a clear reason."""
    path = Path(path)
    if not path.is_file():
        raise NotebookFormatError(f"{path}: no such file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON or structure
        raise NotebookFormatError(f"{path}: not a readable Jupyter notebook ({type(exc).__name__}: {exc})") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookFormatError(f"{path}: not a valid notebook ({exc.message})") from None
    return nb


def strip_magics(source: str) -> str:
    """Drop IPython-only lines (``%magic``, ``!shell``) so a cell runs as plain Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


# The kernel logs errors only (its "running over TCP without encryption" warning is noise in
# every run) and keeps no history database. nbgrader_config.py passes them to nbgrader too.
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]


def run_notebook(path: Path | str, timeout: int = NOTEBOOK_CELL_TIMEOUT, **client_options: Any) -> NotebookNode:
    """Execute a notebook top to bottom in a fresh python3 kernel, in the notebook's own folder.

    Returns the notebook with its outputs; a cell that raises raises ``CellExecutionError``.
    ``client_options`` go to ``nbclient.NotebookClient`` (e.g. ``store_widget_state=True``).
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        extra_arguments=KERNEL_ARGUMENTS,
        resources={"metadata": {"path": str(path.parent)}},
        **client_options,
    ).execute()
    return nb
