"""Which simple relation links a student's wrong array to the right one, said in the student's terms.

A failing comparison is more useful when it says *what* is wrong: the answer is the right one transposed, with its
sign flipped, times the batch size, not summed over the batch, shifted by one time step, one time step short, right
only at the last time step, the 0/1 mask of the answer without the upstream gradient... :func:`diagnose` tries a
fixed list of such relations (each a small function below) and returns the first that holds, worded with what the
check knows (:class:`Context`: the function, the output's name, the names of its axes, the constants of the call,
masks of the input's special elements, the blocks of an axis, and declared known variants).

It runs only on failure and is bounded: a relation is tried only on arrays of a modest size and the search stops
after :data:`BUDGET` seconds. The relations are exact (up to the check's tolerance) and ask for enough elements to
be meaningful, so they do not fire on a correct answer, on noise, or on an unrelated array.

The messages name relations only: they never quote a reference value.

Known variants are declared by the topic's reference module (:func:`variants` registers a function that computes
what a known wrong version returns on the same inputs); :func:`known_variants` gives them to a check.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

PREFIX = "Likely mistake: "
BUDGET = 0.04  # seconds for the whole search; the relations are tried cheapest first
MAX_SIZE = 400_000  # larger arrays get only the cheap relations
_MIN_ELEMENTS = 4  # a relation between fewer elements than this is a coincidence more often than not


# -- the context of a check ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What a check knows about the array it compares, to word a relation in the student's terms.

    Args:
        output: the array's name as the student knows it (``"dW"``, ``"h"``).
        function: the function that returned it (``"linear_backward"``).
        axes: a name per axis of the expected array (``("N", "D")``, ``("T", "N", "H")``); ``None`` entries and
            missing names are said as "axis k".
        constants: ``{name: value}`` of the call (``{"N": 4, "T": 5, "1 - p": 0.7}``): a scale factor equal to one
            of them, or to its inverse, is named.
        masks: ``{description: boolean array of the expected shape}``, e.g. ``{"where x is nonzero": x != 0}``:
            an answer right exactly there and wrong elsewhere is named with the description ("right only ...").
        blocks: ``{axis: letters}``: the axis is made of ``len(letters)`` blocks (``{0: "ifgo"}`` for an LSTM's
            gate rows); the blocks in another order are named with the letters.
        time_axis, batch_axis, channel_axis: which axis is which, when known (or found from ``axes`` names).
        variants: ``{description: array}``: what known wrong versions return on the same inputs.
    """

    output: str = "the result"
    function: str | None = None
    axes: Sequence[str | None] = ()
    constants: Mapping[str, float] = field(default_factory=dict)
    masks: Mapping[str, Any] = field(default_factory=dict)
    blocks: Mapping[int, str] = field(default_factory=dict)
    time_axis: int | None = None
    batch_axis: int | None = None
    channel_axis: int | None = None
    variants: Mapping[str, Any] = field(default_factory=dict)

    def with_(self, **changes: Any) -> Context:
        return replace(self, **changes)

    def axis(self, k: int, shape: Sequence[int] | None = None) -> str:
        """Axis ``k`` in words: its name when known, and its size."""
        name = self.axes[k] if k < len(self.axes) else None
        size = f" (size {shape[k]})" if shape is not None and k < len(shape) else ""
        if name:
            return f"axis {k}, {name}{size}" if size else f"axis {k}, {name}"
        role = {self.batch_axis: "the batch axis", self.time_axis: "the time axis", self.channel_axis: "the channels"}
        if k in role and role[k]:
            return f"axis {k}, {role[k]}{size}"
        return f"axis {k}{size}"

    def role(self, k: int) -> str | None:
        """``"batch"``, ``"time"``, ``"channel"`` or ``None`` for axis ``k``."""
        if k == self.time_axis:
            return "time"
        if k == self.batch_axis:
            return "batch"
        if k == self.channel_axis:
            return "channel"
        name = (self.axes[k] if k < len(self.axes) else None) or ""
        if name in ("T", "time", "seq", "L") or name.startswith("time"):
            return "time"
        if name in ("N", "B", "batch") or name.startswith("batch"):
            return "batch"
        if name in ("C", "C_in", "C_out", "F", "channels") or name.startswith("channel"):
            return "channel"
        return None


