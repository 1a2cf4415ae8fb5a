"""The clean room: the numpy-only graded functions run again, from the student's own cells, where
torch does not exist and no test is there to read.

The kernel that executed a notebook is the student's: whatever its checks saw, the student's code
could have arranged (a patched comparison, torch hidden from the agent, a function that reads the
expected answer from its caller's frame). So the grader repeats every numpy-only test cell in its own
process (``autograder.replay``), and each graded name there is a proxy to a second interpreter, the
clean room (``autograder.cleanroom_server``):

- it runs in the grading sandbox (its own uid, no network, the limits of a kernel), in an empty
  scratch folder, started as ``python -I``;
- torch, torchvision and the modules an assignment forbids (outside numpy) cannot be imported at
  all: their folders are masked in its mount namespace by a module that raises ``ImportError``;
- it has loaded only the instructor's import lines, the student's solution cells, and the
  definitions, imports and constants of the cells the student added, never a test;
- each call comes from a minimal loop with no test frame above it; the grader sends the arguments
  and the global random state, and gets back the result (or the exception), what the call changed
  in its arguments, and, for an object, its attributes (mirrored on the grader's side so the test's
  code reads and changes them as on the real object);
- a name the test swapped for a torch stand-in (``utils.references.standins``) is a callback: the
  stand-in runs in the grader.

A function that needs torch fails there with ``NumpyOnlyError``, whatever it did to the kernel.
Without the sandbox (``grade --unsafe``) the clean room is a plain subprocess whose torch is
blocked by an import hook only.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbformat import NotebookNode

from . import wire

SERVER = Path(__file__).with_name("cleanroom_server.py")
# The clean room counts lines with the course's own counter; utils is among the sandbox's read-only roots.
VECTORISATION = str(Path(importlib.util.find_spec("utils").origin).resolve().with_name("vectorisation.py"))
WIRE = Path(__file__).with_name("wire.py")
SECCOMP = Path(__file__).with_name("seccomp.py")
SERVER_MODULE, WIRE_MODULE, SECCOMP_MODULE = "dl_cleanroom", "dl_grading_wire", "dl_grading_seccomp"
# Never importable in the clean room, whatever the assignment.
MASKED_MODULES = ("torch", "torchvision", "torchaudio", "functorch", "torchgen", "triton")
MAX_LOAD_FAILURES = 4
MAX_STARTS = 8  # a room that had to start more often (calls that never end) is given up
LOAD_SECONDS = 60  # the student's cells must load in this, in all
STATE_LIMIT = 256 * 1024**2  # bytes of arrays the mirrors of the student's objects may hold
F_SETPIPE_SZ = 1031
STUB = 'raise ImportError("DL-CLEAN-ROOM: this module is not available where numpy-only functions are graded")\n'


class CleanRoomError(RuntimeError):
    """The clean room could not answer (it did not start, ended, or said something malformed)."""


class CPULimitExceeded(CleanRoomError):
    """A timed call's processes used more CPU time than it may: the room was stopped."""

    def __init__(self, seconds: float):
        super().__init__(f"stopped after {seconds:.2f} s of CPU time")
        self.seconds = seconds


def student_blocks(nb: NotebookNode, source: NotebookNode) -> list[list]:
    """What the clean room loads, in the notebook's order, as ``[label, code]``:
    the locked cells (the instructor's, as nbgrader restored them: helpers such as ``pair``), the
    student's solution cells, and the code cells the student added. Of these the room runs
    definitions, imports and assignments, never a loop or a bare call; never a test cell."""
    from .notebooks import cell_kind, strip_magics

    kinds = {c.metadata.get("nbgrader", {}).get("grade_id"): cell_kind(c) for c in source.cells}
    blocks = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if kinds.get(cell.metadata.get("nbgrader", {}).get("grade_id")) != "test":
            blocks.append([f"cell {index + 1}", strip_magics(cell.source)])
    return blocks


def locked_labels(nb: NotebookNode, source: NotebookNode) -> set[str]:
    """The labels (as ``student_blocks`` gives them) of the blocks that are the instructor's locked
    cells, restored by nbgrader: their code is not the student's to answer for."""
    from .notebooks import cell_kind

    locked = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c.source
        for c in source.cells
        if c.cell_type == "code" and cell_kind(c) == "locked"
    }
    # The instructor's text, word for word: a cell that only claims a locked cell's id is the student's.
    return {
        f"cell {index + 1}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and locked.get(cell.metadata.get("nbgrader", {}).get("grade_id")) == cell.source
    }


