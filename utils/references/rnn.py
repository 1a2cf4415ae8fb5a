"""Torch references for assignment 5 (recurrent networks), imported by its locked test cells.

Weights have torch's layout: the rows of a weight matrix are the gate blocks, in torch's order.

=====  ==============================================================  ================
cell   parameters (D inputs, H hidden units)                           gate blocks
=====  ==============================================================  ================
RNN    ``w_ih (H, D), w_hh (H, H), b (H,)``                            one block
LSTM   ``w_ih (4H, D), w_hh (4H, H), b (4H,)``                         i, f, g, o
GRU    ``w_ih (3H, D), w_hh (3H, H), b_ih (3H,), b_hh (3H,)``          r, z, n
=====  ==============================================================  ================

A single bias ``b`` is torch's ``bias_ih + bias_hh`` (the torch modules built here get
``bias_ih = b`` and ``bias_hh = 0``); the GRU keeps both because ``b_hn`` sits inside the reset
gate. Sequences are ``x (T, N, D)`` and hidden states ``(T, N, H)``, torch's default layout.

The step caches are the tuples the assignment's docstrings fix:

* RNN: ``(x, h_prev, w_ih, w_hh, h)``;
* LSTM: ``(x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)``;
* GRU: ``(x, h_prev, w_ih, w_hh, r, z, n, hn)`` with ``hn = h_prev w_hn^T + b_hn``;

and a sequence cache is the list of its T step caches in time order.

Students may read this module: it holds torch modules and autograd, never a numpy answer. The
backward stand-ins differentiate with autograd, through torch's own activation derivatives
(``tanh_backward``, ``sigmoid_backward``) evaluated at the activations stored in the cache, so they
accept any cache of the documented layout. The likely mistakes are computed the same way: autograd
through a variant of the cell (a detached path, a derivative left out, a permuted gate block).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import assert_close
from ..diagnose import context_from_name, explain, known_variants, variants
from . import checked_call, likely_cause

DT = torch.float64
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
CACHE_FIELDS = {
    "rnn": ("x", "h_prev", "w_ih", "w_hh", "h"),
    "lstm": ("x", "h_prev", "c_prev", "w_ih", "w_hh", "i", "f", "g", "o", "c"),
    "gru": ("x", "h_prev", "w_ih", "w_hh", "r", "z", "n", "hn"),
}
CACHE_MEANING = {
    "rnn": "the step's inputs and weights as given, and h, the new hidden state (after tanh).",
    "lstm": "the step's inputs and weights as given, the gate activations i, f, g, o (after their sigmoid or "
    "tanh) and c, the new cell state.",
    "gru": "the step's inputs and weights as given, the gate activations r, z, n (after their sigmoid or tanh) "
    "and hn = h_prev @ w_hn.T + b_hn, the hidden part of n's pre-activation before the reset gate.",
}
PARAMS = {"rnn": ("w_ih", "w_hh", "b"), "lstm": ("w_ih", "w_hh", "b"), "gru": ("w_ih", "w_hh", "b_ih", "b_hh")}
STEP_GRADS = {
    "rnn": ("dx", "dh_prev", "dw_ih", "dw_hh", "db"),
    "lstm": ("dx", "dh_prev", "dc_prev", "dw_ih", "dw_hh", "db"),
    "gru": ("dx", "dh_prev", "dw_ih", "dw_hh", "db_ih", "db_hh"),
}
SEQUENCE_GRADS = {
    "rnn": ("dx", "dh0", "dw_ih", "dw_hh", "db"),
    "lstm": ("dx", "dh0", "dc0", "dw_ih", "dw_hh", "db"),
    "gru": ("dx", "dh0", "dw_ih", "dw_hh", "db_ih", "db_hh"),
}
LAYOUT_HINT = {
    "rnn": "Shapes: x (N, D), h_prev (N, H), w_ih (H, D), w_hh (H, H), b (H,): torch's layout, so the "
    "input enters as x @ w_ih.T.",
    "lstm": "Shapes: x (N, D), h_prev and c_prev (N, H), w_ih (4H, D), w_hh (4H, H), b (4H,): torch's "
    "layout, so the input enters as x @ w_ih.T, an (N, 4H) array of gate blocks i, f, g, o.",
    "gru": "Shapes: x (N, D), h_prev (N, H), w_ih (3H, D), w_hh (3H, H), b_ih and b_hh (3H,): torch's "
    "layout, so the input enters as x @ w_ih.T, an (N, 3H) array of gate blocks r, z, n.",
}


def _t(a: Any, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=DT, requires_grad=grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


# --- parameters and cases --------------------------------------------------------------------------


def random_params(kind: str, D: int, H: int, rng: np.random.Generator, scale: float = 0.5) -> tuple:
    """Random parameters of a ``kind`` cell ("rnn", "lstm" or "gru") in torch's layout, in the
    order the assignment's functions take them."""
    rows = {"rnn": H, "lstm": 4 * H, "gru": 3 * H}[kind]
    w_ih = rng.normal(scale=scale, size=(rows, D))
    w_hh = rng.normal(scale=scale, size=(rows, H))
    if kind == "gru":
        return w_ih, w_hh, rng.normal(scale=scale, size=rows), rng.normal(scale=scale, size=rows)
    return w_ih, w_hh, rng.normal(scale=scale, size=rows)


# --- torch modules with given weights ----------------------------------------------------------------


def _load(module: torch.nn.Module, kind: str, params: Sequence[np.ndarray], suffix: str = "") -> torch.nn.Module:
    w_ih, w_hh, *biases = params
    b_ih, b_hh = (biases[0], np.zeros_like(biases[0])) if kind != "gru" else biases
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(_t(w_ih))
        getattr(module, "weight_hh" + suffix).copy_(_t(w_hh))
        getattr(module, "bias_ih" + suffix).copy_(_t(b_ih))
        getattr(module, "bias_hh" + suffix).copy_(_t(b_hh))
    return module


def torch_cell(kind: str, *params: np.ndarray) -> torch.nn.Module:
    """A float64 ``nn.RNNCell`` (tanh), ``nn.LSTMCell`` or ``nn.GRUCell`` holding ``params``."""
    H, D = params[1].shape[1], params[0].shape[1]
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    return _load(cls(D, H, dtype=DT), kind, params)


def torch_module(kind: str, *params: np.ndarray) -> torch.nn.Module:
    """A float64 one-layer ``nn.RNN`` (tanh), ``nn.LSTM`` or ``nn.GRU`` (time first) holding ``params``."""
    H, D = params[1].shape[1], params[0].shape[1]
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    return _load(cls(D, H, dtype=DT), kind, params, suffix="_l0")


# --- one step: outputs and gradients by the torch cells ----------------------------------------------


def rnn_cell(x, h_prev, w_ih, w_hh, b) -> np.ndarray:
    """``nn.RNNCell``: x (N, D), h_prev (N, H) -> h (N, H)."""
    with torch.no_grad():
        return _np(torch_cell("rnn", w_ih, w_hh, b)(_t(x), _t(h_prev)))


def lstm_cell(x, h_prev, c_prev, w_ih, w_hh, b) -> tuple[np.ndarray, np.ndarray]:
    """``nn.LSTMCell``: -> (h, c), each (N, H)."""
    with torch.no_grad():
        h, c = torch_cell("lstm", w_ih, w_hh, b)(_t(x), (_t(h_prev), _t(c_prev)))
    return _np(h), _np(c)


def gru_cell(x, h_prev, w_ih, w_hh, b_ih, b_hh) -> np.ndarray:
    """``nn.GRUCell``: -> h (N, H)."""
    with torch.no_grad():
        return _np(torch_cell("gru", w_ih, w_hh, b_ih, b_hh)(_t(x), _t(h_prev)))


def _param_grads(module: torch.nn.Module, kind: str, suffix: str = "") -> list[np.ndarray]:
    g = {name: _np(p.grad) for name, p in module.named_parameters()}
    if kind == "gru":
        return [g["weight_ih" + suffix], g["weight_hh" + suffix], g["bias_ih" + suffix], g["bias_hh" + suffix]]
    # one bias b = bias_ih + bias_hh: its gradient is either one's
    return [g["weight_ih" + suffix], g["weight_hh" + suffix], g["bias_ih" + suffix]]


def rnn_cell_grads(dh, x, h_prev, w_ih, w_hh, b) -> tuple:
    """Autograd through ``nn.RNNCell``: -> (dx, dh_prev, dw_ih, dw_hh, db)."""
    cell = torch_cell("rnn", w_ih, w_hh, b)
    xt, ht = _t(x, True), _t(h_prev, True)
    cell(xt, ht).backward(_t(dh))
    return (_np(xt.grad), _np(ht.grad), *_param_grads(cell, "rnn"))


def lstm_cell_grads(dh, dc, x, h_prev, c_prev, w_ih, w_hh, b) -> tuple:
    """Autograd through ``nn.LSTMCell`` with upstream dh and dc: -> (dx, dh_prev, dc_prev, dw_ih, dw_hh, db)."""
    cell = torch_cell("lstm", w_ih, w_hh, b)
    xt, ht, ct = _t(x, True), _t(h_prev, True), _t(c_prev, True)
    h, c = cell(xt, (ht, ct))
    torch.autograd.backward([h, c], [_t(dh), _t(dc)])
    return (_np(xt.grad), _np(ht.grad), _np(ct.grad), *_param_grads(cell, "lstm"))


def gru_cell_grads(dh, x, h_prev, w_ih, w_hh, b_ih, b_hh) -> tuple:
    """Autograd through ``nn.GRUCell``: -> (dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh)."""
    cell = torch_cell("gru", w_ih, w_hh, b_ih, b_hh)
    xt, ht = _t(x, True), _t(h_prev, True)
    cell(xt, ht).backward(_t(dh))
    return (_np(xt.grad), _np(ht.grad), *_param_grads(cell, "gru"))