_SHAPE_TUPLE = re.compile(r"\(([A-Za-z_][\w ,]*)\)\s*=\s*\(([\d ,]+)\)")
_DICT_ITEM = re.compile(r"['\"]([A-Za-z_]\w*)['\"]\s*:\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\b")
_NAME_EQ = re.compile(r"\b([A-Za-z_]\w*)\s*=\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\b")


def context_from_name(name: str, **extra: Any) -> Context:
    """A :class:`Context` read from an ``assert_close`` name such as ``"dW from linear_backward with (N, D, M) =
    (4, 5, 3)"`` or ``"out from dropout_forward, p=0.3"``: the output (its first word), the function (after
    "from"/"returned by"), and every ``name = number`` it spells out as a constant."""
    text = name or ""
    first = text.split(" ", 1)[0] if text else ""
    function = None
    if re.match(r"[A-Za-z_]\w*\(", first):  # "im2col(x of shape ...) ...": the function's output
        function = first.split("(", 1)[0]
        output = f"the output of {function}"
    else:
        output = first or "the result"
        match = re.search(r"\b(?:from|returned by|of)\s+([A-Za-z_]\w*)", text)
        if match:
            function = match.group(1)
    constants: dict[str, float] = {}
    for names, values in _SHAPE_TUPLE.findall(text):
        keys, nums = [n.strip() for n in names.split(",")], [v.strip() for v in values.split(",")]
        if len(keys) == len(nums):
            constants.update({k: float(v) for k, v in zip(keys, nums) if k and v})
    for key, value in _NAME_EQ.findall(text) + _DICT_ITEM.findall(text):
        constants.setdefault(key, float(value))
    if "constants" in extra:
        constants.update(extra.pop("constants"))
    return Context(output=output, function=function, constants=constants, **extra)


# -- known variants, declared by the topic's reference module ------------------------------------------------------
_VARIANTS: dict[str, Callable[..., Mapping[str, Any]]] = {}


def variants(function: str) -> Callable[[Callable[..., Mapping[str, Any]]], Callable[..., Mapping[str, Any]]]:
    """Declare the known wrong versions of ``function``: the decorated callable takes the inputs of a call and
    returns ``{description: what that wrong version returns}`` (an array, or a tuple with ``None`` where the
    mistake does not matter). A topic's reference module fills the registry; checks read it through
    :func:`known_variants`."""

    def register(fn: Callable[..., Mapping[str, Any]]) -> Callable[..., Mapping[str, Any]]:
        _VARIANTS[function] = fn
        return fn

    return register


def known_variants(function: str, *inputs: Any, **kwargs: Any) -> dict[str, Any]:
    """The declared known variants of ``function`` on these inputs (empty if none are declared)."""
    fn = _VARIANTS.get(function)
    return dict(fn(*inputs, **kwargs)) if fn else {}


def declared() -> list[str]:
    """The functions that have declared known variants."""
    return sorted(_VARIANTS)


# -- helpers ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Pair:
    a: np.ndarray
    e: np.ndarray
    rtol: float
    atol: float
    ctx: Context

    def close(self, x: np.ndarray, y: np.ndarray) -> bool:
        return x.shape == y.shape and bool(np.allclose(x, y, rtol=self.rtol, atol=self.atol))

    def matches(self, candidate: np.ndarray) -> bool:
        """``a`` equals ``candidate`` (which must differ from ``e``: a relation that leaves e unchanged is none)."""
        return self.close(self.a, candidate) and not self.close(self.e, candidate)

    def with_context_only(self) -> _Pair:
        """The same pair with an empty array, so that :func:`_constant_names` lists the context's names only."""
        return _Pair(np.zeros(()), np.zeros(()), self.rtol, self.atol, self.ctx)

    @property
    def out(self) -> str:
        return self.ctx.output