def imported_modules(blocks: list[list]) -> list[str]:
    """Every module the blocks import, anywhere in them (``import a.b``, ``from a.b import c``): the
    room imports them before its guard is on (``cleanroom_server.FATAL_EVENTS``)."""
    import ast

    found: list[str] = []
    for _, source in blocks:
        try:
            tree = ast.parse(str(source))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
            found += [n for n in names if n not in found]
    return found[:500]


def loadable(blocks: list[list], forbidden: dict, trusted: set[str] = frozenset()) -> tuple[list[list], list]:
    """``(blocks, dropped)``: the student's blocks with every top-level statement the room must not
    run blanked out (``autograder.shortcuts.unsafe_at_load``: what runs as it loads reaches names
    built at run time or a ruled-out shortcut), and ``[(label, why)]`` for each. The grader decides
    this before the room starts: once the student's first statement has run there, the room's own
    loader is theirs to change."""
    import ast

    from .shortcuts import unsafe_at_load

    kept, dropped = [], []
    # What the student's cells read: of the instructor's cells, the room needs definitions, imports
    # and only the assignments that bind such a name (a training cell's results are not).
    read: set[str] = set()
    for label, source in blocks:
        if label not in trusted:
            with contextlib.suppress(SyntaxError, ValueError, MemoryError, RecursionError):
                read |= {n.id for n in ast.walk(ast.parse(str(source))) if isinstance(n, ast.Name)}
    for label, source in blocks:
        if label in trusted:
            kept.append([label, _needed_only(str(source), read)])
            continue
        unsafe = unsafe_at_load(str(source), forbidden)
        if not unsafe:
            kept.append([label, source])
            continue
        tree = ast.parse(str(source))
        lines = str(source).split("\n")
        for index, why in unsafe:
            node = tree.body[index]
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            for number in range(first - 1, node.end_lineno):
                lines[number] = ""
            dropped.append((str(label), why))
        kept.append([label, "\n".join(lines)])
    return kept, dropped


