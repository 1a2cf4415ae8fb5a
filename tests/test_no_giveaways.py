"""No graded answer is handed out: lectures and seminars never define a graded function in runnable
form, nor carry a line of a reference solution.

Graded functions are what the assignments' solution cells define; their solution lines are what
stands between the solution markers. A lecture may derive and check the same formula (with torch
ops, on one example, by showing a wrong version failing, or as another variant), but not contain
the code that passes the graded test.
"""

from __future__ import annotations

import ast
import re

import pytest

from autograder.notebooks import BEGIN_SOLUTION, END_SOLUTION, cell_kind, read_notebook, strip_magics
from conftest import ROOT, assignment_notebooks

TEACHING = sorted([*ROOT.glob("lectures/*.ipynb"), *ROOT.glob("seminars/*.ipynb")])
# A line this short ("return out", "N, D = x.shape") says nothing about the answer.
MIN_LINE = 28


# Names kept as they are when code is compared up to names: modules and builtins say what is computed.
KEPT_NAMES = {"np", "numpy", "torch", "F", "nn", "math", "range", "len", "sum", "max", "min", "zip", "enumerate", "abs"}
# A statement this small (``m = dout.shape[0]``) is not an answer, whatever it is called.
MIN_NODES = 14


class _Renamed(ast.NodeTransformer):
    """Every variable, argument and function name replaced by its order of first appearance."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return name if name in KEPT_NAMES else self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_Call(self, node):
        # What is called keeps its name (divmod, a helper): calls differ in what they do.
        func = node.func if isinstance(node.func, ast.Name) else self.visit(node.func)
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        node.func = func
        return node

    def visit_arg(self, node):
        node.arg, node.annotation = self._name(node.arg), None
        return node

    def visit_FunctionDef(self, node):
        node.name, node.decorator_list, node.returns = "f", [], None
        node.body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
        return self.generic_visit(node)


def shape_of(node) -> str:
    """``node`` up to names: what a person sees when they ignore what things are called (keywords
    and ``axis=0`` against ``0`` are kept apart: ``sum(dim=0)`` is torch, ``sum(axis=0)`` numpy)."""
    return ast.dump(_Renamed().visit(ast.parse(ast.unparse(node))), annotate_fields=False)


def _size(node) -> int:
    """Nodes that say something: names, constants, operations, calls, subscripts (not contexts)."""
    return sum(1 for n in ast.walk(node) if not isinstance(n, ast.expr_context | ast.operator | ast.cmpop))


def _statements(tree) -> list:
    """The simple statements of ``tree`` (assignments, returns, expressions), nested ones included."""
    kinds = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)
    return [n for n in ast.walk(tree) if isinstance(n, kinds) and getattr(n, "value", None) is not None]


def _graded_shapes() -> tuple[dict[str, str], dict[str, str], set[str]]:
    """Of the reference solutions: each graded function's body up to names, each distinctive
    statement up to names, and the gradients the backward passes return (``dx``, ``dgamma``)."""
    bodies, statements, gradients = {}, {}, set()
    for path in assignment_notebooks():
        for cell in read_notebook(path).cells:
            if cell_kind(cell) != "solution":
                continue
            try:
                tree = ast.parse(strip_magics(cell.source))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and _size(node) >= MIN_NODES * 2:
                    bodies[shape_of(node)] = f"{path.parent.name}: {node.name}"
                    if node.name.endswith("_backward"):
                        for ret in (n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None):
                            values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
                            gradients |= {v.id for v in values if isinstance(v, ast.Name) and v.id.startswith("d")}
            for statement in _statements(tree):
                if _size(statement) >= MIN_NODES:
                    statements[shape_of(statement)] = f"{path.parent.name}: {ast.unparse(statement)}"
    return bodies, statements, gradients


GRADED_BODIES, GRADED_STATEMENTS, GRADED_GRADIENTS = _graded_shapes()


def giveaways_in_code(source: str) -> list[str]:
    """A function whose body is a graded one's up to names, or a statement that is a reference
    solution's distinctive statement up to names."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = [
        f"{node.name} is {GRADED_BODIES[shape_of(node)]} renamed"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and shape_of(node) in GRADED_BODIES
    ]
    found += [
        f"{ast.unparse(s)!r} is {GRADED_STATEMENTS[shape_of(s)]!r} renamed"
        for s in _statements(tree)
        if _size(s) >= MIN_NODES and shape_of(s) in GRADED_STATEMENTS
    ]
    return found


CODE_SPAN = re.compile(r"```(?:python)?\n(.*?)```|`([^`\n]+)`", re.S)


def giveaways_in_markdown(text: str) -> list[str]:
    """Code in markdown (spans and blocks) that runs as a graded solution's statement, or assigns a
    gradient that a graded backward pass returns (``dx = ...``) with a formula that is valid Python:
    in markdown, a backward pass is written in maths."""
    found = []
    for block, span in CODE_SPAN.findall(text):
        code = block or span
        found += giveaways_in_code(code)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for statement in tree.body:
            targets = statement.targets if isinstance(statement, ast.Assign) else []
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if names & GRADED_GRADIENTS and _size(statement.value) >= MIN_NODES:
                found.append(f"{ast.unparse(statement)!r} is a graded gradient as runnable code")
    return found