# --- whole sequences by nn.RNN / nn.LSTM / nn.GRU -------------------------------------------------------


def rnn_sequence(x, h0, w_ih, w_hh, b) -> np.ndarray:
    """``nn.RNN``: x (T, N, D), h0 (N, H) -> every hidden state, (T, N, H)."""
    with torch.no_grad():
        return _np(torch_module("rnn", w_ih, w_hh, b)(_t(x), _t(h0)[None])[0])


def lstm_sequence(x, h0, c0, w_ih, w_hh, b) -> np.ndarray:
    """``nn.LSTM``: x (T, N, D), h0 and c0 (N, H) -> every hidden state h, (T, N, H)."""
    with torch.no_grad():
        return _np(torch_module("lstm", w_ih, w_hh, b)(_t(x), (_t(h0)[None], _t(c0)[None]))[0])


def gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh) -> np.ndarray:
    """``nn.GRU``: x (T, N, D), h0 (N, H) -> every hidden state, (T, N, H)."""
    with torch.no_grad():
        return _np(torch_module("gru", w_ih, w_hh, b_ih, b_hh)(_t(x), _t(h0)[None])[0])


def rnn_sequence_grads(dh, x, h0, w_ih, w_hh, b) -> tuple:
    """Autograd through ``nn.RNN`` with upstream dh (T, N, H) on every hidden state:
    -> (dx, dh0, dw_ih, dw_hh, db)."""
    module = torch_module("rnn", w_ih, w_hh, b)
    xt, ht = _t(x, True), _t(h0, True)
    module(xt, ht[None])[0].backward(_t(dh))
    return (_np(xt.grad), _np(ht.grad), *_param_grads(module, "rnn", "_l0"))


def lstm_sequence_grads(dh, x, h0, c0, w_ih, w_hh, b) -> tuple:
    """Autograd through ``nn.LSTM``: -> (dx, dh0, dc0, dw_ih, dw_hh, db)."""
    module = torch_module("lstm", w_ih, w_hh, b)
    xt, ht, ct = _t(x, True), _t(h0, True), _t(c0, True)
    module(xt, (ht[None], ct[None]))[0].backward(_t(dh))
    return (_np(xt.grad), _np(ht.grad), _np(ct.grad), *_param_grads(module, "lstm", "_l0"))


def gru_sequence_grads(dh, x, h0, w_ih, w_hh, b_ih, b_hh) -> tuple:
    """Autograd through ``nn.GRU``: -> (dx, dh0, dw_ih, dw_hh, db_ih, db_hh)."""
    module = torch_module("gru", w_ih, w_hh, b_ih, b_hh)
    xt, ht = _t(x, True), _t(h0, True)
    module(xt, ht[None])[0].backward(_t(dh))
    return (_np(xt.grad), _np(ht.grad), *_param_grads(module, "gru", "_l0"))


# --- a cell written with torch ops, with switches for the likely mistakes -------------------------------


class _Activation(torch.autograd.Function):
    """An activation whose output is given (``out``) and whose derivative may be a wrong one.

    forward(pre, out, kind) returns ``out``; backward sends the upstream gradient to ``pre`` through
    the derivative named by ``kind``: "tanh" and "sigmoid" are torch's own (tanh_backward and
    sigmoid_backward at the output); "none" forgets the derivative; "one_minus_out" uses 1 - out for
    tanh' (the square forgotten); "tanh_again" applies tanh' to the output once more (1 - tanh(out)^2).
    """

    @staticmethod
    def forward(ctx, pre, out, kind):
        ctx.save_for_backward(out)
        ctx.kind = kind
        return out.clone()

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        kind = ctx.kind
        if kind == "tanh":
            g = torch.ops.aten.tanh_backward(grad, out)
        elif kind == "sigmoid":
            g = torch.ops.aten.sigmoid_backward(grad, out)
        elif kind == "none":
            g = grad
        elif kind == "one_minus_out":
            g = grad * (1 - out)
        elif kind == "tanh_again":
            g = torch.ops.aten.tanh_backward(grad, torch.tanh(out))
        else:
            raise ValueError(kind)
        return g, None, None


def _act(pre: torch.Tensor, kind: str, out: torch.Tensor | None = None, derivative: str | None = None) -> torch.Tensor:
    """``kind`` ("tanh", "sigmoid", "relu") of ``pre``; with ``out`` given, that value is used (the
    cached activation) and the derivative is ``derivative`` (default: the true one)."""
    if out is None and derivative is None:
        return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[kind](pre)
    if out is None:
        out = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[kind](pre.detach())
    return _Activation.apply(pre, out, derivative or kind)


