"""Assignment 5 (recurrent networks and their gates): the reference against torch, and the misconceptions.

The generic checks (reference passes, blank scores zero, points add up, the independent solution
earns full marks) run in tests/test_assignments.py. Here:

* the reference solutions against ``nn.RNNCell``/``LSTMCell``/``GRUCell``, whole-sequence
  ``nn.RNN``/``LSTM``/``GRU`` and ``clip_grad_norm_`` in float64 on many shapes (one time step, a
  batch of one, more hidden units than inputs, zero and nonzero initial states), the sequences
  running on the reference's own step functions;
* the torch references and stand-ins of ``utils.references.rnn`` against the torch modules;
* the table of mistakes a teacher expects (``MISCONCEPTIONS``), each with the test cell whose visible
  message must name it, and meta-tests: every one is caught, the named ones by their visible part,
  and the hidden-only ones really pass the visible part (so the hidden part is what catches them);
* the isolation of the test cells: a wrong step function costs only its own points;
* the benchmark row of ``tools/bench_rnn.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness import Assignment, Misconception, from_source, mutate, solution_sources
from utils.diagnose import known_variants
from utils.references import rnn as ref

A = Assignment("05_rnn_gates")
pytestmark = A.marks
SOLUTIONS = solution_sources(A)


@pytest.fixture(scope="module")
def ns() -> dict:
    return A.reference()


# --- the reference solutions against torch --------------------------------------------------------------

# (T, N, D, H): one step, a batch of one, H > D, H < D, H == D, longer sequences
SHAPES = [(1, 1, 1, 1), (1, 4, 3, 2), (3, 1, 2, 6), (5, 3, 7, 4), (8, 2, 3, 3), (2, 5, 1, 9), (20, 3, 4, 5)]


def _case(kind, shape, seed, zero_state=False, scale=0.7):
    T, N, D, H = shape
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, N, D))
    h0 = np.zeros((N, H)) if zero_state else rng.normal(size=(N, H))
    c0 = np.zeros((N, H)) if zero_state else rng.normal(size=(N, H))
    params = ref.random_params(kind, D, H, rng, scale=scale)
    dh = rng.normal(size=(T, N, H))
    return x, h0, c0, params, dh


@pytest.mark.parametrize("zero_state", [False, True], ids=["h0", "zero-h0"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_reference_sequences_match_torch(ns, kind, shape, zero_state):
    x, h0, c0, params, dh = _case(kind, shape, seed=sum(shape), zero_state=zero_state)
    state = (h0, c0) if kind == "lstm" else (h0,)
    h, cache = ns[f"{kind}_forward"](x, *state, *params)
    np.testing.assert_allclose(h, getattr(ref, f"{kind}_sequence")(x, *state, *params), rtol=1e-10, atol=1e-12)
    grads = ns[f"{kind}_backward"](dh, cache)
    expected = getattr(ref, f"{kind}_sequence_grads")(dh, x, *state, *params)
    assert len(grads) == len(expected)
    for got, want, name in zip(grads, expected, ref.SEQUENCE_GRADS[kind]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11, err_msg=f"{kind} {name}")
    # the caches the reference keeps are the documented ones
    for got_step, want_step in zip(cache, ref.sequence_cache(kind, x, *state, *params)):
        for got, want in zip(got_step, want_step):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_reference_steps_match_torch_cells(ns, kind, shape):
    _, N, D, H = shape
    rng = np.random.default_rng(N * 100 + D * 10 + H)
    x, h, c, dh, dc = (rng.normal(size=s) for s in ((N, D), (N, H), (N, H), (N, H), (N, H)))
    params = ref.random_params(kind, D, H, rng, scale=1.0)
    if kind == "lstm":
        h_new, c_new, cache = ns["lstm_step_forward"](x, h, c, *params)
        want_h, want_c = ref.lstm_cell(x, h, c, *params)
        np.testing.assert_allclose(c_new, want_c, rtol=1e-12, atol=1e-14)
        grads = ns["lstm_step_backward"](dh, dc, cache)
        expected = ref.lstm_cell_grads(dh, dc, x, h, c, *params)
    else:
        h_new, cache = ns[f"{kind}_step_forward"](x, h, *params)
        want_h = getattr(ref, f"{kind}_cell")(x, h, *params)
        grads = ns[f"{kind}_step_backward"](dh, cache)
        expected = getattr(ref, f"{kind}_cell_grads")(dh, x, h, *params)
    np.testing.assert_allclose(h_new, want_h, rtol=1e-12, atol=1e-14)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_reference_clipping_matches_torch(ns, seed):
    rng = np.random.default_rng(seed)
    grads = {
        f"p{k}": rng.normal(scale=rng.uniform(0.01, 20), size=tuple(rng.integers(1, 6, size=k + 1))) for k in range(3)
    }
    total = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    for max_norm in (0.01 * total, 0.5 * total, total, 3 * total):
        clipped, norm = ns["clip_grad_norm"](grads, max_norm)
        want, want_norm = ref.clip_grad_norm(grads, max_norm)
        assert isinstance(norm, float)
        np.testing.assert_allclose(norm, want_norm, rtol=1e-12)
        for key in grads:
            np.testing.assert_allclose(clipped[key], want[key], rtol=1e-12, atol=1e-15)


def test_reference_weights_copy_into_torch_unchanged():
    """The layout claim of the notebook: the weights go into nn.LSTM / nn.GRU as they are."""
    rng = np.random.default_rng(7)
    for kind, blocks in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        params = ref.random_params(kind, 3, 5, rng)
        module = ref.torch_module(kind, *params)
        assert tuple(module.weight_ih_l0.shape) == (blocks * 5, 3)
        np.testing.assert_array_equal(module.weight_ih_l0.detach().numpy(), params[0])
        np.testing.assert_array_equal(module.weight_hh_l0.detach().numpy(), params[1])


# --- the references module against torch ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_standins_agree_with_the_torch_cells(kind):
    rng = np.random.default_rng(11)
    N, D, H = 4, 3, 6
    x, h, c, dh, dc = (rng.normal(size=s) for s in ((N, D), (N, H), (N, H), (N, H), (N, H)))
    params = ref.random_params(kind, D, H, rng, scale=1.0)
    if kind == "lstm":
        h_new, c_new, cache = ref.torch_lstm_step_forward(x, h, c, *params)
        np.testing.assert_allclose(cache[-1], c_new, rtol=1e-12)
        got = ref.torch_lstm_step_backward(dh, dc, cache)
        want = ref.lstm_cell_grads(dh, dc, x, h, c, *params)
    else:
        h_new, cache = ref.STANDINS[f"{kind}_step_forward"](x, h, *params)
        got = ref.STANDINS[f"{kind}_step_backward"](dh, cache)
        want = getattr(ref, f"{kind}_cell_grads")(dh, x, h, *params)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_torch_written_cells_agree_with_the_modules(kind):
    """The torch-op cells that the mistakes are computed from equal torch's own cells when unchanged."""
    rng = np.random.default_rng(12)
    T, N, D, H = 6, 3, 4, 5
    x, h0, c0 = rng.normal(size=(T, N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    params = ref.random_params(kind, D, H, rng)
    with torch.no_grad():
        hs = ref._torch_sequence(kind, x, h0, c0, params)[4].numpy()
    state = (h0, c0) if kind == "lstm" else (h0,)
    np.testing.assert_allclose(hs, getattr(ref, f"{kind}_sequence")(x, *state, *params), rtol=1e-12, atol=1e-14)


def test_the_two_gru_forms_differ_and_the_update_convention_is_a_sign_flip():
    """Errata 004: the slides' update convention is torch's GRU with z -> 1 - z (update-gate weights
    and biases negated); the reset placement of Cho et al. (before the product) is another cell."""
    rng = np.random.default_rng(13)
    N, D, H = 3, 4, 5
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    w_ih, w_hh, b_ih, b_hh = ref.random_params("gru", D, H, rng, scale=1.0)
    t = lambda *a: [torch.tensor(v) for v in a]  # noqa: E731
    with torch.no_grad():
        slides = ref.gru_step_torch(*t(x, h, w_ih, w_hh, b_ih, b_hh), update="slides").numpy()
        flip = np.ones(3 * H)
        flip[H : 2 * H] = -1
        flipped = (w_ih * flip[:, None], w_hh * flip[:, None], b_ih * flip, b_hh * flip)
        np.testing.assert_allclose(slides, ref.gru_cell(x, h, *flipped), rtol=1e-12)
        before = ref.gru_step_torch(*t(x, h, w_ih, w_hh, b_ih, b_hh), reset="before").numpy()
    assert not np.allclose(before, ref.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh), atol=1e-3)


def test_every_named_mistake_differs_from_the_right_answer():
    """A mistake that equals the right answer could never be caught; one that another mistake
    reproduces exactly would be named ambiguously."""
    rng = np.random.default_rng(14)
    N, D, H, T = 3, 4, 5, 4
    x, h, c, dh, dc = (rng.normal(size=s) for s in ((N, D), (N, H), (N, H), (N, H), (N, H)))
    xs, dhs = rng.normal(size=(T, N, D)), rng.normal(size=(T, N, H))
    tables = []
    for kind in ("rnn", "lstm", "gru"):
        params = ref.random_params(kind, D, H, rng)
        state = (h, c) if kind == "lstm" else (h,)
        cache = ref.STEP_CACHE[kind](x, *state, *params)
        upstream = (dh, dc) if kind == "lstm" else (dh,)
        right_step = ref._CELL[kind](x, *state, *params)
        right_step = right_step if kind == "lstm" else (right_step,)
        tables.append((known_variants(f"{kind}_step_forward", x, *state, *params), right_step))
        back = {
            "rnn": ref.rnn_step_backward_mistakes,
            "gru": ref.gru_step_backward_mistakes,
            "lstm": ref.lstm_step_backward_mistakes,
        }[kind](*upstream, cache)
        tables.append((back, ref._CELL_GRADS[kind](*upstream, x, *state, *params)))
        tables.append(
            (ref.sequence_forward_mistakes(kind, xs, *state, *params), (ref._SEQUENCE[kind](xs, *state, *params),))
        )
        tables.append(
            (
                ref.sequence_backward_mistakes(kind, dhs, xs, *state, *params),
                ref._SEQUENCE_GRADS[kind](dhs, xs, *state, *params),
            )
        )
    for mistakes, right in tables:
        seen = []
        for description, values in mistakes.items():
            differs = [k for k, v in enumerate(values) if v is not None and not ref._close(v, right[k], 1e-6, 1e-8)]
            assert differs, f"this mistake gives the right answer: {description}"
            for other, other_values in seen:
                same = all(
                    (a is None) == (b is None) and (a is None or ref._close(a, b, 1e-6, 1e-8))
                    for a, b in zip(values, other_values)
                )
                assert not same, f"two mistakes give the same result:\n  {description}\n  {other}"
            seen.append((description, values))


# --- the misconceptions ---------------------------------------------------------------------------------


def _wrong(name: str, old: str, new: str, count_all: bool = False) -> str:
    source = SOLUTIONS[name]
    return source.replace(old, new) if count_all else mutate(source, old, new)


def _rename(source: str, old: str, new: str) -> str:
    return mutate(source, f"def {old}(", f"def {new}(")


STEP_RNN, BACK_RNN = "rnn_step_forward", "rnn_step_backward"
LSTM_BLOCKS = (
    "    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H : 2 * H])\n    g = np.tanh(a[:, 2 * H : 3 * H])\n"
    "    o = sigmoid(a[:, 3 * H :])\n"
)

RNN_BACKWARD_INPLACE = """
def rnn_backward(dh, cache):
    T = len(cache)
    x0, _, w_ih, w_hh, _ = cache[0]
    dx = np.zeros((T,) + x0.shape)
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(w_hh.shape[0])
    for t in reversed(range(T)):
        dx[t], dh_prev, a, b, c = rnn_step_backward(dh[t], cache[t])
        if t > 0:
            dh[t - 1] += dh_prev          # in place: the caller's dh changes
        dw_ih += a; dw_hh += b; db += c
    return dx, dh_prev, dw_ih, dw_hh, db
"""

RNN_FORWARD_BATCH_FIRST = """
def rnn_forward(x, h0, w_ih, w_hh, b):
    N, T = x.shape[:2]                    # read as (N, T, D)
    h, cache, state = [], [], h0
    for t in range(T):
        state, c = rnn_step_forward(x[:, t], state, w_ih, w_hh, b)
        h.append(state); cache.append(c)
    return np.stack(h, axis=1), cache
"""

CLIP_PER_TENSOR = """
def clip_grad_norm(grads, max_norm):
    clipped, squares = {}, 0.0
    for k, g in grads.items():
        n = float(np.sqrt(np.sum(g ** 2)))
        squares += n ** 2
        clipped[k] = g * min(1.0, max_norm / (n + 1e-6))
    return clipped, float(np.sqrt(squares))
"""

CLIP_VALUE = """
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, total
"""

CLIP_INPLACE = """
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    scale = min(1.0, max_norm / (total + 1e-6))
    for g in grads.values():
        g *= scale
    return grads, total
"""

CLIP_LIST = """
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads.values()], total
"""

CLIP_ZERO_DIVISION = """
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    scale = min(1.0, max_norm / total)    # ZeroDivisionError for an all-zero gradient
    return {k: g * scale for k, g in grads.items()}, total
"""


def wrong_variants() -> list[tuple[str, str, str, str | None]]:
    """(id, test cell, source of the wrong version, phrase its visible message must contain, or None
    when only the hidden part is expected to catch it)."""
    S = SOLUTIONS
    gru_b = S["gru_step_backward"]
    return [
        # --- rnn_step_forward
        (
            "rnn-step-w_hh-not-transposed",
            STEP_RNN,
            _wrong(STEP_RNN, "h_prev @ w_hh.T", "h_prev @ w_hh"),
            "h_prev @ w_hh instead of h_prev @ w_hh.T",
        ),
        ("rnn-step-w_ih-not-transposed", STEP_RNN, _wrong(STEP_RNN, "x @ w_ih.T", "x @ w_ih"), "torch's layout"),
        ("rnn-step-no-bias", STEP_RNN, _wrong(STEP_RNN, " + b)", ")"), "bias b is missing"),
        ("rnn-step-sigmoid", STEP_RNN, _wrong(STEP_RNN, "h = np.tanh(", "h = sigmoid("), "sigmoid"),
        ("rnn-step-relu", STEP_RNN, _wrong(STEP_RNN, "h = np.tanh(", "h = np.maximum(0, "), "ReLU"),
        ("rnn-step-no-nonlinearity", STEP_RNN, _wrong(STEP_RNN, "h = np.tanh(", "h = ("), "nonlinearity is missing"),
        ("rnn-step-no-recurrence", STEP_RNN, _wrong(STEP_RNN, " + h_prev @ w_hh.T", ""), "h_prev is ignored"),
        (
            "rnn-step-cache-preactivation",
            STEP_RNN,
            _wrong(
                STEP_RNN,
                "    h = np.tanh(x @ w_ih.T + h_prev @ w_hh.T + b)\n    cache = (x, h_prev, w_ih, w_hh, h)",
                "    a = x @ w_ih.T + h_prev @ w_hh.T + b\n    h = np.tanh(a)\n    cache = (x, h_prev, w_ih, w_hh, a)",
            ),
            "cache entry 'h'",
        ),
        (
            "rnn-step-cache-order",
            STEP_RNN,
            _wrong(STEP_RNN, "cache = (x, h_prev, w_ih, w_hh, h)", "cache = (x, w_ih, h_prev, w_hh, h)"),
            "check the order of the entries",
        ),
        ("rnn-step-returns-h-only", STEP_RNN, _wrong(STEP_RNN, "return h, cache", "return h"), "must return 2 values"),
        ("rnn-step-squeezed", STEP_RNN, _wrong(STEP_RNN, "return h, cache", "return h.squeeze(), cache"), None),
        # --- rnn_step_backward
        ("rnn-back-tanh-1-minus-h", BACK_RNN, _wrong(BACK_RNN, "(1.0 - h**2)", "(1.0 - h)"), "tanh' was written 1 - h"),
        (
            "rnn-back-no-tanh-derivative",
            BACK_RNN,
            _wrong(BACK_RNN, "da = dh * (1.0 - h**2)", "da = dh"),
            "derivative of tanh is missing",
        ),
        (
            "rnn-back-tanh-of-h",
            BACK_RNN,
            _wrong(BACK_RNN, "(1.0 - h**2)", "(1.0 - np.tanh(h) ** 2)"),
            "as if h were the pre-activation",
        ),
        (
            "rnn-back-dh_prev-transposed",
            BACK_RNN,
            _wrong(BACK_RNN, "dh_prev = da @ w_hh\n", "dh_prev = da @ w_hh.T\n"),
            "dh_prev was computed with w_hh.T",
        ),
        (
            "rnn-back-dw_hh-from-h",
            BACK_RNN,
            _wrong(BACK_RNN, "dw_hh = da.T @ h_prev", "dw_hh = da.T @ h"),
            "built from h",
        ),
        ("rnn-back-dw_ih-transposed", BACK_RNN, _wrong(BACK_RNN, "dw_ih = da.T @ x", "dw_ih = x.T @ da"), "transpose"),
        (
            "rnn-back-dx-transposed-weights",
            BACK_RNN,
            _wrong(BACK_RNN, "dx = da @ w_ih", "dx = da @ w_ih.T"),
            "torch's layout",
        ),
        (
            "rnn-back-db-not-summed",
            BACK_RNN,
            _wrong(BACK_RNN, "db = da.sum(axis=0)", "db = da"),
            "summed over the batch",
        ),
        (
            "rnn-back-averaged",
            BACK_RNN,
            _wrong(
                BACK_RNN,
                "    db = da.sum(axis=0)\n",
                "    db = da.mean(axis=0)\n    dw_ih, dw_hh = dw_ih / len(x), dw_hh / len(x)\n",
            ),
            "averaged over the batch",
        ),
        (
            "rnn-back-return-order",
            BACK_RNN,
            _wrong(BACK_RNN, "return dx, dh_prev, dw_ih, dw_hh, db", "return dh_prev, dx, dw_ih, dw_hh, db"),
            "in the order",
        ),
        # --- rnn_forward
        (
            "rnn-fwd-h0-ignored",
            "rnn_forward",
            _wrong("rnn_forward", "state = h0", "state = np.zeros_like(h0)"),
            "h0 is ignored",
        ),
        (
            "rnn-fwd-state-not-carried",
            "rnn_forward",
            _wrong("rnn_forward", "rnn_step_forward(x[t], state,", "rnn_step_forward(x[t], h0,"),
            "every step starts from h0",
        ),
        (
            "rnn-fwd-backwards-in-time",
            "rnn_forward",
            _wrong("rnn_forward", "for t in range(T)", "for t in reversed(range(T))"),
            "backwards in time",
        ),
        (
            "rnn-fwd-last-state-only",
            "rnn_forward",
            _wrong("rnn_forward", "return h, cache", "return state, cache"),
            "one state",
        ),
        ("rnn-fwd-batch-first", "rnn_forward", RNN_FORWARD_BATCH_FIRST, "time first"),
        (
            "rnn-fwd-cache-last-step-only",
            "rnn_forward",
            _wrong("rnn_forward", "    ### END SOLUTION", "    cache = step_cache\n    ### END SOLUTION"),
            "list of the",
        ),
        (
            "rnn-fwd-cache-reversed",
            "rnn_forward",
            _wrong("rnn_forward", "cache.append(step_cache)", "cache.insert(0, step_cache)"),
            "reverse order",
        ),
        (
            "rnn-fwd-squeezed",
            "rnn_forward",
            _wrong("rnn_forward", "return h, cache", "return h.squeeze(), cache"),
            None,
        ),
        # --- rnn_backward
        (
            "rnn-bptt-dh-not-carried",
            "rnn_backward",
            _wrong("rnn_backward", "(dh[t] + carried, cache[t])", "(dh[t], cache[t])"),
            "not carried back through h_{t-1}",
        ),
        (
            "rnn-bptt-weights-overwritten",
            "rnn_backward",
            _wrong(
                "rnn_backward",
                "        dw_ih += dw_ih_t\n        dw_hh += dw_hh_t\n        db += db_t",
                "        dw_ih = dw_ih_t\n        dw_hh = dw_hh_t\n        db = db_t",
            ),
            "overwritten",
        ),
        (
            "rnn-bptt-averaged-over-time",
            "rnn_backward",
            _wrong(
                "rnn_backward",
                "    dh0 = carried",
                "    dh0 = carried\n    dw_ih, dw_hh, db = dw_ih / T, dw_hh / T, db / T",
            ),
            "averaged over time",
        ),
        (
            "rnn-bptt-dh0-zero",
            "rnn_backward",
            _wrong("rnn_backward", "dh0 = carried", "dh0 = np.zeros_like(carried)"),
            "dh0 is zero",
        ),
        ("rnn-bptt-dh0-is-dh0", "rnn_backward", _wrong("rnn_backward", "dh0 = carried", "dh0 = dh[0]"), "dh0 is dh[0]"),
        (
            "rnn-bptt-forward-in-time",
            "rnn_backward",
            _wrong("rnn_backward", "for t in reversed(range(T))", "for t in range(T)"),
            "loop runs forward in time",
        ),
        ("rnn-bptt-dh-in-place", "rnn_backward", RNN_BACKWARD_INPLACE, "changed its input dh in place"),
        # --- lstm_step_forward
        (
            "lstm-gate-order-ifog",
            "lstm_step_forward",
            _wrong(
                "lstm_step_forward",
                LSTM_BLOCKS,
                "    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H : 2 * H])\n"
                "    o = sigmoid(a[:, 2 * H : 3 * H])\n    g = np.tanh(a[:, 3 * H :])\n",
            ),
            "gate order",
        ),
        (
            "lstm-gate-order-figo",
            "lstm_step_forward",
            _wrong(
                "lstm_step_forward",
                LSTM_BLOCKS,
                "    f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H : 2 * H])\n"
                "    g = np.tanh(a[:, 2 * H : 3 * H])\n    o = sigmoid(a[:, 3 * H :])\n",
            ),
            "gate order",
        ),
        (
            "lstm-g-sigmoid",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "g = np.tanh(a[:, 2 * H : 3 * H])", "g = sigmoid(a[:, 2 * H : 3 * H])"),
            "candidate g went through a sigmoid",
        ),
        (
            "lstm-h-without-tanh",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "h = o * np.tanh(c)", "h = o * c"),
            "h = o * c",
        ),
        (
            "lstm-no-input-gate",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "c = f * c_prev + i * g", "c = f * c_prev + g"),
            "input gate is missing",
        ),
        (
            "lstm-no-cell-path",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "c = f * c_prev + i * g", "c = i * g"),
            "c_prev is ignored",
        ),
        (
            "lstm-step-no-bias",
            "lstm_step_forward",
            _wrong("lstm_step_forward", " + h_prev @ w_hh.T + b\n", " + h_prev @ w_hh.T\n"),
            "bias b is missing",
        ),
        (
            "lstm-cache-without-c",
            "lstm_step_forward",
            _wrong(
                "lstm_step_forward",
                "cache = (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)",
                "cache = (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o)",
            ),
            "the cache of lstm_step_forward must be",
        ),
        (
            "lstm-step-returns-pair",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "return h, c, cache", "return h, cache"),
            "must return 3 values",
        ),
        (
            "lstm-step-hard-coded-H",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "H = h_prev.shape[1]", "H = 5"),
            None,
        ),
        # --- lstm_step_backward
        (
            "lstm-back-dc-ignored",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dc_total = dc + dh * o", "dc_total = dh * o"),
            "upstream dc is ignored",
        ),
        (
            "lstm-back-dc_prev-without-f",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dc_prev = dc_total * f", "dc_prev = dc_total"),
            "dc_prev is the gradient at c itself",
        ),
        (
            "lstm-back-no-tanh-c-derivative",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dh * o * (1.0 - tanh_c**2)", "dh * o"),
            "derivative of tanh(c) is missing",
        ),
        (
            "lstm-back-no-gate-derivatives",
            "lstm_step_backward",
            _wrong(
                "lstm_step_backward",
                "[di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)]",
                "[di, df, dg, do]",
            ),
            "derivatives of the gate nonlinearities",
        ),
        (
            "lstm-back-gate-order-ifog",
            "lstm_step_backward",
            _wrong(
                "lstm_step_backward", "dg * (1.0 - g**2), do * o * (1.0 - o)]", "do * o * (1.0 - o), dg * (1.0 - g**2)]"
            ),
            "gate order",
        ),
        (
            "lstm-back-do-from-c",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "do = dh * tanh_c", "do = dh * c"),
            "do = dh * tanh(c)",
        ),
        (
            "lstm-back-averaged",
            "lstm_step_backward",
            _wrong(
                "lstm_step_backward",
                "    db = da.sum(axis=0)\n",
                "    db = da.mean(axis=0)\n    dw_ih, dw_hh = dw_ih / len(x), dw_hh / len(x)\n",
            ),
            "averaged over the batch",
        ),
        (
            "lstm-back-dw_hh-transposed",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dw_hh = da.T @ h_prev", "dw_hh = h_prev.T @ da"),
            "transpose",
        ),
        # --- lstm_forward
        (
            "lstm-fwd-c0-ignored",
            "lstm_forward",
            _wrong("lstm_forward", "state, cell = h0, c0", "state, cell = h0, np.zeros_like(c0)"),
            "c0 is ignored",
        ),
        (
            "lstm-fwd-cell-not-carried",
            "lstm_forward",
            _wrong("lstm_forward", "lstm_step_forward(x[t], state, cell,", "lstm_step_forward(x[t], state, c0,"),
            "cell state is not carried",
        ),
        (
            "lstm-fwd-h-not-carried",
            "lstm_forward",
            _wrong("lstm_forward", "lstm_step_forward(x[t], state, cell,", "lstm_step_forward(x[t], h0, cell,"),
            "every step starts from h0",
        ),
        (
            "lstm-fwd-h0-ignored",
            "lstm_forward",
            _wrong("lstm_forward", "state, cell = h0, c0", "state, cell = np.zeros_like(h0), c0"),
            "h0 is ignored",
        ),
        (
            "lstm-fwd-returns-c-too",
            "lstm_forward",
            _wrong("lstm_forward", "return h, cache", "return h, cell, cache"),
            "must return 2 values",
        ),
        # --- lstm_backward
        (
            "lstm-bptt-dc-not-carried",
            "lstm_backward",
            _wrong(
                "lstm_backward",
                "dh[t] + dh_carried, dc_carried, cache[t]",
                "dh[t] + dh_carried, np.zeros_like(dc_carried), cache[t]",
            ),
            "not carried back through the cell state",
        ),
        (
            "lstm-bptt-dh-not-carried",
            "lstm_backward",
            _wrong("lstm_backward", "dh[t] + dh_carried, dc_carried", "dh[t], dc_carried"),
            "not carried back through h_{t-1}",
        ),
        (
            "lstm-bptt-weights-overwritten",
            "lstm_backward",
            _wrong(
                "lstm_backward",
                "        dw_ih += dw_ih_t\n        dw_hh += dw_hh_t\n        db += db_t",
                "        dw_ih = dw_ih_t\n        dw_hh = dw_hh_t\n        db = db_t",
            ),
            "overwritten",
        ),
        (
            "lstm-bptt-dc0-zero",
            "lstm_backward",
            _wrong("lstm_backward", "dh0, dc0 = dh_carried, dc_carried", "dh0, dc0 = dh_carried, 0 * dc_carried"),
            "dc0 is zero",
        ),
        (
            "lstm-bptt-dh0-dc0-swapped",
            "lstm_backward",
            _wrong("lstm_backward", "dh0, dc0 = dh_carried, dc_carried", "dh0, dc0 = dc_carried, dh_carried"),
            "swapped",
        ),
        (
            "lstm-bptt-forward-in-time",
            "lstm_backward",
            _wrong("lstm_backward", "for t in reversed(range(T))", "for t in range(T)"),
            "loop runs forward in time",
        ),
        # --- gru_step_forward
        (
            "gru-update-reversed",
            "gru_step_forward",
            _wrong("gru_step_forward", "h = (1.0 - z) * n + z * h_prev", "h = z * n + (1.0 - z) * h_prev"),
            "update gate was read the other way round",
        ),
        (
            "gru-reset-before-product",
            "gru_step_forward",
            _wrong(
                "gru_step_forward",
                "n = np.tanh(gi[:, 2 * H :] + r * hn)",
                "n = np.tanh(gi[:, 2 * H :] + (r * h_prev) @ w_hh[2 * H :].T + b_hh[2 * H :])",
            ),
            "applied before the matrix product",
        ),
        (
            "gru-slides-form",
            "gru_step_forward",
            _wrong(
                "gru_step_forward",
                "    n = np.tanh(gi[:, 2 * H :] + r * hn)\n    h = (1.0 - z) * n + z * h_prev",
                "    n = np.tanh(gi[:, 2 * H :] + (r * h_prev) @ w_hh[2 * H :].T + b_hh[2 * H :])\n    h = z * n + (1.0 - z) * h_prev",  # noqa: E501
            ),
            "in both places",
        ),
        (
            "gru-b_hn-outside-reset",
            "gru_step_forward",
            _wrong(
                "gru_step_forward",
                "n = np.tanh(gi[:, 2 * H :] + r * hn)",
                "n = np.tanh(gi[:, 2 * H :] + r * (hn - b_hh[2 * H :]) + b_hh[2 * H :])",
            ),
            "b_hn was added outside",
        ),
        (
            "gru-gate-order-zrn",
            "gru_step_forward",
            _wrong(
                "gru_step_forward",
                "    r = sigmoid(gi[:, :H] + gh[:, :H])\n    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])",
                "    z = sigmoid(gi[:, :H] + gh[:, :H])\n    r = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])",
            ),
            "gate order",
        ),
        ("gru-no-reset", "gru_step_forward", _wrong("gru_step_forward", "+ r * hn)", "+ hn)"), "reset gate is missing"),
        (
            "gru-no-b_hh",
            "gru_step_forward",
            _wrong("gru_step_forward", "gh = h_prev @ w_hh.T + b_hh", "gh = h_prev @ w_hh.T"),
            "b_hh is missing",
        ),
        (
            "gru-cache-hn-without-bias",
            "gru_step_forward",
            _wrong(
                "gru_step_forward",
                "cache = (x, h_prev, w_ih, w_hh, r, z, n, hn)",
                "cache = (x, h_prev, w_ih, w_hh, r, z, n, hn - b_hh[2 * H :])",
            ),
            "cache entry 'hn'",
        ),
        # --- gru_step_backward
        (
            "gru-back-update-reversed",
            "gru_step_backward",
            _wrong(
                "gru_step_backward",
                "    dn = dh * (1.0 - z)\n    dz = dh * (h_prev - n)\n    dh_direct = dh * z",
                "    dn = dh * z\n    dz = dh * (n - h_prev)\n    dh_direct = dh * (1.0 - z)",
            ),
            "update gate was read the other way round",
        ),
        (
            "gru-back-no-direct-path",
            "gru_step_backward",
            _wrong("gru_step_backward", "dh_prev = dh_direct + dgh @ w_hh", "dh_prev = dgh @ w_hh"),
            "misses the direct path",
        ),
        (
            "gru-back-no-reset-path",
            "gru_step_backward",
            _wrong("gru_step_backward", "dar = dan * hn * r * (1.0 - r)", "dar = 0 * dan"),
            "path through the reset gate is missing",
        ),
        (
            "gru-back-b_hn-outside",
            "gru_step_backward",
            _wrong(
                "gru_step_backward",
                "db_ih, db_hh = dgi.sum(axis=0), dgh.sum(axis=0)",
                "db_ih, db_hh = dgi.sum(axis=0), np.concatenate([dar, daz, dan], axis=1).sum(axis=0)",
            ),
            "b_hn was treated as outside",
        ),
        (
            "gru-back-no-gate-derivatives",
            "gru_step_backward",
            mutate(
                mutate(
                    mutate(gru_b, "dan = dn * (1.0 - n**2)", "dan = dn"),
                    "dar = dan * hn * r * (1.0 - r)",
                    "dar = dan * hn",
                ),
                "daz = dz * z * (1.0 - z)",
                "daz = dz",
            ),
            "derivatives of the gate nonlinearities",
        ),
        (
            "gru-back-gate-order",
            "gru_step_backward",
            _wrong(
                "gru_step_backward",
                "    dgi = np.concatenate([dar, daz, dan], axis=1)",
                "    dgi = np.concatenate([daz, dar, dan], axis=1)",
            ).replace(
                "dgh = np.concatenate([dar, daz, dan * r], axis=1)", "dgh = np.concatenate([daz, dar, dan * r], axis=1)"
            ),
            "gate order",
        ),
        (
            "gru-back-averaged",
            "gru_step_backward",
            _wrong(
                "gru_step_backward",
                "    db_ih, db_hh = dgi.sum(axis=0), dgh.sum(axis=0)\n",
                "    db_ih, db_hh = dgi.mean(axis=0), dgh.mean(axis=0)\n    dw_ih, dw_hh = dw_ih / len(x), dw_hh / len(x)\n",  # noqa: E501
            ),
            "averaged over the batch",
        ),
        # --- gru_forward / gru_backward
        (
            "gru-fwd-h0-ignored",
            "gru_forward",
            _wrong("gru_forward", "state = h0", "state = np.zeros_like(h0)"),
            "h0 is ignored",
        ),
        (
            "gru-fwd-state-not-carried",
            "gru_forward",
            _wrong("gru_forward", "gru_step_forward(x[t], state,", "gru_step_forward(x[t], h0,"),
            "every step starts from h0",
        ),
        (
            "gru-bptt-dh-not-carried",
            "gru_backward",
            _wrong("gru_backward", "(dh[t] + carried, cache[t])", "(dh[t], cache[t])"),
            "not carried back through h_{t-1}",
        ),
        (
            "gru-bptt-weights-overwritten",
            "gru_backward",
            _wrong(
                "gru_backward",
                "        dw_ih += dw_ih_t\n        dw_hh += dw_hh_t\n        db_ih += db_ih_t\n        db_hh += db_hh_t",  # noqa: E501
                "        dw_ih = dw_ih_t\n        dw_hh = dw_hh_t\n        db_ih = db_ih_t\n        db_hh = db_hh_t",
            ),
            "overwritten",
        ),
        (
            "gru-bptt-dh0-zero",
            "gru_backward",
            _wrong("gru_backward", "dh0 = carried", "dh0 = 0 * carried"),
            "dh0 is zero",
        ),
        # --- clip_grad_norm
        ("clip-per-tensor", "clip_grad_norm", CLIP_PER_TENSOR, "clipped by its own norm"),
        ("clip-by-value", "clip_grad_norm", CLIP_VALUE, "clipped by value"),
        (
            "clip-always-rescale",
            "clip_grad_norm",
            _wrong(
                "clip_grad_norm",
                "scale = min(1.0, max_norm / (total_norm + 1e-6))",
                "scale = max_norm / (total_norm + 1e-6)",
            ),
            "although their norm was below it",
        ),
        (
            "clip-sum-of-norms",
            "clip_grad_norm",
            _wrong(
                "clip_grad_norm",
                "total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))",
                "total_norm = float(sum(np.sqrt(np.sum(np.square(g))) for g in grads.values()))",
            ),
            "sum of the per-gradient norms",
        ),
        (
            "clip-no-square-root",
            "clip_grad_norm",
            _wrong(
                "clip_grad_norm",
                "total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))",
                "total_norm = float(sum(np.sum(np.square(g)) for g in grads.values()))",
            ),
            "missing its square root",
        ),
        (
            "clip-norm-after-clipping",
            "clip_grad_norm",
            _wrong(
                "clip_grad_norm",
                "    ### END SOLUTION",
                "    total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in clipped.values())))\n    ### END SOLUTION",  # noqa: E501
            ),
            "norm after clipping",
        ),
        ("clip-in-place", "clip_grad_norm", CLIP_INPLACE, "changed its input"),
        ("clip-returns-list", "clip_grad_norm", CLIP_LIST, "must be a dict"),
        ("clip-zero-division", "clip_grad_norm", CLIP_ZERO_DIVISION, None),
    ]


