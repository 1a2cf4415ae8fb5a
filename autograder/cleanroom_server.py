"""The clean room's side: a fresh Python, where torch cannot be imported, serving calls to student code.

Started by ``autograder.cleanroom`` inside the grading sandbox, with torch's folders (and those of
any module an assignment forbids) masked in its mount namespace, this process:

1. loads the student's own code (the blocks the grader sends: the notebook's locked cells, the
   student's solution cells and the cells they added), its definitions, imports and assignments
   only, statement by statement, so that an ``import torch`` costs only that line;
2. answers the grader's calls to the graded functions and classes, on the arguments the grader
   sends, with nothing of the test above them: no test frame to read, no reference to find;
3. asks the grader, over the same pipe, when the student's code calls a name that the test swapped
   for a torch stand-in (the grader runs the stand-in and sends its answer back).

It speaks ``wire`` messages on the descriptors it was started with as stdin and stdout; the
student's code gets ``/dev/null`` for both. Whatever the student's code does here can only change
the answers of its own functions, which the grader checks against references it computes itself.
This file imports nothing of the ``autograder`` package (it is mounted on its own).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import os
import sys

# Started with -I, which leaves this file's (read-only) folder off the path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:  # as mounted in the sandbox
    import dl_grading_agent as agent
    import dl_grading_seccomp as seccomp
    import dl_grading_wire as wire
except ImportError:  # run from the source tree (grading with --unsafe)
    import agent  # type: ignore[no-redef]
    import seccomp  # type: ignore[no-redef]
    import wire  # type: ignore[no-redef]

NumpyOnlyError = agent.NumpyOnlyError

MASKED = "DL-CLEAN-ROOM"  # the masked modules' ImportError says this
MASKED_ROOTS = {"torch", "torchvision", "torchaudio", "functorch", "torchgen", "triton"}
STATEMENT_SECONDS = 10  # what one statement of the student's cells may take to load


# What of the masked modules the student's code reached for since the last call began (an audit hook
# sees every import, in every thread, and cannot be removed).
REACHED: list[str] = []


# Whether a call is being watched (``Server._watched``), and what touched the watch meanwhile.
WATCH: dict = {"active": False, "ours": False, "tampered": None}


# Ways to copy or rebuild a function under another identity, or to reach objects by walking memory:
# how a ruled-out callable gets past every watch (a copy of its code is not it). From the student's
# first statement on, the room ends at the first of them, saying so for a call. The guard's state is
# in the closure of the audit hook (which cannot be removed): no name of this module turns it off.
# Nothing the course's numpy, torch or matplotlib code does needs these (they were logged over every
# assignment's reference): lazy imports (marshal.loads) and inspect.signature (a function's
# __code__) do happen, so those stay allowed.
FATAL_EVENTS = frozenset({"code.__new__", "function.__new__", "gc.get_objects", "gc.get_referrers", "gc.get_referents"})


def _guard():
    """``(audit, arm, answering)``: the audit hook, a function that turns the guard on for good,
    and one that names the request a fatal event should answer before the room ends."""
    armed, request = [], [None, None]

    def audit(event: str, args) -> None:
        if armed and event in FATAL_EVENTS:
            if request[0] is not None:
                error = {
                    "type": "NumpyOnlyError",
                    "message": f"copies or rebuilds a function ({event}), a way round the grader's watch for the "
                    "shortcuts this assignment rules out",
                }
                answer = {"op": "result", "error": error, "nonce": request[1], "ended": True}
                with contextlib.suppress(Exception):
                    wire.write_message(request[0], answer, [])
            os._exit(70)
        _audit(event, args)

    def arm() -> None:
        armed.append(True)

    def answering(fd: int, nonce) -> None:
        request[0], request[1] = fd, nonce

    return audit, arm, answering


def _audit(event: str, args) -> None:
    if event == "import" and args and str(args[0]).split(".")[0] in MASKED_ROOTS:
        REACHED.append(str(args[0]))
    elif (
        WATCH["active"]
        and not WATCH["ours"]
        and (event in ("sys.setprofile", "sys.settrace") or event.startswith("ctypes."))
    ):
        WATCH["tampered"] = WATCH["tampered"] or event


class Masked:
    """Bound to a name whose import was masked (``import torch as tt``): any use says so."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        REACHED.append(self._name)
        raise NumpyOnlyError(f"uses {self._name}.{attr}: {self._name} is not available to a numpy-only function")

    def __call__(self, *args, **kwargs):
        REACHED.append(self._name)
        raise NumpyOnlyError(f"calls {self._name}: it is not available to a numpy-only function")


