"""Shortcuts an assignment rules out, found in the student's source rather than by watching a call.

The clean room watches a call for the callables an assignment forbids in a function (``np.lib.
stride_tricks.sliding_window_view`` in ``conv_forward_naive``), but that watch runs in the process
that runs the student's code, which can change it. This reading of the source runs in the grader's
own process: it collects what a function's code can reach (its body, the student's functions,
methods and top-level names it uses, transitively) and names the first forbidden callable it
mentions, or the first way of reaching a callable by a name built at run time (``getattr``,
``__dict__``, ``sys.modules``, ``eval``), which would hide it from any reading.
"""

from __future__ import annotations

import ast
import re

# Ways to reach a callable without writing its name, which no reading can follow: builtins and
# modules (as bare names or imports) and attributes. A method of the student's objects that happens
# to share a builtin's name (``model.eval()``) is not one of them.
DYNAMIC_NAMES = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "vars",
        "globals",
        "locals",
        "eval",
        "exec",
        "compile",
        "__import__",
        "__builtins__",
        "memoryview",
        "breakpoint",
    }
)
DYNAMIC_MODULES = frozenset(
    {
        "sys",
        "builtins",
        "importlib",
        "inspect",
        "types",
        "ctypes",
        "gc",
        "operator",
        "pickle",
        "pkgutil",
        "pydoc",
        "runpy",
        "code",
        "codeop",
        "marshal",
        "copyreg",
        "dill",
        "cloudpickle",
        "timeit",
        "string",
        "cProfile",
        "profile",
        "trace",
        "pdb",
        "bdb",
        "doctest",
        "__main__",
        "dl_grading_agent",
        "dl_grading_wire",
        "dl_grading_seccomp",
        "dl_cleanroom",
    }
)
DYNAMIC_ATTRIBUTES = frozenset(
    {
        "__dict__",
        "__getattribute__",
        "__getattr__",
        "__setattr__",
        "__delattr__",
        "__mro__",
        "__bases__",
        "__self__",
        "__func__",
        "__wrapped__",
        "__reduce__",
        "__reduce_ex__",
        "resolve_name",
        "import_module",
        "locate",
        "get_field",
        "Formatter",
        "__code__",
        "__globals__",
        "__closure__",
        "__builtins__",
        "__subclasses__",
        "attrgetter",
        "methodcaller",
        "getattr_static",
        "f_back",
        "f_globals",
        "f_locals",
    }
)


def _star_reaches(module: str, dotted: str) -> bool:
    """Whether ``from module import *`` could bind the callable ``dotted``: the module is its own,
    or another of its package (``scipy.signal._signaltools`` for ``scipy.signal.correlate``). numpy's
    top level is the exception: its star import binds none of the ruled-out stride tricks."""
    home = dotted.rpartition(".")[0]
    if module == home:
        return True
    return module.split(".")[0] == home.split(".")[0] and module != "numpy"


def _mentioned(kind: str, token: str, ruled_out: set[str], dotted, names: bool) -> str | None:
    """The ruled-out callable a token names: a string holding its name as a word (``"as_strided"``,
    ``"scipy.signal:correlate"``), an attribute or imported name, a star import of its package, and
    with ``names`` a bare name too; else None."""
    if kind == "string":
        return next((r for r in ruled_out if re.search(rf"(?<![\w]){re.escape(r)}(?![\w])", token)), None)
    if kind == "star":
        return next((d for d in dotted if _star_reaches(token, str(d))), None) if token else None
    if kind in ("attribute", "module") or (names and kind == "name"):
        return token if token in ruled_out else None
    return None


def _dynamic(kind: str, token: str, own: set[str]) -> bool:
    """Whether a token reaches callables by names built at run time (``own``: the function's locals,
    which may share a builtin's name)."""
    return (
        (kind == "name" and token in DYNAMIC_NAMES | DYNAMIC_MODULES and token not in own)
        or (kind == "module" and token in DYNAMIC_MODULES)
        or (kind == "attribute" and token in DYNAMIC_ATTRIBUTES | DYNAMIC_MODULES)
    )


def _docstrings(node: ast.AST) -> set[int]:
    """The ids of the docstrings in ``node``: prose, not code."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module) and child.body:
            first = child.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _locals(node: ast.AST) -> set[str]:
    """The names a function (and the functions inside it) binds for itself: its arguments and what
    it assigns, less what it declares ``global``."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return set()
    names, declared = set(), set()
    for child in ast.walk(node):
        if isinstance(child, ast.arg):
            names.add(child.arg)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, ast.Global | ast.Nonlocal):
            declared.update(child.names)
    return names - declared