def blind_variants() -> list[tuple[str, str, str, str | None]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain, or None when only
    the hidden part catches it) for the mistakes of the blind catalogue (tests/blind/a05_rnn_gates.py) that the test
    cells once let through or caught without naming, each written here as an edit of the reference solution."""
    lstm_step_call = "lstm_step_backward(\n            dh[t] + dh_carried, dc_carried, cache[t]\n        )"
    return [
        (
            "rnn-step-float32",
            STEP_RNN,
            _wrong(
                STEP_RNN,
                "    cache = (x, h_prev, w_ih, w_hh, h)",
                "    h = h.astype(np.float32)\n    cache = (x, h_prev, w_ih, w_hh, h)",
            ),
            None,
        ),
        (
            "rnn-step-tanh-input-only",
            STEP_RNN,
            _wrong(STEP_RNN, "np.tanh(x @ w_ih.T + h_prev @ w_hh.T + b)", "np.tanh(x @ w_ih.T) + h_prev @ w_hh.T + b"),
            "applied to the input term alone",
        ),
        (
            "rnn-step-db-wrong-axis",
            BACK_RNN,
            _wrong(BACK_RNN, "db = da.sum(axis=0)", "db = da.sum(axis=1)"),
            "summed over the hidden units (axis 1)",
        ),
        (
            "rnn-forward-float32",
            "rnn_forward",
            _wrong("rnn_forward", "h = np.zeros((T, N, h0.shape[1]))", "h = np.zeros((T, N, h0.shape[1]), np.float32)"),
            None,
        ),
        (
            "rnn-forward-zeros-like-x",
            "rnn_forward",
            _wrong("rnn_forward", "h = np.zeros((T, N, h0.shape[1]))", "h = np.zeros_like(x)"),
            "h was allocated with x's shape",
        ),
        (
            "rnn-backward-dx-zeros-like-dh",
            "rnn_backward",
            _wrong("rnn_backward", "dx = np.zeros((T,) + x0.shape)", "dx = np.zeros_like(dh)"),
            "dx was allocated with dh's shape",
        ),
        (
            "rnn-backward-dh0-total",
            "rnn_backward",
            _wrong("rnn_backward", "dh0 = carried", "dh0 = carried + dh[0]"),
            "dh0 includes dh[0]",
        ),
        (
            "lstm-step-h-from-c-prev",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "h = o * np.tanh(c)", "h = o * np.tanh(c_prev)"),
            "squashes the new cell state",
        ),
        (
            "lstm-step-h-from-width-of-x",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "H = h_prev.shape[1]", "H = x.shape[1]"),
            "not x.shape[1]",
        ),
        (
            "lstm-step-blocks-along-batch",
            "lstm_step_forward",
            _wrong("lstm_step_forward", "i = sigmoid(a[:, :H])", "i = sigmoid(a[:H])"),
            "a[0:h] slices the rows",
        ),
        (
            "lstm-step-back-tanh-c-square-missing",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dh * o * (1.0 - tanh_c**2)", "dh * o * (1.0 - tanh_c)"),
            "was written 1 - tanh(c)",
        ),
        (
            "lstm-step-back-dc-prev-incoming-only",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dc_prev = dc_total * f", "dc_prev = dc * f"),
            "dc_prev uses only the incoming dc",
        ),
        (
            "lstm-step-back-forget-derivative",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "df * f * (1.0 - f)", "df * (1.0 - f)"),
            "forget gate's sigmoid derivative",
        ),
        (
            "lstm-step-back-g-as-sigmoid",
            "lstm_step_backward",
            _wrong("lstm_step_backward", "dg * (1.0 - g**2)", "dg * g * (1.0 - g)"),
            "differentiated as a sigmoid",
        ),
        (
            "lstm-backward-dh-dc-swapped",
            "lstm_backward",
            _wrong(
                "lstm_backward",
                lstm_step_call,
                "lstm_step_backward(\n            dc_carried, dh[t] + dh_carried, cache[t]\n        )",
            ),
            "the other way round",
        ),
        (
            "gru-step-n-sigmoid",
            "gru_step_forward",
            _wrong("gru_step_forward", "n = np.tanh(", "n = sigmoid("),
            "the candidate n went through a sigmoid",
        ),
        (
            "gru-step-reset-whole",
            "gru_step_forward",
            _wrong(
                "gru_step_forward", "n = np.tanh(gi[:, 2 * H :] + r * hn)", "n = np.tanh(r * (gi[:, 2 * H :] + hn))"
            ),
            "r multiplies the whole candidate",
        ),
        (
            "gru-step-back-z-sign",
            "gru_step_backward",
            _wrong("gru_step_backward", "dz = dh * (h_prev - n)", "dz = dh * (n - h_prev)"),
            "update gate's gradient has the wrong sign",
        ),
        (
            "gru-step-back-tanh-1-n",
            "gru_step_backward",
            _wrong("gru_step_backward", "dan = dn * (1.0 - n**2)", "dan = dn * (1.0 - n)"),
            "written 1 - n",
        ),
        (
            "gru-step-back-r-with-h-prev",
            "gru_step_backward",
            _wrong("gru_step_backward", "dar = dan * hn * r", "dar = dan * h_prev * r"),
            "cho's form",
        ),
        (
            "gru-step-back-z-no-derivative",
            "gru_step_backward",
            _wrong("gru_step_backward", "daz = dz * z * (1.0 - z)", "daz = dz"),
            "misses the sigmoid's derivative z * (1 - z)",
        ),
        (
            "gru-forward-weights-swapped",
            "gru_forward",
            _wrong(
                "gru_forward", "gru_step_forward(x[t], state, w_ih, w_hh,", "gru_step_forward(x[t], state, w_hh, w_ih,"
            ),
            "w_ih and w_hh were passed the other way round",
        ),
        (
            "gru-backward-dh0-total",
            "gru_backward",
            _wrong("gru_backward", "dh0 = carried", "dh0 = carried + dh[0]"),
            "dh0 includes dh[0]",
        ),
        (
            "clip-spectral-norm",
            "clip_grad_norm",
            _wrong("clip_grad_norm", "np.sum(np.square(g))", "np.linalg.norm(g, 2) ** 2"),
            "largest singular value",
        ),
        (
            "clip-mean-of-squares",
            "clip_grad_norm",
            _wrong("clip_grad_norm", "np.sum(np.square(g))", "np.mean(np.square(g))"),
            "mean of the squares",
        ),
    ]


MISCONCEPTIONS = [
    Misconception(name, test, from_source(source), phrase)
    for name, test, source, phrase in wrong_variants() + blind_variants()
]


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught_and_named(mistake):
    A.check_misconception(mistake)


HIDDEN_ONLY = [m for m in MISCONCEPTIONS if m.phrase is None]


@pytest.mark.parametrize("mistake", HIDDEN_ONLY, ids=str)
def test_the_hidden_part_catches_what_the_visible_part_lets_through(mistake):
    """These mistakes show only on the hidden shapes (a batch of one, one time step, other sizes, a
    zero gradient): the visible part passes them, and the full cell must not."""
    assert A.run_test(mistake.test, replace=mistake.replace, hidden=False), f"{mistake}: the visible part catches it"
    assert not A.run_test(mistake.test, replace=mistake.replace), f"{mistake}: the hidden part lets it through"


def test_the_table_covers_every_graded_function_and_the_issue_examples():
    tested = {m.test for m in MISCONCEPTIONS}
    assert tested == set(A.test_names())
    names = {m.name for m in MISCONCEPTIONS}
    # the examples of the issue: swapped gate order, the GRU update gate read the slides' way, a
    # missing path through the cell state, weight gradients not accumulated over time, gradients
    # not carried back through h_{t-1}, clipping per tensor
    for required in (
        "lstm-gate-order-ifog",
        "gru-update-reversed",
        "lstm-bptt-dc-not-carried",
        "lstm-back-dc-ignored",
        "rnn-bptt-weights-overwritten",
        "rnn-bptt-dh-not-carried",
        "clip-per-tensor",
    ):
        assert required in names
    named = sum(m.phrase is not None for m in MISCONCEPTIONS)
    assert named >= 0.8 * len(MISCONCEPTIONS), f"only {named} of {len(MISCONCEPTIONS)} mistakes are named"


# --- isolation: a wrong step costs only its own points ----------------------------------------------------

WRONG_STEPS = {
    "rnn_step_forward": _wrong(STEP_RNN, "h_prev @ w_hh.T", "h_prev @ w_hh"),
    "rnn_step_backward": _wrong(BACK_RNN, "(1.0 - h**2)", "(1.0 - h)"),
    "lstm_step_forward": _wrong("lstm_step_forward", "c = f * c_prev + i * g", "c = i * g"),
    "lstm_step_backward": _wrong("lstm_step_backward", "dc_total = dc + dh * o", "dc_total = dh * o"),
    "gru_step_forward": _wrong("gru_step_forward", "h = (1.0 - z) * n + z * h_prev", "h = z * n + (1.0 - z) * h_prev"),
    "gru_step_backward": _wrong("gru_step_backward", "dh_prev = dh_direct + dgh @ w_hh", "dh_prev = dgh @ w_hh"),
}


@pytest.mark.parametrize("step", list(WRONG_STEPS))
def test_a_wrong_step_costs_only_its_own_points(step):
    """The sequence tests run the student's loop on torch stand-ins for the step functions."""
    failing = A.failing_tests(from_source(WRONG_STEPS[step]))
    assert failing == [step], f"a wrong {step} fails the test cells {failing}"