def _meaningful(e: np.ndarray, atol: float) -> bool:
    """Enough nonzero elements for a relation to be more than a coincidence."""
    return e.size >= 2 and int(np.count_nonzero(np.abs(e) > atol)) >= min(_MIN_ELEMENTS, e.size)


def _fraction(value: float) -> str:
    for den in range(1, 13):
        num = value * den
        if abs(num - round(num)) < 1e-9 and abs(round(num)) < 1000:
            return f"{int(round(num))}/{den}" if den > 1 else f"{int(round(num))}"
    return f"{value:.6g}"


# -- the relations, each a small function: (pair) -> description or None ------------------------------------------
def known_variant(p: _Pair) -> str | None:
    """Equal to a declared known variant."""
    for description, value in p.ctx.variants.items():
        if value is None:
            continue
        try:
            candidate = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if p.close(p.a, candidate):
            return description
    return None


def sign_flipped(p: _Pair) -> str | None:
    if p.a.shape == p.e.shape and _meaningful(p.e, p.atol) and p.matches(-p.e):
        return (
            f"{p.out} is the expected value with the opposite sign everywhere: check the sign of each term "
            "(a - b written as b - a, or a minus dropped from a derivative)."
        )
    return None


def _constant_names(p: _Pair) -> list[tuple[float, str]]:
    """Candidate factors and their names: the context's constants, their products, the sizes of the axes, small
    numbers, then ratios of the constants and of their products."""
    names: list[tuple[float, str]] = []
    for key, value in p.ctx.constants.items():
        if value and np.isfinite(value):
            names += [(value, key), (1.0 / value, f"1/{key}" if len(key) < 4 else f"1/({key})")]
    dims = [(key, value) for key, value in p.ctx.constants.items() if value and value > 1 and np.isfinite(value)]
    products = []
    for (k1, v1), (k2, v2) in itertools.combinations_with_replacement(dims, 2):
        product = f"{k1}*{k2}" if k1 != k2 else f"{k1}**2"
        products.append((v1 * v2, product))
        names += [(v1 * v2, product), (1.0 / (v1 * v2), f"1/({product})")]
    for k, n in enumerate(p.e.shape):
        if n > 1:
            if k < len(p.ctx.axes) and p.ctx.axes[k]:
                names += [(float(n), f"{p.ctx.axes[k]}"), (1.0 / n, f"1/{p.ctx.axes[k]}")]
            else:
                names += [(float(n), f"the size of axis {k}"), (1.0 / n, f"one over the size of axis {k}")]
    if p.e.size > 1 and p.e.ndim > 1:
        names += [(float(p.e.size), "the number of elements"), (1.0 / p.e.size, "one over the number of elements")]
    if p.e.ndim:
        names += [(2.0, "2"), (0.5, "1/2"), (4.0, "4"), (0.25, "1/4")]
    # ratios of the context's constants (pool_width/pool_height), then of their products, last: the plainer first
    names += [(v1 / v2, f"{k1}/{k2}") for (k1, v1), (k2, v2) in itertools.permutations(dims, 2)]
    names += [
        (v1 / v2, f"({k1})/({k2})")
        for (v1, k1), (v2, k2) in itertools.permutations(products, 2)
        if not set(re.split(r"\*+", k1)) & set(re.split(r"\*+", k2))
    ]
    return names