def _solutions() -> tuple[set[str], dict[str, str]]:
    """Graded function names, and each distinctive solution line with where it comes from."""
    names, lines = set(), {}
    for path in assignment_notebooks():
        for cell in read_notebook(path).cells:
            if cell_kind(cell) != "solution":
                continue
            names |= set(re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", cell.source, re.M))
            inside = False
            for line in cell.source.splitlines():
                text = line.strip()
                if BEGIN_SOLUTION in text:
                    inside = True
                elif END_SOLUTION in text:
                    inside = False
                elif inside and len(text) >= MIN_LINE and not text.startswith("#"):
                    lines[_normal(text)] = f"{path.parent.name}: {text}"
    return names, lines


def _normal(line: str) -> str:
    return re.sub(r"\s+", "", line.split("  #")[0])


GRADED, SOLUTION_LINES = _solutions()


def _is_blank_stub(node) -> bool:
    """A seminar exercise that starts blank: only a docstring, comments and ``return None``,
    ``pass`` or ``raise NotImplementedError``."""
    body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
    return all(
        isinstance(b, ast.Pass)
        or (isinstance(b, ast.Return) and (b.value is None or isinstance(b.value, ast.Constant)))
        or (isinstance(b, ast.Raise) and "NotImplementedError" in ast.unparse(b))
        for b in body
    )


def _code_cells(path):
    return [(i + 1, strip_magics(c.source)) for i, c in enumerate(read_notebook(path).cells) if c.cell_type == "code"]


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_graded_function_is_defined(path):
    for index, source in _code_cells(path):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        defined = {
            n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not _is_blank_stub(n)
        }
        assigned = {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name) and isinstance(n.value, ast.Lambda)
        }
        leaked = (defined | assigned) & GRADED
        assert not leaked, f"cell {index} defines graded function(s) {sorted(leaked)} in runnable form"


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_line_of_a_reference_solution(path):
    found = [
        f"cell {index}: {SOLUTION_LINES[_normal(line.strip())]}"
        for index, source in _code_cells(path)
        for line in source.splitlines()
        if _normal(line.strip()) in SOLUTION_LINES
    ]
    assert not found, "reference solution lines in a teaching notebook:\n" + "\n".join(found)


def test_the_check_knows_the_graded_functions():
    assert {"batchnorm_forward", "dropout_forward", "conv_forward_naive"} <= GRADED
    assert len(SOLUTION_LINES) > 30


@pytest.mark.parametrize("path", TEACHING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_graded_code_under_other_names(path):
    found = [
        f"cell {index + 1}: {finding}"
        for index, cell in enumerate(read_notebook(path).cells)
        for finding in (
            giveaways_in_code(strip_magics(cell.source))
            if cell.cell_type == "code"
            else giveaways_in_markdown(cell.source)
            if cell.cell_type == "markdown"
            else []
        )
    ]
    assert not found, "graded code in a teaching notebook, up to names:\n" + "\n".join(found)


# What the checks above missed before they compared code up to names (issue 21): a reference
# solution renamed, a statement of one in a seminar sketch, the compact BatchNorm backward in markdown.
RENAMED_BATCHNORM_BACKWARD = """
def bn_grads(g, saved):
    xh, scale, inv = saved
    n = g.shape[0]
    db = g.sum(axis=0)
    dscale = (g * xh).sum(axis=0)
    gh = g * scale
    grad = inv / n * (n * gh - gh.sum(axis=0) - xh * (gh * xh).sum(axis=0))
    return grad, dscale, db
"""
SEMINAR_STATEMENT = """
def sketch(inp, kern, bias, Ho, Wo, k):
    result = 0
    for a in range(Ho):
        for c in range(Wo):
            out_value = inv_s / count * (count * dxh - dxh.sum(axis=0) - xh * (dxh * xh).sum(axis=0))
    return result
"""
MARKDOWN_FORMULA = (
    "or for the whole batch at once, "
    "`dx = gamma / (m * std) * (m * dout - dout.sum(0) - x_hat * (dout * x_hat).sum(0))`. It reads nicely."
)


def test_the_checks_see_graded_code_under_other_names():
    assert any("batchnorm_backward renamed" in f for f in giveaways_in_code(RENAMED_BATCHNORM_BACKWARD))
    assert giveaways_in_code(SEMINAR_STATEMENT), "a reference statement with other names inside a sketch"
    assert giveaways_in_markdown(MARKDOWN_FORMULA), "a numpy-valid backward formula in markdown"
    # What they must let through: the same formula in maths, torch's dim=, a small statement.
    assert not giveaways_in_markdown(r"$$\frac{\partial\ell}{\partial x_i}=\frac{\gamma}{m\,s}\left(m\,g_i\right)$$")
    torch_form = RENAMED_BATCHNORM_BACKWARD.replace("axis=0", "dim=0")
    assert not [f for f in giveaways_in_code(torch_form) if "renamed" in f and "batchnorm_backward" in f]
    assert not giveaways_in_markdown("`m = dout.shape[0]`")
    assert {"dx", "dgamma", "dbeta", "dw"} <= GRADED_GRADIENTS