class Server:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_out, self.reader = fd_out, wire.Reader(fd_in)
        self.nonce = None
        self.ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.objects: dict[int, object] = {}
        self.forbidden: dict[str, list[str]] = {}
        self.forbidden_ids: dict[str, dict] = {}
        self.callbacks: set[str] = set()
        self.kept = Kept()  # a torch room's objects that the grader holds by number
        self.arm = lambda: None  # main() gives the guard's (``_guard``)
        self.answering = lambda fd, nonce: None
        self.graphs: dict[int, tuple] = {}  # a call's output and its followed inputs, for a later backward
        self.graph_count = 0

    # -- messages -----------------------------------------------------------------------------
    def send(self, meta: dict, arrays: list = ()) -> None:
        wire.write_message(self.fd_out, {**meta, "nonce": self.nonce}, list(arrays))

    def receive(self):
        meta, arrays = self.reader.message()
        self._arrays = arrays
        return meta, wire.Decoder(arrays, self.objects)

    def _refs(self) -> dict:
        return {id(obj): (key, obj) for key, obj in self.objects.items()}

    def encode(self, value, arrays: list):
        return wire.encode(value, arrays, self._refs())

    # -- loading ---------------------------------------------------------------------------------
    def load(self, blocks: list, forbidden: dict, skip: list, preload: list = ()) -> dict:
        """Run the definitions of ``blocks`` (``[label, code]``), a statement at a
        time; before each, say which (``"block:statement"``), so that a statement that ends this
        process is skipped when the grader starts it again."""
        import signal

        self.forbidden = {str(k): [str(v) for v in vs] for k, vs in forbidden.items()}
        # The modules the student's code imports are imported first, while the guard is off: their own
        # code (torch's, scipy's) may rebuild functions as it loads. Then the guard is on for good.
        for module in preload:
            with contextlib.suppress(BaseException):
                __import__(str(module))
        # Resolved before any of the student's code runs here: it could change the resolver afterwards.
        self.forbidden_ids = {
            name: agent.forbidden_callables(names, imported_only=True) for name, names in self.forbidden.items()
        }
        self.arm()
        failed = []

        def too_long(signum, frame):
            raise TimeoutError(f"took longer than {STATEMENT_SECONDS} s to run")

        signal.signal(signal.SIGALRM, too_long)
        for number, (label, source) in enumerate(blocks):
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
                failed.append([label, f"{type(exc).__name__}: {exc}"[:500]])
                continue
            for index, node in enumerate(tree.body):
                where = f"{number}:{index}"
                if where in skip or not _definition(node):
                    continue
                self.send({"op": "loading", "at": where})
                signal.alarm(STATEMENT_SECONDS)
                try:
                    exec(compile(ast.Module([node], []), label, "exec"), self.ns)  # noqa: S102
                except BaseException as exc:  # noqa: BLE001 (one failed statement costs only what it defines)
                    if isinstance(node, ast.Import | ast.ImportFrom) and MASKED in str(exc):
                        for alias in node.names:
                            name = alias.asname or alias.name.split(".")[0]
                            self.ns[name] = Masked(alias.name if isinstance(node, ast.Import) else name)
                    failed.append([label, f"line {node.lineno}: {type(exc).__name__}: {exc}"[:500]])
                finally:
                    signal.alarm(0)
        return {"failed": failed}

    # -- calls -------------------------------------------------------------------------------------
    def call(self, meta: dict, decode) -> None:
        import numpy as np

        arrays: list = []
        args, kwargs = decode(meta["args"]), decode(meta["kwargs"])
        if meta.get("random") is not None:
            np.random.set_state(decode(meta["random"]))
        label = meta["label"]
        obj = None
        if meta.get("inst") is not None:
            obj = self.objects.get(meta["inst"])
            if obj is None:
                raise wire.WireError("a call on an object that does not exist")
            for key, value in (decode(meta["state"]) or {}).items():
                if isinstance(key, str) and not isinstance(value, wire.Opaque):
                    obj.__dict__[key] = value
        # A timed call (its CPU time read from outside) is followed by an untimed one on the same
        # arguments: it does not look for changes in place, which would only add to its time.
        timed = bool(meta.get("cpu"))
        attributes = _digests(obj)
        random_before = np.random.get_state()
        before = None if timed else wire.digest((args, kwargs))
        saved = {name: self.ns.get(name) for name in meta.get("standins", [])}
        REACHED.clear()
        for name in saved:
            self.ns[name] = self._callback(name)
        reply: dict = {"op": "result"}
        try:
            if meta.get("new"):
                cls = self.ns[meta["target"]]
                obj = cls(*args, **kwargs)
                self.objects[int(meta["key"])] = obj
                result = None
            else:
                target = getattr(obj, meta["method"]) if obj is not None else self.ns[meta["target"]]
                graded, count = meta.get("graded", label), bool(meta.get("count_lines"))
                result, lines = self._watched(label, graded, target, args, kwargs, count)
                if count:
                    reply["lines"] = lines
            reply["result"] = self.encode(result, arrays)
        except BaseException as exc:  # noqa: BLE001 (the student's exception is the answer)
            reply["error"] = _error(exc)
            if REACHED and reply["error"]["type"] != "NumpyOnlyError":
                # torch was reached for (in a thread, behind a try) and the call failed without it.
                reply["error"] = {
                    "type": "NumpyOnlyError",
                    "message": f"{label} reaches for {REACHED[0]} and fails "
                    "without it; this assignment asks for numpy here",
                }
        finally:
            for name, value in saved.items():
                self.ns[name] = value
        if not timed and wire.digest((args, kwargs)) != before:
            reply["args_after"] = self.encode((args, kwargs), arrays)
        if obj is not None and hasattr(obj, "__dict__"):  # the attributes the call changed, added or removed
            changed = {k: v for k, v in vars(obj).items() if attributes.get(k) != wire.digest(v)}
            reply["state"] = self.encode(changed, arrays)
            reply["removed"] = [k for k in attributes if k not in vars(obj)]
        state = np.random.get_state()
        if not (
            state[0] == random_before[0] and state[2:] == random_before[2:] and (state[1] == random_before[1]).all()
        ):
            reply["random"] = self.encode(state, arrays)
        self.send(reply, arrays)

    def _watched(self, label: str, graded: str, target, args, kwargs, count_lines: bool = False):
        """``(target(*args, **kwargs), lines)``: the call, with the shortcuts the assignment forbids in
        ``graded`` caught, and (``count_lines``) the Python lines it ran outside the installed
        packages and the standard library, counted by ``utils.vectorisation.line_tracer`` as in the
        kernel. While either is watched, starting a thread (which neither would see) fails the call,
        and so does touching the watch itself: the audit hook sees every ``sys.setprofile``,
        ``sys.settrace`` and ``ctypes`` call, and cannot be removed."""
        import _thread

        forbidden = self.forbidden_ids.get(graded, {})
        if not (forbidden or count_lines):
            return target(*args, **kwargs), 0
        threads = {
            id(getattr(_thread, n)) for n in ("start_new_thread", "start_joinable_thread") if hasattr(_thread, n)
        }
        hits: list[str] = []
        tracer, lines = self.vectorisation.line_tracer() if count_lines else (None, lambda: 0)

        def profile(frame, event, arg):
            if event == "c_call" and id(arg) in forbidden:
                hits.append(f"calls {forbidden[id(arg)]}, a shortcut this assignment rules out here")
            elif event == "c_call" and id(arg) in threads:
                hits.append("starts a thread, where the grader's watch does not reach")
            elif event == "call" and id(frame.f_code) in forbidden:
                hits.append(f"calls {forbidden[id(frame.f_code)]}, a shortcut this assignment rules out here")

        WATCH.update(ours=True, tampered=None)
        sys.setprofile(profile)
        if count_lines:
            sys.settrace(tracer)
        WATCH.update(ours=False, active=True)
        try:
            result = target(*args, **kwargs)
        finally:
            WATCH.update(ours=True, active=False)
            sys.setprofile(None)
            sys.settrace(None)
            WATCH["ours"] = False
        if WATCH["tampered"]:
            raise NumpyOnlyError(f"{label} changes the grader's watch ({WATCH['tampered']}) while it runs")
        if hits:
            raise NumpyOnlyError(f"{label} {hits[0]}")
        return result, lines()

    # -- torch objects (a torch room) --------------------------------------------------------------
    def remote(self, meta: dict) -> None:
        """One operation on the student's torch code, whose objects stay here (``autograder.torchroom``).

        ``kind``: ``new`` (an object of the graded class ``target``), ``call`` (the graded function
        ``target``, or the kept object ``key`` itself or its method ``attr``), ``get`` / ``set`` (an
        attribute of a kept object), ``len`` / ``iter`` / ``item`` (a container), or ``class`` (what
        a kept object's class is made of). The answer is plain data: tensors travel as their values,
        every other object is kept here and named by a number. A module of the grader's given as an
        argument (``shipped``: saved with ``torch.save``, with the source of the test's own classes it
        needs) is loaded here, and what the call changed in it (modes, hooks, buffers, parameters)
        goes back, so the grader's copy shows it. Nothing here decides whether a test passed: the
        grader compares what comes back with references it computes itself.
        """
        import numpy as np
        import torch

        arrays: list = []
        reply: dict = {"op": "result"}
        shipped: list = []
        try:
            for blob, sources in meta.get("shipped") or []:
                shipped.append(self._load_module(blob, sources))
            decode = wire.Decoder(self._arrays, None, lambda key: self.kept(key) if key >= 0 else shipped[-1 - key])
            args, kwargs = decode(meta.get("args", {"tuple": []})), decode(meta.get("kwargs", {"dict": []}))
            if meta.get("random") is not None:
                np.random.set_state(decode(meta["random"]))
            if meta.get("torch_random") is not None:
                torch.set_rng_state(decode(meta["torch_random"]))
        except Exception as exc:  # noqa: BLE001 (the grader's message could not be read)
            raise wire.WireError(f"a remote request that cannot be read ({type(exc).__name__})") from None
        before = [_module_state(m) for m in shipped]
        kind, label, graded = meta.get("kind"), str(meta.get("label")), str(meta.get("graded"))
        # Tensors the grader's autograd follows through this call: leaves here, whose gradients a
        # "backward" request asks for later.
        followed = [int(i) for i in meta.get("grad_args") or [] if 0 <= int(i) < len(args)]
        if followed:
            args = list(args)
            for i in followed:
                args[i] = args[i].detach().requires_grad_(True)
            args = tuple(args)
        obj = self.kept(meta["key"]) if meta.get("key") is not None else None
        attr = meta.get("attr")
        REACHED.clear()
        try:
            with torch.set_grad_enabled(bool(meta.get("grad", True))):
                if kind == "new":
                    result = self._watched(label, graded, self.ns[meta["target"]], args, kwargs)[0]
                elif kind == "call":
                    target = self.ns[meta["target"]] if obj is None else obj if attr is None else getattr(obj, attr)
                    result = self._watched(label, graded, target, args, kwargs)[0]
                elif kind == "get":
                    result = getattr(obj, str(attr))
                    if callable(result) and not isinstance(result, torch.nn.Module | type):
                        result = _Method()  # the grader calls it by name
                elif kind == "set":
                    setattr(obj, str(attr), args[0])
                    result = None
                elif kind == "len":
                    result = len(obj)
                elif kind == "iter":
                    result = _items(iter(obj))
                elif kind == "item":
                    result = obj[args[0]]
                elif kind == "class":
                    result = _class_of(obj)
                elif kind == "backward":
                    out, inputs = self.graphs.pop(int(meta["graph"]))
                    out.backward(args[0])
                    result = [i.grad for i in inputs]
                else:
                    raise wire.WireError("an unknown remote operation")
            if not isinstance(result, _Method) and _is_iterator(result):
                result = _items(result)  # model.modules(), named_parameters(): generators
            if followed and isinstance(result, torch.Tensor) and result.requires_grad:
                self.graphs[self.graph_count] = (result, [args[i] for i in followed])
                reply["graph"] = self.graph_count
                self.graph_count += 1
                for old in [k for k in self.graphs if k < self.graph_count - 64]:
                    del self.graphs[old]  # a graph the grader never asked about is let go
            if isinstance(result, _Method):
                reply["result"] = {"method": True}
            else:
                reply["result"] = wire.encode(result, arrays, None, handles=self.kept)
        except wire.WireError:
            raise
        except BaseException as exc:  # noqa: BLE001 (the student's exception is the answer)
            reply["error"] = _error(exc)
        reply["shipped"] = [wire.encode(_module_changes(m, b), arrays) for m, b in zip(shipped, before)]
        reply["random"] = wire.encode(np.random.get_state(), arrays)
        reply["torch_random"] = wire.encode(torch.get_rng_state(), arrays)
        self.send(reply, arrays)

    def _load_module(self, blob, sources: list):
        """A module of the grader's, from ``torch.save``; the classes the test defined itself (its
        probes) are defined here first, from their source, the instructor's."""
        import io
        import pickle
        import types

        import torch

        classes = self.__dict__.setdefault("test_classes", {"__name__": "__main__", "torch": torch, "nn": torch.nn})
        for source in sources:
            if str(source) not in classes.setdefault("_sources", set()):
                classes["_sources"].add(str(source))
                exec(compile(str(source), "<test cell>", "exec"), classes)  # noqa: S102 (the instructor's)

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ("autograder.torchroom", "test_class"):
                    return classes.__getitem__
                return super().find_class(module, name)

        unpickling = types.SimpleNamespace(Unpickler=Unpickler, load=pickle.load, __name__="pickle")
        data = self._arrays.view(int(blob)).tobytes()
        return torch.load(io.BytesIO(data), pickle_module=unpickling, weights_only=False)

    def _callback(self, name: str):
        """A stand-in for ``name`` that asks the grader (where the test's torch stand-in runs)."""
        server = self

        def ask(*args, **kwargs):
            arrays: list = []
            server.send(
                {
                    "op": "callback",
                    "name": name,
                    "args": server.encode(args, arrays),
                    "kwargs": server.encode(kwargs, arrays),
                },
                arrays,
            )
            meta, decode = server.receive()
            if "args_after" in meta:  # the stand-in changed its arguments in place, as the student's would
                after_args, after_kwargs = decode(meta["args_after"])
                for target, value in zip(args, after_args):
                    wire.assign_in_place(target, value)
                for key, target in kwargs.items():
                    if key in after_kwargs:
                        wire.assign_in_place(target, after_kwargs[key])
            if meta.get("op") == "raise":
                raise _rebuilt(meta.get("error", {}))
            return decode(meta.get("result", {"v": None}))

        ask.__name__ = ask.__qualname__ = name
        return ask

    # -- the loop ------------------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                meta, decode = self.receive()
            except wire.WireError:
                return  # the grader has gone
            op, self.nonce = meta.get("op"), meta.get("nonce")  # every answer to this request carries it
            if op in ("call", "remote"):
                self.answering(self.fd_out, self.nonce)  # the guard answers this request if it ends the room
            if op == "load":
                self.vectorisation = _module_from(str(meta.get("vectorisation", "")), "dl_course_vectorisation")
                loaded = self.load(
                    meta.get("blocks", []), meta.get("forbidden", {}), meta.get("skip", []), meta.get("preload", [])
                )
                self.send({"op": "loaded", **loaded})
            elif op == "call":
                self.call(meta, decode)
            elif op == "remote":
                self.remote(meta)
            else:
                return