def scaled(p: _Pair) -> str | None:
    """``a = c * e`` for one constant ``c`` (not 1 or -1), named when it is one of the context's."""
    a, e = p.a, p.e
    if a.shape != e.shape or not _meaningful(e, p.atol):
        return None
    mask = np.abs(e) > max(p.atol, 1e-12)
    ratio = float(np.median(a[mask] / e[mask]))
    if not np.isfinite(ratio) or ratio == 0 or abs(ratio - 1) < 1e-6 or abs(ratio + 1) < 1e-6:
        return None
    if not p.matches(ratio * e):
        return None
    given = {name for value, name in _constant_names(p.with_context_only())}
    named = [
        name
        for value, name in _constant_names(p)
        if abs(abs(ratio) - value) <= 1e-6 * abs(value) and not re.fullmatch(r"[\d/(). =]+", name)
    ]
    named = sorted(dict.fromkeys(named), key=lambda n: n not in given)[:2]
    sign = "" if ratio > 0 else "minus "
    return (
        f"{p.out} is the expected value times a constant, {sign}{_fraction(abs(ratio))}"
        + (f" (= {' or '.join(named)})" if named else "")
        + ": look for a missing or extra factor (a sum where a mean belongs, or the reverse; a count, a size, a 1/2; "
        "a scaling constant)" + ("; and the sign." if ratio < 0 else ".")
    )


def _reduced(p: _Pair, source: np.ndarray, k: int, how: str) -> np.ndarray:
    return source.sum(axis=k) if how == "summed" else source.mean(axis=k)


def missing_reduction(p: _Pair) -> str | None:
    """``a`` has an extra axis, and summing (or averaging) it over that axis gives ``e``."""
    a, e = p.a, p.e
    if a.ndim != e.ndim + 1:
        return None
    for k in range(a.ndim):
        if a.shape[:k] + a.shape[k + 1 :] != e.shape or a.shape[k] < 2:
            continue
        for how in ("summed", "averaged"):
            if p.close(_reduced(p, a, k, how), e):
                where = f"axis {k} (size {a.shape[k]})"
                return (
                    f"{p.out} is not {how} over its {where}: {how.replace('ed', 'ing')} it over that axis "
                    f"gives the expected value{_role_hint(p, k, a.ndim)}."
                )
    return None


def _role_hint(p: _Pair, k: int, ndim: int) -> str:
    if k == 0:
        return " (a parameter's gradient collects every sample of the batch)"
    return ""


def extra_reduction(p: _Pair) -> str | None:
    """``a`` lacks an axis of ``e`` (or has it of size 1): it is ``e`` summed or averaged over that axis."""
    a, e = p.a, p.e
    for k in range(e.ndim):
        if e.shape[k] < 2:
            continue
        for keep in (False, True):
            shape = e.shape[:k] + ((1,) if keep else ()) + e.shape[k + 1 :]
            if a.shape != shape and not (a.ndim == 0 and shape == ()):
                continue
            for how in ("summed", "averaged"):
                reduced = e.sum(axis=k, keepdims=keep) if how == "summed" else e.mean(axis=k, keepdims=keep)
                if p.close(a.reshape(reduced.shape), reduced):
                    return (
                        f"{p.out} is {how} over {p.ctx.axis(k, e.shape)}, which must be kept: the expected value "
                        f"has one entry per index of that axis."
                    )
    # same shape: the reduction broadcast back over the axis
    if a.shape == e.shape:
        for k in range(e.ndim):
            if e.shape[k] < 2:
                continue
            for how in ("summed", "averaged"):
                reduced = e.sum(axis=k, keepdims=True) if how == "summed" else e.mean(axis=k, keepdims=True)
                if _meaningful(e, p.atol) and p.matches(np.broadcast_to(reduced, e.shape)):
                    return (
                        f"{p.out} holds the expected values {how} over {p.ctx.axis(k, e.shape)}, the same for every "
                        "index of that axis: a sum or mean taken over an axis that must be kept."
                    )
    return None


def _perms(ndim: int) -> list[tuple[int, ...]]:
    return [q for q in itertools.permutations(range(ndim)) if q != tuple(range(ndim))] if ndim <= 5 else []


