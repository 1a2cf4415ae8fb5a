"""nbgrader's Execute step, made for a class that may be hostile: ``GradingExecute``.

It replaces ``Execute`` in ``Autograde.autograde_preprocessors`` (see ``nbgrader_config.py``) and
keeps what nbgrader's does (timeouts, errors recorded in the cells), plus:

- the kernel runs in a scratch copy of the submission, inside the bubblewrap sandbox of
  ``autograder.sandbox`` (no view of the course, the gradebook or other students; no network; limits
  on memory, processes and file size), unless the grader was told ``--unsafe``;
- the grading agent (``autograder.agent``) is loaded into the kernel before any cell: it restores and
  reports tampering, and keeps numpy-only functions numpy-only (rules from the source notebook's
  ``dl_course`` metadata, never from the student's copy);
- a kernel that dies (``os._exit``, a crash) costs only the cell it died in: a new kernel re-runs the
  cells above and grading goes on after it;
- test cells run in the kernel without their hidden part: ``autograder.replay`` runs the hidden
  checks outside it (the numpy-only tests with a clean room, the tests of torch modules in a torch
  room that says only pass or fail), so the kernel never sees them, not even in its input history.
  Only where nothing is repeated outside (``check_outside`` off) does a test run whole in the
  kernel, and then its hidden lines are scrubbed from every output the notebook printed;
- every message a kernel sends counts against the cell's output budget (``max_output``) and the
  notebook's (``max_notebook_output``): text, display data and its metadata, errors, display
  updates, comm messages. Past it, the cell is interrupted and the rest dropped, except errors,
  which are kept, cut short. No single message may exceed ``max_message`` (zmq drops the
  connection's message and the cell fails rather than the grader holding it);
- the submission as a whole has a time budget (``submission_timeout``), after which the remaining
  cells are not run;
- a limit that was hit is said in the cell, for the student and the instructor:
  ``LimitExceeded: cell 12 used more than 2 GB of memory and was stopped``;
- what the grader itself found (limits, dead kernels, tampering and torch in the test cells, the
  repeat's failures) is written to ``nb.metadata["dl_grading"]["incidents"]`` as
  ``{"cell": n, "kind": ..., "message": ...}``: the report reads that, never error names a
  student's own cell could print.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
from pathlib import Path

import nbformat
import zmq
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from . import sandbox as sb
from .agent import RULES_ENV
from .replay import NUMPY_ONLY_ERROR

LIMIT_ERROR = "LimitExceeded"
KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
MAX_KERNEL_DEATHS = 3
# What the grading agent says in a test cell of the kernel (a cell the grader restores from the source),
# and the kind of incident each is for the instructor (course.Reason).
AGENT_INCIDENTS = {"TamperingDetected": "tampering", NUMPY_ONLY_ERROR: "torch-in-numpy"}


def grading_rules(source_notebook: Path) -> dict:
    """The agent's rules from a source notebook's ``metadata.dl_course``.

    ``numpy_only``: ``true`` (every function or class a solution cell defines) or a list of names;
    ``forbidden``: ``{function: ["module.callable", ...]}``, shortcuts that function must not use.
    """
    from .notebooks import cell_kind, read_notebook

    nb = read_notebook(source_notebook)
    meta = nb.metadata.get("dl_course", {})
    numpy_only = meta.get("numpy_only", [])
    if numpy_only is True:
        numpy_only = [
            name
            for cell in nb.cells
            if cell_kind(cell) == "solution"
            for name in re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", cell.source, re.M)
        ]
    return {"numpy_only": sorted(numpy_only), "forbidden": dict(meta.get("forbidden", {}))}


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GradingExecute(Execute):
    """nbgrader's Execute in a sandbox, with limits and the grading agent (module docstring)."""

    sandbox = Bool(True, help="Run the kernel inside the bubblewrap sandbox.").tag(config=True)
    memory = Integer(
        sb.Limits.memory, help="Memory of a sandbox as a whole (its cgroup), and heap of each of its processes, bytes."
    ).tag(config=True)
    processes = Integer(sb.Limits.processes, help="Processes a sandboxed kernel may start.").tag(config=True)
    submission_timeout = Integer(900, help="Seconds one notebook may run in all.").tag(config=True)
    max_output = Integer(2 * 1024**2, help="Bytes of output one cell may print before it is stopped.").tag(config=True)
    max_notebook_output = Integer(20 * 1024**2, help="Bytes of output one notebook may print in all.").tag(config=True)
    max_message = Integer(16 * 1024**2, help="Bytes of the largest message a kernel may send.").tag(config=True)
    fork_server = Bool(
        True, help="Fork sandboxed kernels from a process that has imported numpy and torch (autograder.zygote)."
    ).tag(config=True)
    check_outside = Bool(
        True, help="Repeat the numpy-only tests in the grader's process with the recorded answers (autograder.replay)."
    ).tag(config=True)
    replay_dir = Unicode(
        None,
        allow_none=True,
        help="Folder of notebooks executed earlier (<student>/<assignment>/<notebook>.ipynb, written by "
        "autograder.parallel): copy their outputs instead of executing.",
    ).tag(config=True)

    # -- the run -----------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        replayed = self._replay(nb, resources or {})
        if replayed is not None:
            return replayed, resources
        rules = self._rules(resources or {})
        self._uid, uid_lock = sb.claim_uid() if self.sandbox else (sb.NOBODY, None)
        try:
            return self._preprocess_in_scratch(nb, resources, km, rules)
        finally:
            if uid_lock is not None:
                uid_lock.close()

    def _preprocess_in_scratch(self, nb, resources, km, rules):
        from .notebooks import cell_kind, read_notebook

        source_path = self._source_path(resources)
        source = read_notebook(source_path) if source_path is not None else None
        outside = bool(self.check_outside and source is not None)
        self._tests = {_grade_id(c) for c in source.cells if cell_kind(c) == "test"} if source else set()
        self._visible_only = set()
        if outside:
            # Every test's hidden part runs outside the kernel only, in the replay, where the graded names
            # answer from a clean room or, for torch code, a torch room (autograder.replay.check_outside).
            self._visible_only = set(self._tests)
        self._incidents: list[dict] = []
        self._notebook_printed = 0
        limits = sb.Limits(memory=self.memory, processes=self.processes, uid=self._uid)
        with (
            tempfile.TemporaryDirectory(prefix="dl-grade-") as tmp,
            # A root grader's scratch folder is a capped tmpfs, gone with everything the sandbox wrote.
            sb.scratch_space(Path(tmp) / "scratch", self._submission_folder(resources), self._uid, limits) as scratch,
        ):
            self._scratch = scratch
            self._env = self._kernel_env(scratch, rules)
            nb, resources = self._run(nb, resources, km)
        grading: dict = {}
        incidents = self._incidents + self._test_cell_incidents(nb)  # the kernel's, before the repeat adds its own
        if outside:
            from .replay import check_outside

            summary = check_outside(
                nb, source_path, rules, self.timeout, self.log, sandboxed=self.sandbox, limits=limits
            )
            incidents += summary.pop("incidents", [])
            grading["checked_outside_the_kernel"] = summary
        if source is not None:
            self._scrub_hidden(nb, source)
        _results_as_display(nb, self._tests)
        grading["incidents"] = incidents
        nb.metadata["dl_grading"] = grading  # the grader's, whatever the student's file said
        return nb, resources

    def _note(self, index: int, kind: str, ename: str, message: str) -> None:
        self._incidents.append({"cell": index + 1, "kind": kind, "message": f"{ename}: {message}"})

    def _test_cell_incidents(self, nb) -> list[dict]:
        """What the agent said in the kernel's test cells (cells the grader restores from the source:
        a student's own cell cannot stand for one)."""
        found = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or _grade_id(cell) not in self._tests:
                continue
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") in AGENT_INCIDENTS:
                    kind = AGENT_INCIDENTS[out["ename"]]
                    found.append({"cell": index + 1, "kind": kind, "message": f"{out['ename']}: {out['evalue']}"})
        return found

    def _scrub_hidden(self, nb, source) -> None:
        """Hidden lines of the tests that ran whole in the kernel, removed from every output."""
        from .feedback import _nontrivial, split_hidden

        hidden: set[str] = set()
        for cell in source.cells:
            if _grade_id(cell) in self._tests and _grade_id(cell) not in self._visible_only:
                hidden |= _nontrivial(split_hidden(cell.source, "")[1])
        if not hidden:
            return

        def clean(text):
            if not isinstance(text, str):
                return text
            for line in hidden:
                text = text.replace(line, "[a hidden test's line]")
            return text

        for cell in nb.cells:
            for out in cell.get("outputs", []):
                for key in ("text", "evalue"):
                    if key in out:
                        out[key] = clean(out[key])
                if "traceback" in out:
                    out["traceback"] = [clean(t) for t in out["traceback"]]
                for mime, value in out.get("data", {}).items():
                    out["data"][mime] = clean(value) if isinstance(value, str) else value

    def _run(self, nb, resources, km):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)  # as nbconvert does; it resets the traits from the config
        self.shutdown_kernel = "immediate"  # nothing in a graded kernel is worth a graceful goodbye
        self.kernel_name = sb.KERNEL_NAME if self.sandbox else "python3"
        self.extra_arguments = [*self.extra_arguments, f"--IPKernelApp.extensions={self._agent_module()!r}"]
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        deadline = time.monotonic() + self.submission_timeout
        died: set[int] = set()
        while True:
            self._current = None
            try:
                with self.setup_kernel(env=self._env, cwd=str(self._scratch / "work")):
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    for index, cell in enumerate(self.nb.cells):
                        if index in died or cell.cell_type != "code":
                            continue
                        if time.monotonic() > deadline:
                            said = (
                                f"cell {index + 1} was not run: the notebook used up its "
                                f"{self.submission_timeout} s for grading"
                            )
                            cell.outputs = [_error(NOT_RUN, said)]
                            self._note(index, "limit", NOT_RUN, said)
                            continue
                        self._current, self._printed, self._flooded = index, 0, False
                        self._execute_visible(cell, resources, index)
                        self._explain_limits(cell, index)
                break
            except DeadKernelError:
                index = self._current
                if index is None:
                    raise
                died.add(index)
                said = (
                    f"the kernel stopped in cell {index + 1} (os._exit, a crash, or more than "
                    f"{sb.human_size(self.memory)} of memory); the cells above were re-run "
                    "in a new kernel and grading went on after this one"
                )
                self.nb.cells[index].outputs = [_error(KERNEL_DIED, said)]
                self._note(index, "kernel-died", KERNEL_DIED, said)
                # The dead kernel's sockets are in a folder the sandbox can write: a client left
                # connected would reconnect to whatever the sandbox put there, as root.
                with contextlib.suppress(Exception):
                    self.kc.stop_channels()
                self.km = self.kc = None
                if len(died) >= MAX_KERNEL_DEATHS:
                    for cell in self.nb.cells[index + 1 :]:
                        if cell.cell_type == "code":
                            cell.outputs = [_error(NOT_RUN, f"not run: the kernel died {len(died)} times")]
                    said = f"cells after {index + 1} were not run: the kernel died {len(died)} times"
                    self._note(index, "limit", NOT_RUN, said)
                    break
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _replay(self, nb, resources: dict):
        """``nb`` with the outputs of the same notebook executed earlier, or None if there is none."""
        info = resources.get("nbgrader", {})
        if not self.replay_dir or not info:
            return None
        path = Path(self.replay_dir) / info["student"] / info["assignment"] / f"{info['notebook']}.ipynb"
        if not path.exists():
            return None
        import nbformat

        done = nbformat.read(path, as_version=4)
        if [c.source for c in done.cells] != [c.source for c in nb.cells]:
            self.log.warning("%s does not match the submission; executing it again", path)
            return None
        for cell, ran in zip(nb.cells, done.cells):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
        for key in ("language_info", "dl_grading"):
            if key in done.metadata:
                nb.metadata[key] = done.metadata[key]
        return nb

    # -- limits --------------------------------------------------------------------------------
    def _execute_visible(self, cell, resources, index: int) -> None:
        """Run a cell; a test cell repeated outside the kernel runs without its hidden part."""
        if _grade_id(cell) not in getattr(self, "_visible_only", ()):
            self.preprocess_cell(cell, resources, index)
            return
        from .notebooks import visible_source

        full = cell.source
        cell.source = visible_source(full)
        try:
            self.preprocess_cell(cell, resources, index)
        finally:
            self.nb.cells[index].source = cell.source = full

    def process_message(self, msg, cell, cell_index):
        """Count every message against the budgets; past one, interrupt the cell and keep only its
        errors, cut short."""
        if msg["msg_type"] in ("status", "execute_input"):
            return super().process_message(msg, cell, cell_index)
        size = _size_of(msg.get("content")) + _size_of(msg.get("metadata"))
        self._printed = getattr(self, "_printed", 0) + size
        self._notebook_printed = getattr(self, "_notebook_printed", 0) + size
        if self._printed > self.max_output or self._notebook_printed > self.max_notebook_output:
            if not getattr(self, "_flooded", False):
                self._flooded = True
                asyncio.ensure_future(self._interrupt())
            if msg["msg_type"] != "error":
                return None
            content = msg["content"]
            msg = dict(
                msg,
                metadata={},
                content={
                    "ename": str(content.get("ename", "Error"))[:200],
                    "evalue": str(content.get("evalue", ""))[:2000],
                    "traceback": [],
                },
            )
        return super().process_message(msg, cell, cell_index)

    async def _interrupt(self) -> None:
        from jupyter_core.utils import ensure_async

        if self.km is not None:
            await ensure_async(self.km.interrupt_kernel())

    def _explain_limits(self, cell, index: int) -> None:
        where = f"cell {index + 1}"
        reasons = []
        if getattr(self, "_flooded", False):
            budget = self.max_output if self._printed > self.max_output else self.max_notebook_output
            whose = "" if budget == self.max_output else " (with the cells above)"
            reasons.append(f"{where} printed more than {sb.human_size(budget)}{whose} and was stopped")
        for out in cell.outputs:
            if out.output_type != "error":
                continue
            if out.ename == "MemoryError" and not any("line " in str(line) for line in out.get("traceback", [])):
                # No frame of the cell: Python's parser gave up on the cell's text (an expression nested
                # or chained too deeply), before anything ran.
                reasons.append(f"{where} could not be parsed: an expression too deeply nested for Python's parser")
            elif out.ename == "MemoryError":
                reasons.append(f"{where} used more than {sb.human_size(self.memory)} of memory and was stopped")
            elif out.ename in ("BlockingIOError", "OSError", "PermissionError") and (
                "Resource temporarily unavailable" in out.evalue or "fork" in out.evalue
            ):
                reasons.append(f"{where} tried to start more than {self.processes} processes and was stopped")
            elif out.ename == "CellTimeoutError":
                reasons.append(f"{where} ran longer than {self.timeout} s and was stopped")
        if reasons:
            said = "; ".join(dict.fromkeys(reasons))
            cell.outputs.append(_error(LIMIT_ERROR, said))
            self._note(index, "limit", LIMIT_ERROR, said)

    # -- set-up ----------------------------------------------------------------------------------
    def _source_path(self, resources: dict) -> Path | None:
        """The instructor's source of this notebook, never the student's copy (whose metadata and
        unlocked cells the student controls)."""
        info = resources.get("nbgrader", {})
        assignment, notebook = info.get("assignment"), info.get("notebook")
        root = self.config.get("CourseDirectory", {}).get("root")
        if not (assignment and notebook and root):
            return None
        path = Path(root) / "source" / assignment / f"{notebook}.ipynb"
        return path if path.exists() else None

    def _rules(self, resources: dict) -> dict:
        path = self._source_path(resources)
        return grading_rules(path) if path is not None else {}

    @staticmethod
    def _submission_folder(resources) -> Path | None:
        path = (resources or {}).get("metadata", {}).get("path")
        return Path(path) if path else None

    def _kernel_env(self, scratch: Path, rules: dict) -> dict:
        env = dict(os.environ)
        env[RULES_ENV] = json.dumps(rules)
        if self.sandbox:
            env[sb.SCRATCH_ENV] = str(scratch)
            env[sb.LIMITS_ENV] = sb.Limits(memory=self.memory, processes=self.processes, uid=self._uid).to_env()
            from . import zygote

            env.pop(sb.ZYGOTE_ENV, None)
            if self.fork_server and zygote.available():
                # The grading run's zygote (autograder.course.grade starts it), else this process's own.
                env[sb.ZYGOTE_ENV] = zygote.address(os.environ.get(sb.ZYGOTE_ENV))
        return env

    def _agent_module(self) -> list[str]:
        return [sb.AGENT_MODULE] if self.sandbox else ["autograder.agent"]

    def create_kernel_manager(self):
        if not self.sandbox:
            return super().create_kernel_manager()
        # The sandboxed kernel cannot reach the host's loopback: unix sockets in its scratch folder.
        from jupyter_client.kernelspec import KernelSpecManager

        spec_root = sb.install_kernelspec(self._scratch.parent / "kernelspec")
        ksm = KernelSpecManager()
        ksm.kernel_dirs.insert(0, str(spec_root / "kernels"))
        self.km = self.kernel_manager_class(
            kernel_name=sb.KERNEL_NAME,
            kernel_spec_manager=ksm,
            transport="ipc",
            ip=str(self._scratch / "runtime" / "kernel"),
            config=self.config,
        )
        # The kernel's messages are the student's: one larger than this never reaches the grader's memory.
        self.km.context.setsockopt(zmq.MAXMSGSIZE, self.max_message)
        return self.km


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _size_of(value) -> int:
    """Characters of text in a message's content: its strings, keys included, however deeply nested
    (a walk with a stack of its own, so no depth escapes the count), and 8 for anything else."""
    size, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, dict):
            size += sum(len(str(k)) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            size += 8
    return size


def _results_as_display(nb, tests: set) -> None:
    """A test cell's ``execute_result`` outputs become ``display_data``, errors first.

    nbgrader scores a test cell by its first output that is an error (no points) or an
    ``execute_result`` (full points, or a partial score if it reads as a number), and stops there.
    A value a test cell's last line happens to show, or one a student's hook put before the test ran
    (``get_ipython().displayhook``), would then outweigh every error after it: the kernel's own, and
    those the repeat outside the kernel adds. The course grades a test cell pass or fail: shown as
    display data, such a value is still seen in the feedback and scores nothing.
    """
    for cell in nb.cells:
        if cell.cell_type != "code" or _grade_id(cell) not in tests:
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "execute_result":
                out = nbformat.v4.new_output("display_data", data=out.get("data", {}), metadata=out.get("metadata", {}))
            outputs.append(out)
        failed = [o for o in outputs if o.get("output_type") == "error"]
        cell.outputs = failed + [o for o in outputs if o.get("output_type") != "error"]