def _needed_only(source: str, read: set[str]) -> str:
    """An instructor's cell with its top-level assignments blanked out unless they bind a name in
    ``read`` (the room skips loops and bare calls anyway; a training cell's ``history = fit(...)``
    would only cost it seconds)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return source
    lines = source.split("\n")
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            bound = {t.id for t in ast.walk(node) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
            if not bound & read:
                for number in range(node.lineno - 1, node.end_lineno):
                    lines[number] = ""
    return "\n".join(lines)


def _module_paths(names: list[str]) -> list[tuple[str, bool]]:
    """``(path, is_folder)`` of each module to mask (found, never imported); numpy's own are left:
    numpy needs them."""
    found = []
    for name in names:
        if name == "numpy" or name.startswith("numpy."):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            found += [(str(Path(p).resolve()), True) for p in spec.submodule_search_locations]
        elif spec.origin and os.path.isfile(spec.origin):
            found.append((str(Path(spec.origin).resolve()), False))
    return found


ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class CleanRoom:
    """One clean-room process for one notebook; ``with CleanRoom(...) as room:`` starts and ends it."""

    def __init__(
        self, blocks: list, rules: dict, sandboxed: bool = True, limits=None, timeout: float = 300, torch: bool = False
    ):
        self.blocks, self.forbidden = blocks, dict(rules.get("forbidden", {}))
        # torch only, never the modules of a callable one function is forbidden (another may use them):
        # the grader reads the forbidden function's source for those (autograder.shortcuts).
        self.masked = [] if torch else list(MASKED_MODULES)  # a torch room masks nothing
        self.sandboxed, self.limits, self.timeout = sandboxed, limits, timeout
        self.proc: subprocess.Popen | None = None
        self.failed: list = []  # what of the student's code did not load, [label, error]
        self.instances: dict[int, object] = {}  # key -> the grader's mirror of a clean-room object
        self.remotes: dict = {}  # key -> the grader's RemoteObject of an object kept in a torch room
        self.handles = wire.Handles()  # the grader's objects the clean room holds by number (tensors)
        self.generation = 0  # a restarted room has none of the earlier objects
        self._random = None
        self.skip: list[str] = []  # statements of the student's cells that ended the room as it loaded
        self._tmp: str | None = None
        self._cgroup: list[str] = []  # the room's cgroup folders (memory and tasks, as a kernel's)
        self.starts = 0
        self.given_up: str | None = None
        self._nonce: str | None = None

    def __enter__(self) -> CleanRoom:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the process ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the room and load the student's code. A statement that ends it, or the load running
        past ``LOAD_SECONDS``, is skipped and the room started again (a few times at most). A room
        that could not be loaded, or had to start ``MAX_STARTS`` times, stays given up: every later
        call fails at once, so one notebook cannot stall the run."""
        if self.given_up:
            raise CleanRoomError(self.given_up)
        for _ in range(MAX_LOAD_FAILURES):
            self.starts += 1
            if self.starts > MAX_STARTS:
                break
            try:
                at = self._start_once()
            except BaseException:
                self.stop()  # interrupted while it loaded (a test's time limit): never left half-loaded
                raise
            if at is None:
                return
            self.skip.append(at)
            self.failed.append([f"statement {at}", "ended the clean room, or stalled it, as it loaded; skipped"])
        self.stop()
        self.given_up = "the clean room could not load the notebook's code, or had to start too often"
        raise CleanRoomError(self.given_up)

    def _start_once(self) -> str | None:
        """None when the room has loaded the code, else the statement it was loading when it ended."""
        from . import sandbox as sb

        self.stop()
        self._tmp = tempfile.mkdtemp(prefix="dl-cleanroom-")
        limits = self.limits or sb.Limits()
        if self.sandboxed:
            uid = limits.uid if os.geteuid() == 0 else sb.NOBODY
            scratch = sb.prepare_scratch(Path(self._tmp) / "scratch", None, uid)
            stub = Path(self._tmp) / "masked.py"
            stub.write_text(STUB)
            os.chmod(self._tmp, 0o755)
            os.chmod(stub, 0o644)
            server = f"{sb.AGENT_DIR}/{SERVER_MODULE}.py"
            argv = sb.bwrap_argv(scratch, limits, [sys.executable, "-I", server])
            mounts = ["--ro-bind", str(SERVER), server, "--ro-bind", str(WIRE), f"{sb.AGENT_DIR}/{WIRE_MODULE}.py"]
            mounts += ["--ro-bind", str(SECCOMP), f"{sb.AGENT_DIR}/{SECCOMP_MODULE}.py"]
            for path, folder in _module_paths(self.masked):
                if folder:
                    mounts += ["--tmpfs", path, "--ro-bind", str(stub), f"{path}/__init__.py"]
                else:
                    mounts += ["--ro-bind", str(stub), path]
            # One thread for numpy's BLAS: the CPU time of a timed call is then the call's work, not
            # worker threads spinning while they wait for a core on a busy machine.
            mounts += [a for name in ONE_THREAD for a in ("--setenv", name, "1")]
            split = argv.index("--")
            argv = argv[:split] + mounts + argv[split:]
            self._cgroup = sb.make_cgroup(limits) if sb.cgroup_mode() else []
            preexec = lambda: sb._apply_limits(limits, self._cgroup)  # noqa: E731
        else:
            argv = [sys.executable, "-I", "-c", _UNSAFE_BOOT, str(SERVER.parent), *self.masked]
            preexec = None
        self.proc = subprocess.Popen(
            argv,
            env=None if self.sandboxed else {**os.environ, **dict.fromkeys(ONE_THREAD, "1")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=preexec,
            start_new_session=True,
        )
        self.generation += 1
        self.instances, self.handles = {}, wire.Handles()
        self.remotes: dict = {}  # key -> the grader's RemoteObject of an object kept in a torch room
        self._random = None  # the global random state the room has, as last synced
        self._reader = wire.Reader(self.proc.stdout.fileno())
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, 1 << 20)  # whole messages, fewer wake-ups
        at = "start"
        deadline = time.monotonic() + LOAD_SECONDS
        try:
            load = {"op": "load", "blocks": self.blocks, "forbidden": self.forbidden, "skip": self.skip}
            # A torch room imports torch before its guard is on, whether or not the student's cells do.
            load["preload"] = (["torch"] if not self.masked else []) + imported_modules(self.blocks)
            self._send({**load, "vectorisation": VECTORISATION})
            while True:
                meta, _ = self._receive(deadline - time.monotonic())
                if meta.get("op") != "loading":
                    break
                at = str(meta.get("at"))
        except CleanRoomError:
            if at == "start":
                raise
            return at
        if meta.get("op") != "loaded":
            raise CleanRoomError("the clean room did not load the notebook's code")
        self.failed += [f for f in meta.get("failed", []) if isinstance(f, list)][:50]
        return None

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            for pipe in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()
            self.proc = None
        if self._cgroup:
            from . import sandbox as sb

            sb.remove_cgroup(self._cgroup)
            self._cgroup = []
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _send(self, meta: dict, arrays: list = ()) -> None:
        if meta.get("op") in ("load", "call", "remote"):
            # A new request: its answers must name it. A message the student's code wrote to the pipe
            # itself cannot, without reading the grader's request out of the room's memory.
            self._nonce = meta["nonce"] = secrets.token_hex(16)
        try:
            wire.write_message(self.proc.stdin.fileno(), meta, list(arrays))
        except (OSError, ValueError) as exc:
            self.stop()
            raise CleanRoomError(f"the clean room has ended ({exc})") from None

    def _receive(self, timeout: float):
        try:
            meta, arrays = self._reader.message(time.monotonic() + max(timeout, 0))
        except wire.WireError as exc:
            self.stop()
            raise CleanRoomError(f"the clean room gave no usable answer: {exc}") from None
        if meta.get("nonce") != self._nonce:
            self.stop()
            raise CleanRoomError("the clean room answered a question it was not asked")
        return meta, arrays

    # -- torch objects (a torch room) ----------------------------------------------------------------
    def remote(self, kind: str, label: str, graded: str, **how):
        """One operation on the student's torch code in a torch room (``autograder.torchroom``):
        ``kind`` as the room's ``Server.remote`` reads it; ``how``: ``key`` (a kept object), ``attr``,
        ``target`` (a graded name), ``args``, ``kwargs``, ``test_source`` (for the test's own classes
        of a module sent as an argument). Answers with plain data and ``RemoteObject``s; the
        student's exception is raised again, marked with ``label``."""
        import numpy as np
        import torch

        from . import torchroom
        from .replay import _exception

        if self.proc is None or self.proc.poll() is not None:
            self.start()
        sent: list = []  # the grader's modules among the arguments, sent as copies

        def outbound(value, depth=0):
            if depth > wire.DEPTH_LIMIT:
                return value
            if isinstance(value, torchroom.RemoteObject):
                if value._dl_generation != self.generation:
                    raise CleanRoomError(f"{label}: this object was made before the clean room restarted")
                return wire.Handle(value._dl_key)
            if isinstance(value, torch.nn.Module):
                sent.append(value)
                return wire.Handle(-len(sent))
            if type(value) in (tuple, list):
                return type(value)(outbound(v, depth + 1) for v in value)
            if type(value) is dict:
                return {k: outbound(v, depth + 1) for k, v in value.items()}
            return value

        args, kwargs = outbound(tuple(how.get("args", ()))), outbound(dict(how.get("kwargs", {})))
        # Tensors autograd follows through the student's code: the room makes them leaves there, and a
        # backward pass here asks the room for their gradients (torchroom.RemoteGrad).
        followed = [
            i
            for i, a in enumerate(args)
            if kind == "call" and torch.is_grad_enabled() and isinstance(a, torch.Tensor) and a.requires_grad
        ]
        arrays: list = []
        shipped = []
        for model in sent:
            saved, sources = torchroom.ship(model, how.get("test_source", ""))
            arrays.append(np.frombuffer(saved, dtype=np.uint8))
            shipped.append([len(arrays) - 1, sources])
        meta = {
            "op": "remote",
            "kind": kind,
            "label": label,
            "graded": graded,
            "key": how.get("key"),
            "attr": how.get("attr"),
            "target": how.get("target"),
            "args": wire.encode(args, arrays),
            "kwargs": wire.encode(kwargs, arrays),
            "grad": torch.is_grad_enabled(),
            "shipped": shipped,
            "random": wire.encode(np.random.get_state(), arrays),
            "torch_random": wire.encode(torch.get_rng_state(), arrays),
            "grad_args": followed,
            "graph": how.get("graph"),
        }
        try:
            self._send(meta, arrays)
            reply, answer = self._receive(self.timeout)
        except BaseException:
            self.stop()
            raise
        if reply.get("op") != "result":
            self.stop()
            raise CleanRoomError("the clean room answered out of turn")
        if reply.get("ended"):
            self.stop()  # the room's guard answered and ended it: the next request starts a new one

        def kept(key):
            if not isinstance(key, int) or key < 0:
                raise wire.WireError("a reference to an object that does not exist")
            if key not in self.remotes:
                self.remotes[key] = torchroom.RemoteObject(self, key, graded)
            return self.remotes[key]

        decode = wire.Decoder(answer, None, kept)
        try:
            if reply.get("random") is not None:  # absent when the room's guard answered and ended it
                np.random.set_state(decode(reply["random"]))
            if reply.get("torch_random") is not None:
                torch.set_rng_state(decode(reply["torch_random"]))
            for model, changes in zip(sent, reply.get("shipped") or []):
                torchroom.apply_changes(model, decode(changes))
            if "error" in reply:
                error = reply["error"] if isinstance(reply["error"], dict) else {}
                exc = _exception(error)
                exc.raised_in = label  # the student's: its words are not shown where they could carry a hidden test
                raise exc
            if reply.get("result") == {"method": True}:
                return torchroom.METHOD
            result = decode(reply.get("result", {"v": None}))
            graph = reply.get("graph")
            if followed and isinstance(graph, int) and isinstance(result, torch.Tensor):
                inputs = [how["args"][i] for i in followed]
                result = torchroom.RemoteGrad.apply(self, graph, label, graded, result, *inputs)
            return result
        except (wire.WireError, TypeError, ValueError, RuntimeError) as exc:
            if "error" in reply and not isinstance(exc, wire.WireError):
                raise
            raise CleanRoomError(f"{label}: the clean room's answer is unusable ({type(exc).__name__})") from None

    # -- calls ------------------------------------------------------------------------------------------
    def _refs(self) -> dict:
        return {id(obj): (key, obj) for key, obj in self.instances.items()}

    def call(self, label: str, args: tuple, kwargs: dict, namespace: dict, standins: list[str], **how):
        """Run one call in the clean room and answer as the student's code did there.

        ``how``: ``target`` (a graded name), or ``obj`` and ``method`` (a mirror's method), or
        ``target`` and ``new`` (a mirror being created: ``obj``). Arguments changed in place and the
        object's attributes are copied back into the grader's values; the student's exception is
        raised again. ``standins``: the graded names the test swapped for its own functions.
        """
        import numpy as np

        from .replay import _exception
        from .wire import assign_in_place

        if self.proc is None or self.proc.poll() is not None:
            self.start()
        obj = how.get("obj")
        if obj is not None and not how.get("new") and getattr(obj, "_dl_generation", None) != self.generation:
            raise CleanRoomError(f"{label}: this object was made before the clean room restarted")
        arrays: list = []
        refs = self._refs()
        meta = {
            "op": "call",
            "label": label,
            "graded": how.get("graded", label),
            "target": how.get("target"),
            "method": how.get("method"),
            "new": bool(how.get("new")),
            "args": wire.encode(args, arrays, refs, handles=self.handles),
            "kwargs": wire.encode(kwargs, arrays, refs, handles=self.handles),
            "random": None,
            "standins": standins,
            "count_lines": bool(how.get("count_lines")),
            "cpu": bool(how.get("cpu")),
        }
        # What the room does not have yet: the global random state and the object's attributes, if the
        # test changed them since the last answer (the room keeps its own otherwise).
        state = np.random.get_state()
        if self._random is None or not _same_random(state, self._random):
            meta["random"] = wire.encode(state, arrays)
        if obj is not None:
            if how.get("new"):
                key = len(self.instances)
                object.__setattr__(obj, "_dl_key", key)
                object.__setattr__(obj, "_dl_generation", self.generation)
                object.__setattr__(obj, "_dl_synced", {})
                self.instances[key] = obj
                meta["key"] = key
            else:
                meta["inst"] = obj._dl_key
                synced = obj.__dict__.get("_dl_synced", {})
                changed = {k: v for k, v in _state(obj).items() if synced.get(k) != wire.digest(v)}
                meta["state"] = wire.encode(changed, arrays, self._refs(), handles=self.handles)
        # The CPU time of a timed call is read from outside the room, before the request and after the
        # answer: the operating system's count for every process of the room, which its code cannot change.
        cpu_before = process_tree_cpu(self.proc.pid) if how.get("cpu") else 0.0
        cpu_limit = how.get("cpu_limit")
        try:
            self._send(meta, arrays)
            while True:
                if cpu_limit is not None:
                    self._wait_within(cpu_before, cpu_limit)
                reply, answer = self._receive(self.timeout)
                decode = wire.Decoder(answer, self.instances, self.handles)
                if reply.get("op") != "callback":
                    break
                self._answer_callback(reply, decode, namespace, standins)
        except BaseException:
            self.stop()  # a room interrupted mid-call (the test's time limit) is out of step: start anew
            raise
        if reply.get("op") != "result":
            self.stop()
            raise CleanRoomError("the clean room answered out of turn")
        cpu = process_tree_cpu(self.proc.pid) - cpu_before if how.get("cpu") else 0.0
        if reply.get("ended"):
            self.stop()  # the room's guard answered and ended it: the next call starts a new one
        try:
            if reply.get("random") is not None:
                np.random.set_state(decode(reply["random"]))
            self._random = np.random.get_state()
            changed_arrays = []
            if "args_after" in reply:
                after_args, after_kwargs = decode(reply["args_after"])
                for position, (target, value) in enumerate(zip(args, after_args)):
                    if (
                        how.get("target")
                        and isinstance(target, np.ndarray)
                        and not (isinstance(value, np.ndarray) and np.array_equal(target, value, equal_nan=True))
                    ):
                        changed_arrays.append(position)  # a graded function's array argument, written into
                        continue
                    assign_in_place(target, value)
                for name, target in kwargs.items():
                    if name in after_kwargs:
                        assign_in_place(target, after_kwargs[name])
            if obj is not None and isinstance(reply.get("state"), dict):
                state = decode(reply["state"])
                for attr, value in state.items() if isinstance(state, dict) else ():
                    if isinstance(attr, str) and not attr.startswith("_dl_"):
                        current = obj.__dict__.get(attr)
                        obj.__dict__[attr] = assign_in_place(current, value) if current is not None else value
                for attr in reply.get("removed") or []:
                    if isinstance(attr, str) and not attr.startswith("_dl_"):
                        obj.__dict__.pop(attr, None)
            if obj is not None:
                obj.__dict__["_dl_synced"] = {k: wire.digest(v) for k, v in _state(obj).items()}
                obj.__dict__["_dl_bytes"] = _bytes_of(_state(obj))
                held = sum(o.__dict__.get("_dl_bytes", 0) for o in self.instances.values())
                if held > STATE_LIMIT:
                    self.stop()
                    raise CleanRoomError(f"{label}: the objects of the notebook's classes hold more than 256 MB")
            if "error" in reply:
                error = reply["error"] if isinstance(reply["error"], dict) else {}
                exc = _exception(error)
                exc.raised_in = label  # the student's: its words are not shown where they could carry a hidden test
                raise exc
            if changed_arrays and not how.get("new") and how.get("obj") is None:
                # No graded function of the course writes into an array it is given (their docstrings say
                # so; state lives in dicts such as bn_param). One that does could zero the inputs a check
                # computes its expected answer from after the call: it is refused here, before any check.
                which = ", ".join(f"argument {p + 1}" for p in changed_arrays)
                raise AssertionError(
                    f"{label} changed its {which} (an array) in place: leave the arrays it is given as they were "
                    "and return new ones."
                )
            result = decode(reply.get("result", {"v": None}))
            if how.get("count_lines"):
                lines = reply.get("lines")
                return result, lines if isinstance(lines, int) and not isinstance(lines, bool) else 0
            if how.get("cpu"):
                return result, cpu
            return result
        except (wire.WireError, TypeError, ValueError) as exc:
            if "error" in reply and not isinstance(exc, wire.WireError):
                raise
            raise CleanRoomError(f"{label}: the clean room's answer is unusable ({type(exc).__name__})") from None

    def _wait_within(self, cpu_before: float, cpu_limit: float) -> None:
        """Wait for the room's next message while its processes have used less than ``cpu_limit``
        CPU seconds since ``cpu_before``; past that, stop the room (a loop over a million elements
        would run for minutes) and raise ``CPULimitExceeded``."""
        import select

        deadline = time.monotonic() + self.timeout
        while not select.select([self.proc.stdout.fileno()], [], [], 0.2)[0]:
            used = process_tree_cpu(self.proc.pid) - cpu_before
            if used > cpu_limit:
                self.stop()
                raise CPULimitExceeded(used)
            if time.monotonic() > deadline:
                return  # _receive says it took too long

    def _answer_callback(self, reply: dict, decode, namespace: dict, standins: list[str]) -> None:
        name = reply.get("name")
        if name not in standins:
            self.stop()
            raise CleanRoomError("the clean room asked for a function the test did not swap in")
        arrays: list = []
        args, kwargs = decode(reply.get("args")), decode(reply.get("kwargs"))
        before = wire.digest((args, kwargs))
        try:
            # The room chooses the stand-in's arguments: im2col with a padding of thousands asks for
            # gigabytes. The stand-in runs under a memory ceiling, and its answer must fit a message.
            with _memory_ceiling(CALLBACK_MEMORY):
                result = namespace[name](*args, **kwargs)
            message = {"op": "return", "result": wire.encode(result, arrays, self._refs(), handles=self.handles)}
            if sum(getattr(a, "nbytes", 0) for a in arrays) > wire.BLOB_LIMIT:
                raise MemoryError("the stand-in's answer is larger than a message may carry")
        except Exception as exc:  # noqa: BLE001 (the stand-in's exception goes to the student's code)
            arrays = []
            message = {"op": "raise", "error": {"type": type(exc).__name__, "message": str(exc)[:2000]}}
        if wire.digest((args, kwargs)) != before:
            message["args_after"] = wire.encode((args, kwargs), arrays, self._refs(), handles=self.handles)
        self._send(message, arrays)