def permuted(p: _Pair) -> str | None:
    """``a`` is ``e`` with its axes permuted (a transpose), or ``e`` permuted and reshaped to another shape (a
    reshape where a transpose was needed), or ``e``'s elements in ``a``'s shape in C order (a reshape where the
    axes had to be moved)."""
    a, e = p.a, p.e
    if a.size != e.size or e.size < _MIN_ELEMENTS or not _meaningful(e, p.atol):
        return None
    for q in _perms(e.ndim):
        moved = np.transpose(e, q)
        if moved.shape == a.shape and p.matches(moved):
            if e.ndim == 2:
                return f"{p.out} is the transpose of the expected array: its rows and columns are swapped."
            return (
                f"{p.out} has its axes in the wrong order: it is the expected array with its axes permuted as "
                f"{q} (np.transpose(expected, {q})); check the layout the docstring gives."
            )
    for q in _perms(e.ndim):
        moved = np.transpose(e, q).reshape(a.shape)
        if p.matches(moved):
            return (
                f"{p.out} holds the right numbers in the wrong places: it is the expected array with its axes "
                f"reordered as {q} and then reshaped. A reshape (or .T then reshape) was used where the axes "
                "had to be moved with a transpose first; reshape never moves data between axes."
            )
    if a.shape != e.shape and p.close(a, e.reshape(a.shape)):
        return (
            f"{p.out} has the right numbers in the right order but the shape {a.shape}, expected {e.shape}: "
            "reshape it to the documented shape."
        )
    if a.shape == e.shape:
        for shape in _other_shapes(e.shape):
            for q in _perms(len(shape)):
                moved = np.transpose(e.reshape(shape), q).reshape(e.shape)
                if p.matches(moved):
                    return (
                        f"{p.out} holds the right numbers in the wrong places: its elements are the expected ones "
                        "in another order. A reshape was used where a transpose was needed (reshape keeps the "
                        "order of the elements; moving an axis needs a transpose)."
                    )
    return None


