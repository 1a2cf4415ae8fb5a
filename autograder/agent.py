"""The grader's agent inside a submission's kernel: an IPython extension loaded before any cell runs.

It guards the test cells (those whose first line is ``# Test: ...``):

- **Tampering.** At start it records every function, class and module bound in the modules the
  tests compare with (numpy, torch, ``utils`` and all its submodules, builtins, ``torch.Tensor``),
  and each Python function's code and defaults. Before every test cell it puts back whatever a
  student's cell rebound, and from then on every test cell fails with a ``TamperingDetected`` error
  that names what was changed: a detected patch scores zero on the tests it could have touched.
- **numpy-only functions.** While a test cell runs, each graded function the assignment asks to be
  written in numpy (``DL_GRADE_RULES``, from the source notebook's metadata) runs under a torch
  function mode: a torch call made from the student's code (directly, through an alias, through
  autograd or through a ``utils`` helper) makes the call fail with ``NumpyOnlyError``. A torch
  stand-in the test cell swapped in for an upstream graded function may use torch. Other shortcuts an
  assignment forbids (``scipy.signal.correlate`` in a naive convolution, say) are caught with a
  profile hook during that function's call.

This runs in the student's process, so a student who studies it can still get around it; the
bubblewrap sandbox and the static integrity scan are the other layers. The file imports nothing of
the ``autograder`` package: inside the sandbox it is mounted on its own as ``dl_grading_agent``.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import re
import sys
import types

RULES_ENV = "DL_GRADE_RULES"
TEST_HEADER = re.compile(r"^#\s*Test:")
# IPython and ipykernel rebind these builtins around every cell on their own.
VOLATILE_BUILTINS = {"input", "raw_input", "get_ipython", "display", "exit", "quit", "help", "__IPYTHON__"}
PROTECTED = ("numpy", "numpy.testing", "numpy.linalg", "torch", "torch.testing", "torch.nn.functional", "utils")


class TamperingDetected(AssertionError):
    """A student's cell rebound something the tests rely on."""


class NumpyOnlyError(AssertionError):
    """A function the assignment asks to write in numpy used torch or a forbidden shortcut."""


def _modules() -> list[types.ModuleType]:
    """The protected modules, imported now (the rest of ``utils`` is recorded as it is imported)."""
    mods = []
    for name in PROTECTED:
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            continue
    mods += [m for name, m in list(sys.modules.items()) if name.startswith("utils.") and m is not None]
    return [builtins, *mods]


