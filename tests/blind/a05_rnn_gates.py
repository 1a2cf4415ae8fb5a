# ruff: noqa: E501  (the entries are whole solution cells, kept as a student would write them)
"""A blind catalogue of plausible student mistakes for assignment 5 (recurrent networks and their gates).

Written from the RELEASED student notebook only (its markdown, docstrings and visible test cells),
before reading the assignment's test module, its source notebook, ``utils/references`` or
``utils/checks.py`` (see README.md in this folder).

Each entry replaces one solution cell: ``code`` is the complete cell (one function) and runs in the notebook's
namespace (``np``, ``sigmoid`` = scipy's ``expit``, and the step functions that the sequence tests swap for torch
stand-ins). Most mistakes are written as a small edit of a correct solution of the same function (``_edit``): the
edit is the mistake and everything else is right. ``kind`` is "mistake" or "correct" (a correct solution in a style
other than the base one; it must earn full marks).

``named`` is filled in after the measurement (step 2, at the end of this file): whether the failure message the test
gives would tell a teacher what to fix; None for correct entries. For an unnamed mistake, ``wanted`` is the message a
teacher would want; for a mistake that passes its test cell, ``gap`` says why it passes.
"""

from __future__ import annotations

from . import edit as _edit
from . import judge

ASSIGNMENT = "05_rnn_gates"
ENTRIES: list[dict] = []


def _add(function: str, kind: str, description: str, code: str) -> None:
    ENTRIES.append({"function": function, "kind": kind, "description": description, "code": code, "named": None})


# ---------------------------------------------------------------------------------------------------------------
# rnn_step_forward
# ---------------------------------------------------------------------------------------------------------------
RNN_STEP_F = """
def rnn_step_forward(x, h_prev, w_ih, w_hh, b):
    a = x @ w_ih.T + h_prev @ w_hh.T + b
    h = np.tanh(a)
    cache = (x, h_prev, w_ih, w_hh, h)
    return h, cache
"""
_add("rnn_step_forward", "correct", "base solution: x @ w_ih.T + h_prev @ w_hh.T + b, then tanh", RNN_STEP_F)
_add(
    "rnn_step_forward",
    "correct",
    "the weights on the left, (w @ x.T).T, and the tanh written with exponentials",
    """
def rnn_step_forward(x, h_prev, w_ih, w_hh, b):
    a = (w_ih @ x.T + w_hh @ h_prev.T).T + b[None, :]
    e = np.exp(-2.0 * a)
    h = (1.0 - e) / (1.0 + e)
    cache = (x, h_prev, w_ih, w_hh, h)
    return h, cache
""",
)
_add(
    "rnn_step_forward",
    "mistake",
    "w_hh not transposed: h_prev @ w_hh (square, so the shapes still fit)",
    _edit(RNN_STEP_F, ("h_prev @ w_hh.T", "h_prev @ w_hh")),
)
_add(
    "rnn_step_forward",
    "mistake",
    "w_ih not transposed: x @ w_ih (a matmul shape error since D != H)",
    _edit(RNN_STEP_F, ("x @ w_ih.T", "x @ w_ih")),
)
_add(
    "rnn_step_forward",
    "mistake",
    "the bias is forgotten",
    _edit(RNN_STEP_F, (" + b\n", "\n")),
)
_add(
    "rnn_step_forward",
    "mistake",
    "sigmoid instead of tanh",
    _edit(RNN_STEP_F, ("h = np.tanh(a)", "h = sigmoid(a)")),
)
_add(
    "rnn_step_forward",
    "mistake",
    "the cache holds the pre-activation a where the new state h belongs",
    _edit(RNN_STEP_F, ("cache = (x, h_prev, w_ih, w_hh, h)", "cache = (x, h_prev, w_ih, w_hh, a)")),
)
_add(
    "rnn_step_forward",
    "mistake",
    "the cache's weights in the wrong order: (x, h_prev, w_hh, w_ih, h)",
    _edit(RNN_STEP_F, ("cache = (x, h_prev, w_ih, w_hh, h)", "cache = (x, h_prev, w_hh, w_ih, h)")),
)
_add(
    "rnn_step_forward",
    "mistake",
    "the tanh applied to the input term only: tanh(x @ w_ih.T) + h_prev @ w_hh.T + b",
    _edit(
        RNN_STEP_F,
        (
            "a = x @ w_ih.T + h_prev @ w_hh.T + b\n    h = np.tanh(a)",
            "a = x @ w_ih.T\n    h = np.tanh(a) + h_prev @ w_hh.T + b",
        ),
    ),
)
_add(
    "rnn_step_forward",
    "mistake",
    "computed in float32 (the inputs cast down to save memory)",
    _edit(RNN_STEP_F, ("h = np.tanh(a)", "h = np.tanh(a.astype(np.float32))")),
)