class Kept:
    """The torch room's objects the grader knows by number (``wire.encode``'s ``handles``): a module
    stays here, and its outputs (tensors) travel as values."""

    keeps_tensors = False
    LIMIT = 100_000

    def __init__(self):
        self.objects: list = []
        self.ids: dict[int, int] = {}

    def add(self, obj) -> int:
        key = self.ids.get(id(obj))
        if key is None:
            if len(self.objects) >= self.LIMIT:
                raise wire.WireError("too many objects kept")
            key = self.ids[id(obj)] = len(self.objects)
            self.objects.append(obj)  # kept alive, so that its id stays its own
        return key

    def __call__(self, key):
        if not isinstance(key, int) or not 0 <= key < len(self.objects):
            raise wire.WireError("a reference to an object that does not exist")
        return self.objects[key]


class _Method:
    """An attribute that is a method: the grader calls it by name."""


def _is_iterator(value) -> bool:
    import types

    return isinstance(value, types.GeneratorType) or (
        hasattr(value, "__next__") and hasattr(value, "__iter__") and not isinstance(value, str | bytes)
    )


def _items(iterator, limit: int = 100_000) -> list:
    items = []
    for item in iterator:
        items.append(item)
        if len(items) > limit:
            raise wire.WireError("an iterator too long to send")
    return items