class _RecordOnImport(importlib.abc.MetaPathFinder):
    """Records a ``utils`` submodule the moment its code has run, before any cell holds it."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def find_spec(self, name, path, target=None):
        if not name.startswith("utils.") or name in self.snapshot.recorded:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, snapshot = spec.loader, self.snapshot

        class Recording(type(loader)):
            def exec_module(self, module):
                loader.exec_module(module)
                snapshot.record(module)

        spec.loader = Recording.__new__(Recording)
        spec.loader.__dict__.update(loader.__dict__)
        return spec


def _guarded(value) -> bool:
    return callable(value) or isinstance(value, types.ModuleType)


class Snapshot:
    """What the tests rely on, as it was when the kernel started."""

    def __init__(self):
        self.namespaces: list[tuple[str, dict, dict]] = []
        self.recorded: set[str] = set()
        self.code = {}
        for module in _modules():
            self.record(module)
        try:
            import torch

            self._add("torch.Tensor", torch.Tensor.__dict__, setter=torch.Tensor)
            for value in list(torch.Tensor.__dict__.values()):
                if isinstance(value, types.FunctionType):
                    self.code[id(value)] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)
        except ImportError:
            pass
        self.sys_modules = {m: sys.modules[m] for m in PROTECTED if m in sys.modules}
        self.finder = _RecordOnImport(self)
        sys.meta_path.insert(0, self.finder)

    def record(self, module: types.ModuleType) -> None:
        self.recorded.add(module.__name__)
        self._add(module.__name__, vars(module))
        for value in list(vars(module).values()):
            if isinstance(value, types.FunctionType):
                self.code[id(value)] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)

    def _add(self, name: str, space, setter=None) -> None:
        volatile = VOLATILE_BUILTINS if name == "builtins" else set()
        saved = {k: v for k, v in space.items() if _guarded(v) and k not in volatile}
        self.namespaces.append((name, saved, {"space": space, "setter": setter}))

    def restore(self) -> list[str]:
        """Put back every changed binding; return what was changed, as ``module.name`` strings."""
        changed = []
        for name, saved, where in self.namespaces:
            space, setter = where["space"], where["setter"]
            for key, value in saved.items():
                current = space.get(key, _MISSING)
                if current is not value and _torch_wraps(value, current):
                    saved[key] = current  # torch's own rewrapping on a lazy import: the new baseline
                    continue
                if current is not value:
                    changed.append(f"{name}.{key}")
                    if setter is not None:
                        setattr(setter, key, value)
                    else:
                        space[key] = value
        if not sys.meta_path or sys.meta_path[0] is not self.finder:
            changed.append("sys.meta_path")
            if self.finder in sys.meta_path:
                sys.meta_path.remove(self.finder)
            sys.meta_path.insert(0, self.finder)
        for name in [n for n in sys.modules if n.startswith("utils.") and n not in self.recorded]:
            changed.append(f"sys.modules[{name!r}] (imported past the grader)")
            self.recorded.add(name)
        for module_name, module in self.sys_modules.items():
            if sys.modules.get(module_name) is not module:
                changed.append(f"sys.modules[{module_name!r}]")
                sys.modules[module_name] = module
        for fn, code, defaults, kwdefaults in self.code.values():
            if fn.__code__ is not code or fn.__defaults__ is not defaults or fn.__kwdefaults__ is not kwdefaults:
                changed.append(f"{fn.__module__}.{fn.__qualname__}.__code__")
                fn.__code__, fn.__defaults__, fn.__kwdefaults__ = code, defaults, kwdefaults
        return changed


_MISSING = object()


def _nested_codes(code: types.CodeType):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _nested_codes(const)


def _torch_wraps(original, new) -> bool:
    """Whether ``new`` is torch's own dynamo-disabling wrapper around ``original``: importing
    ``torch._dynamo`` (torchvision does) rebinds ``torch.manual_seed`` so."""
    compile_module = sys.modules.get("torch._compile")
    if compile_module is None or getattr(new, "__wrapped__", None) is not original:
        return False
    return getattr(new, "__code__", None) in set(_nested_codes(compile_module._disable_dynamo.__code__))


def _code_of(fn):
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__wrapped__", fn)
    return getattr(fn, "__code__", None)


def _torch_name(func) -> str:
    """``torch.tanh`` or ``Tensor.exp``, as a student would write it."""
    name = getattr(func, "__name__", None) or repr(func)
    qualname = getattr(func, "__qualname__", "") or ""
    if qualname.startswith(("TensorBase.", "Tensor.")):
        return f"Tensor.{name}"
    module = getattr(func, "__module__", None) or "torch"
    return f"{'torch' if module.startswith('torch._') else module}.{name}"


# -- the record of a test cell's calls, checked again outside this process (autograder.replay) -----
RECORD_MAGIC = b"DLREC1\n"
RECORD_LIMIT = 200 * 1024**2  # bytes of arrays one test cell may record (below the sandbox's file size limit)
TEST_NAME = re.compile(r"^#\s*Test:\s*([A-Za-z0-9_.-]+)")


def record_file_name(first_line: str) -> str | None:
    """The record's file name for a test cell's header line (shared with the grader)."""
    match = TEST_NAME.match(first_line.strip())
    return f"{match.group(1)}.record" if match else None


def encode(value, arrays: list, instances: dict | None = None, depth: int = 0, copy: bool = True):
    """``value`` as JSON-able nodes; arrays are appended to ``arrays`` and named by their index.

    Plain data (None, bools, numbers, strings, numpy arrays and scalars, tensors, tuples, lists,
    dicts, slices, numpy Generators) keeps its value; an object of a graded class becomes
    ``{"inst": id}`` (``instances``: ``id(obj) -> (id, obj)``); anything else becomes an opaque
    node, equal to nothing. The decoder (``autograder.replay.decode``) runs no code from the record.
    """
    if depth > 32:
        return {"opaque": "nesting deeper than 32"}
    np = sys.modules.get("numpy")
    if np is not None:  # first: np.float64 is also a float, and keeps its type
        if isinstance(value, (np.ndarray, np.generic)) and not np.asarray(value).dtype.hasobject:
            arrays.append(np.array(value, copy=True) if copy else np.asarray(value))
            return {"a": len(arrays) - 1, "scalar": isinstance(value, np.generic)}
        if isinstance(value, np.random.Generator):
            return {
                "generator": type(value.bit_generator).__name__,
                "state": encode(value.bit_generator.state, arrays, None, depth + 1),
            }
    if value is None or type(value) in (bool, str):
        return {"v": value}
    if isinstance(value, int):
        return {"int": str(int(value))}
    if isinstance(value, float):
        return {"float": repr(float(value))}
    if isinstance(value, str):
        return {"v": str(value)}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            arrays.append(value.detach().cpu().numpy().copy())
        except (TypeError, RuntimeError):
            return {"opaque": "torch.Tensor of an unsupported dtype"}
        return {"tensor": len(arrays) - 1, "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, tuple | list):
        key = "tuple" if isinstance(value, tuple) else "list"
        return {key: [encode(v, arrays, instances, depth + 1, copy) for v in value]}
    if isinstance(value, dict):
        return {
            "dict": [
                [encode(k, arrays, instances, depth + 1, copy), encode(v, arrays, instances, depth + 1, copy)]
                for k, v in value.items()
            ]
        }
    if isinstance(value, slice):
        return {"slice": [encode(v, arrays, None, depth + 1) for v in (value.start, value.stop, value.step)]}
    if instances is not None and id(value) in instances:
        return {"inst": instances[id(value)][0]}
    return {"opaque": type(value).__qualname__}


def names_in(source: str) -> tuple[set[str], set[str]]:
    """``(set, read)``: the names a cell binds (assignments, defs, imports, arguments) and reads."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, read