CALLBACK_MEMORY = 2 * 1024**3  # bytes a torch stand-in may add to the grader's memory for one callback


@contextlib.contextmanager
def _memory_ceiling(extra: int):
    """This process may allocate at most ``extra`` bytes more while the block runs (RLIMIT_DATA, set
    above what it already holds and put back after): a stand-in asked for too much fails with
    MemoryError instead of taking the grader, and every other student's grade, down with it."""
    import resource

    try:
        with open("/proc/self/statm") as statm:
            data = int(statm.read().split()[5]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        ceiling = data + extra
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        if soft != resource.RLIM_INFINITY:
            ceiling = min(ceiling, soft)
        resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))
    except (OSError, ValueError, IndexError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def process_tree_cpu(root: int) -> float:
    """CPU seconds that process ``root`` and all its descendants have used so far, their own and
    that of the children they have reaped (``/proc/<pid>/stat``): a count kept by the kernel, which
    the processes cannot change. A room's processes all descend from its ``bwrap``, whose pid
    namespace reaps any orphan."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent, used = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                data = stat.read()
            fields = data[data.rindex(b")") + 2 :].split()  # after "pid (comm) ": the comm may hold spaces
            parent[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile: its time is in its parent's cutime
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0)
        todo += children.get(pid, [])
    return total / ticks


def _bytes_of(value) -> int:
    arrays: list = []
    wire.encode(value, arrays, copy=False)
    return sum(a.nbytes for a in arrays)


def _same_random(a, b) -> bool:
    import numpy as np

    return a[0] == b[0] and a[2:] == b[2:] and np.array_equal(a[1], b[1])


def _state(obj) -> dict:
    return {k: v for k, v in vars(obj).items() if not k.startswith("_dl_")}


# A stand-in for the mount namespace when there is no sandbox (grade --unsafe): an import hook.
_UNSAFE_BOOT = """
import sys, importlib.abc, runpy
folder, masked = sys.argv[1], set(sys.argv[2:])
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in masked or any(name.startswith(m + ".") for m in masked):
            raise ImportError("DL-CLEAN-ROOM: " + name + " is not available where numpy-only functions are graded")
sys.meta_path.insert(0, Blocked())
sys.path.insert(0, folder)
sys.argv = [folder + "/cleanroom_server.py"]
runpy.run_path(folder + "/cleanroom_server.py", run_name="__main__")
"""