def _tokens(node: ast.AST) -> list[tuple[str, str, int]]:
    """``(kind, text, line)`` of the names, attributes, imported names and strings in ``node``."""
    found = []
    prose = _docstrings(node)
    for child in ast.walk(node):
        line = getattr(child, "lineno", 0)
        if id(child) in prose:
            continue
        if isinstance(child, ast.Name):
            found.append(("name", child.id, line))
        elif isinstance(child, ast.Attribute):
            found.append(("attribute", child.attr, line))
        elif isinstance(child, ast.ImportFrom) and any(a.name == "*" for a in child.names):
            found.append(("star", child.module or "", line))
        elif isinstance(child, ast.alias):
            found += [("module", part, line) for part in child.name.split(".")]
            if child.asname:
                found.append(("name", child.asname, line))
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.append(("string", child.value, line))
        elif isinstance(child, ast.MatchClass):
            found += [("attribute", attr, line) for attr in child.kwd_attrs]
    return found


def _bound(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds (a function also binds what it declares ``global``)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        declared = {n for c in ast.walk(node) if isinstance(c, ast.Global) for n in c.names}
        return {node.name} | declared
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {t.id for t in ast.walk(node) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}


def reached_shortcuts(blocks: list, forbidden: dict) -> dict[str, str]:
    """``{function: what it reaches}`` for each function of ``forbidden`` (name -> dotted callables)
    whose code, as written in ``blocks`` (``[label, source]``, the student's cells), mentions a
    forbidden callable or reaches callables by names built at run time."""
    statements: list[tuple[str, ast.stmt]] = []
    for label, source in blocks:
        try:
            tree = ast.parse(str(source))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue  # a cell that does not parse defines nothing
        statements += [(str(label), node) for node in tree.body]
    binders: dict[str, list[int]] = {}
    methods: dict[str, list[tuple[str, ast.AST]]] = {}
    for index, (label, node) in enumerate(statements):
        for name in _bound(node):
            binders.setdefault(name, []).append(index)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    methods.setdefault(item.name, []).append((label, item))
    found = {}
    for function, dotted in forbidden.items():
        ruled_out = {str(d).rpartition(".")[2] for d in dotted}
        # A star import could bind any name the function uses: it is always read.
        todo: list[tuple[str, ast.AST]] = [statements[i] for i in binders.get("*", []) + binders.get(function, [])]
        seen: set[int] = set()
        while todo and function not in found:
            label, node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            own = _locals(node)
            for kind, token, line in _tokens(node):
                # A bare name is a local variable, the student's own function, or an imported name,
                # whose import is what mentions the shortcut.
                hit = _mentioned(kind, token, ruled_out, dotted, names=False)
                if hit is not None:
                    found[function] = f"mentions {hit} ({label}, line {line}), a shortcut this assignment rules out"
                    break
                if _dynamic(kind, token, own):
                    found[function] = (
                        f"uses {token} ({label}, line {line}), which reaches functions by names built as it runs, "
                        "where the grader cannot see whether they are shortcuts this assignment rules out"
                    )
                    break
                if kind in ("name", "attribute") and token not in own:
                    todo += [statements[i] for i in binders.get(token, [])]
                    todo += methods.get(token, [])
    return found


def _load_time_parts(node: ast.stmt) -> list[ast.AST]:
    """What of a top-level statement runs when the clean room loads it: all of an assignment or an
    expression; of a function, its decorators, defaults and annotations; of a class, its bases,
    keywords, decorators and body, less the bodies of its methods. (An import only binds names:
    what uses them is read where it is used.)"""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        parts = [*node.decorator_list, *args.defaults, *[d for d in args.kw_defaults if d is not None]]
        parts += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation]
        return parts + ([node.returns] if node.returns else [])
    if isinstance(node, ast.ClassDef):
        parts = [*node.bases, *node.keywords, *node.decorator_list]
        for item in node.body:
            parts += (
                _load_time_parts(item)
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                else [item]
            )
        return parts
    return [node]


def unsafe_at_load(source: str, forbidden: dict) -> list[tuple[int, str]]:
    """``[(index, why)]``: the top-level statements of ``source`` that the clean room must not run,
    because what runs as they load (an assignment's value, a class body, a decorator) reaches
    callables by names built at run time, or mentions a shortcut an assignment rules out. Such code
    could change the student's functions, or the room's own watch, behind every reading of them."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    dotted = [str(d) for names in forbidden.values() for d in names]
    ruled_out = {d.rpartition(".")[2] for d in dotted}
    found = []
    for index, node in enumerate(tree.body):
        for part in _load_time_parts(node):
            why = None
            for kind, token, line in _tokens(part):
                hit = _mentioned(kind, token, ruled_out, dotted, names=True)
                if hit is not None:
                    why = f"line {line} mentions {hit}, a shortcut an assignment rules out"
                elif _dynamic(kind, token, set()):
                    why = f"line {line} uses {token}, which reaches functions by names built as it runs"
                if why:
                    break
            if why:
                found.append((index, why))
                break
    return found