class Recorder:
    """What one test cell's code passed to the graded functions and what came back.

    Only the outermost calls are recorded (a graded function called by another graded function is
    part of the outer one's work). For each: the arguments, the result or the exception, the
    arguments again if the call changed them in place, the attributes a method changed on its
    object, and numpy's and torch's global random state if the call moved it. ``autograder.replay``
    re-runs the test cell outside this process with the graded names replaced by these answers, so
    the comparisons run where no student code has ever run.
    """

    def __init__(self, folder: str, name: str, source: str, shell, graded: set):
        self.path = os.path.join(folder, name)  # name: record_file_name(header)
        self.arrays: list = []
        self.counted = self.size = 0  # arrays counted so far, and their bytes
        self.instances: dict = {}
        self.calls: list = []
        self.depth = 0
        self.overflow = False
        self.meta = {
            "calls": self.calls,
            "names": self._free_names(source, shell.user_ns, graded),
            "random": self._random_state(),
        }

    def _free_names(self, source: str, ns: dict, graded: set) -> dict:
        """Values of the names the cell reads but does not set (``test_accuracy``), by value."""
        stored, loaded = names_in(source)
        names = {}
        for name in sorted(loaded - stored - graded):
            value = ns.get(name, _MISSING)
            if value is _MISSING or callable(value) or isinstance(value, types.ModuleType):
                continue
            names[name] = encode(value, self.arrays, self.instances)
        return names

    def _random_state(self) -> dict:
        state = {}
        np = sys.modules.get("numpy")
        if np is not None:
            state["numpy"] = encode(np.random.get_state(), self.arrays)
        torch = sys.modules.get("torch")
        if torch is not None:
            state["torch"] = encode(torch.get_rng_state(), self.arrays)
        return state

    def begin(self, label: str, args: tuple, kwargs: dict, is_init: bool) -> dict | None:
        if self.overflow:
            return None
        if is_init and args and id(args[0]) not in self.instances:
            self.instances[id(args[0])] = (len(self.instances), args[0])
        entry = {
            "label": label,
            "args": encode(args, self.arrays, self.instances),
            "kwargs": encode(kwargs, self.arrays, self.instances),
        }
        entry["_before"] = (
            self._digest(args),
            self._digest(kwargs),
            self._random_digest(),
            self._digest(self._state_of(args)),
        )
        return entry

    def end(self, entry: dict | None, args, kwargs, result=_MISSING, error: BaseException | None = None) -> None:
        if entry is None:
            return
        before_args, before_kwargs, before_random, before_state = entry.pop("_before")
        if error is not None:
            entry["error"] = {"type": type(error).__name__, "message": str(error)[:2000]}
        else:
            entry["result"] = encode(result, self.arrays, self.instances)
        if self._digest(args) != before_args or self._digest(kwargs) != before_kwargs:
            entry["args_after"] = encode(args, self.arrays, self.instances)
            entry["kwargs_after"] = encode(kwargs, self.arrays, self.instances)
        state = self._state_of(args)
        if state is not None and self._digest(state) != before_state:
            entry["self"] = self.instances[id(args[0])][0]
            entry["state_after"] = encode(state, self.arrays, self.instances)
        if self._random_digest() != before_random:
            entry["random_after"] = self._random_state()
        self.calls.append(entry)
        self.counted, self.size = len(self.arrays), self.size + sum(a.nbytes for a in self.arrays[self.counted :])
        if self.size > RECORD_LIMIT:
            self.overflow = True

    def _state_of(self, args):
        """The attributes of the object a method was called on, if it is a graded class's."""
        if args and id(args[0]) in self.instances and hasattr(args[0], "__dict__"):
            return dict(vars(args[0]))
        return None

    def _digest(self, value) -> str:
        import hashlib

        import numpy as np

        arrays: list = []
        tree = json.dumps(encode(value, arrays, self.instances, copy=False), sort_keys=True).encode()
        digest = hashlib.sha256(tree)
        for array in arrays:
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(np.asarray(array, order="C").reshape(-1).view(np.uint8))
        return digest.hexdigest()

    @staticmethod
    def _random_digest() -> bytes:
        """numpy's and torch's global random state, as bytes to compare."""
        np, torch = sys.modules.get("numpy"), sys.modules.get("torch")
        parts = []
        if np is not None:
            state = np.random.get_state()
            parts += [state[1].tobytes(), repr(state[2:]).encode()]
        if torch is not None:
            parts.append(torch.get_rng_state().numpy().tobytes())
        return b"".join(parts)

    def write(self) -> None:
        """``RECORD_MAGIC``, the JSON header's length (8 bytes, little-endian), the JSON header (the
        calls, and ``arrays``: each array's dtype, shape, offset and size), then the arrays' bytes."""
        import numpy as np

        meta = dict(self.meta, overflow=self.overflow)
        if self.overflow:
            meta["calls"], self.arrays = [], []
        blobs, index, offset = [], [], 0
        for array in self.arrays:
            blob = np.asarray(array, order="C")
            index.append([blob.dtype.str, list(blob.shape), offset, blob.nbytes])
            blobs.append(blob)
            offset += blob.nbytes
        meta["arrays"] = index
        header = json.dumps(meta).encode()
        with open(self.path, "wb") as file:
            file.write(RECORD_MAGIC + len(header).to_bytes(8, "little") + header)
            for blob in blobs:
                file.write(blob.reshape(-1).view(np.uint8).data)