def _class_of(obj) -> dict:
    """What ``obj``'s class is: its name and its classes by module and name (the grader maps them to
    a fixed table of torch's classes)."""
    cls = type(obj)
    return {"name": str(cls.__name__), "mro": [[str(k.__module__), str(k.__qualname__)] for k in cls.__mro__]}


def _module_state(model) -> dict:
    """Copies of what a call could change in a module the grader sent (to see what it changed)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        return {}
    return {
        "tensors": {f"b:{n}": t.detach().clone() for n, t in model.named_buffers()}
        | {f"p:{n}": p.detach().clone() for n, p in model.named_parameters()},
        "globals": _global_hooks(),
    }


def _global_hooks() -> list:
    from torch.nn.modules import module

    names = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks")
    return [len(getattr(module, name, {})) for name in names]


def _module_changes(model, before: dict) -> dict:
    """What the grader's copy needs to look as this one does now: every submodule's mode, plain
    attributes and count of hooks, the tensors that changed, which parameters are trainable, and how
    many global hooks were added."""
    import torch

    if not isinstance(model, torch.nn.Module):
        return {}
    modules = {}
    for name, m in model.named_modules():
        plain = {k: v for k, v in vars(m).items() if not k.startswith("_") and type(v) in (bool, int, float, str)}
        hooks = [len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)]
        modules[name] = {"attributes": plain, "hooks": hooks}
    tensors = {f"b:{n}": b for n, b in model.named_buffers()} | {f"p:{n}": p for n, p in model.named_parameters()}
    old = before.get("tensors", {})
    changed = {
        k: t.detach()
        for k, t in tensors.items()
        if k not in old or t.shape != old[k].shape or not torch.equal(t, old[k])
    }
    trainable = {n: bool(p.requires_grad) for n, p in model.named_parameters()}
    added = [a - b for a, b in zip(_global_hooks(), before.get("globals", [0, 0, 0]))]
    return {"modules": modules, "tensors": changed, "trainable": trainable, "global_hooks": added}


def _module_from(path: str, name: str):
    """The module in the file ``path`` (a file of ``utils`` that imports no torch), loaded alone."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _definition(node: ast.stmt) -> bool:
    """What runs of a student's cell: definitions, imports and assignments to plain names
    (``LOOKUP = np.arange(9)`` in a cell the student added is as much a part of the answer as a
    helper function), never a loop, a bare call, an assignment into a module (``torch.allclose =
    ...``) or anything else that only computes."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom):
        return True
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    names = [t for target in targets for t in ast.walk(target) if isinstance(t, ast.expr)]
    plain = all(isinstance(t, ast.Name | ast.Tuple | ast.List | ast.Starred) for t in names)
    return bool(targets) and plain and getattr(node, "value", None) is not None


def _digests(obj) -> dict:
    return {k: wire.digest(v) for k, v in vars(obj).items()} if obj is not None and hasattr(obj, "__dict__") else {}


def _error(exc: BaseException) -> dict:
    numpy_only = isinstance(exc, NumpyOnlyError) or MASKED in str(exc)
    cause = exc.__context__
    while cause is not None and not numpy_only:
        numpy_only = isinstance(cause, NumpyOnlyError) or MASKED in str(cause)
        cause = cause.__context__
    if numpy_only:
        message = str(exc) if isinstance(exc, NumpyOnlyError) else "imports a module that is ruled out here (torch)"
        return {"type": "NumpyOnlyError", "message": message[:2000]}
    return {"type": type(exc).__name__, "message": str(exc)[:2000]}


def _rebuilt(error: dict) -> BaseException:
    known = getattr(builtins, str(error.get("type")), None)
    if isinstance(known, type) and issubclass(known, Exception):
        return known(str(error.get("message", "")))
    return RuntimeError(f"{error.get('type')}: {error.get('message', '')}")


def main() -> None:
    # The protocol keeps the descriptors it was started with; the student's code prints into nothing.
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    sys.setrecursionlimit(3000)
    audit, arm, answering = _guard()
    sys.addaudithook(audit)
    import numpy  # noqa: F401 (loaded before any student code, as in the kernel)

    # No process but this one: the grader reads the room's CPU time from /proc, and a child that
    # Linux reaps by itself would take its CPU time away with it. Threads stay allowed.
    seccomp.forbid_new_processes()
    server = Server(fd_in, fd_out)
    server.arm, server.answering = arm, answering
    del audit, arm, answering
    server.serve()


if __name__ == "__main__":
    main()