@pytest.mark.parametrize("step", ["rnn_step_forward", "lstm_step_backward"])
def test_a_missing_step_costs_only_its_own_points(step):
    """A student who never wrote the step still earns the points of the sequence loop."""
    blank = f"def {step}(*args):\n    raise NotImplementedError()\n"
    failing = A.failing_tests(from_source(blank))
    assert failing == [step], f"a blank {step} fails the test cells {failing}"


# --- the benchmark row ------------------------------------------------------------------------------------


def test_bench_row_measures_numpy_against_torch():
    from tools import bench_rnn

    rows = bench_rnn.rows(repeats=1, steps=5)
    names = [row["name"] for row in rows]
    assert any(n.startswith("lstm numpy fwd+bwd") for n in names)
    assert any(n.startswith("lstm torch nn.LSTM fwd+bwd") for n in names)
    first = rows[0]
    assert first["seconds"] > 0 and "x torch" in first["note"]


# --- the diagnosis engine's relations, planted through the real test cells ------------------------------------------
# Mistakes no table row describes: the visible message names the relation (utils.diagnose) in the student's terms, on
# one "Likely mistake: " line, and no other relation's words appear for them.
ENGINE = [
    (
        "engine-rnn-state-one-step-late",
        "rnn_forward",
        mutate(
            SOLUTIONS["rnn_forward"],
            "state, step_cache = rnn_step_forward(x[t], state, w_ih, w_hh, b)\n        h[t] = state",
            "h[t] = state\n        state, step_cache = rnn_step_forward(x[t], state, w_ih, w_hh, b)",
        ),
        "h is shifted by one along axis 0, T",
    ),
    (
        "engine-rnn-dx-reversed-in-time",
        "rnn_backward",
        mutate(SOLUTIONS["rnn_backward"], "    dh0 = carried\n", "    dh0 = carried\n    dx = dx[::-1]\n"),
        "dx is the expected array reversed along axis 0, T",
    ),
    (
        "engine-rnn-first-step-skipped",
        "rnn_backward",
        mutate(SOLUTIONS["rnn_backward"], "for t in reversed(range(T)):", "for t in reversed(range(1, T)):"),
        "dx is right everywhere but at the first time step",
    ),
    (
        "engine-rnn-loop-one-step-short",
        "rnn_forward",
        mutate(SOLUTIONS["rnn_forward"], "for t in range(T):", "for t in range(T - 1):"),
        "h is right everywhere but at the last time step",
    ),
    (
        "engine-gru-bias-grads-returned-swapped",
        "gru_backward",
        mutate(
            SOLUTIONS["gru_backward"],
            "return dx, dh0, dw_ih, dw_hh, db_ih, db_hh",
            "return dx, dh0, dw_ih, dw_hh, db_hh, db_ih",
        ),
        "db_ih holds the value of db_hh: return the values in the order",
    ),
    (
        "engine-rnn-dw-hh-transposed",
        "rnn_step_backward",
        mutate(SOLUTIONS["rnn_step_backward"], "dw_hh = da.T @ h_prev", "dw_hh = h_prev.T @ da"),
        "dw_hh is the transpose of the expected array",
    ),
    (
        "engine-rnn-derivative-sign",
        "rnn_step_backward",
        mutate(SOLUTIONS["rnn_step_backward"], "da = dh * (1.0 - h**2)", "da = dh * (h**2 - 1.0)"),
        "opposite sign",
    ),
]
ENGINE_MISCONCEPTIONS = [Misconception(name, test, from_source(src), phrase) for name, test, src, phrase in ENGINE]