class Guard:
    """The agent's state in one kernel: the snapshot, the rules and the tampering seen so far."""

    def __init__(self, shell, rules: dict):
        self.shell = shell
        self.snapshot = Snapshot()
        self.numpy_only = set(rules.get("numpy_only", []))
        self.forbidden = rules.get("forbidden", {})
        self.tampered: list[str] = []
        self.originals: dict[str, object] = {}  # graded name -> the student's object, during a test cell
        self.unwrap: list = []
        self.records = rules.get("records")  # folder for the test cells' records, or None
        self.recorder: Recorder | None = None

    # -- before and after a test cell -------------------------------------------------------
    def transform(self, lines: list[str]) -> list[str]:
        if not lines or not TEST_HEADER.match(lines[0]):
            return lines
        changed = self.snapshot.restore()
        self.tampered += [c for c in changed if c not in self.tampered]
        self._watch()
        name = record_file_name(lines[0])
        if self.records and name:
            self.recorder = Recorder(self.records, name, "".join(lines), self.shell, self.numpy_only)
        if self.tampered:
            shown = ", ".join(self.tampered[:6]) + (" ..." if len(self.tampered) > 6 else "")
            message = (
                f"the notebook's code replaced {shown}, which the tests rely on; "
                "every test from then on scores 0 (the instructor can review and override)"
            )
            self.shell.user_ns["__dl_grading__"] = sys.modules[__name__]
            return [f"raise __dl_grading__.TamperingDetected({message!r})\n", *lines]
        return lines

    def after(self, result=None) -> None:
        for undo in reversed(self.unwrap):
            undo()
        self.unwrap.clear()
        self.originals.clear()
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            try:
                recorder.write()
            except Exception as exc:  # noqa: BLE001 (a missing record fails the test's check, with its reason)
                print(f"the grader could not record this test's calls: {exc}", file=sys.stderr)

    # -- numpy-only watch ------------------------------------------------------------------
    def _watch(self) -> None:
        ns = self.shell.user_ns
        for name in sorted(self.numpy_only):
            obj = ns.get(name)
            if obj is None:
                continue
            self.originals[name] = obj
            if isinstance(obj, type):
                for attr, member in list(vars(obj).items()):
                    if isinstance(member, types.FunctionType):
                        setattr(obj, attr, self._watched(f"{name}.{attr}", member, name))
                        self.unwrap.append(functools.partial(setattr, obj, attr, member))
            elif isinstance(obj, types.FunctionType):
                ns[name] = self._watched(name, obj, name)
                self.unwrap.append(functools.partial(self._restore_name, name, ns[name], obj))

    def _restore_name(self, name, wrapper, original) -> None:
        if self.shell.user_ns.get(name) is wrapper:
            self.shell.user_ns[name] = original

    def _standin_codes(self) -> set:
        """Code of the stand-ins a test cell swapped in for graded names (they may use torch)."""
        ns, codes = self.shell.user_ns, set()
        for name, original in self.originals.items():
            current = ns.get(name)
            if current is not None and current is not original and not getattr(current, "__dl_watched__", False):
                codes.add(_code_of(current))
        return codes

    def _watched(self, label: str, fn, graded: str):
        guard = self

        def run(*args, **kwargs):
            from torch.overrides import TorchFunctionMode

            hits: list[str] = []

            class Tripwire(TorchFunctionMode):
                def __torch_function__(self, func, types_, args=(), kwargs=None):
                    if not hits and not guard._inside_standin():
                        hits.append(_torch_name(func))
                    return func(*args, **(kwargs or {}))

            forbidden = guard._forbidden_callables(graded)
            previous = sys.getprofile()
            if forbidden:
                sys.setprofile(guard._profiler(forbidden, hits))
            try:
                with Tripwire():
                    result = fn(*args, **kwargs)
            except Exception:
                if not hits:
                    raise
                result = None  # the use of torch is what the student must hear about, not what it broke
            finally:
                if forbidden:
                    sys.setprofile(previous)
            if hits:
                what = hits[0]
                if what.startswith("forbidden "):
                    raise NumpyOnlyError(
                        f"{label} calls {what.removeprefix('forbidden ')}, a shortcut this assignment rules out "
                        "here (write it with numpy), so this test scores 0"
                    )
                raise NumpyOnlyError(
                    f"{label} calls torch ({what}): this assignment asks for numpy here, so this test scores 0"
                )
            return result

        @functools.wraps(fn)
        def watched(*args, **kwargs):
            recorder = guard.recorder
            if recorder is None or recorder.depth:
                return run(*args, **kwargs)
            entry = recorder.begin(label, args, kwargs, is_init=label.endswith(".__init__"))
            recorder.depth += 1
            try:
                result = run(*args, **kwargs)
            except BaseException as exc:
                recorder.depth -= 1
                recorder.end(entry, args, kwargs, error=exc)
                raise
            recorder.depth -= 1
            recorder.end(entry, args, kwargs, result)
            return result

        watched.__dl_watched__ = True
        return watched

    def _inside_standin(self) -> bool:
        codes = self._standin_codes()
        if not codes:
            return False
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code in codes:
                return True
            frame = frame.f_back
        return False

    def _forbidden_callables(self, graded: str) -> dict:
        found = {}
        for dotted in self.forbidden.get(graded, []):
            module_name, _, attr = dotted.rpartition(".")
            try:
                target = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError):
                continue
            found[id(target)] = dotted
            code = _code_of(target)
            if code is not None:
                found[id(code)] = dotted
        return found

    @staticmethod
    def _profiler(forbidden: dict, hits: list[str]):
        def profile(frame, event, arg):
            if hits:
                return
            if event == "c_call" and id(arg) in forbidden:
                hits.append(f"forbidden {forbidden[id(arg)]}")
            elif event == "call" and id(frame.f_code) in forbidden:
                hits.append(f"forbidden {forbidden[id(frame.f_code)]}")

        return profile


def load_ipython_extension(shell) -> None:
    rules = json.loads(os.environ.pop(RULES_ENV, "{}") or "{}")
    guard = Guard(shell, rules)
    shell.input_transformers_post.append(guard.transform)
    shell.events.register("post_run_cell", guard.after)