def _straight(value: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """``value`` in the forward pass, with the gradient of ``path`` (identity) in the backward pass."""
    return path + (value - path).detach()


def _perm(order: str, names: str) -> list[int]:
    return [names.index(g) for g in order]


def _blocks(a: torch.Tensor, k: int, order: str, names: str) -> list[torch.Tensor]:
    """The k gate blocks of ``a`` (..., k*H) read in ``order`` and returned in the order ``names``."""
    chunks = a.chunk(k, dim=-1)
    return [chunks[order.index(g)] for g in names]


def rnn_step_torch(
    x, h_prev, w_ih, w_hh, b, *, act="tanh", cached=None, derivative=None, transpose_hh=False, no_recurrence=False
):
    """The RNN step in torch ops (tensors in, tensor out), with switches for mistakes. With ``cached``
    (h) the output is that value and the derivative is ``derivative`` (see :class:`_Activation`)."""
    pre = F.linear(x, w_ih) + b
    if not no_recurrence:
        pre = pre + F.linear(h_prev, w_hh.T if transpose_hh else w_hh)
    return _act(pre, act, cached, derivative)


def lstm_step_torch(
    x,
    h_prev,
    c_prev,
    w_ih,
    w_hh,
    b,
    *,
    order="ifgo",
    g_act="tanh",
    cell_tanh=True,
    use_i=True,
    cached=None,
    derivative=None,
    cell_derivative=None,
    dc_prev_times_f=True,
    o_grad_uses_c=False,
    gate_derivative=None,
):
    """The LSTM step in torch ops -> (h, c). ``order``: how the rows of the weights are read.

    With ``cached`` = (i, f, g, o) the gate values are those, and ``derivative`` (for the gates) and
    ``cell_derivative`` (for tanh(c)) may name wrong derivatives (see :class:`_Activation`).
    """
    pre = F.linear(x, w_ih) + F.linear(h_prev, w_hh) + b
    ai, af, ag, ao = _blocks(pre, 4, order, "ifgo")
    if cached is None:
        i, f, o = torch.sigmoid(ai), torch.sigmoid(af), torch.sigmoid(ao)
        g = _act(ag, g_act)
    else:
        ci, cf, cg, co = cached
        wrong = dict(gate_derivative or {})  # a gate's derivative written wrong, e.g. {"f": "one_minus_out"}
        i, f, o = (
            _act(a, "sigmoid", v, wrong.get(name) or (derivative and "none"))
            for name, a, v in (("i", ai, ci), ("f", af, cf), ("o", ao, co))
        )
        g = _act(ag, "tanh", cg, wrong.get("g") or (derivative and "none"))
    carried = f * c_prev if dc_prev_times_f else f * c_prev.detach() + c_prev - c_prev.detach()
    c = carried + (i * g if use_i else g)
    if not cell_tanh:
        return o * c, c
    squashed = _act(c, "tanh", None, cell_derivative) if cell_derivative else torch.tanh(c)
    if o_grad_uses_c:  # the value o * tanh(c), but the gradient of o taken as dh * c
        return o.detach() * squashed + (o - o.detach()) * c.detach(), c
    return o * squashed, c


def gru_step_torch(
    x,
    h_prev,
    w_ih,
    w_hh,
    b_ih,
    b_hh,
    *,
    order="rzn",
    update="torch",
    reset="after",
    b_hn="inside",
    cached=None,
    derivative=None,
    direct_path=True,
    reset_path=True,
    no_reset=False,
    gate_derivative=None,
    z_grad_sign=1,
    r_grad_uses_h_prev=False,
):
    """The GRU step in torch ops -> h. ``update``: "torch" (h = (1 - z) n + z h_prev, as Cho et al.'s
    paper too) or "slides" (h = z n + (1 - z) h_prev, the course slides' and Olah's reading of z);
    ``reset``: "after" (torch: r * (W_hn h + b_hn)) or "before" (Cho et al.: W_hn (r * h));
    ``b_hn``: "inside" the reset gate (torch) or "outside".

    With ``cached`` = (r, z, n, hn) the activations and hn are those of the cache.
    """
    gi = F.linear(x, w_ih, b_ih)
    ir, iz, in_ = _blocks(gi, 3, order, "rzn")
    w_r, w_z, w_n = _blocks(w_hh.T, 3, order, "rzn")
    bh_r, bh_z, bh_n = _blocks(b_hh, 3, order, "rzn")
    wrong = dict(gate_derivative or {})  # a gate's derivative written wrong, e.g. {"n": "one_minus_out"}
    if cached is None:
        r = torch.sigmoid(ir + h_prev @ w_r + bh_r)
        z = torch.sigmoid(iz + h_prev @ w_z + bh_z)
    else:
        cr, cz, cn, chn = cached
        r = _act(ir + h_prev @ w_r + bh_r, "sigmoid", cr, wrong.get("r") or (derivative and "none"))
        z = _act(iz + h_prev @ w_z + bh_z, "sigmoid", cz, wrong.get("z") or (derivative and "none"))
    if z_grad_sign == -1:  # the value z, the gradient of -z: dL/dz with its sign flipped
        z = 2 * z.detach() - z
    r_used = r if reset_path else r.detach()
    if no_reset:
        r_used = torch.ones_like(r)
    if reset == "before":
        inner = (r_used * h_prev) @ w_n + bh_n
    elif b_hn == "inside":
        hn = h_prev @ w_n + bh_n
        if cached is not None:
            hn = _straight(chn, hn)
        inner = r_used * hn
        if r_grad_uses_h_prev:  # the value r * hn, but the gradient of r taken as (...) * h_prev (Cho's form)
            inner = r_used.detach() * hn + (r_used - r_used.detach()) * h_prev.detach()
    else:
        hn = h_prev @ w_n
        if cached is not None:
            hn = _straight(chn - bh_n.detach(), hn)
        inner = r_used * hn + bh_n
    if cached is None:
        n = torch.tanh(in_ + inner)
    else:
        n = _act(in_ + inner, "tanh", cn, wrong.get("n") or (derivative and "none"))
    h_direct = h_prev if direct_path else h_prev.detach()
    if update == "slides":
        return z * n + (1 - z) * h_direct
    return (1 - z) * n + z * h_direct


# --- step caches, built by torch -------------------------------------------------------------------------


def rnn_step_cache(x, h_prev, w_ih, w_hh, b) -> tuple:
    """``(x, h_prev, w_ih, w_hh, h)`` with h from ``nn.RNNCell``."""
    return (
        np.asarray(x, float),
        np.asarray(h_prev, float),
        np.asarray(w_ih, float),
        np.asarray(w_hh, float),
        rnn_cell(x, h_prev, w_ih, w_hh, b),
    )


def lstm_step_cache(x, h_prev, c_prev, w_ih, w_hh, b) -> tuple:
    """``(x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)``: the gates from torch ops, c from ``nn.LSTMCell``."""
    with torch.no_grad():
        pre = F.linear(_t(x), _t(w_ih)) + F.linear(_t(h_prev), _t(w_hh)) + _t(b)
        ai, af, ag, ao = pre.chunk(4, dim=1)
        gates = [_np(torch.sigmoid(ai)), _np(torch.sigmoid(af)), _np(torch.tanh(ag)), _np(torch.sigmoid(ao))]
    _, c = lstm_cell(x, h_prev, c_prev, w_ih, w_hh, b)
    return (
        np.asarray(x, float),
        np.asarray(h_prev, float),
        np.asarray(c_prev, float),
        np.asarray(w_ih, float),
        np.asarray(w_hh, float),
        *gates,
        c,
    )


def gru_step_cache(x, h_prev, w_ih, w_hh, b_ih, b_hh) -> tuple:
    """``(x, h_prev, w_ih, w_hh, r, z, n, hn)``: gates from torch ops, hn = h_prev w_hn^T + b_hn."""
    with torch.no_grad():
        gi = F.linear(_t(x), _t(w_ih), _t(b_ih))
        gh = F.linear(_t(h_prev), _t(w_hh), _t(b_hh))
        ir, iz, in_ = gi.chunk(3, dim=1)
        hr, hz, hn = gh.chunk(3, dim=1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
    return (
        np.asarray(x, float),
        np.asarray(h_prev, float),
        np.asarray(w_ih, float),
        np.asarray(w_hh, float),
        _np(r),
        _np(z),
        _np(n),
        _np(hn),
    )


STEP_CACHE = {"rnn": rnn_step_cache, "lstm": lstm_step_cache, "gru": gru_step_cache}


def sequence_cache(kind: str, x, h0, *rest) -> list[tuple]:
    """The list of T step caches of a ``kind`` sequence (the states from the torch cells).
    ``rest`` is ``c0`` then the parameters for the LSTM, the parameters otherwise."""
    caches, h = [], np.asarray(h0, float)
    if kind == "lstm":
        c, params = np.asarray(rest[0], float), rest[1:]
    else:
        c, params = None, rest
    for t in range(len(x)):
        if kind == "lstm":
            cache = lstm_step_cache(x[t], h, c, *params)
            h, c = lstm_cell(x[t], h, c, *params)
        else:
            cache = STEP_CACHE[kind](x[t], h, *params)
            h = rnn_cell(x[t], h, *params) if kind == "rnn" else gru_cell(x[t], h, *params)
        caches.append(cache)
    return caches


# --- stand-ins for the student's step functions (same signatures and caches) -----------------------------


def _check_step_inputs(kind: str, x, h_prev, w_ih, caller: str, w_hh=None) -> None:
    x, h_prev, w_ih = np.asarray(x), np.asarray(h_prev), np.asarray(w_ih)
    rows = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    H = w_ih.shape[0] // rows
    w_hh_shape = np.shape(w_hh) if w_hh is not None else None
    if (
        w_hh_shape is not None
        and x.ndim == 2
        and h_prev.ndim == 2
        and x.shape[1] != h_prev.shape[1]
        and w_ih.shape[1] == h_prev.shape[1]
        and len(w_hh_shape) == 2
        and w_hh_shape[1] == x.shape[1]
    ):
        states = "x, h_prev, c_prev" if kind == "lstm" else "x, h_prev"
        raise AssertionError(
            f"{caller} called {kind}_step_forward with w_ih of shape {w_ih.shape} and w_hh of shape {w_hh_shape}: "
            f"w_ih and w_hh were passed the other way round. The step takes ({states}, w_ih, w_hh, ...): "
            "w_ih (rows, D) multiplies x, w_hh (rows, H) multiplies h_prev."
        )
    if x.ndim != 2 or x.shape[1] != w_ih.shape[1] or h_prev.ndim != 2 or h_prev.shape != (x.shape[0], H):
        raise AssertionError(
            f"{caller} called {kind}_step_forward with x of shape {x.shape} and h_prev of shape {h_prev.shape}; "
            f"one step takes x_t (N, D) = (N, {w_ih.shape[1]}) and h_prev (N, H) = (N, {H}) with the same N. "
            "x has torch's layout (T, N, D), time first: step t reads x[t]."
        )


def torch_rnn_step_forward(x, h_prev, w_ih, w_hh, b):
    """Stand-in for rnn_step_forward (nn.RNNCell): -> (h, cache)."""
    _check_step_inputs("rnn", x, h_prev, w_ih, "rnn_forward", w_hh)
    cache = rnn_step_cache(x, h_prev, w_ih, w_hh, b)
    return cache[-1].copy(), cache


def torch_lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    """Stand-in for lstm_step_forward (nn.LSTMCell): -> (h, c, cache)."""
    _check_step_inputs("lstm", x, h_prev, w_ih, "lstm_forward", w_hh)
    if np.shape(c_prev) != np.shape(h_prev):
        raise AssertionError(
            f"lstm_forward called lstm_step_forward with c_prev of shape {np.shape(c_prev)}: (N, H) = "
            f"{np.shape(h_prev)} expected."
        )
    h, c = lstm_cell(x, h_prev, c_prev, w_ih, w_hh, b)
    return h, c, lstm_step_cache(x, h_prev, c_prev, w_ih, w_hh, b)


def torch_gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    """Stand-in for gru_step_forward (nn.GRUCell): -> (h, cache)."""
    _check_step_inputs("gru", x, h_prev, w_ih, "gru_forward", w_hh)
    return gru_cell(x, h_prev, w_ih, w_hh, b_ih, b_hh), gru_step_cache(x, h_prev, w_ih, w_hh, b_ih, b_hh)


def _check_cache_given(kind: str, cache, caller: str) -> None:
    n = len(CACHE_FIELDS[kind])
    if not isinstance(cache, (tuple, list)) or len(cache) != n:
        raise AssertionError(
            f"{caller} passed {kind}_step_backward a cache that is not the {n}-tuple "
            f"({', '.join(CACHE_FIELDS[kind])}) of one step: got {_describe(cache)}. The sequence cache "
            "is the list of the step caches, and step t's backward takes cache[t]."
        )


def _leaves(*arrays) -> list[torch.Tensor]:
    return [_t(a, True) for a in arrays]


def _step_backward(kind: str, upstream: Sequence[np.ndarray], cache: Sequence[np.ndarray], **variant) -> tuple:
    """Autograd through the ``kind`` step evaluated at the cache (optionally a variant)."""
    if kind == "rnn":
        x, h_prev, w_ih, w_hh, h = cache
        leaves = _leaves(x, h_prev, w_ih, w_hh, np.zeros(w_hh.shape[0]))
        outs = [rnn_step_torch(*leaves, cached=_t(h), **variant)]
    elif kind == "lstm":
        x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c = cache
        leaves = _leaves(x, h_prev, c_prev, w_ih, w_hh, np.zeros(w_hh.shape[0]))
        outs = list(lstm_step_torch(*leaves, cached=[_t(a) for a in (i, f, g, o)], **variant))
    else:
        x, h_prev, w_ih, w_hh, r, z, n, hn = cache
        leaves = _leaves(x, h_prev, w_ih, w_hh, np.zeros(w_hh.shape[0]), np.zeros(w_hh.shape[0]))
        outs = [gru_step_torch(*leaves, cached=[_t(a) for a in (r, z, n, hn)], **variant)]
    grads = torch.autograd.grad(outs, leaves, [_t(u) for u in upstream], allow_unused=True)
    return tuple(np.zeros(tuple(leaf.shape)) if gr is None else _np(gr) for gr, leaf in zip(grads, leaves))


def torch_rnn_step_backward(dh, cache):
    """Stand-in for rnn_step_backward (autograd at the cache): -> (dx, dh_prev, dw_ih, dw_hh, db)."""
    _check_cache_given("rnn", cache, "rnn_backward")
    return _step_backward("rnn", [dh], cache)


def torch_lstm_step_backward(dh, dc, cache):
    """Stand-in for lstm_step_backward: -> (dx, dh_prev, dc_prev, dw_ih, dw_hh, db)."""
    _check_cache_given("lstm", cache, "lstm_backward")
    return _step_backward("lstm", [dh, dc], cache)


def torch_gru_step_backward(dh, cache):
    """Stand-in for gru_step_backward: -> (dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh)."""
    _check_cache_given("gru", cache, "gru_backward")
    return _step_backward("gru", [dh], cache)


STANDINS = {
    "rnn_step_forward": torch_rnn_step_forward,
    "rnn_step_backward": torch_rnn_step_backward,
    "lstm_step_forward": torch_lstm_step_forward,
    "lstm_step_backward": torch_lstm_step_backward,
    "gru_step_forward": torch_gru_step_forward,
    "gru_step_backward": torch_gru_step_backward,
}


# --- gradient-norm clipping -------------------------------------------------------------------------------


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """``torch.nn.utils.clip_grad_norm_`` on float64 copies: -> (clipped grads, total norm before clipping)."""
    params = {}
    for name, g in grads.items():
        p = torch.zeros(np.shape(g), dtype=DT, requires_grad=True)
        p.grad = _t(g)
        params[name] = p
    total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
    return {name: _np(p.grad) for name, p in params.items()}, float(total)


# --- checking what a student's function returned -----------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return type(value).__name__


def call(fn: Callable, *args: Any, what: str, hint: str = "", names: Sequence[str] | None = None, causes=()) -> Any:
    """``fn(*args)``, with an exception other than NotImplementedError or AssertionError turned
    into a message that says which call failed and what the shapes are (``utils.references.checked_call``);
    ``causes``, ``(applies, text)`` pairs, name a specific mistake first."""

    def cause(error: BaseException) -> str:
        return " ".join(text for text in (likely_cause(error, args, names), hint) if text)

    return checked_call(fn, *args, what=what, causes=[*causes, (lambda error: True, cause)], names=names)


def _shapes_of(error: BaseException) -> list[tuple[int, ...]]:
    from . import _shapes_in

    text = str(error)
    return _shapes_in(text.split("shapes", 1)[-1] if "shapes" in text else text)


def _step_forward_cause(kind: str, N: int, D: int, H: int):
    """A cause for a broadcast error inside a gated step forward: the gate blocks cut with the input's width D, or
    along the batch axis (rows) instead of the columns."""
    k = {"lstm": 4, "gru": 3}.get(kind)

    def cause(error: BaseException) -> str | None:
        if k is None or not isinstance(error, ValueError) or "broadcast" not in str(error):
            return None
        shapes = _shapes_of(error)
        if D != H and (N, D) in shapes and (N, H) in shapes:
            return (
                f"a gate block of width D = {D} met one of width H = {H}: the blocks are H = h_prev.shape[1] (or "
                "w_hh.shape[1]) columns wide, not x.shape[1]."
            )
        if any(len(sh) == 2 and sh[1] == k * H for sh in shapes):
            return (
                f"a slice of the (N, {k}H) pre-activation has {k}H = {k * H} columns: a gate block is a group of "
                "columns, a[:, 0:H]; a[0:H] slices the rows (the batch)."
            )
        return None

    return [(lambda error: cause(error) is not None, cause)]


def _allocated_like_cause(name: str, like: str, wrong: tuple, right: tuple, shape_text: str):
    """A cause for an assignment of a step's result of shape ``right`` into a slice of shape ``wrong``: the output
    ``name`` was allocated with the shape of ``like``."""

    def applies(error: BaseException) -> bool:
        shapes = _shapes_of(error)
        return (
            isinstance(error, ValueError)
            and "into shape" in str(error)
            and wrong != right
            and shapes[-2:] == [right, wrong]
        )

    return [
        (
            applies,
            f"{name} was allocated with {like}'s shape, so {name}[t] is {wrong} where a step gives {right}: "
            f"{name} has shape {shape_text}.",
        )
    ]


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def check_arity(result: Any, names: Sequence[str], what: str) -> tuple:
    """``result`` as a tuple of ``len(names)`` values, or a message about the contract."""
    n = len(names)
    if not isinstance(result, (tuple, list)) or len(result) != n:
        raise AssertionError(
            f"{what} must return {n} values ({', '.join(names)}), as the docstring says; it returned "
            f"{_describe(result)}."
        )
    return tuple(result)


def _block_permutation(got: np.ndarray, expected: np.ndarray, k: int, names: str, rtol: float, atol: float):
    """The order in which got's k row blocks hold expected's blocks (e.g. "ifog"), if they are a
    non-trivial permutation of them; else None."""
    import itertools

    if got.shape != expected.shape or got.shape[0] % k:
        return None
    g, e = np.split(got, k), np.split(expected, k)
    for perm in itertools.permutations(range(k)):
        if perm != tuple(range(k)) and all(_close(g[j], e[perm[j]], rtol, atol) for j in range(k)):
            return "".join(names[p] for p in perm)
    return None


def check_outputs(
    result: Sequence[Any],
    expected: Sequence[np.ndarray],
    names: Sequence[str],
    what: str,
    mistakes: Mapping[str, Sequence[Any]] | None = None,
    *,
    gates: str | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    constants: Mapping[str, float] | None = None,
    float64: bool = False,
) -> None:
    """Compare each returned array with the reference: shapes first, then values.

    Args:
        result, expected, names: the returned values, the reference arrays and their names, in order.
        what: the call, as the student knows it, e.g. ``"rnn_step_backward"``.
        mistakes: ``{description: values}``, values a tuple like ``expected`` (None where the
            mistake does not matter) computed from a wrong version; a result that reproduces every
            non-None value of one is named.
        gates: the gate letters of the rows of weight-shaped outputs ("ifgo", "rzn"): a result whose
            row blocks are a permutation of the expected ones is named as a gate-order mistake.
        constants: the call's sizes (``{"T": 4, "N": 2, "D": 3, "H": 5}``), so that a relation the diagnosis
            engine finds names its axes and factors (:func:`utils.diagnose.diagnose`).
        float64: also require every returned array to be float64, as its float64 inputs make it (the hidden
            tests ask it: a float32 array is within the tolerance, but everything graded is float64).
    """
    mistakes = dict(mistakes or {})
    scale = max([1.0] + [float(np.max(np.abs(e))) for e in expected if np.size(e)])
    atol = atol * scale
    # shapes: the contract
    for k, (got, exp, name) in enumerate(zip(result, expected, names)):
        if got is None:
            raise AssertionError(f"{name} returned by {what} is None: did the function forget to `return` it?")
        try:
            shape = np.shape(got)
        except ValueError:
            shape = None
        if shape == exp.shape:
            continue
        lines = [f"{name} returned by {what} has shape {shape}, expected {exp.shape}."]
        others = [names[j] for j, e in enumerate(expected) if j != k and e.shape == shape]
        got_a = np.asarray(got, dtype=float) if shape is not None else None
        named = [d for d, v in mistakes.items() if v[k] is not None and _close(got, v[k], rtol, atol)]
        if named:
            lines.append(f"Likely mistake: {named[0]}")
        elif shape is not None and len(shape) == 2 and shape == exp.shape[::-1]:
            lines.append(
                f"It is {'the transpose of the expected array' if _close(got_a.T, exp, rtol, atol) else 'transposed'}: "
                f"{name} has the shape of what it is the gradient of (torch's layout, rows first)."
            )
        elif shape is not None and len(shape) == exp.ndim + 1 and shape[1:] == exp.shape:
            summed = _close(got_a.sum(axis=0), exp, rtol, atol)
            lines.append(
                f"It has an extra leading axis{' and sums to the expected value over it' if summed else ''}: "
                f"{name} must be summed over the batch{' (and over time)' if 'sequence' in what else ''}."
            )
        elif others:
            lines.append(
                f"That is the shape of {', '.join(others)}: return the values in the order ({', '.join(names)})."
            )
        elif got_a is not None:
            found = explain(
                got_a, exp, context_from_name(f"{name} returned by {what}", constants=dict(constants or {}))
            )
            if found:
                raise AssertionError(lines[0] + "\n" + found)
        raise AssertionError(" ".join(lines))
    if float64:
        check_float64(result, names, what)
    # values
    bad = [k for k in range(len(expected)) if not _close(result[k], expected[k], rtol, atol)]
    if not bad:
        return
    wrong = ", ".join(names[k] for k in bad)
    for description, values in mistakes.items():
        relevant = [k for k, v in enumerate(values) if v is not None]
        if any(k in bad for k in relevant) and all(_close(result[k], values[k], rtol, atol) for k in relevant):
            raise AssertionError(
                f"{what}: {wrong} {'is' if len(bad) == 1 else 'are'} wrong. Likely mistake: {description}"
            )
    if gates:
        for k in bad:
            order = _block_permutation(np.asarray(result[k], float), expected[k], len(gates), gates, rtol, atol)
            if order:
                raise AssertionError(
                    f"{what}: the row blocks of {names[k]} are the right ones in the wrong order ({order} instead "
                    f"of {gates}). Likely mistake: the gate order. torch's order, and this assignment's, is "
                    f"{', '.join(gates)}: rows [0:H] belong to {gates[0]}, [H:2H] to {gates[1]}, and so on."
                )
    for k in bad:  # an output that holds another one's value: returned (or passed on) in the wrong order
        holds = [names[j] for j in range(len(expected)) if j != k and not _close(expected[j], expected[k], rtol, atol)
                 and _close(result[k], expected[j], rtol, atol)]  # fmt: skip
        if holds:
            raise AssertionError(
                f"{what}: {wrong} {'is' if len(bad) == 1 else 'are'} wrong.\nLikely mistake: {names[k]} holds the "
                f"value of {holds[0]}: return the values in the order ({', '.join(names)}), as the docstring says."
            )
    k = bad[0]
    partial = {d: v[k] for d, v in mistakes.items() if v[k] is not None}
    label = f"{names[k]} returned by {what}"
    context = context_from_name(label, constants=dict(constants or {}))
    assert_close(result[k], expected[k], label, rtol=rtol, atol=atol, mistakes=partial, context=context)


def check_float64(result: Sequence[Any], names: Sequence[str], what: str) -> None:
    """Every returned float array is float64: the inputs are, and a float32 result (np.float32 storage, an
    ``astype``) rounds each value to about 7 digits."""
    for got, name in zip(result, names):
        dtype = getattr(got, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.floating) and dtype != np.float64:
            raise AssertionError(
                f"{name} returned by {what} has dtype {dtype}: the inputs are float64, and so must the outputs be "
                f"(everything graded is float64). Likely mistake: a {dtype} array somewhere (np.zeros(..., "
                f"dtype=np.{dtype}), .astype(np.{dtype})) rounds every value to about "
                f"{np.finfo(dtype).precision} digits; leave the dtype as numpy gives it."
            )


def check_cache(cache: Any, expected: Sequence[np.ndarray], kind: str, what: str) -> None:
    """The step cache must be the documented tuple, entry by entry."""
    fields = CACHE_FIELDS[kind]
    if not isinstance(cache, (tuple, list)) or len(cache) != len(fields):
        raise AssertionError(
            f"the cache of {what} must be the tuple ({', '.join(fields)}) that the docstring fixes, got "
            f"{_describe(cache)}. The backward test builds exactly this tuple, and so does the sequence test."
        )
    for got, exp, name in zip(cache, expected, fields):
        if not _close(got, exp, 1e-6, 1e-8):
            others = [f for f, e in zip(fields, expected) if f != name and _close(got, e, 1e-6, 1e-8)]
            where = f" It holds {others[0]}: check the order of the entries." if others else ""
            shape = (
                "right shape, other values"
                if np.shape(got) == np.shape(exp)
                else f"{_describe(got)}, expected {_describe(exp)}"
            )
            raise AssertionError(
                f"cache entry {name!r} of {what} is not what the docstring says ({shape}).{where} The cache "
                f"is ({', '.join(fields)}): {CACHE_MEANING[kind]}"
            )


def check_sequence_cache(cache: Any, expected: Sequence[tuple], kind: str, what: str) -> None:
    """A sequence cache: the list of the T step caches, in time order."""
    T = len(expected)
    if not isinstance(cache, (tuple, list)) or len(cache) != T:
        raise AssertionError(
            f"the cache of {what} must be the list of the {T} step caches (one per time step, in time "
            f"order), got {_describe(cache)}."
        )
    for t, (got, exp) in enumerate(zip(cache, expected)):
        try:
            check_cache(got, exp, kind, f"step {t}")
        except AssertionError as error:
            reversed_ok = (
                isinstance(got, (tuple, list))
                and len(got) == len(exp)
                and all(_close(a, b, 1e-6, 1e-8) for a, b in zip(got, expected[T - 1 - t]))
            )
            order = " The step caches are in reverse order: keep them in time order." if reversed_ok else ""
            raise AssertionError(f"cache[{t}] of {what}: {error}{order}") from None


# --- the likely mistakes, computed by torch ---------------------------------------------------------------


def _wrt(outs, leaves, upstream) -> list[np.ndarray]:
    grads = torch.autograd.grad(outs, leaves, [_t(u) for u in upstream], allow_unused=True)
    return [np.zeros(tuple(leaf.shape)) if g is None else _np(g) for g, leaf in zip(grads, leaves)]


@variants("rnn_step_forward")
def rnn_step_forward_mistakes(x, h_prev, w_ih, w_hh, b) -> dict[str, tuple]:
    """What rnn_step_forward's likely mistakes return for h."""
    a = [_t(v) for v in (x, h_prev, w_ih, w_hh, b)]
    with torch.no_grad():
        wrong = {
            "h_prev @ w_hh instead of h_prev @ w_hh.T: w_hh[j, k] (torch's layout) is the weight from "
            "h_prev[:, k] to h[:, j].": rnn_step_torch(*a, transpose_hh=True),
            "the bias b is missing.": rnn_step_torch(*a[:4], torch.zeros_like(a[4])),
            "the nonlinearity is a sigmoid: the RNN cell uses tanh.": rnn_step_torch(*a, act="sigmoid"),
            "the nonlinearity is a ReLU: this RNN cell uses tanh (torch's default).": rnn_step_torch(*a, act="relu"),
            "the nonlinearity is missing: h = tanh(...).": F.linear(a[0], a[2]) + F.linear(a[1], a[3]) + a[4],
            "h_prev is ignored: the recurrence adds h_prev @ w_hh.T.": rnn_step_torch(*a, no_recurrence=True),
            "the tanh was applied to the input term alone: it wraps the whole pre-activation, "
            "h = tanh(x @ w_ih.T + h_prev @ w_hh.T + b).": torch.tanh(F.linear(a[0], a[2]))
            + F.linear(a[1], a[3])
            + a[4],
        }
    return {d: (_np(v),) for d, v in wrong.items()}


@variants("rnn_step_backward")
def rnn_step_backward_mistakes(dh, cache) -> dict[str, tuple]:
    """What rnn_step_backward's likely mistakes return, (dx, dh_prev, dw_ih, dw_hh, db) with None
    where the mistake changes nothing."""
    x, h_prev, w_ih, w_hh, h = cache
    right = _step_backward("rnn", [dh], cache)
    out = {
        "tanh' was written 1 - h: the derivative of tanh is 1 - tanh^2 = 1 - h**2.": _step_backward(
            "rnn", [dh], cache, derivative="one_minus_out"
        ),
        "the derivative of tanh is missing: multiply the upstream gradient by 1 - h**2 first.": _step_backward(
            "rnn", [dh], cache, derivative="none"
        ),
        "tanh' was applied to h as if h were the pre-activation (1 - tanh(h)**2): the cache holds "
        "h = tanh(a), so tanh'(a) = 1 - h**2.": _step_backward("rnn", [dh], cache, derivative="tanh_again"),
    }
    grads = _step_backward("rnn", [dh], cache, transpose_hh=True)
    out[
        "dh_prev was computed with w_hh.T: since the forward pass computes h_prev @ w_hh.T, dh_prev = "
        "(gradient at the pre-activation) @ w_hh."
    ] = (None, grads[1], None, None, None)
    # dw_hh from h instead of h_prev
    leaves = _leaves(x, h_prev, w_ih, w_hh, np.zeros(w_hh.shape[0]))
    pre = F.linear(leaves[0], leaves[2]) + F.linear(_t(h), leaves[3]) + leaves[4]
    dw_hh = _wrt([_act(pre, "tanh", _t(h))], [leaves[3]], [dh])[0]
    out["dw_hh was built from h (this step's output) instead of h_prev, the state that w_hh multiplied."] = (
        None,
        None,
        None,
        dw_hh,
        None,
    )
    N = np.shape(x)[0]
    da = torch.ops.aten.tanh_backward(_t(dh), _t(h))  # the gradient at the pre-activation, by torch
    out[
        "db was summed over the hidden units (axis 1), one value per example: the bias gradient is the sum over "
        "the batch, axis 0, shape (H,)."
    ] = (None, None, None, None, _np(da.sum(dim=1)))
    out["the weight and bias gradients were averaged over the batch: they are sums over the N examples."] = (
        None,
        None,
        right[2] / N,
        right[3] / N,
        right[4] / N,
    )
    return out


@variants("lstm_step_forward")
def lstm_step_forward_mistakes(x, h_prev, c_prev, w_ih, w_hh, b) -> dict[str, tuple]:
    """What lstm_step_forward's likely mistakes return for (h, c)."""
    a = [_t(v) for v in (x, h_prev, c_prev, w_ih, w_hh, b)]
    out = {}
    with torch.no_grad():
        for order, where in (
            ("ifog", "i, f, o, g (CS231n's order)"),
            ("figo", "f, i, g, o"),
            ("fiog", "f, i, o, g"),
            ("iofg", "i, o, f, g"),
            ("gifo", "g, i, f, o"),
        ):
            h, c = lstm_step_torch(*a, order=order)
            out[
                f"the gate order: the row blocks were read as {where}. torch's order, and this "
                f"assignment's, is i, f, g, o: rows [0:H] input gate, [H:2H] forget gate, [2H:3H] "
                f"candidate g, [3H:4H] output gate."
            ] = (_np(h), _np(c))
        h, c = lstm_step_torch(*a, g_act="sigmoid")
        out["the candidate g went through a sigmoid: g = tanh(...); only i, f and o are sigmoids."] = (_np(h), _np(c))
        h, c = lstm_step_torch(*a, cell_tanh=False)
        out["h = o * c: the cell state is squashed first, h = o * tanh(c)."] = (_np(h), None)
        h, c = lstm_step_torch(*a, use_i=False)
        out["the input gate is missing: c = f * c_prev + i * g."] = (_np(h), _np(c))
        h, c = lstm_step_torch(*a[:2], torch.zeros_like(a[2]), *a[3:])
        out["c_prev is ignored (the path through the cell state is missing): c = f * c_prev + i * g."] = (
            _np(h),
            _np(c),
        )
        b0 = torch.zeros_like(a[5])
        h, c = lstm_step_torch(*a[:5], b0)
        out["the bias b is missing."] = (_np(h), _np(c))
        h, c = lstm_step_torch(*a)
        o = torch.sigmoid(F.linear(a[0], a[3]) + F.linear(a[1], a[4]) + a[5]).chunk(4, dim=-1)[3]
        out["h = o * tanh(c_prev): the new hidden state squashes the NEW cell state, h = o * tanh(c)."] = (
            _np(o * torch.tanh(a[2])),
            None,
        )
    return out


@variants("lstm_step_backward")
def lstm_step_backward_mistakes(dh, dc, cache) -> dict[str, tuple]:
    """What lstm_step_backward's likely mistakes return, (dx, dh_prev, dc_prev, dw_ih, dw_hh, db)."""
    zero = np.zeros_like(np.asarray(dc, float))
    right = _step_backward("lstm", [dh, dc], cache)
    N = np.shape(cache[0])[0]
    return {
        "the upstream dc is ignored (the path through the cell state is missing): the gradient at c is "
        "dc + dh * o * (1 - tanh(c)**2).": _step_backward("lstm", [dh, zero], cache),
        "dc_prev is the gradient at c itself: c = f * c_prev + i * g, so dc_prev is that gradient times f.": _step_backward(  # noqa: E501
            "lstm", [dh, dc], cache, dc_prev_times_f=False
        ),
        "the derivative of tanh(c) is missing on the way from h to c: dh * o * (1 - tanh(c)**2).": _step_backward(
            "lstm", [dh, dc], cache, cell_derivative="none"
        ),
        "the derivatives of the gate nonlinearities are missing: sigmoid' = s (1 - s) for i, f, o and "
        "tanh' = 1 - g**2 for g.": _step_backward("lstm", [dh, dc], cache, derivative="none"),
        "the output gate's gradient used c: h = o * tanh(c), so do = dh * tanh(c).": _step_backward(
            "lstm", [dh, dc], cache, o_grad_uses_c=True
        ),
        "the weight and bias gradients were averaged over the batch: they are sums over the N examples.": (
            None,
            None,
            None,
            right[3] / N,
            right[4] / N,
            right[5] / N,
        ),
        "in the path from h to c, tanh's derivative was written 1 - tanh(c): it is 1 - tanh(c)**2.": _step_backward(
            "lstm", [dh, dc], cache, cell_derivative="one_minus_out"
        ),
        "dc_prev uses only the incoming dc: it is the TOTAL gradient at c, dc + dh * o * (1 - tanh(c)**2), times f.": (
            None,
            None,
            np.asarray(dc, float) * np.asarray(cache[6], float),
            None,
            None,
            None,
        ),
        "the forget gate's sigmoid derivative misses a factor: it is f * (1 - f).": _step_backward(
            "lstm", [dh, dc], cache, gate_derivative={"f": "one_minus_out"}
        ),
        "the candidate g was differentiated as a sigmoid, g * (1 - g): g = tanh(a_g), so its derivative is "
        "1 - g**2.": _step_backward("lstm", [dh, dc], cache, gate_derivative={"g": "sigmoid"}),
    }


@variants("gru_step_forward")
def gru_step_forward_mistakes(x, h_prev, w_ih, w_hh, b_ih, b_hh) -> dict[str, tuple]:
    """What gru_step_forward's likely mistakes return for h."""
    a = [_t(v) for v in (x, h_prev, w_ih, w_hh, b_ih, b_hh)]
    with torch.no_grad():
        wrong = {
            "the update gate was read the other way round, h = z * n + (1 - z) * h_prev (the slides' "
            "convention): torch's GRU keeps the old state where z is 1, h = (1 - z) * n + z * h_prev.": gru_step_torch(
                *a, update="slides"
            ),
            "the reset gate was applied before the matrix product, W_hn (r * h_prev) (Cho et al.'s form): "
            "torch applies it after, r * (h_prev @ w_hn.T + b_hn).": gru_step_torch(*a, reset="before"),
            "the slides' form in both places (update gate reversed, reset before the product): this "
            "assignment follows torch, h = (1 - z) * n + z * h_prev with r * (h_prev @ w_hn.T + b_hn).": gru_step_torch(
                *a, update="slides", reset="before"
            ),
            "b_hn was added outside the reset gate: torch computes r * (h_prev @ w_hn.T + b_hn).": gru_step_torch(
                *a, b_hn="outside"
            ),
            "the gate order: the row blocks were read as z, r, n. torch's order, and this assignment's, "
            "is r, z, n: rows [0:H] reset gate, [H:2H] update gate, [2H:3H] candidate n.": gru_step_torch(
                *a, order="zrn"
            ),
            "the reset gate is missing: n = tanh(x @ w_in.T + b_in + r * (h_prev @ w_hn.T + b_hn)).": gru_step_torch(
                *a, no_reset=True
            ),
            "b_hh is missing: each gate adds both biases, b_ih and b_hh.": gru_step_torch(
                *a[:5], torch.zeros_like(a[5])
            ),
        }
        gi, gh = F.linear(a[0], a[2], a[4]), F.linear(a[1], a[3], a[5])
        (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, dim=-1), gh.chunk(3, dim=-1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        for description, n in (
            (
                "the candidate n went through a sigmoid: n = tanh(x @ w_in.T + b_in + r * hn); only r and z are "
                "sigmoids.",
                torch.sigmoid(in_ + r * hn),
            ),
            (
                "r multiplies the whole candidate pre-activation: it multiplies only the hidden part hn = h_prev @ "
                "w_hn.T + b_hn; the input part x @ w_in.T + b_in is added outside it.",
                torch.tanh(r * (in_ + hn)),
            ),
        ):
            wrong[description] = (1 - z) * n + z * a[1]
    return {d: (_np(v),) for d, v in wrong.items()}


@variants("gru_step_backward")
def gru_step_backward_mistakes(dh, cache) -> dict[str, tuple]:
    """What gru_step_backward's likely mistakes return, (dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh)."""
    right = _step_backward("gru", [dh], cache)
    H = np.shape(cache[1])[1]
    N = np.shape(cache[0])[0]
    db_hh = right[5].copy()
    db_hh[2 * H :] = right[4][2 * H :]
    return {
        "the update gate was read the other way round (the slides' h = z * n + (1 - z) * h_prev): "
        "torch's is h = (1 - z) * n + z * h_prev, so dn = dh * (1 - z) and the direct part of dh_prev "
        "is dh * z.": _step_backward("gru", [dh], cache, update="slides"),
        "dh_prev misses the direct path: h = (1 - z) * n + z * h_prev, so dh_prev includes dh * z besides "
        "what flows back through the gates and n.": _step_backward("gru", [dh], cache, direct_path=False),
        "the path through the reset gate is missing: n depends on r through r * hn, so dr = "
        "(gradient at n's pre-activation) * hn.": _step_backward("gru", [dh], cache, reset_path=False),
        "b_hn was treated as outside the reset gate: it sits inside, r * (h_prev @ w_hn.T + b_hn), so "
        "its gradient is multiplied by r like the one of w_hn.": (None, None, None, None, None, db_hh),
        "the derivatives of the gate nonlinearities are missing: sigmoid' = s (1 - s) for r and z, "
        "tanh' = 1 - n**2 for n.": _step_backward("gru", [dh], cache, derivative="none"),
        "the weight and bias gradients were averaged over the batch: they are sums over the N examples.": (
            None,
            None,
            right[2] / N,
            right[3] / N,
            right[4] / N,
            right[5] / N,
        ),
        "the update gate's gradient has the wrong sign: since h = (1 - z) * n + z * h_prev, dL/dz = dh * "
        "(h_prev - n), not dh * (n - h_prev).": _step_backward("gru", [dh], cache, z_grad_sign=-1),
        "tanh's derivative at n was written 1 - n: it is 1 - n**2.": _step_backward(
            "gru", [dh], cache, gate_derivative={"n": "one_minus_out"}
        ),
        "the update gate's block misses the sigmoid's derivative z * (1 - z).": _step_backward(
            "gru", [dh], cache, gate_derivative={"z": "none"}
        ),
        "the reset gate's gradient used h_prev (Cho's form): in torch's form r multiplies hn, so dL/dr = "
        "(gradient at n's pre-activation) * hn.": _step_backward("gru", [dh], cache, r_grad_uses_h_prev=True),
    }


def _torch_sequence(
    kind: str,
    x,
    h0,
    c0,
    params,
    *,
    detach_h=False,
    detach_c=False,
    fresh_h=False,
    fresh_c=False,
    reverse=False,
    states_in_swapped=False,
    states_out_swapped=False,
    return_c=False,
):
    """A ``kind`` sequence stepped with torch ops, one copy of the weights per step (so each step's
    share of the weight gradient can be read). Returns (x leaf, h0 leaf, c0 leaf, per-step params, hs).

    LSTM variants: ``states_in_swapped`` hands each step (c, h) for (h, c); ``states_out_swapped`` unpacks each step's
    (h, c) as (c, h), so the stored state and the next step's inputs are swapped; ``return_c`` stacks the cell
    states."""
    xt, h0t = _t(x, True), _t(h0, True)
    c0t = _t(c0, True) if kind == "lstm" else None
    steps = [[_t(p, True) for p in params] for _ in range(len(x))]
    h, c, hs = h0t, c0t, []
    order = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    for t in order:
        # a step that is not handed the later gradient still returns its own dh_prev: step 0's is dh0
        first = t == order[0]
        h_in = h0t if fresh_h else (h.detach() if detach_h and not first else h)
        if kind == "rnn":
            h = rnn_step_torch(xt[t], h_in, *steps[t])
        elif kind == "gru":
            h = gru_step_torch(xt[t], h_in, *steps[t])
        else:
            c_in = c0t if fresh_c else (c.detach() if detach_c and not first else c)
            if states_in_swapped:
                h_in, c_in = c_in, h_in
            h, c = lstm_step_torch(xt[t], h_in, c_in, *steps[t])
            if states_out_swapped:
                h, c = c, h
        hs.append(c if return_c else h)
    if reverse:
        hs = hs[::-1]
    return xt, h0t, c0t, steps, torch.stack(hs)


def sequence_forward_mistakes(kind: str, x, h0, *rest) -> dict[str, tuple]:
    """What the sequence forward's likely mistakes return for the hidden states (T, N, H)."""
    c0, params = (rest[0], rest[1:]) if kind == "lstm" else (None, rest)
    zeros = np.zeros_like(np.asarray(h0, float))

    def run(**kw):
        with torch.no_grad():
            return _np(_torch_sequence(kind, x, kw.pop("h0", h0), kw.pop("c0", c0), params, **kw)[4])

    out = {
        "h0 is ignored: the first step starts from the given h0, not from zeros.": run(h0=zeros),
        "every step starts from h0: carry the state, step t's h_prev is step t-1's h.": run(fresh_h=True),
        "the steps run backwards in time: step 0 reads x[0] and starts from h0.": run(reverse=True),
    }
    if kind == "lstm":
        out["c0 is ignored: the first step starts from the given c0, not from zeros."] = run(c0=zeros)
        out["the cell state is not carried: step t's c_prev is step t-1's c (the path through the cell state)."] = run(
            fresh_c=True
        )
        out["neither state is carried: step t starts from step t-1's h and c, not from h0 and c0."] = run(
            fresh_h=True, fresh_c=True
        )
        out["the cell states c are returned, not the hidden states h."] = run(return_c=True)
        out["h and c are swapped when the step's outputs are unpacked: lstm_step_forward returns (h, c, cache)."] = run(
            states_out_swapped=True
        )
        out["h and c are passed to the step in the wrong order: lstm_step_forward(x[t], h_prev, c_prev, ...)."] = run(
            states_in_swapped=True
        )
    if kind == "gru":
        w_ih, w_hh, b_ih, b_hh = params
        with torch.no_grad():
            out["the two biases are passed to the step in the wrong order: gru_step_forward(..., b_ih, b_hh)."] = _np(
                _torch_sequence(kind, x, h0, c0, (w_ih, w_hh, b_hh, b_ih))[4]
            )
    return {d: (v,) for d, v in out.items()}


def sequence_backward_mistakes(kind: str, dh, x, h0, *rest) -> dict[str, tuple]:
    """What the sequence backward's likely mistakes return (the outputs of the sequence backward)."""
    c0, params = (rest[0], rest[1:]) if kind == "lstm" else (None, rest)
    n_state = 3 if kind == "lstm" else 2

    def grads(**kw):
        xt, h0t, c0t, steps, hs = _torch_sequence(kind, x, h0, c0, params, **kw)
        leaves = [xt, h0t] + ([c0t] if kind == "lstm" else []) + [p for step in steps for p in step]
        g = _wrt([hs], leaves, [dh])
        state, per_step = g[:n_state], g[n_state:]
        k = len(params)
        per_step = [per_step[t * k : (t + 1) * k] for t in range(len(x))]
        return state, per_step

    (state, per_step) = grads()
    total = [sum(s[j] for s in per_step) for j in range(len(params))]
    T = len(x)
    none_state = [None] * n_state
    out = {}
    state_nh, steps_nh = grads(detach_h=True)
    out[
        "the gradient is not carried back through h_{t-1}: step t's upstream gradient is dh[t] plus the "
        "dh_prev that step t+1 returned."
    ] = (*state_nh, *[sum(s[j] for s in steps_nh) for j in range(len(params))])
    if kind == "lstm":
        state_nc, steps_nc = grads(detach_c=True)
        out[
            "the gradient is not carried back through the cell state: step t's upstream dc is the dc_prev "
            "that step t+1 returned (the path through the cell state is missing)."
        ] = (*state_nc, *[sum(s[j] for s in steps_nc) for j in range(len(params))])
    if T > 1:
        out[
            "the weight gradients were overwritten at every step instead of summed over time: w_ih, w_hh "
            "and the biases are shared by all steps, so their gradients accumulate (+=)."
        ] = (*none_state, *per_step[0])
        out["the weight gradients hold the last step's share only: they are summed over all time steps."] = (
            *none_state,
            *per_step[T - 1],
        )
        out[
            "the weight gradients were averaged over time: the steps share the weights, so their "
            "gradients add up (no division by T)."
        ] = (*none_state, *[g / T for g in total])
    zero_state = [None, np.zeros_like(state[1])] + ([None] if kind == "lstm" else [])
    out["dh0 is zero: return the dh_prev of step 0, the gradient that reaches the initial state."] = (
        *zero_state,
        *[None] * len(params),
    )
    if kind == "lstm":
        caches = sequence_cache("lstm", x, h0, c0, *params)
        dh_next, dc_next = np.zeros_like(np.asarray(h0, float)), np.zeros_like(np.asarray(c0, float))
        dxs, sums = [None] * T, [np.zeros(np.shape(p)) for p in params]
        for t in reversed(range(T)):  # the step's upstream gradients handed over as (dc, dh)
            dx_t, dh_next, dc_next, *shares = _step_backward("lstm", [dc_next, np.asarray(dh[t]) + dh_next], caches[t])
            dxs[t] = dx_t
            sums = [a + b for a, b in zip(sums, shares)]
        out[
            "dh and dc are passed to the step backward the other way round: lstm_step_backward takes (dh, dc, cache)."
        ] = (np.stack(dxs), dh_next, dc_next, *sums)
        out["dc0 is zero: return the dc_prev of step 0, the gradient that reaches the initial cell state."] = (
            None,
            None,
            np.zeros_like(state[2]),
            *[None] * len(params),
        )
        out["dh0 and dc0 are swapped: the order is (dx, dh0, dc0, dw_ih, dw_hh, db)."] = (
            None,
            state[2],
            state[1],
            *[None] * len(params),
        )
    out[
        "dh0 includes dh[0]: dh[0] is the gradient of h[0], the state AFTER step 0; dh0 is only the dh_prev that "
        "step 0's backward returns."
    ] = (None, state[1] + np.asarray(dh[0], float), *([None] if kind == "lstm" else []), *[None] * len(params))
    out["dh0 is dh[0]: the initial state's gradient is the dh_prev of step 0's backward."] = (
        None,
        np.asarray(dh[0], float),
        *([None] if kind == "lstm" else []),
        *[None] * len(params),
    )
    return out


# --- the checks the test cells run -------------------------------------------------------------------------

STEP_OUTPUTS = {"rnn": ("h", "cache"), "lstm": ("h", "c", "cache"), "gru": ("h", "cache")}
_CELL = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}
_CELL_GRADS = {"rnn": rnn_cell_grads, "lstm": lstm_cell_grads, "gru": gru_cell_grads}
_SEQUENCE = {"rnn": rnn_sequence, "lstm": lstm_sequence, "gru": gru_sequence}
_SEQUENCE_GRADS = {"rnn": rnn_sequence_grads, "lstm": lstm_sequence_grads, "gru": gru_sequence_grads}
for _kind in ("rnn", "lstm", "gru"):  # the sequences' known variants, declared once per kind
    variants(f"{_kind}_forward")(lambda *args, _k=_kind: sequence_forward_mistakes(_k, *args))
    variants(f"{_kind}_backward")(lambda *args, _k=_kind: sequence_backward_mistakes(_k, *args))
_GATE_LETTERS = {"rnn": None, "lstm": "ifgo", "gru": "rzn"}


def _copies(arrays: Sequence[Any]) -> list[np.ndarray]:
    return [np.array(a, dtype=np.float64, copy=True) for a in arrays]


def _unchanged(before: Sequence[np.ndarray], after: Sequence[Any], names: Sequence[str], what: str) -> None:
    for b, a, name in zip(before, after, names):
        if not np.array_equal(b, np.asarray(a)):
            raise AssertionError(
                f"{what} changed its input {name} in place: compute new arrays (a = a + ..., not a += ...) "
                "so that the caller's arrays keep their values."
            )


def _shape_str(kind: str, what: str, args: Sequence[Any], names: Sequence[str]) -> str:
    return f"{what}({', '.join(f'{n} {tuple(np.shape(a))}' for n, a in zip(names, args))})"


def check_step_forward(kind: str, fn: Callable, *args: np.ndarray, float64: bool = False) -> None:
    """Grade a step forward: ``args`` are its inputs (x, h_prev[, c_prev], parameters).

    Checks the return arity, the outputs against the torch cell (naming the likely mistakes), the
    cache against the documented tuple, and that the inputs are left unchanged.
    """
    what = f"{kind}_step_forward"
    names = ["x", "h_prev"] + (["c_prev"] if kind == "lstm" else []) + list(PARAMS[kind])
    label = _shape_str(kind, what, args, names)
    before, arrays = _copies(args), _copies(args)
    N, D, H = np.shape(args[0])[0], np.shape(args[0])[1], np.shape(args[1])[1]
    result = call(
        fn, *arrays, what=label, hint=LAYOUT_HINT[kind], names=names, causes=_step_forward_cause(kind, N, D, H)
    )
    outputs = STEP_OUTPUTS[kind]
    result = check_arity(result, outputs, what)
    expected = _CELL[kind](*args)
    expected = list(expected) if kind == "lstm" else [expected]
    mistakes = known_variants(what, *args)
    sizes = {"N": np.shape(args[0])[0], "D": np.shape(args[0])[1], "H": np.shape(args[1])[1]}
    check_outputs(result[:-1], expected, outputs[:-1], label, mistakes, constants=sizes, float64=float64)
    check_cache(result[-1], STEP_CACHE[kind](*args), kind, what)
    _unchanged(before, arrays, names, what)


def check_step_backward(
    kind: str, fn: Callable, upstream: Sequence[np.ndarray], *args: np.ndarray, float64: bool = False
) -> None:
    """Grade a step backward on a cache built by torch from ``args`` (x, h_prev[, c_prev], parameters);
    ``upstream`` is [dh] (or [dh, dc] for the LSTM)."""
    what = f"{kind}_step_backward"
    cache = STEP_CACHE[kind](*args)
    names = STEP_GRADS[kind]
    label = f"{what} (N={np.shape(args[0])[0]}, D={np.shape(args[0])[1]}, H={np.shape(args[1])[1]})"
    result = call(
        fn,
        *_copies(upstream),
        tuple(_copies(cache)),
        what=label,
        hint=f"The cache is ({', '.join(CACHE_FIELDS[kind])}). " + LAYOUT_HINT[kind],
    )
    result = check_arity(result, names, what)
    expected = _CELL_GRADS[kind](*upstream, *args)
    mistakes = known_variants(what, *upstream, cache)
    sizes = {"N": np.shape(args[0])[0], "D": np.shape(args[0])[1], "H": np.shape(args[1])[1]}
    check_outputs(result, expected, names, label, mistakes, gates=_GATE_LETTERS[kind], constants=sizes, float64=float64)


def check_sequence_forward(
    kind: str, fn: Callable, x: np.ndarray, h0: np.ndarray, *rest: np.ndarray, float64: bool = False
) -> None:
    """Grade a sequence forward (x (T, N, D), h0[, c0], parameters) against nn.RNN/LSTM/GRU."""
    what = f"{kind}_forward"
    names = ["x", "h0"] + (["c0"] if kind == "lstm" else []) + list(PARAMS[kind])
    args = (x, h0, *rest)
    label = _shape_str(kind, what, args, names)
    before = _copies(args)
    arrays = _copies(args)
    T, N, D = np.shape(x)
    H = np.shape(h0)[1]
    result = call(
        fn,
        *arrays,
        what=label,
        hint="x has torch's layout (T, N, D), time first. " + LAYOUT_HINT[kind],
        names=names,
        causes=_allocated_like_cause("h", "x", (N, D), (N, H), f"(T, N, H) = {(T, N, H)}"),
    )
    result = check_arity(result, ("h", "cache"), what)
    T, N = np.shape(x)[:2]
    H = np.shape(h0)[1]
    expected = _SEQUENCE[kind](*args)
    h = result[0]
    if np.shape(h) == (N, H):
        raise AssertionError(
            f"h returned by {label} has shape {(N, H)}: that is one state. Return every hidden state, "
            f"shape (T, N, H) = {(T, N, H)}, h[t] being the state after step t (nn.{kind.upper()}'s output)."
        )
    sizes = {"T": T, "N": N, "D": np.shape(x)[2], "H": H}
    check_outputs([h], [expected], ["h"], label, known_variants(what, *args), constants=sizes, float64=float64)
    check_sequence_cache(result[1], sequence_cache(kind, *args), kind, what)
    _unchanged(before, arrays, names, what)


def check_sequence_backward(
    kind: str, fn: Callable, dh: np.ndarray, x: np.ndarray, h0: np.ndarray, *rest: np.ndarray, float64: bool = False
) -> None:
    """Grade a sequence backward on caches built by torch, against autograd through nn.RNN/LSTM/GRU."""
    what = f"{kind}_backward"
    T, N, D = np.shape(x)
    H = np.shape(h0)[1]
    label = f"{what} (T={T}, N={N}, D={D}, H={H})"
    caches = sequence_cache(kind, x, h0, *rest)
    dh_given = np.array(dh, dtype=np.float64, copy=True)
    result = call(
        fn,
        dh_given,
        caches,
        what=label,
        hint="dh has shape (T, N, H); the cache is the list of the T step caches, in time order.",
        causes=_allocated_like_cause("dx", "dh", (N, H), (N, D), f"(T, N, D) = {(T, N, D)}, x's"),
    )
    names = SEQUENCE_GRADS[kind]
    result = check_arity(result, names, what)
    expected = _SEQUENCE_GRADS[kind](dh, x, h0, *rest)
    try:
        check_outputs(
            result,
            expected,
            names,
            label,
            known_variants(what, dh, x, h0, *rest),
            gates=_GATE_LETTERS[kind],
            constants={"T": T, "N": N, "D": D, "H": H},
            float64=float64,
        )
    except AssertionError as error:
        if "Likely mistake" in str(error) or T < 2 or np.shape(result[0]) != np.shape(x):
            raise
        # In a correct pass the last step receives dh[T-1] alone; step 0 receives dh[0] alone only
        # when the loop runs forward in time.
        upstream = [dh[0]] + ([np.zeros_like(dh[0])] if kind == "lstm" else [])
        dx_first_alone = _step_backward(kind, upstream, caches[0])[0]
        if _close(result[0][0], dx_first_alone, 1e-6, 1e-8) and not _close(expected[0][0], dx_first_alone, 1e-6, 1e-8):
            raise AssertionError(
                f"{label}: dx[0] is what step 0 gives for dh[0] alone. Likely mistake: the loop runs forward "
                "in time. Backpropagation through time starts at the last step and goes back to step 0 "
                "(reversed(range(T))), so that each step's dh_prev is added to the upstream gradient of the "
                "step before it."
            ) from None
        raise
    _unchanged([np.asarray(dh, float)], [dh_given], ["dh"], what)


def clip_mistakes(grads: Mapping[str, np.ndarray], max_norm: float) -> dict[str, tuple]:
    """What clip_grad_norm's likely mistakes return, as (clipped values in key order, total_norm)."""
    keys = list(grads)
    arrays = [np.asarray(grads[k], float) for k in keys]
    right, total = clip_grad_norm(grads, max_norm)
    per_tensor = [clip_grad_norm({"g": a}, max_norm)[0]["g"] for a in arrays]
    norms = [float(torch.linalg.vector_norm(_t(a))) for a in arrays]
    rescaled = [float(max_norm) / (total + 1e-6) * a for a in arrays]
    value = [_np(torch.clamp(_t(a), -max_norm, max_norm)) for a in arrays]
    sum_norms = sum(norms)
    by_sum = [a * min(1.0, max_norm / (sum_norms + 1e-6)) for a in arrays]
    squared = total**2
    by_square = [a * min(1.0, max_norm / (squared + 1e-6)) for a in arrays]
    spectral = float(
        np.sqrt(sum(float(torch.linalg.matrix_norm(_t(a), ord=2)) ** 2 if a.ndim == 2 else n**2
                    for a, n in zip(arrays, norms)))
    )  # fmt: skip
    by_spectral = [a * min(1.0, max_norm / (spectral + 1e-6)) for a in arrays]
    by_mean = float(np.sqrt(sum(float(torch.mean(_t(a) ** 2)) for a in arrays if a.size)))
    by_mean_clipped = [a * min(1.0, max_norm / (by_mean + 1e-6)) for a in arrays]
    after = float(np.sqrt(sum(float(np.sum(c**2)) for c in right.values())))
    return {
        "each gradient was clipped by its own norm: clip_grad_norm scales ALL of them by one factor, "
        "computed from the global norm over every gradient, so their directions relative to each other "
        "are kept.": (per_tensor, None),
        "the entries were clipped by value (np.clip to [-max_norm, max_norm]): norm clipping rescales the "
        "whole gradient and keeps its direction.": (value, None),
        "the gradients were rescaled to norm max_norm although their norm was below it: scale only when "
        "the total norm exceeds max_norm (factor min(1, max_norm / (total_norm + 1e-6))).": (rescaled, None),
        "the global norm was computed as the sum of the per-gradient norms: it is the square root of the "
        "sum of the squares of every entry of every gradient.": (by_sum, sum_norms),
        "the global norm is missing its square root: sqrt(sum of squares).": (by_square, squared),
        "total_norm is the norm after clipping: return the norm of the gradients as given, before scaling.": (
            None,
            after,
        ),
        "a matrix's norm was taken as np.linalg.norm(g, 2), its largest singular value: the norm runs over every "
        "entry, np.sqrt(np.sum(g**2)) (np.linalg.norm(g) without the 2).": (by_spectral, spectral),
        "total_norm was computed from the MEAN of the squares of each gradient: it is the square root of their "
        "SUM over every entry of every gradient.": (by_mean_clipped, by_mean),
    }


def check_clip(fn: Callable, grads: Mapping[str, np.ndarray], max_norm: float) -> None:
    """Grade clip_grad_norm against torch.nn.utils.clip_grad_norm_."""
    what = f"clip_grad_norm(grads with {len(grads)} arrays, max_norm={max_norm})"
    given = {k: np.array(v, dtype=np.float64, copy=True) for k, v in grads.items()}
    zero = (
        "a division by zero: all-zero gradients have total_norm 0; the factor is max_norm / (total_norm + 1e-6), "
        "torch's guard, which never divides by zero."
    )
    result = call(
        fn,
        given,
        max_norm,
        what=what,
        causes=[(lambda error: isinstance(error, (ZeroDivisionError, FloatingPointError)), zero)],
    )
    result = check_arity(result, ("clipped", "total_norm"), "clip_grad_norm")
    clipped, total = result
    expected, expected_total = clip_grad_norm(grads, max_norm)
    if not isinstance(clipped, Mapping) or set(clipped) != set(grads):
        raise AssertionError(
            f"clipped returned by {what} must be a dict with the same keys as grads ({sorted(grads)}), "
            f"got {_describe(clipped) if not isinstance(clipped, Mapping) else sorted(clipped)}."
        )
    if isinstance(total, (np.ndarray, torch.Tensor)) and np.ndim(total) == 0:
        total = float(total)
    if not isinstance(total, (float, np.floating)):
        raise AssertionError(
            f"total_norm returned by {what} must be a Python float (the global norm), got {_describe(total)}."
        )
    keys = list(grads)
    mistakes = clip_mistakes(grads, max_norm)
    named = {}
    for description, (values, norm) in mistakes.items():
        named[description] = (*(values if values is not None else [None] * len(keys)), norm)
    check_outputs(
        [clipped[k] for k in keys] + [total],
        [expected[k] for k in keys] + [np.float64(expected_total)],
        [f"clipped[{k!r}]" for k in keys] + ["total_norm"],
        what,
        named,
    )
    _unchanged(
        [np.asarray(grads[k], float) for k in keys],
        [given[k] for k in keys],
        [f"grads[{k!r}]" for k in keys],
        "clip_grad_norm",
    )
