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


def forbidden_callables(dotted_names, imported_only: bool = False) -> dict:
    """``{id: "module.callable"}`` of the callables named (and of their code, for Python functions),
    for a profile hook to spot; a name that does not import is skipped (it cannot be called either).
    The clean room (``autograder.cleanroom_server``) uses it too, with ``imported_only``: there the
    student's imports are all made before (a module they never import is reached only by a name
    built at run time, which the grader's reading of the source rules out), and importing every
    forbidden module (torch's FlopCounterMode, scipy) would cost each room seconds."""
    found = {}
    for dotted in dotted_names:
        module_name, _, attr = str(dotted).rpartition(".")
        if imported_only and module_name not in sys.modules:
            continue
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except Exception:  # noqa: BLE001 (a masked or missing module)
            continue
        found[id(target)] = dotted
        code = _code_of(target)
        if code is not None:
            found[id(code)] = dotted
        if isinstance(target, type):
            # Calling a class, or its methods on an object of one's own, fires no event for the class:
            # its methods' code does (BasicBlock.forward, FlopCounterMode.__enter__).
            for value in vars(target).values():
                code = _code_of(getattr(value, "__func__", value))
                if code is not None:
                    found[id(code)] = dotted
    return found


def _torch_name(func) -> str:
    """``torch.tanh`` or ``Tensor.exp``, as a student would write it."""
    name = getattr(func, "__name__", None) or repr(func)
    qualname = getattr(func, "__qualname__", "") or ""
    if qualname.startswith(("TensorBase.", "Tensor.")):
        return f"Tensor.{name}"
    module = getattr(func, "__module__", None) or "torch"
    return f"{'torch' if module.startswith('torch._') else module}.{name}"


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

    # -- before and after a test cell -------------------------------------------------------
    def transform(self, lines: list[str]) -> list[str]:
        if not lines or not TEST_HEADER.match(lines[0]):
            return lines
        changed = self.snapshot.restore()
        self.tampered += [c for c in changed if c not in self.tampered]
        self._watch()
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
            return run(*args, **kwargs)

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
        return forbidden_callables(self.forbidden.get(graded, []))

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
    # IPython parses a cell before running it to see whether it awaits; a cell too deep to parse made
    # that raise outside the cell, and the kernel never answered. Then it runs as a plain cell and fails.
    should_run_async = shell.should_run_async

    def parsed_or_not(*args, **kwargs):
        try:
            return should_run_async(*args, **kwargs)
        except Exception:  # noqa: BLE001
            return False

    shell.should_run_async = parsed_or_not
    shell.events.register("post_run_cell", guard.after)