def _other_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes with the same element count that a student could have reshaped through: axes merged or split in
    two (small search)."""
    out = []
    if len(shape) >= 3:
        for k in range(len(shape) - 1):
            merged = shape[:k] + (shape[k] * shape[k + 1],) + shape[k + 2 :]
            out.append(merged)
    return [s for s in out if len(s) >= 2][:4]


def _slices(ndim: int, k: int, sl: slice) -> tuple[slice, ...]:
    return tuple(sl if j == k else slice(None) for j in range(ndim))


def shifted(p: _Pair) -> str | None:
    """``a`` is ``e`` shifted by one along an axis (each element holds its neighbour's value)."""
    a, e = p.a, p.e
    if a.shape != e.shape or not _meaningful(e, p.atol):
        return None
    for k in _axes_by_role(p, ("time", None, "batch", "channel")):
        n = e.shape[k]
        if n < 3:
            continue
        head, tail = _slices(e.ndim, k, slice(None, -1)), _slices(e.ndim, k, slice(1, None))
        if p.close(e[tail], e[head]):
            continue  # e does not change along k: a shift is invisible
        for direction, (got, want) in (("late", (tail, head)), ("early", (head, tail))):
            if p.close(a[got], e[want]) and _meaningful(e[want], p.atol):
                step = "time step" if p.ctx.role(k) == "time" else "position"
                which = (
                    "each entry holds the value of the previous " + step
                    if direction == "late"
                    else "each entry holds the value of the next " + step
                )
                return (
                    f"{p.out} is shifted by one along {p.ctx.axis(k, e.shape)}: {which}. An off-by-one in the "
                    f"index along that axis (a value stored one {step} {direction})."
                )
    return None


def _axes_by_role(p: _Pair, order: Sequence[str | None]) -> list[int]:
    axes = list(range(p.e.ndim))
    return sorted(axes, key=lambda k: order.index(p.ctx.role(k)) if p.ctx.role(k) in order else len(order))


def reversed_along(p: _Pair) -> str | None:
    """``a`` is ``e`` reversed along one axis or several (a flipped kernel is reversed along its last two)."""
    a, e = p.a, p.e
    if a.shape != e.shape or not _meaningful(e, p.atol):
        return None
    axes = [k for k in range(e.ndim) if e.shape[k] > 1]
    for r in range(1, min(len(axes), 3) + 1):
        for subset in itertools.combinations(axes, r):
            flipped = np.flip(e, axis=subset)
            if p.matches(flipped):
                where = " and ".join(p.ctx.axis(k, e.shape) for k in subset)
                kernel = (
                    " With the two spatial axes that is a flipped kernel: deep learning's convolution is a "
                    "cross-correlation, it does not flip the kernel."
                    if r == 2 and subset == (e.ndim - 2, e.ndim - 1) and e.ndim >= 2
                    else ""
                )
                time_hint = " (the sequence is walked backwards)" if r == 1 and p.ctx.role(subset[0]) == "time" else ""
                return f"{p.out} is the expected array reversed along {where}{time_hint}.{kernel}"
    return None


def blocks_permuted(p: _Pair) -> str | None:
    """``a``'s equal blocks along an axis are ``e``'s in another order (gates, channel groups)."""
    a, e = p.a, p.e
    if a.shape != e.shape or not _meaningful(e, p.atol):
        return None
    candidates: list[tuple[int, int, str | None]] = [(axis, len(letters), letters) for axis, letters in
                                                     p.ctx.blocks.items()]  # fmt: skip
    if not p.ctx.blocks:
        candidates = [(axis, k, None) for axis in range(e.ndim) for k in (2, 3, 4)]
    for axis, k, letters in candidates:
        axis = axis % e.ndim if e.ndim else 0
        n = e.shape[axis] if e.ndim else 0
        if n < k or n % k:
            continue
        size = n // k
        if size < 1 or (letters is None and size < 2):
            continue  # single elements in another order: too loose a relation without named blocks
        eb = np.split(e, k, axis=axis)
        if any(p.close(eb[i], eb[j]) for i in range(k) for j in range(i + 1, k)):
            continue
        ab = np.split(a, k, axis=axis)
        for perm in itertools.permutations(range(k)):
            if perm == tuple(range(k)):
                continue
            if all(p.close(ab[j], eb[perm[j]]) for j in range(k)):
                if letters:
                    order = "".join(letters[i] for i in perm)
                    return (
                        f"the blocks of {p.out} along {p.ctx.axis(axis, e.shape)} are the right ones in the wrong "
                        f"order ({order} instead of {letters}): the order of the {k} blocks ({', '.join(letters)}) "
                        "is fixed by the docstring."
                    )
                return (
                    f"the {k} blocks of {p.out} along {p.ctx.axis(axis, e.shape)} (of {size} each) are the right "
                    f"ones in the wrong order (block {list(perm)} of the expected one in each place)."
                )
    return None


def _generic_masks(p: _Pair) -> list[tuple[str, str, np.ndarray]]:
    """``(where it is right, where it is not, mask)``: the context's masks, then the first and last index of the
    axes whose role is known (and of axis 0), then the interior of the last two (spatial) axes."""
    e = p.e
    out: list[tuple[str, str, np.ndarray]] = []
    for desc, mask in p.ctx.masks.items():
        m = np.asarray(mask, dtype=bool)
        if m.shape == e.shape:
            out.append((f"only {desc}", "elsewhere", m))
    for k in range(e.ndim):
        n, role = e.shape[k], p.ctx.role(k)
        if n < 2 or (role is None and k != 0) or e.size // n < 2:
            continue  # one index of an axis without a role, or a single element, is too loose a part to name
        noun = {"time": "time step", "batch": "sample", "channel": "channel"}.get(role or "", "index")
        for index, label in ((n - 1, "last"), (0, "first")):
            m = np.zeros(e.shape, dtype=bool)
            m[_slices(e.ndim, k, slice(index, index + 1))] = True
            where = f"the {label} {noun} (index {index} of {p.ctx.axis(k, e.shape)})"
            out.append((f"only at {where}", f"at the other {noun}s" if noun != "index" else "at the others", m))
            if n > 2:
                out.append((f"everywhere but at {where}", "there", ~m))
    spatial = [k for k in range(e.ndim) if e.ndim >= 2 and k >= e.ndim - 2 and e.shape[k] >= 3]
    if len(spatial) == 2 or (len(spatial) == 1 and e.ndim == 1):
        m = np.zeros(e.shape, dtype=bool)
        m[tuple(slice(1, -1) if k in spatial else slice(None) for k in range(e.ndim))] = True
        out.append(("only in the interior", "on the border", m))
    return out


def partly_right(p: _Pair) -> str | None:
    """``a`` is right exactly on a part that a mask describes, and wrong on the rest."""
    a, e = p.a, p.e
    if a.shape != e.shape or e.size < _MIN_ELEMENTS:
        return None
    ok = np.isclose(a, e, rtol=p.rtol, atol=p.atol)
    if ok.all() or not ok.any():
        return None
    for inside_words, outside_words, mask in _generic_masks(p):
        if mask.all() or not mask.any():
            continue
        inside, outside = ok[mask], ok[~mask]
        if inside.all() and outside.mean() < 0.5 and not outside.all():
            rest = ~mask & ~ok
            if bool(np.all(np.abs(a[rest]) <= p.atol)):
                return f"{p.out} is right {inside_words} and 0 {outside_words}: that part is never computed."
            return f"{p.out} is right {inside_words} and wrong {outside_words}."
    return None


def truncated(p: _Pair) -> str | None:
    """``a`` is ``e`` with entries missing (or extra) at one end of one axis: a loop that stops early (or runs on)."""
    a, e = p.a, p.e
    if a.ndim != e.ndim or a.shape == e.shape or a.size == 0:
        return None
    axes = [k for k in range(e.ndim) if a.shape[k] != e.shape[k]]
    if len(axes) != 1:
        return None
    k = axes[0]
    n, m = e.shape[k], a.shape[k]
    noun = {"time": "time step", "batch": "sample", "channel": "channel"}.get(p.ctx.role(k) or "", "entry")
    if m < n:
        for end, part in (("last", slice(0, m)), ("first", slice(n - m, n))):
            if _meaningful(e[_slices(e.ndim, k, part)], p.atol) and p.close(a, e[_slices(e.ndim, k, part)]):
                count = "" if n - m == 1 else f"{n - m} "
                plural = "" if n - m == 1 else "s"
                return (
                    f"{p.out} lacks the {end} {count}{noun}{plural} along {p.ctx.axis(k, e.shape)}: it has {m} "
                    f"where {n} are expected, and the others are right. A loop that stops early (range(n - 1) for "
                    "range(n)) or a slice one short."
                )
    else:
        for end, part in (("at the end", slice(0, n)), ("at the start", slice(m - n, m))):
            if _meaningful(e, p.atol) and p.close(a[_slices(a.ndim, k, part)], e):
                return (
                    f"{p.out} has {m - n} {noun}{'' if m - n == 1 else 's'} too many {end} along "
                    f"{p.ctx.axis(k, e.shape)}: the others are right. A loop that runs one step too far, or an "
                    "initial value kept in the output."
                )
    return None


def elementwise(p: _Pair) -> str | None:
    """``a`` is a simple elementwise function of ``e``: its 0/1 indicator (the upstream gradient not multiplied
    in), its positive part (a maximum started at 0), or ``e`` rounded down (integer division)."""
    a, e = p.a, p.e
    if a.shape != e.shape or not _meaningful(e, p.atol):
        return None
    nonzero = np.abs(e) > p.atol
    if nonzero.any() and not nonzero.all() and p.matches(nonzero.astype(np.float64)):
        return (
            f"{p.out} is 1 wherever the expected value is nonzero and 0 elsewhere: the right positions, but the "
            "values that belong there (the upstream gradient, dout) are not multiplied in."
        )
    if (e < -p.atol).any() and p.matches(np.maximum(e, 0.0)):
        return (
            f"{p.out} is right where the expected value is positive and 0 where it is negative: negative values "
            "are cut to 0 (a running maximum started at 0 rather than -inf, or a ReLU where none belongs)."
        )
    if not np.allclose(e, np.round(e)) and p.matches(np.floor(e)):
        return f"{p.out} is the expected value rounded down: integer division (//) where a true division (/) belongs."
    return None


RELATIONS: tuple[Callable[[_Pair], str | None], ...] = (
    known_variant,
    sign_flipped,
    scaled,
    missing_reduction,
    extra_reduction,
    truncated,
    elementwise,
    permuted,
    reversed_along,
    shifted,
    blocks_permuted,
    partly_right,
)
_CHEAP = {known_variant, sign_flipped, scaled, missing_reduction, extra_reduction, truncated, elementwise}


def diagnose(
    actual: Any,
    expected: Any,
    context: Context | str | None = None,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    budget: float = BUDGET,
) -> str | None:
    """The first relation that links ``actual`` to ``expected``, in words (without the "Likely mistake: "
    prefix), or ``None``. ``context`` is a :class:`Context`, or a check's name read by :func:`context_from_name`.
    The tolerances are the check's, slightly widened for the reductions' rounding."""
    ctx = context_from_name(context) if isinstance(context, str) else (context or Context())
    try:
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        return None
    if not ctx.axes and ctx.constants:
        ctx = ctx.with_(axes=_axes_from_constants(e.shape, ctx.constants))
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    pair = _Pair(a, e, max(rtol, 1e-9), max(atol, 1e-12 * scale), ctx)
    start = time.perf_counter()
    for relation in RELATIONS:
        if relation not in _CHEAP and (max(a.size, e.size) > MAX_SIZE or time.perf_counter() - start > budget):
            continue
        try:
            found = relation(pair)
        except (ValueError, IndexError, FloatingPointError):
            found = None
        if found:
            return found
    return None


def _axes_from_constants(shape: Sequence[int], constants: Mapping[str, float]) -> tuple[str | None, ...]:
    """A name for each axis whose size is the value of exactly one dimension-like constant (``N``, ``T``, ``H_out``),
    when those names are distinct."""
    dims = {k: v for k, v in constants.items() if re.fullmatch(r"[A-Z][A-Za-z_]*", k)}
    names = []
    for n in shape:
        matching = [k for k, v in dims.items() if v == n]
        names.append(matching[0] if len(matching) == 1 else None)
    known = [n for n in names if n]
    return tuple(names) if len(known) == len(set(known)) else ()


def explain(actual: Any, expected: Any, context: Context | str | None = None, **kwargs: Any) -> str | None:
    """:func:`diagnose` as the one line a failure message carries: ``"Likely mistake: ..."``, or ``None``."""
    found = diagnose(actual, expected, context, **kwargs)
    return PREFIX + found if found else None


# -- counts -----------------------------------------------------------------------------------------------------
def explain_count(got: int, expected: int, terms: Mapping[str, int], what: str = "count") -> str | None:
    """Why a count (parameters, multiply-adds) is off, from its difference: ``terms`` maps a mistake to the amount
    it adds to the right count (negative: it removes). One term, a pair of terms of one sign, or a factor 2 or 1/2
    (FLOPs vs MACs) that gives ``got`` is named; ``None`` if none does. Never states the expected count."""
    if got == expected:
        return None
    if expected and got == 2 * expected:
        return f"the {what} is twice the right one: these are FLOPs (2 per multiply-add); count multiply-adds."
    if got and 2 * got == expected:
        return f"the {what} is half the right one: count one multiply-add per product, not per two operations."
    diff = got - expected
    items = [(name, amount) for name, amount in terms.items() if amount]
    for name, amount in items:
        if amount == diff:
            return name
    for (n1, a1), (n2, a2) in itertools.combinations(items, 2):
        if a1 + a2 == diff and (a1 > 0) == (a2 > 0):  # two omissions or two extras, not one hiding the other
            return f"{n1.rstrip('.')}; and {n2}"
    return None