# ---------------------------------------------------------------------------------------------------------------
# rnn_step_backward
# ---------------------------------------------------------------------------------------------------------------
RNN_STEP_B = """
def rnn_step_backward(dh, cache):
    x, h_prev, w_ih, w_hh, h = cache
    da = dh * (1 - h ** 2)
    dx = da @ w_ih
    dh_prev = da @ w_hh
    dw_ih = da.T @ x
    dw_hh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dw_ih, dw_hh, db
"""
_add("rnn_step_backward", "correct", "base solution: da = dh * (1 - h**2), then the dense layer's backward", RNN_STEP_B)
_add(
    "rnn_step_backward",
    "correct",
    "einsum for every product, the batch sums written out",
    """
def rnn_step_backward(dh, cache):
    x, h_prev, w_ih, w_hh, h = cache
    da = dh - dh * h * h
    dx = np.einsum("nh,hd->nd", da, w_ih)
    dh_prev = np.einsum("nh,hk->nk", da, w_hh)
    dw_ih = np.einsum("nh,nd->hd", da, x)
    dw_hh = np.einsum("nh,nk->hk", da, h_prev)
    db = np.einsum("nh->h", da)
    return dx, dh_prev, dw_ih, dw_hh, db
""",
)
_add(
    "rnn_step_backward",
    "mistake",
    "tanh's derivative written as 1 - h instead of 1 - h**2",
    _edit(RNN_STEP_B, ("da = dh * (1 - h ** 2)", "da = dh * (1 - h)")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "tanh applied again to the cached h: 1 - tanh(h)**2",
    _edit(RNN_STEP_B, ("da = dh * (1 - h ** 2)", "da = dh * (1 - np.tanh(h) ** 2)")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "the derivative's sign flipped: dh * (h**2 - 1)",
    _edit(RNN_STEP_B, ("da = dh * (1 - h ** 2)", "da = dh * (h ** 2 - 1)")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "dw_ih transposed: x.T @ da, shape (D, H)",
    _edit(RNN_STEP_B, ("dw_ih = da.T @ x", "dw_ih = x.T @ da")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "dw_hh transposed: h_prev.T @ da (square, so the shape is right)",
    _edit(RNN_STEP_B, ("dw_hh = da.T @ h_prev", "dw_hh = h_prev.T @ da")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "dh_prev through the transposed weight: da @ w_hh.T (square, so the shape is right)",
    _edit(RNN_STEP_B, ("dh_prev = da @ w_hh", "dh_prev = da @ w_hh.T")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "db summed over the wrong axis (over the hidden units, shape (N,))",
    _edit(RNN_STEP_B, ("db = da.sum(axis=0)", "db = da.sum(axis=1)")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "db is the mean over the batch, not the sum",
    _edit(RNN_STEP_B, ("db = da.sum(axis=0)", "db = da.mean(axis=0)")),
)
_add(
    "rnn_step_backward",
    "mistake",
    "the weight gradients averaged over the batch (divided by N)",
    _edit(
        RNN_STEP_B,
        ("dw_ih = da.T @ x", "dw_ih = da.T @ x / x.shape[0]"),
        ("dw_hh = da.T @ h_prev", "dw_hh = da.T @ h_prev / x.shape[0]"),
    ),
)
_add(
    "rnn_step_backward",
    "mistake",
    "db skips the tanh: the batch sum of dh itself",
    _edit(RNN_STEP_B, ("db = da.sum(axis=0)", "db = dh.sum(axis=0)")),
)

# ---------------------------------------------------------------------------------------------------------------
# rnn_forward
# ---------------------------------------------------------------------------------------------------------------
RNN_F = """
def rnn_forward(x, h0, w_ih, w_hh, b):
    T = x.shape[0]
    h_t = h0
    hs, cache = [], []
    for t in range(T):
        h_t, step_cache = rnn_step_forward(x[t], h_t, w_ih, w_hh, b)
        hs.append(h_t)
        cache.append(step_cache)
    h = np.stack(hs)
    return h, cache
"""
_add("rnn_forward", "correct", "base solution: a loop over time, the states stacked", RNN_F)
_add(
    "rnn_forward",
    "correct",
    "the output preallocated as zeros of shape (T, N, H) and filled step by step",
    """
def rnn_forward(x, h0, w_ih, w_hh, b):
    T, N, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((T, N, H))
    cache = []
    prev = h0
    for t in range(T):
        h[t], step_cache = rnn_step_forward(x[t], prev, w_ih, w_hh, b)
        cache.append(step_cache)
        prev = h[t]
    return h, cache
""",
)
_add(
    "rnn_forward",
    "mistake",
    "the state is never carried: every step starts from h0",
    _edit(
        RNN_F,
        (
            "h_t, step_cache = rnn_step_forward(x[t], h_t, w_ih, w_hh, b)",
            "h_t, step_cache = rnn_step_forward(x[t], h0, w_ih, w_hh, b)",
        ),
    ),
)
_add(
    "rnn_forward",
    "mistake",
    "the state stored one step late: h[t] is the state before step t (h[0] = h0)",
    _edit(
        RNN_F,
        (
            "        h_t, step_cache = rnn_step_forward(x[t], h_t, w_ih, w_hh, b)\n        hs.append(h_t)\n",
            "        hs.append(h_t)\n        h_t, step_cache = rnn_step_forward(x[t], h_t, w_ih, w_hh, b)\n",
        ),
    ),
)
_add(
    "rnn_forward",
    "mistake",
    "the sequence read batch first: x[:, t] for t over x.shape[1]",
    _edit(
        RNN_F,
        ("T = x.shape[0]", "T = x.shape[1]"),
        ("rnn_step_forward(x[t], h_t", "rnn_step_forward(x[:, t], h_t"),
    ),
)
_add(
    "rnn_forward",
    "mistake",
    "off by one: the loop runs over range(T - 1)",
    _edit(RNN_F, ("for t in range(T):", "for t in range(T - 1):")),
)
_add(
    "rnn_forward",
    "mistake",
    "the caches kept in reverse time order (inserted at the front)",
    _edit(RNN_F, ("cache.append(step_cache)", "cache.insert(0, step_cache)")),
)
_add(
    "rnn_forward",
    "mistake",
    "only the last hidden state returned, shape (N, H)",
    _edit(RNN_F, ("h = np.stack(hs)", "h = hs[-1]")),
)
_add(
    "rnn_forward",
    "mistake",
    "the output preallocated with np.zeros_like(x): shape (T, N, D), a broadcast error when D != H",
    """
def rnn_forward(x, h0, w_ih, w_hh, b):
    T = x.shape[0]
    h = np.zeros_like(x)
    cache = []
    prev = h0
    for t in range(T):
        h[t], step_cache = rnn_step_forward(x[t], prev, w_ih, w_hh, b)
        cache.append(step_cache)
        prev = h[t]
    return h, cache
""",
)
_add(
    "rnn_forward",
    "mistake",
    "the output preallocated in float32",
    """
def rnn_forward(x, h0, w_ih, w_hh, b):
    T, N, _ = x.shape
    h = np.zeros((T, N, h0.shape[1]), dtype=np.float32)
    cache = []
    prev = h0
    for t in range(T):
        out, step_cache = rnn_step_forward(x[t], prev, w_ih, w_hh, b)
        h[t] = out
        cache.append(step_cache)
        prev = out
    return h, cache
""",
)
_add(
    "rnn_forward",
    "mistake",
    "only the last step's cache returned, not the list",
    _edit(RNN_F, ("    return h, cache\n", "    return h, cache[-1]\n")),
)

# ---------------------------------------------------------------------------------------------------------------
# rnn_backward
# ---------------------------------------------------------------------------------------------------------------
RNN_B = """
def rnn_backward(dh, cache):
    T = dh.shape[0]
    dh_next = np.zeros_like(dh[0])
    dxs = [None] * T
    dw_ih, dw_hh, db = 0.0, 0.0, 0.0
    for t in reversed(range(T)):
        dx_t, dh_next, dw_ih_t, dw_hh_t, db_t = rnn_step_backward(dh[t] + dh_next, cache[t])
        dxs[t] = dx_t
        dw_ih = dw_ih + dw_ih_t
        dw_hh = dw_hh + dw_hh_t
        db = db + db_t
    dx = np.stack(dxs)
    dh0 = dh_next
    return dx, dh0, dw_ih, dw_hh, db
"""
_add("rnn_backward", "correct", "base solution: backwards in time, dh[t] plus the later step's dh_prev", RNN_B)
_add(
    "rnn_backward",
    "correct",
    "preallocated gradients, D read from the first cache's x",
    """
def rnn_backward(dh, cache):
    T, N, H = dh.shape
    x0, _, w_ih, w_hh, _ = cache[0]
    D = x0.shape[1]
    dx = np.zeros((T, N, D))
    dw_ih = np.zeros((H, D))
    dw_hh = np.zeros((H, H))
    db = np.zeros(H)
    dh_prev = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[t], dh_prev, g_ih, g_hh, g_b = rnn_step_backward(dh[t] + dh_prev, cache[t])
        dw_ih += g_ih
        dw_hh += g_hh
        db += g_b
    return dx, dh_prev, dw_ih, dw_hh, db
""",
)
_add(
    "rnn_backward",
    "mistake",
    "the loop runs forwards in time",
    _edit(RNN_B, ("for t in reversed(range(T)):", "for t in range(T):")),
)
_add(
    "rnn_backward",
    "mistake",
    "the later steps' gradient is not added: each step gets dh[t] only",
    _edit(RNN_B, ("rnn_step_backward(dh[t] + dh_next, cache[t])", "rnn_step_backward(dh[t], cache[t])")),
)
_add(
    "rnn_backward",
    "mistake",
    "the weight gradients overwritten at each step, not summed (only step 0's share is left)",
    _edit(
        RNN_B,
        ("dw_ih = dw_ih + dw_ih_t", "dw_ih = dw_ih_t"),
        ("dw_hh = dw_hh + dw_hh_t", "dw_hh = dw_hh_t"),
        ("db = db + db_t", "db = db_t"),
    ),
)
_add(
    "rnn_backward",
    "mistake",
    "dh changed in place: dh[t] += dh_next",
    _edit(
        RNN_B,
        (
            "dx_t, dh_next, dw_ih_t, dw_hh_t, db_t = rnn_step_backward(dh[t] + dh_next, cache[t])",
            "dh[t] += dh_next\n        dx_t, dh_next, dw_ih_t, dw_hh_t, db_t = rnn_step_backward(dh[t], cache[t])",
        ),
    ),
)
_add(
    "rnn_backward",
    "mistake",
    "the weight gradients averaged over time (divided by T)",
    _edit(
        RNN_B,
        ("    dx = np.stack(dxs)\n", "    dw_ih, dw_hh, db = dw_ih / T, dw_hh / T, db / T\n    dx = np.stack(dxs)\n"),
    ),
)
_add(
    "rnn_backward",
    "mistake",
    "dh0 taken as the total gradient at the first output h[0] (dh[0] added once more)",
    _edit(RNN_B, ("dh0 = dh_next", "dh0 = dh_next + dh[0]")),
)
_add(
    "rnn_backward",
    "mistake",
    "the dx of each step appended while going backwards and never reversed: dx in reverse time order",
    _edit(
        RNN_B,
        ("dxs = [None] * T", "dxs = []"),
        ("dxs[t] = dx_t", "dxs.append(dx_t)"),
    ),
)
_add(
    "rnn_backward",
    "mistake",
    "off by one: the loop stops before step 0 (range(T - 1, 0, -1))",
    """
def rnn_backward(dh, cache):
    T = dh.shape[0]
    dh_next = np.zeros_like(dh[0])
    dx = None
    dw_ih, dw_hh, db = 0.0, 0.0, 0.0
    for t in range(T - 1, 0, -1):
        dx_t, dh_next, dw_ih_t, dw_hh_t, db_t = rnn_step_backward(dh[t] + dh_next, cache[t])
        if dx is None:
            dx = np.zeros((T,) + dx_t.shape)
        dx[t] = dx_t
        dw_ih = dw_ih + dw_ih_t
        dw_hh = dw_hh + dw_hh_t
        db = db + db_t
    return dx, dh_next, dw_ih, dw_hh, db
""",
)
_add(
    "rnn_backward",
    "mistake",
    "dx preallocated with np.zeros_like(dh): shape (T, N, H), a broadcast error when D != H",
    _edit(
        RNN_B,
        ("dxs = [None] * T", "dx = np.zeros_like(dh)"),
        ("dxs[t] = dx_t", "dx[t] = dx_t"),
        ("    dx = np.stack(dxs)\n", ""),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# lstm_step_forward
# ---------------------------------------------------------------------------------------------------------------
LSTM_STEP_F = """
def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    H = h_prev.shape[1]
    a = x @ w_ih.T + h_prev @ w_hh.T + b
    i = sigmoid(a[:, 0:H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    cache = (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)
    return h, c, cache
"""
_add("lstm_step_forward", "correct", "base solution: one pre-activation sliced into the blocks i, f, g, o", LSTM_STEP_F)
_add(
    "lstm_step_forward",
    "correct",
    "np.split into four blocks, the sigmoid written as 1 / (1 + exp(-a))",
    """
def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    a = x @ w_ih.T + h_prev @ w_hh.T + b
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    i = 1.0 / (1.0 + np.exp(-a_i))
    f = 1.0 / (1.0 + np.exp(-a_f))
    g = np.tanh(a_g)
    o = 1.0 / (1.0 + np.exp(-a_o))
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)
""",
)
_add(
    "lstm_step_forward",
    "mistake",
    "CS231n's gate order i, f, o, g: g read from the last block and o from the third",
    _edit(
        LSTM_STEP_F,
        ("g = np.tanh(a[:, 2 * H:3 * H])", "g = np.tanh(a[:, 3 * H:4 * H])"),
        ("o = sigmoid(a[:, 3 * H:4 * H])", "o = sigmoid(a[:, 2 * H:3 * H])"),
    ),
)
_add(
    "lstm_step_forward",
    "mistake",
    "the forget gate first (f, i, g, o): i and f blocks swapped",
    _edit(
        LSTM_STEP_F,
        ("i = sigmoid(a[:, 0:H])", "i = sigmoid(a[:, H:2 * H])"),
        ("f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, 0:H])"),
    ),
)
_add(
    "lstm_step_forward",
    "mistake",
    "the candidate g through a sigmoid instead of tanh",
    _edit(LSTM_STEP_F, ("g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])")),
)
_add(
    "lstm_step_forward",
    "mistake",
    "no tanh on the cell state: h = o * c",
    _edit(LSTM_STEP_F, ("h = o * np.tanh(c)", "h = o * c")),
)
_add(
    "lstm_step_forward",
    "mistake",
    "the new hidden state from the previous cell state: h = o * tanh(c_prev)",
    _edit(LSTM_STEP_F, ("h = o * np.tanh(c)", "h = o * np.tanh(c_prev)")),
)
_add(
    "lstm_step_forward",
    "mistake",
    "H read from the input's width (x.shape[1] = D): blocks of the wrong size",
    _edit(LSTM_STEP_F, ("H = h_prev.shape[1]", "H = x.shape[1]")),
)
_add(
    "lstm_step_forward",
    "mistake",
    "the blocks sliced along the batch axis: a[0:H] instead of a[:, 0:H]",
    _edit(
        LSTM_STEP_F,
        ("i = sigmoid(a[:, 0:H])", "i = sigmoid(a[0:H])"),
        ("f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[H:2 * H])"),
        ("g = np.tanh(a[:, 2 * H:3 * H])", "g = np.tanh(a[2 * H:3 * H])"),
        ("o = sigmoid(a[:, 3 * H:4 * H])", "o = sigmoid(a[3 * H:4 * H])"),
    ),
)
_add(
    "lstm_step_forward",
    "mistake",
    "the cache holds tanh(c) where c belongs",
    _edit(
        LSTM_STEP_F,
        (
            "cache = (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)",
            "cache = (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, np.tanh(c))",
        ),
    ),
)
_add(
    "lstm_step_forward",
    "mistake",
    "the cache holds the gates' pre-activations, not their values",
    _edit(
        LSTM_STEP_F,
        (
            "cache = (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)",
            "cache = (x, h_prev, c_prev, w_ih, w_hh, a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:4 * H], c)",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# lstm_step_backward
# ---------------------------------------------------------------------------------------------------------------
LSTM_STEP_B = """
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c = cache
    tc = np.tanh(c)
    do = dh * tc
    dc_total = dc + dh * o * (1 - tc ** 2)
    di = dc_total * g
    df = dc_total * c_prev
    dg = dc_total * i
    dc_prev = dc_total * f
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    dx = da @ w_ih
    dh_prev = da @ w_hh
    dw_ih = da.T @ x
    dw_hh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db
"""
_add("lstm_step_backward", "correct", "base solution: the total dc, the four gate blocks concatenated", LSTM_STEP_B)
_add(
    "lstm_step_backward",
    "correct",
    "the blocks written into a preallocated (N, 4H) array, the weight gradients by einsum",
    """
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c = cache
    N, H = dh.shape
    tanh_c = np.tanh(c)
    dct = dc + dh * o * (1.0 - tanh_c * tanh_c)
    da = np.empty((N, 4 * H))
    da[:, 0:H] = dct * g * i * (1.0 - i)
    da[:, H:2 * H] = dct * c_prev * f * (1.0 - f)
    da[:, 2 * H:3 * H] = dct * i * (1.0 - g * g)
    da[:, 3 * H:] = dh * tanh_c * o * (1.0 - o)
    dx = da @ w_ih
    dh_prev = da @ w_hh
    dw_ih = np.einsum("nk,nd->kd", da, x)
    dw_hh = np.einsum("nk,nj->kj", da, h_prev)
    return dx, dh_prev, dct * f, dw_ih, dw_hh, da.sum(0)
""",
)
_add(
    "lstm_step_backward",
    "mistake",
    "the dc argument ignored: the cell state's gradient is only what comes from h",
    _edit(LSTM_STEP_B, ("dc_total = dc + dh * o * (1 - tc ** 2)", "dc_total = dh * o * (1 - tc ** 2)")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "tanh's derivative as 1 - tanh(c) in the cell-state path",
    _edit(LSTM_STEP_B, ("dc_total = dc + dh * o * (1 - tc ** 2)", "dc_total = dc + dh * o * (1 - tc)")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "tanh's derivative forgotten in the cell-state path: dc + dh * o",
    _edit(LSTM_STEP_B, ("dc_total = dc + dh * o * (1 - tc ** 2)", "dc_total = dc + dh * o")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "dc_prev from the incoming dc only (dc * f), not from the total gradient at c",
    _edit(LSTM_STEP_B, ("dc_prev = dc_total * f", "dc_prev = dc * f")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "the gate blocks of the gradient concatenated in the order i, f, o, g",
    _edit(
        LSTM_STEP_B,
        (
            "dg * (1 - g ** 2), do * o * (1 - o)]",
            "do * o * (1 - o), dg * (1 - g ** 2)]",
        ),
    ),
)
_add(
    "lstm_step_backward",
    "mistake",
    "the forget gate's sigmoid derivative written as (1 - f) without the factor f",
    _edit(LSTM_STEP_B, ("df * f * (1 - f)", "df * (1 - f)")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "the candidate g differentiated as a sigmoid: g * (1 - g)",
    _edit(LSTM_STEP_B, ("dg * (1 - g ** 2)", "dg * g * (1 - g)")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "the output gate's gradient with c where tanh(c) belongs: do = dh * c",
    _edit(LSTM_STEP_B, ("do = dh * tc", "do = dh * c")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "the LSTM's db is the mean over the batch",
    _edit(LSTM_STEP_B, ("db = da.sum(axis=0)", "db = da.mean(axis=0)")),
)
_add(
    "lstm_step_backward",
    "mistake",
    "dw_hh transposed: h_prev.T @ da, shape (H, 4H)",
    _edit(LSTM_STEP_B, ("dw_hh = da.T @ h_prev", "dw_hh = h_prev.T @ da")),
)

# ---------------------------------------------------------------------------------------------------------------
# lstm_forward
# ---------------------------------------------------------------------------------------------------------------
LSTM_F = """
def lstm_forward(x, h0, c0, w_ih, w_hh, b):
    T = x.shape[0]
    h_t, c_t = h0, c0
    hs, cache = [], []
    for t in range(T):
        h_t, c_t, step_cache = lstm_step_forward(x[t], h_t, c_t, w_ih, w_hh, b)
        hs.append(h_t)
        cache.append(step_cache)
    h = np.stack(hs)
    return h, cache
"""
_add("lstm_forward", "correct", "base solution: both states carried through a loop over time", LSTM_F)
_add(
    "lstm_forward",
    "correct",
    "the output preallocated, the states kept in a tuple",
    """
def lstm_forward(x, h0, c0, w_ih, w_hh, b):
    T, N, _ = x.shape
    h = np.zeros((T, N, h0.shape[1]))
    state = (h0, c0)
    cache = []
    for t in range(T):
        h_new, c_new, step_cache = lstm_step_forward(x[t], *state, w_ih, w_hh, b)
        h[t] = h_new
        state = (h_new, c_new)
        cache.append(step_cache)
    return h, cache
""",
)
_add(
    "lstm_forward",
    "mistake",
    "the cell state is never carried: every step starts from c0",
    _edit(
        LSTM_F, ("lstm_step_forward(x[t], h_t, c_t, w_ih, w_hh, b)", "lstm_step_forward(x[t], h_t, c0, w_ih, w_hh, b)")
    ),
)
_add(
    "lstm_forward",
    "mistake",
    "h and c swapped when the step's outputs are unpacked",
    _edit(LSTM_F, ("h_t, c_t, step_cache = lstm_step_forward", "c_t, h_t, step_cache = lstm_step_forward")),
)
_add(
    "lstm_forward",
    "mistake",
    "h and c passed to the step in the wrong order",
    _edit(
        LSTM_F, ("lstm_step_forward(x[t], h_t, c_t, w_ih, w_hh, b)", "lstm_step_forward(x[t], c_t, h_t, w_ih, w_hh, b)")
    ),
)
_add(
    "lstm_forward",
    "mistake",
    "the cell states returned instead of the hidden states",
    _edit(LSTM_F, ("hs.append(h_t)", "hs.append(c_t)")),
)
_add(
    "lstm_forward",
    "mistake",
    "off by one in the LSTM loop: range(T - 1)",
    _edit(LSTM_F, ("for t in range(T):", "for t in range(T - 1):")),
)
_add(
    "lstm_forward",
    "mistake",
    "the LSTM output preallocated with np.zeros_like(x): shape (T, N, D)",
    """
def lstm_forward(x, h0, c0, w_ih, w_hh, b):
    T = x.shape[0]
    h = np.zeros_like(x)
    h_t, c_t = h0, c0
    cache = []
    for t in range(T):
        h_t, c_t, step_cache = lstm_step_forward(x[t], h_t, c_t, w_ih, w_hh, b)
        h[t] = h_t
        cache.append(step_cache)
    return h, cache
""",
)
_add(
    "lstm_forward",
    "mistake",
    "the LSTM caches kept in reverse time order",
    _edit(LSTM_F, ("cache.append(step_cache)", "cache.insert(0, step_cache)")),
)

# ---------------------------------------------------------------------------------------------------------------
# lstm_backward
# ---------------------------------------------------------------------------------------------------------------
LSTM_B = """
def lstm_backward(dh, cache):
    T = dh.shape[0]
    dh_next = np.zeros_like(dh[0])
    dc_next = np.zeros_like(dh[0])
    dxs = [None] * T
    dw_ih, dw_hh, db = 0.0, 0.0, 0.0
    for t in reversed(range(T)):
        dx_t, dh_next, dc_next, dw_ih_t, dw_hh_t, db_t = lstm_step_backward(dh[t] + dh_next, dc_next, cache[t])
        dxs[t] = dx_t
        dw_ih = dw_ih + dw_ih_t
        dw_hh = dw_hh + dw_hh_t
        db = db + db_t
    dx = np.stack(dxs)
    dh0, dc0 = dh_next, dc_next
    return dx, dh0, dc0, dw_ih, dw_hh, db
"""
_add("lstm_backward", "correct", "base solution: backwards in time, both state gradients carried", LSTM_B)
_add(
    "lstm_backward",
    "correct",
    "gradients accumulated in arrays allocated at the first (last-in-time) step",
    """
def lstm_backward(dh, cache):
    T = len(cache)
    dh_carry = np.zeros(dh.shape[1:])
    dc_carry = np.zeros(dh.shape[1:])
    dx = grads = None
    for t in range(T - 1, -1, -1):
        out = lstm_step_backward(dh[t] + dh_carry, dc_carry, cache[t])
        dx_t, dh_carry, dc_carry = out[0], out[1], out[2]
        if dx is None:
            dx = np.zeros((T,) + dx_t.shape)
            grads = [np.zeros_like(g) for g in out[3:]]
        dx[t] = dx_t
        for acc, g in zip(grads, out[3:]):
            acc += g
    return (dx, dh_carry, dc_carry, *grads)
""",
)
_add(
    "lstm_backward",
    "mistake",
    "the cell-state gradient not carried: every step gets dc = 0",
    _edit(
        LSTM_B,
        (
            "lstm_step_backward(dh[t] + dh_next, dc_next, cache[t])",
            "lstm_step_backward(dh[t] + dh_next, np.zeros_like(dh[t]), cache[t])",
        ),
    ),
)
_add(
    "lstm_backward",
    "mistake",
    "the later steps' dh_prev is not added: each step gets dh[t] only",
    _edit(
        LSTM_B,
        ("lstm_step_backward(dh[t] + dh_next, dc_next, cache[t])", "lstm_step_backward(dh[t], dc_next, cache[t])"),
    ),
)
_add(
    "lstm_backward",
    "mistake",
    "dh and dc passed to the step backward in the wrong order",
    _edit(
        LSTM_B,
        (
            "lstm_step_backward(dh[t] + dh_next, dc_next, cache[t])",
            "lstm_step_backward(dc_next, dh[t] + dh_next, cache[t])",
        ),
    ),
)
_add(
    "lstm_backward",
    "mistake",
    "the LSTM's backward loop runs forwards in time",
    _edit(LSTM_B, ("for t in reversed(range(T)):", "for t in range(T):")),
)
_add(
    "lstm_backward",
    "mistake",
    "the LSTM's dh changed in place: dh[t] += dh_next",
    _edit(
        LSTM_B,
        (
            "dx_t, dh_next, dc_next, dw_ih_t, dw_hh_t, db_t = lstm_step_backward(dh[t] + dh_next, dc_next, cache[t])",
            "dh[t] += dh_next\n        dx_t, dh_next, dc_next, dw_ih_t, dw_hh_t, db_t = lstm_step_backward(dh[t], dc_next, cache[t])",
        ),
    ),
)
_add(
    "lstm_backward",
    "mistake",
    "dh0 and dc0 returned in the wrong order",
    _edit(LSTM_B, ("return dx, dh0, dc0, dw_ih, dw_hh, db", "return dx, dc0, dh0, dw_ih, dw_hh, db")),
)
_add(
    "lstm_backward",
    "mistake",
    "the LSTM weight gradients overwritten at each step, not summed",
    _edit(
        LSTM_B,
        ("dw_ih = dw_ih + dw_ih_t", "dw_ih = dw_ih_t"),
        ("dw_hh = dw_hh + dw_hh_t", "dw_hh = dw_hh_t"),
        ("db = db + db_t", "db = db_t"),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# gru_step_forward
# ---------------------------------------------------------------------------------------------------------------
GRU_STEP_F = """
def gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    gi = x @ w_ih.T + b_ih
    gh = h_prev @ w_hh.T + b_hh
    r = sigmoid(gi[:, 0:H] + gh[:, 0:H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    hn = gh[:, 2 * H:3 * H]
    n = np.tanh(gi[:, 2 * H:3 * H] + r * hn)
    h = (1 - z) * n + z * h_prev
    cache = (x, h_prev, w_ih, w_hh, r, z, n, hn)
    return h, cache
"""
_add(
    "gru_step_forward",
    "correct",
    "base solution: the input and hidden pre-activations kept apart, sliced r, z, n",
    GRU_STEP_F,
)
_add(
    "gru_step_forward",
    "correct",
    "each gate from its own weight slices; h written as n + z * (h_prev - n)",
    """
def gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    H = w_hh.shape[1]
    W_ir, W_iz, W_in = w_ih[:H], w_ih[H:2 * H], w_ih[2 * H:]
    W_hr, W_hz, W_hn = w_hh[:H], w_hh[H:2 * H], w_hh[2 * H:]
    r = sigmoid(x @ W_ir.T + b_ih[:H] + h_prev @ W_hr.T + b_hh[:H])
    z = sigmoid(x @ W_iz.T + b_ih[H:2 * H] + h_prev @ W_hz.T + b_hh[H:2 * H])
    hn = h_prev @ W_hn.T + b_hh[2 * H:]
    n = np.tanh(x @ W_in.T + b_ih[2 * H:] + r * hn)
    h = n + z * (h_prev - n)
    return h, (x, h_prev, w_ih, w_hh, r, z, n, hn)
""",
)
_add(
    "gru_step_forward",
    "mistake",
    "z on the other side of the interpolation (the slides' form): h = z * n + (1 - z) * h_prev",
    _edit(GRU_STEP_F, ("h = (1 - z) * n + z * h_prev", "h = z * n + (1 - z) * h_prev")),
)
_add(
    "gru_step_forward",
    "mistake",
    "the reset gate applied before the matrix product (Cho et al.'s form): (r * h_prev) @ W_hn.T + b_hn",
    _edit(
        GRU_STEP_F,
        (
            "n = np.tanh(gi[:, 2 * H:3 * H] + r * hn)",
            "n = np.tanh(gi[:, 2 * H:3 * H] + (r * h_prev) @ w_hh[2 * H:].T + b_hh[2 * H:])",
        ),
    ),
)
_add(
    "gru_step_forward",
    "mistake",
    "b_hn added outside the reset gate: r * (h_prev @ W_hn.T) + b_hn, and hn cached without b_hn",
    _edit(
        GRU_STEP_F,
        ("hn = gh[:, 2 * H:3 * H]", "hn = h_prev @ w_hh[2 * H:].T"),
        ("n = np.tanh(gi[:, 2 * H:3 * H] + r * hn)", "n = np.tanh(gi[:, 2 * H:3 * H] + r * hn + b_hh[2 * H:])"),
    ),
)
_add(
    "gru_step_forward",
    "mistake",
    "the gate order z, r, n: r and z blocks swapped",
    _edit(
        GRU_STEP_F,
        ("r = sigmoid(gi[:, 0:H] + gh[:, 0:H])", "r = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])"),
        ("z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])", "z = sigmoid(gi[:, 0:H] + gh[:, 0:H])"),
    ),
)
_add(
    "gru_step_forward",
    "mistake",
    "b_hh forgotten (one bias, as in the RNN and the LSTM)",
    _edit(GRU_STEP_F, ("gh = h_prev @ w_hh.T + b_hh", "gh = h_prev @ w_hh.T")),
)
_add(
    "gru_step_forward",
    "mistake",
    "hn cached after the reset gate: r * hn",
    _edit(
        GRU_STEP_F, ("cache = (x, h_prev, w_ih, w_hh, r, z, n, hn)", "cache = (x, h_prev, w_ih, w_hh, r, z, n, r * hn)")
    ),
)
_add(
    "gru_step_forward",
    "mistake",
    "the candidate n through a sigmoid instead of tanh",
    _edit(GRU_STEP_F, ("n = np.tanh(gi[:, 2 * H:3 * H] + r * hn)", "n = sigmoid(gi[:, 2 * H:3 * H] + r * hn)")),
)
_add(
    "gru_step_forward",
    "mistake",
    "the reset gate multiplies the whole candidate pre-activation: r * (x W_in^T + b_in + hn)",
    _edit(GRU_STEP_F, ("n = np.tanh(gi[:, 2 * H:3 * H] + r * hn)", "n = np.tanh(r * (gi[:, 2 * H:3 * H] + hn))")),
)

# ---------------------------------------------------------------------------------------------------------------
# gru_step_backward
# ---------------------------------------------------------------------------------------------------------------
GRU_STEP_B = """
def gru_step_backward(dh, cache):
    x, h_prev, w_ih, w_hh, r, z, n, hn = cache
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dh_direct = dh * z
    dan = dn * (1 - n ** 2)
    dr = dan * hn
    dhn = dan * r
    dar = dr * r * (1 - r)
    daz = dz * z * (1 - z)
    dgi = np.concatenate([dar, daz, dan], axis=1)
    dgh = np.concatenate([dar, daz, dhn], axis=1)
    dx = dgi @ w_ih
    dh_prev = dh_direct + dgh @ w_hh
    dw_ih = dgi.T @ x
    dw_hh = dgh.T @ h_prev
    db_ih = dgi.sum(axis=0)
    db_hh = dgh.sum(axis=0)
    return dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh
"""
_add(
    "gru_step_backward",
    "correct",
    "base solution: separate gradients of the input and hidden pre-activations",
    GRU_STEP_B,
)
_add(
    "gru_step_backward",
    "correct",
    "gate by gate with the weight blocks sliced, the blocks stacked at the end",
    """
def gru_step_backward(dh, cache):
    x, h_prev, w_ih, w_hh, r, z, n, hn = cache
    H = h_prev.shape[1]
    d_n_pre = dh * (1.0 - z) * (1.0 - n * n)
    d_z_pre = dh * (h_prev - n) * z * (1.0 - z)
    d_r_pre = d_n_pre * hn * r * (1.0 - r)
    d_hn = d_n_pre * r
    dx = d_r_pre @ w_ih[:H] + d_z_pre @ w_ih[H:2 * H] + d_n_pre @ w_ih[2 * H:]
    dh_prev = dh * z + d_r_pre @ w_hh[:H] + d_z_pre @ w_hh[H:2 * H] + d_hn @ w_hh[2 * H:]
    dw_ih = np.vstack([d_r_pre.T @ x, d_z_pre.T @ x, d_n_pre.T @ x])
    dw_hh = np.vstack([d_r_pre.T @ h_prev, d_z_pre.T @ h_prev, d_hn.T @ h_prev])
    db_ih = np.concatenate([d_r_pre.sum(0), d_z_pre.sum(0), d_n_pre.sum(0)])
    db_hh = np.concatenate([d_r_pre.sum(0), d_z_pre.sum(0), d_hn.sum(0)])
    return dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh
""",
)
_add(
    "gru_step_backward",
    "mistake",
    "the update gate's gradient with the sign flipped: dh * (n - h_prev)",
    _edit(GRU_STEP_B, ("dz = dh * (h_prev - n)", "dz = dh * (n - h_prev)")),
)
_add(
    "gru_step_backward",
    "mistake",
    "the direct path dh * z to h_prev forgotten",
    _edit(GRU_STEP_B, ("dh_prev = dh_direct + dgh @ w_hh", "dh_prev = dgh @ w_hh")),
)
_add(
    "gru_step_backward",
    "mistake",
    "the candidate's hidden block without the reset gate: dhn = dan (r dropped)",
    _edit(GRU_STEP_B, ("dhn = dan * r", "dhn = dan")),
)
_add(
    "gru_step_backward",
    "mistake",
    "db_hh returned equal to db_ih (the two biases treated as one)",
    _edit(GRU_STEP_B, ("db_hh = dgh.sum(axis=0)", "db_hh = dgi.sum(axis=0)")),
)
_add(
    "gru_step_backward",
    "mistake",
    "tanh's derivative written as 1 - n instead of 1 - n**2",
    _edit(GRU_STEP_B, ("dan = dn * (1 - n ** 2)", "dan = dn * (1 - n)")),
)
_add(
    "gru_step_backward",
    "mistake",
    "the reset gate's gradient with h_prev where hn belongs (Cho's form)",
    _edit(GRU_STEP_B, ("dr = dan * hn", "dr = dan * h_prev")),
)
_add(
    "gru_step_backward",
    "mistake",
    "the update gate's sigmoid derivative forgotten",
    _edit(GRU_STEP_B, ("daz = dz * z * (1 - z)", "daz = dz")),
)
_add(
    "gru_step_backward",
    "mistake",
    "z on the other side in the backward pass: dn = dh * z, direct path dh * (1 - z)",
    _edit(
        GRU_STEP_B,
        ("dn = dh * (1 - z)", "dn = dh * z"),
        ("dh_direct = dh * z", "dh_direct = dh * (1 - z)"),
        ("dz = dh * (h_prev - n)", "dz = dh * (n - h_prev)"),
    ),
)
_add(
    "gru_step_backward",
    "mistake",
    "dw_ih transposed: x.T @ dgi, shape (D, 3H)",
    _edit(GRU_STEP_B, ("dw_ih = dgi.T @ x", "dw_ih = x.T @ dgi")),
)

# ---------------------------------------------------------------------------------------------------------------
# gru_forward
# ---------------------------------------------------------------------------------------------------------------
GRU_F = """
def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    T = x.shape[0]
    h_t = h0
    hs, cache = [], []
    for t in range(T):
        h_t, step_cache = gru_step_forward(x[t], h_t, w_ih, w_hh, b_ih, b_hh)
        hs.append(h_t)
        cache.append(step_cache)
    h = np.stack(hs)
    return h, cache
"""
_add("gru_forward", "correct", "base solution: the GRU loop over time, the states stacked", GRU_F)
_add(
    "gru_forward",
    "correct",
    "the output preallocated with np.empty, the step read from h[t - 1]",
    """
def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    T, N = x.shape[:2]
    h = np.empty((T, N, h0.shape[1]))
    cache = []
    for t in range(T):
        prev = h0 if t == 0 else h[t - 1]
        h[t], c = gru_step_forward(x[t], prev, w_ih, w_hh, b_ih, b_hh)
        cache.append(c)
    return h, cache
""",
)
_add(
    "gru_forward",
    "mistake",
    "the GRU state is never carried: every step starts from h0",
    _edit(GRU_F, ("gru_step_forward(x[t], h_t, w_ih", "gru_step_forward(x[t], h0, w_ih")),
)
_add(
    "gru_forward",
    "mistake",
    "the two biases passed to the step in the wrong order (b_hh, b_ih)",
    _edit(GRU_F, ("w_ih, w_hh, b_ih, b_hh)\n        hs", "w_ih, w_hh, b_hh, b_ih)\n        hs")),
)
_add(
    "gru_forward",
    "mistake",
    "the two weights passed to the step in the wrong order (w_hh, w_ih)",
    _edit(GRU_F, ("h_t, w_ih, w_hh, b_ih, b_hh)", "h_t, w_hh, w_ih, b_ih, b_hh)")),
)
_add(
    "gru_forward",
    "mistake",
    "the GRU state stored one step late: h[t] is the state before step t",
    _edit(
        GRU_F,
        (
            "        h_t, step_cache = gru_step_forward(x[t], h_t, w_ih, w_hh, b_ih, b_hh)\n        hs.append(h_t)\n",
            "        hs.append(h_t)\n        h_t, step_cache = gru_step_forward(x[t], h_t, w_ih, w_hh, b_ih, b_hh)\n",
        ),
    ),
)
_add(
    "gru_forward",
    "mistake",
    "only the last GRU state returned, shape (N, H)",
    _edit(GRU_F, ("h = np.stack(hs)", "h = h_t")),
)
_add(
    "gru_forward",
    "mistake",
    "the states stacked along the batch axis: np.stack(hs, axis=1), shape (N, T, H)",
    _edit(GRU_F, ("h = np.stack(hs)", "h = np.stack(hs, axis=1)")),
)

# ---------------------------------------------------------------------------------------------------------------
# gru_backward
# ---------------------------------------------------------------------------------------------------------------
GRU_B = """
def gru_backward(dh, cache):
    T = dh.shape[0]
    dh_next = np.zeros_like(dh[0])
    dxs = [None] * T
    dw_ih, dw_hh, db_ih, db_hh = 0.0, 0.0, 0.0, 0.0
    for t in reversed(range(T)):
        dx_t, dh_next, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = gru_step_backward(dh[t] + dh_next, cache[t])
        dxs[t] = dx_t
        dw_ih = dw_ih + dw_ih_t
        dw_hh = dw_hh + dw_hh_t
        db_ih = db_ih + db_ih_t
        db_hh = db_hh + db_hh_t
    dx = np.stack(dxs)
    dh0 = dh_next
    return dx, dh0, dw_ih, dw_hh, db_ih, db_hh
"""
_add("gru_backward", "correct", "base solution: the GRU's BPTT, dh[t] plus the later step's dh_prev", GRU_B)
_add(
    "gru_backward",
    "correct",
    "the parameter gradients accumulated in a list of sums, dx collected then reversed",
    """
def gru_backward(dh, cache):
    upstream = np.zeros(dh.shape[1:])
    dx_rev = []
    sums = None
    for t in range(dh.shape[0] - 1, -1, -1):
        dx_t, upstream, *param_grads = gru_step_backward(dh[t] + upstream, cache[t])
        dx_rev.append(dx_t)
        sums = param_grads if sums is None else [s + g for s, g in zip(sums, param_grads)]
    dx = np.stack(dx_rev[::-1])
    return (dx, upstream, *sums)
""",
)
_add(
    "gru_backward",
    "mistake",
    "the GRU's later steps' gradient is not added: each step gets dh[t] only",
    _edit(GRU_B, ("gru_step_backward(dh[t] + dh_next, cache[t])", "gru_step_backward(dh[t], cache[t])")),
)
_add(
    "gru_backward",
    "mistake",
    "the GRU's dh0 taken as the total gradient at the first output h[0] (dh[0] added once more)",
    _edit(GRU_B, ("dh0 = dh_next", "dh0 = dh_next + dh[0]")),
)
_add(
    "gru_backward",
    "mistake",
    "the two bias gradients returned in the wrong order (db_hh, db_ih)",
    _edit(GRU_B, ("return dx, dh0, dw_ih, dw_hh, db_ih, db_hh", "return dx, dh0, dw_ih, dw_hh, db_hh, db_ih")),
)
_add(
    "gru_backward",
    "mistake",
    "the GRU's backward loop runs forwards in time",
    _edit(GRU_B, ("for t in reversed(range(T)):", "for t in range(T):")),
)
_add(
    "gru_backward",
    "mistake",
    "the GRU's dh changed in place: dh[t] += dh_next",
    _edit(
        GRU_B,
        (
            "dx_t, dh_next, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = gru_step_backward(dh[t] + dh_next, cache[t])",
            "dh[t] += dh_next\n        dx_t, dh_next, dw_ih_t, dw_hh_t, db_ih_t, db_hh_t = gru_step_backward(dh[t], cache[t])",
        ),
    ),
)
_add(
    "gru_backward",
    "mistake",
    "the GRU's dx appended while going backwards and never reversed",
    _edit(
        GRU_B,
        ("dxs = [None] * T", "dxs = []"),
        ("dxs[t] = dx_t", "dxs.append(dx_t)"),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# clip_grad_norm
# ---------------------------------------------------------------------------------------------------------------
CLIP = """
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    clipped = {name: g * scale for name, g in grads.items()}
    return clipped, total_norm
"""
_add("clip_grad_norm", "correct", "base solution: one global norm, one factor min(1, max_norm / (norm + 1e-6))", CLIP)
_add(
    "clip_grad_norm",
    "correct",
    "the norm of all gradients flattened into one vector, an explicit if",
    """
def clip_grad_norm(grads, max_norm):
    flat = np.concatenate([np.ravel(g) for g in grads.values()])
    total_norm = float(np.linalg.norm(flat))
    coef = max_norm / (total_norm + 1e-6)
    clipped = {}
    for name, g in grads.items():
        clipped[name] = g * coef if coef < 1 else g.copy()
    return clipped, total_norm
""",
)
_add(
    "clip_grad_norm",
    "mistake",
    "each gradient clipped by its own norm, not by the global norm",
    """
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    clipped = {}
    for name, g in grads.items():
        norm = np.sqrt(np.sum(g ** 2))
        clipped[name] = g * min(1.0, max_norm / (norm + 1e-6))
    return clipped, total_norm
""",
)
_add(
    "clip_grad_norm",
    "mistake",
    "clipping by value: each entry clipped to [-max_norm, max_norm]",
    _edit(
        CLIP,
        (
            "clipped = {name: g * scale for name, g in grads.items()}",
            "clipped = {name: np.clip(g, -max_norm, max_norm) for name, g in grads.items()}",
        ),
    ),
)
_add(
    "clip_grad_norm",
    "mistake",
    "the gradients scaled in place (the caller's arrays change)",
    _edit(
        CLIP,
        (
            "clipped = {name: g * scale for name, g in grads.items()}",
            "clipped = {}\n    for name, g in grads.items():\n        g *= scale\n        clipped[name] = g",
        ),
    ),
)
_add(
    "clip_grad_norm",
    "mistake",
    "no min with 1: small gradients are scaled up to max_norm",
    _edit(CLIP, ("scale = min(1.0, max_norm / (total_norm + 1e-6))", "scale = max_norm / (total_norm + 1e-6)")),
)
_add(
    "clip_grad_norm",
    "mistake",
    "the norm returned is the one after clipping",
    _edit(
        CLIP,
        (
            "    return clipped, total_norm\n",
            "    total_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in clipped.values())))\n    return clipped, total_norm\n",
        ),
    ),
)
_add(
    "clip_grad_norm",
    "mistake",
    "the global norm as the sum of the per-gradient norms",
    _edit(
        CLIP,
        (
            "float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))",
            "float(sum(np.sqrt(np.sum(g ** 2)) for g in grads.values()))",
        ),
    ),
)
_add(
    "clip_grad_norm",
    "mistake",
    "no 1e-6 guard: the factor is max_norm / total_norm",
    _edit(CLIP, ("max_norm / (total_norm + 1e-6)", "max_norm / total_norm")),
)
_add(
    "clip_grad_norm",
    "mistake",
    "np.linalg.norm(g, 2) per gradient: the spectral norm for a matrix, not the Frobenius norm",
    _edit(
        CLIP,
        (
            "float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))",
            "float(np.sqrt(sum(np.linalg.norm(g, 2) ** 2 for g in grads.values())))",
        ),
    ),
)
_add(
    "clip_grad_norm",
    "mistake",
    "the squared norm (no square root)",
    _edit(
        CLIP,
        (
            "float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))",
            "float(sum(np.sum(g ** 2) for g in grads.values()))",
        ),
    ),
)
_add(
    "clip_grad_norm",
    "mistake",
    "the norm from the mean of the squares, not their sum",
    _edit(
        CLIP,
        (
            "float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))",
            "float(np.sqrt(sum(np.mean(g ** 2) for g in grads.values())))",
        ),
    ),
)

FUNCTIONS = [
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "gru_step_forward",
    "gru_step_backward",
    "gru_forward",
    "gru_backward",
    "clip_grad_norm",
]


# ---------------------------------------------------------------------------------------------------------------
# Step 2, after the catalogue above was committed: the judgement of the messages (python -m tools.blind_report).
# ``named``: does the test's message name the mistake, so that a teacher reading it knows what to fix?
# ``wanted``: for an unnamed one, the message a teacher would want. ``gap``: a real mistake that passes the full test
# cell, and why. Each key is the start of one entry's description (checked to match exactly one entry).
# ---------------------------------------------------------------------------------------------------------------
# Judged at commit b26f2b7 (the frozen worktree /work/briefs/before), by reading each caught mistake's whole first
# failure message (python -m tools.blind_report --assignment 05 --judge). A message is named when a teacher reading
# it knows what to fix; a number dump, a bare shape or count, or a raw exception whose "likely cause" points
# elsewhere is not. /work/main may name more of these by now: this records the BEFORE judgement.
# AFTER (issue 23, judged again at the commit that records this comment, by reading each mistake's whole first
# message, python -m tools.blind_report --assignment 05 --judge): BEFORE, at b26f2b7, 106 of 108 mistakes were caught
# and 67 named (63% of the caught); AFTER, 108 of 108 are caught (the two float32 gaps closed: the hidden parts ask
# every returned array to be float64) and 108 named (100%). NAMED below records the AFTER judgement; an entry named
# since BEFORE quotes the start of its message.
NAMED = {
    # rnn_step_forward
    "w_hh not transposed": True,
    "w_ih not transposed": True,  # the exception with the student's line and "the input enters as x @ w_ih.T"
    "the bias is forgotten": True,
    "sigmoid instead of tanh": True,
    "the cache holds the pre-activation a": True,
    "the cache's weights in the wrong order": True,
    "computed in float32": True,  # hidden part: "h returned by rnn_step_forward(...) has dtype float32 ..."
    "the tanh applied to the input term only": True,  # after: "Likely mistake: the tanh was applied to the input term alone: it wraps the whole pre-activation,..."
    # rnn_step_backward
    "tanh's derivative written as 1 - h instead": True,
    "tanh applied again to the cached h": True,
    "the derivative's sign flipped": True,  # "It equals the expected value with the opposite sign"
    "dw_ih transposed: x.T @ da": True,
    "dw_hh transposed: h_prev.T @ da (square": True,  # after: "Likely mistake: dw_hh is the transpose of the expected array: its rows and columns are swapped."
    "dh_prev through the transposed weight": True,
    "db summed over the wrong axis": True,  # after: "Likely mistake: db was summed over the hidden units (axis 1), one value per example: the bias gra..."
    "db is the mean over the batch, not the sum": True,
    "the weight gradients averaged over the batch": True,
    "db skips the tanh": True,
    # rnn_forward
    "the state is never carried": True,
    "the state stored one step late: h[t] is the state before step t (h[0] = h0)": True,  # after: "Likely mistake: h is shifted by one along axis 0, T (size 4): each entry holds the value of the p..."
    "the sequence read batch first": True,
    "off by one: the loop runs over range(T - 1)": True,  # after: "Likely mistake: h lacks the last time step along axis 0, T (size 4): it has 3 where 4 are expecte..."
    "the caches kept in reverse time order (inserted": True,
    "only the last hidden state returned, shape (N, H)": True,
    "the output preallocated with np.zeros_like(x)": True,  # after: "Likely cause: h was allocated with x's shape, so h[t] is (2, 3) where a step gives (2, 5): h has..."
    "only the last step's cache returned": True,
    "the output preallocated in float32": True,  # hidden part: "h returned by rnn_forward(...) has dtype float32 ..."
    # rnn_backward
    "the loop runs forwards in time": True,
    "the later steps' gradient is not added": True,
    "the weight gradients overwritten at each step, not summed (only": True,
    "dh changed in place": True,
    "the weight gradients averaged over time": True,
    "dh0 taken as the total gradient": True,  # after: "Likely mistake: dh0 includes dh[0]: dh[0] is the gradient of h[0], the state AFTER step 0; dh0 is..."
    "the dx of each step appended while going backwards": True,  # after: "Likely mistake: dx is the expected array reversed along axis 0, T (size 4) (the sequence is walke..."
    "off by one: the loop stops before step 0": True,  # after: "Likely mistake: dx is right everywhere but at the first time step (index 0 of axis 0, T (size 4))..."
    "dx preallocated with np.zeros_like(dh)": True,  # after: "Likely cause: dx was allocated with dh's shape, so dx[t] is (2, 5) where a step gives (2, 3): dx..."
    # lstm_step_forward
    "CS231n's gate order": True,
    "the forget gate first": True,
    "the candidate g through a sigmoid": True,
    "no tanh on the cell state": True,
    "the new hidden state from the previous cell state": True,  # after: "Likely mistake: h = o * tanh(c_prev): the new hidden state squashes the NEW cell state, h = o * t..."
    "H read from the input's width": True,  # after: "Likely cause: a gate block of width D = 4 met one of width H = 5: the blocks are H = h_prev.shape..."
    "the blocks sliced along the batch axis": True,  # after: "Likely cause: a slice of the (N, 4H) pre-activation has 4H = 20 columns: a gate block is a group..."
    "the cache holds tanh(c)": True,
    "the cache holds the gates' pre-activations": True,
    # lstm_step_backward
    "the dc argument ignored": True,
    "tanh's derivative as 1 - tanh(c)": True,  # after: "Likely mistake: in the path from h to c, tanh's derivative was written 1 - tanh(c): it is 1 - tan..."
    "tanh's derivative forgotten in the cell-state path": True,
    "dc_prev from the incoming dc only": True,  # after: "Likely mistake: dc_prev uses only the incoming dc: it is the TOTAL gradient at c, dc + dh * o * (..."
    "the gate blocks of the gradient concatenated in the order i, f, o, g": True,
    "the forget gate's sigmoid derivative": True,  # after: "Likely mistake: the forget gate's sigmoid derivative misses a factor: it is f * (1 - f)."
    "the candidate g differentiated as a sigmoid": True,  # after: "Likely mistake: the candidate g was differentiated as a sigmoid, g * (1 - g): g = tanh(a_g), so i..."
    "the output gate's gradient with c": True,
    "the LSTM's db is the mean": True,
    "dw_hh transposed: h_prev.T @ da, shape (H, 4H)": True,
    # lstm_forward
    "the cell state is never carried": True,
    "h and c swapped when the step's outputs are unpacked": True,  # after: "Likely mistake: h and c are swapped when the step's outputs are unpacked: lstm_step_forward retur..."
    "h and c passed to the step in the wrong order": True,  # after: "Likely mistake: h and c are passed to the step in the wrong order: lstm_step_forward(x[t], h_prev..."
    "the cell states returned instead": True,  # after: "Likely mistake: the cell states c are returned, not the hidden states h."
    "off by one in the LSTM loop": True,  # after: "Likely mistake: h lacks the last time step along axis 0, T (size 4): it has 3 where 4 are expecte..."
    "the LSTM output preallocated with np.zeros_like(x)": True,  # after: "Likely cause: h was allocated with x's shape, so h[t] is (2, 3) where a step gives (2, 5): h has..."
    "the LSTM caches kept in reverse time order": True,
    # lstm_backward
    "the cell-state gradient not carried": True,
    "the later steps' dh_prev is not added": True,
    "dh and dc passed to the step backward in the wrong order": True,  # after: "Likely mistake: dh and dc are passed to the step backward the other way round: lstm_step_backward..."
    "the LSTM's backward loop runs forwards": True,
    "the LSTM's dh changed in place": True,
    "dh0 and dc0 returned in the wrong order": True,
    "the LSTM weight gradients overwritten": True,
    # gru_step_forward
    "z on the other side of the interpolation": True,
    "the reset gate applied before the matrix product": True,
    "b_hn added outside the reset gate": True,
    "the gate order z, r, n": True,
    "b_hh forgotten": True,
    "hn cached after the reset gate": True,
    "the candidate n through a sigmoid": True,  # after: "Likely mistake: the candidate n went through a sigmoid: n = tanh(x @ w_in.T + b_in + r * hn); onl..."
    "the reset gate multiplies the whole candidate": True,  # after: "Likely mistake: r multiplies the whole candidate pre-activation: it multiplies only the hidden pa..."
    # gru_step_backward
    "the update gate's gradient with the sign flipped": True,  # after: "Likely mistake: the update gate's gradient has the wrong sign: since h = (1 - z) * n + z * h_prev..."
    "the direct path dh * z": True,
    "the candidate's hidden block without the reset gate": True,  # "its gradient is multiplied by r like w_hn's"
    "db_hh returned equal to db_ih": True,  # the same hint: the n block of db_hh is multiplied by r
    "tanh's derivative written as 1 - n": True,  # after: "Likely mistake: tanh's derivative at n was written 1 - n: it is 1 - n**2."
    "the reset gate's gradient with h_prev": True,  # after: "Likely mistake: the reset gate's gradient used h_prev (Cho's form): in torch's form r multiplies..."
    "the update gate's sigmoid derivative forgotten": True,  # after: "Likely mistake: the update gate's block misses the sigmoid's derivative z * (1 - z)."
    "z on the other side in the backward pass": True,
    "dw_ih transposed: x.T @ dgi": True,
    # gru_forward
    "the GRU state is never carried": True,
    "the two biases passed to the step in the wrong order": True,  # after: "Likely mistake: the two biases are passed to the step in the wrong order: gru_step_forward(..., b..."
    "the two weights passed to the step in the wrong order": True,  # after: "gru_forward called gru_step_forward with w_ih of shape (15, 5) and w_hh of shape (15, 3): w_ih an..."
    "the GRU state stored one step late": True,  # after: "Likely mistake: h is shifted by one along axis 0, T (size 4): each entry holds the value of the p..."
    "only the last GRU state returned": True,
    "the states stacked along the batch axis": True,  # after: "Likely mistake: h has its axes in the wrong order: it is the expected array with its axes permute..."
    # gru_backward
    "the GRU's later steps' gradient is not added": True,
    "the GRU's dh0 taken as the total gradient": True,  # after: "Likely mistake: dh0 includes dh[0]: dh[0] is the gradient of h[0], the state AFTER step 0; dh0 is..."
    "the two bias gradients returned in the wrong order": True,  # after: "Likely mistake: db_ih holds the value of db_hh: return the values in the order (dx, dh0, dw_ih, d..."
    "the GRU's backward loop runs forwards": True,
    "the GRU's dh changed in place": True,
    "the GRU's dx appended while going backwards": True,  # after: "Likely mistake: dx is the expected array reversed along axis 0, T (size 4) (the sequence is walke..."
    # clip_grad_norm
    "each gradient clipped by its own norm": True,
    "clipping by value": True,
    "the gradients scaled in place": True,
    "no min with 1": True,
    "the norm returned is the one after clipping": True,
    "the global norm as the sum of the per-gradient norms": True,
    "no 1e-6 guard": True,  # after: "Likely cause: a division by zero: all-zero gradients have total_norm 0; the factor is max_norm /..."
    "np.linalg.norm(g, 2) per gradient": True,  # after: "Likely mistake: a matrix's norm was taken as np.linalg.norm(g, 2), its largest singular value: th..."
    "the squared norm": True,
    "the norm from the mean of the squares": True,  # after: "Likely mistake: total_norm was computed from the MEAN of the squares of each gradient: it is the..."
}

GAPS: dict[str, str] = {}


judge(ENTRIES, NAMED, GAPS)