@pytest.mark.parametrize("mistake", ENGINE_MISCONCEPTIONS, ids=str)
def test_the_engine_names_a_relation_no_table_describes(mistake):
    A.check_misconception(mistake)
    message = A.run_test(mistake.test, replace=mistake.replace, hidden=False).message
    named = [line for line in message.splitlines() if line.startswith("Likely mistake: ")]
    assert len(named) == 1 and mistake.phrase in named[0], message
    others = [m.phrase for m in ENGINE_MISCONCEPTIONS if m.phrase != mistake.phrase]
    assert not [p for p in others if p in message], (mistake.name, message)
    for words in (
        "shifted by one",
        "reversed along",
        "transpose of",
        "opposite sign",
        "right everywhere but",
        "return the values in the order",
    ):
        if words not in mistake.phrase:
            assert words not in message, (mistake.name, words, message)


# The sequences' declared variants (utils.references.rnn, diagnose.variants) that the issue lists: h and c swapped on
# return or on the way in, the cell states returned, the GRU's biases passed in the wrong order.
_STEP_CALL = "lstm_step_forward(x[t], state, cell, w_ih, w_hh, b)"
DECLARED = [
    (
        "variant-lstm-returns-c",
        "lstm_forward",
        mutate(SOLUTIONS["lstm_forward"], "h[t] = state", "h[t] = cell"),
        "the cell states c are returned",
    ),
    (
        "variant-lstm-unpacked-c-h",
        "lstm_forward",
        mutate(SOLUTIONS["lstm_forward"], "state, cell, step_cache = ", "cell, state, step_cache = "),
        "h and c are swapped when the step's outputs are unpacked",
    ),
    (
        "variant-lstm-passed-c-h",
        "lstm_forward",
        mutate(SOLUTIONS["lstm_forward"], _STEP_CALL, _STEP_CALL.replace("state, cell", "cell, state")),
        "h and c are passed to the step in the wrong order",
    ),
    (
        "variant-gru-biases-swapped",
        "gru_forward",
        mutate(SOLUTIONS["gru_forward"], "w_ih, w_hh, b_ih, b_hh)\n", "w_ih, w_hh, b_hh, b_ih)\n"),
        "the two biases are passed to the step in the wrong order",
    ),
]


@pytest.mark.parametrize("mistake", [Misconception(n, t, from_source(src), p) for n, t, src, p in DECLARED], ids=str)
def test_a_declared_variant_is_named(mistake):
    A.check_misconception(mistake)


# The phrase a mistake that only the hidden part catches must show there.
HIDDEN_PHRASES = {
    "rnn-step-float32": "has dtype float32",
    "rnn-forward-float32": "has dtype float32",
    "clip-zero-division": "torch's guard",
}


@pytest.mark.parametrize("name", sorted(HIDDEN_PHRASES))
def test_a_mistake_only_the_hidden_part_catches_is_named_there(name):
    mistake = next(m for m in MISCONCEPTIONS if m.name == name)
    full = A.run_test(mistake.test, replace=mistake.replace)
    assert not full and full.kind == "AssertionError", (name, full.kind, full.message)
    assert HIDDEN_PHRASES[name].lower() in full.message.lower(), (name, full.message)


def test_float64_is_asked_only_by_the_hidden_part_and_only_of_float_outputs():
    """A float32 output passes the visible part (within its tolerance) and fails the hidden part; the reference's
    float64 outputs pass the dtype check, and a non-float value is left to the other checks."""
    ref.check_float64([np.zeros(2), 1.5, None], ["a", "b", "c"], "f")
    with pytest.raises(AssertionError, match="has dtype float32"):
        ref.check_float64([np.zeros(2, np.float32)], ["a"], "f")


BLIND = {name for name, *_ in blind_variants()}


@pytest.mark.parametrize("mistake", [m for m in MISCONCEPTIONS if m.phrase and m.name in BLIND], ids=str)
def test_a_hint_fires_only_for_its_own_mistake(mistake):
    """The hint a blind mistake's row checks appears in no other mistake's visible message of the same test cell."""
    given = A.others_given_the_hint(mistake, MISCONCEPTIONS)
    assert not given, f"{mistake}'s hint is also given to {given}"
