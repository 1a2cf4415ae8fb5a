"""utils.diagnose: each relation is found when planted, worded in the check's terms, and stays silent on a correct
answer, on noise and on an unrelated array; checked_call's likely causes; counts explained by their difference."""

from __future__ import annotations

import numpy as np
import pytest

from utils import assert_close
from utils.diagnose import Context, context_from_name, diagnose, explain, explain_count, known_variants, variants
from utils.references import checked_call, likely_cause

SHAPES = [(5, 4), (3, 4, 6), (2, 3, 4, 5), (12,)]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _planted(shape, seed=0):
    return _rng(seed).normal(size=shape)


# -- silence: correct, noise, unrelated --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES + [(1,), (2, 2), (7, 1, 3)])
def test_silent_on_a_correct_answer_and_on_noise(shape):
    e = _planted(shape)
    assert diagnose(e + 1e-13, e) is None
    for seed in range(1, 6):
        assert diagnose(_rng(seed).normal(size=shape), e) is None, seed


@pytest.mark.parametrize("shape", SHAPES)
def test_silent_on_another_functions_output(shape):
    x = _planted(shape)
    pairs = [
        (np.maximum(x, 0), 1 / (1 + np.exp(-x))),  # relu for sigmoid
        (np.tanh(x), x),
        (x**2, np.abs(x)),
        (np.exp(x), 1 + x),
        (np.cumsum(x, axis=-1), x),  # equal at the first index of the last axis only
        (x, np.maximum(x, 0)),
        (np.sin(x), np.tanh(x)),
    ]
    for got, want in pairs:
        assert diagnose(got, want) is None, (got, want)


# -- each relation, planted ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_sign_flipped(shape):
    e = _planted(shape)
    assert "opposite sign" in diagnose(-e, e, Context(output="dx"))


@pytest.mark.parametrize("shape", SHAPES)
def test_scale_named_from_the_context_and_the_axes(shape):
    e = _planted(shape)
    ctx = Context(output="dW", constants={"N": 7.0, "1 - p": 0.7})
    assert "times a constant, 1/7 (= 1/N)" in diagnose(e / 7, e, ctx)
    assert "times a constant, 7/10 (= 1 - p)" in diagnose(0.7 * e, e, ctx)
    assert "10/7 (= 1/(1 - p))" in diagnose(e / 0.7, e, ctx)
    assert "times a constant, 2" in diagnose(2 * e, e)
    n = shape[0]
    assert f"times a constant, {n} (= the size of axis 0" in diagnose(n * e, e)
    assert "(= 1/(N*T))" in diagnose(e / 21, e, Context(constants={"N": 7, "T": 3}))


def test_scale_named_as_a_ratio_of_the_calls_constants():
    e = _planted((1, 2, 3, 3))
    name = "out from avg_pool_forward with x (1, 2, 7, 7), pool_param={'pool_height': 3, 'pool_width': 3, 'stride': 2}"
    assert "9/4 (= (pool_height*pool_width)/(stride**2))" in diagnose(9 / 4 * e, e, name)
    assert "5/6 (= pool_width/pool_height)" in diagnose(
        5 / 6 * e, e, name.replace("'pool_height': 3", "'pool_height': 6").replace("'pool_width': 3", "'pool_width': 5")
    )


def test_scale_with_the_sign_and_an_unnamed_factor():
    e = _planted((4, 5))
    assert "minus 3 (= T)" in diagnose(-3 * e, e, Context(constants={"T": 3}))
    assert "times a constant, 0.123" in diagnose(0.123 * e, e)


@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 6), (2, 3, 4, 5)])
def test_axes_permuted(shape):
    e = _planted(shape)
    got = np.moveaxis(e, 0, -1)
    message = diagnose(got, e, Context(output="out"))
    assert ("transpose" in message) or ("axes in the wrong order" in message), message


def test_square_transpose_and_a_reshape_where_a_transpose_was_needed():
    e = _planted((4, 4))
    assert "transpose" in diagnose(e.T, e)
    e = _planted((3, 5))
    assert "reshape" in diagnose(e.T.reshape(3, 5), e)
    e = _planted((2, 3, 4))  # (N, C, L) -> the student reshaped (N, L, C) data into (N, C, L)
    assert "reshape" in diagnose(np.transpose(e, (0, 2, 1)).reshape(2, 3, 4), e)
    e = _planted((6, 4))
    assert "right order but the shape" in diagnose(e.reshape(4, 6), e)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_missing_sum_or_mean(shape):
    e = _planted(shape)
    parts = np.stack([e, _planted(shape, 1), -_planted(shape, 1)])
    assert "not summed over its axis 0" in diagnose(parts, e, Context(output="db"))
    assert "not averaged over its axis 0" in diagnose(np.stack([e + 1, e - 1, e]), e)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_extra_sum_or_mean_names_the_axis(shape):
    e = _planted(shape)
    ctx = Context(output="dgamma", axes=("N",) + (None,) * (len(shape) - 1))
    assert "summed over axis 0, N" in diagnose(e.sum(axis=0), e, ctx)
    assert "averaged over axis 1" in diagnose(e.mean(axis=1, keepdims=True), e)
    assert "same for every index" in diagnose(np.broadcast_to(e.mean(axis=0, keepdims=True), e.shape), e)


@pytest.mark.parametrize("shape", [(6, 3, 4), (4, 7), (5, 3, 3, 4)])
def test_shifted_by_one(shape):
    e = _planted(shape)
    ctx = Context(output="h", axes=("T",), time_axis=0)
    late = np.concatenate([np.zeros_like(e[:1]), e[:-1]])
    message = diagnose(late, e, ctx)
    assert "shifted by one along axis 0" in message and "previous time step" in message, message
    early = np.concatenate([e[1:], e[-1:] * 0])
    assert "next time step" in diagnose(early, e, ctx)
    assert f"shifted by one along axis {e.ndim - 1}" in diagnose(np.roll(e, 1, axis=-1), e)


@pytest.mark.parametrize("shape", [(3, 2, 3, 3), (4, 5, 5), (9,)])
def test_reversed_along_an_axis_and_a_flipped_kernel(shape):
    e = _planted(shape)
    assert "reversed along axis 0" in diagnose(np.flip(e, 0), e)
    if len(shape) >= 3:
        message = diagnose(np.flip(e, (-2, -1)), e)
        assert "flipped kernel" in message, message


def test_blocks_permuted_named_with_the_gate_letters():
    H = 3
    e = _planted((4 * H, 5))
    i, f, g, o = np.split(e, 4)
    ctx = Context(output="dw_ih", blocks={0: "ifgo"})
    message = diagnose(np.concatenate([f, i, g, o]), e, ctx)
    assert "figo instead of ifgo" in message, message
    message = diagnose(np.concatenate([i, f, o, g], axis=0), e)
    assert "blocks" in message, message


@pytest.mark.parametrize("shape", [(5, 3, 4), (6, 2)])
def test_right_only_on_part(shape):
    e = _planted(shape)
    ctx = Context(output="h", axes=("T",), time_axis=0)
    last = np.zeros_like(e)
    last[-1] = e[-1]
    assert "right only at the last time step" in diagnose(last, e, ctx)
    first = _planted(shape, 3)
    first[:, 0] = e[:, 0]
    assert "right only at the first" in diagnose(first, e, Context(output="out", batch_axis=1))


def test_the_axes_are_named_from_the_checks_constants():
    e = _planted((4, 2, 3))
    name = "dx returned by rnn_backward (T=4, N=2, D=3, H=5)"
    late = np.concatenate([np.zeros_like(e[:1]), e[:-1]])
    assert "along axis 0, T (size 4): each entry holds the value of the previous time step" in diagnose(late, e, name)
    missed = e.copy()
    missed[0] = 0
    message = diagnose(missed, e, name)
    assert message == (
        "dx is right everywhere but at the first time step (index 0 of axis 0, T (size 4)) and 0 there: that part "
        "is never computed."
    ), message
    assert "axis 0, T" in diagnose(e[::-1], e, name)
    # an index of an axis without a known role is too loose a part to name
    scattered = e.copy()
    scattered[:, :, :2] = 1.0
    assert diagnose(scattered, e, "out") is None


def test_right_only_in_the_interior_and_where_a_mask_says():
    e = _planted((2, 3, 6, 6))
    got = np.zeros_like(e)
    got[:, :, 1:-1, 1:-1] = e[:, :, 1:-1, 1:-1]
    assert "right only in the interior and 0 on the border" in diagnose(got, e)
    x = _planted((4, 6), 4)
    x[x < 0.3] = 0
    e = _planted((4, 6), 5)
    got = np.where(x != 0, e, 2 * e)
    ctx = Context(output="dx", masks={"where x is nonzero": x != 0})
    assert "right only where x is nonzero" in diagnose(got, e, ctx)


def test_a_declared_variant_comes_first():
    e = _planted((4, 3))
    wrong = e + 1
    ctx = Context(variants={"the bias is added twice": wrong})
    assert diagnose(wrong, e, ctx) == "the bias is added twice"


def test_variants_are_declared_by_a_reference_module():
    @variants("test_only_function")
    def _wrong(x):
        return {"x is squared": x**2}

    x = _planted((3,))
    assert known_variants("test_only_function", x)["x is squared"] == pytest.approx(x**2)
    assert known_variants("no_such_function", x) == {}
    import utils.references.rnn  # noqa: F401 - declares the RNN variants
    from utils.diagnose import declared

    assert {"lstm_step_backward", "gru_forward", "rnn_backward"} <= set(declared())


# -- the context read from a check's name --------------------------------------------------------------------------
def test_context_from_name():
    ctx = context_from_name("dW from linear_backward with (N, D, M) = (4, 5, 3)")
    assert (ctx.output, ctx.function) == ("dW", "linear_backward")
    assert ctx.constants == {"N": 4.0, "D": 5.0, "M": 3.0}
    ctx = context_from_name("dx_hat returned by lstm_step_backward (N=2, D=3, H=4), p=0.25")
    assert ctx.function == "lstm_step_backward" and ctx.constants["H"] == 4 and ctx.constants["p"] == 0.25


def test_explain_is_one_line_with_the_prefix_and_assert_close_carries_it():
    e = _planted((4, 5))
    line = explain(e / 4, e, "dW from linear_backward with (N, D) = (4, 5)")
    assert (
        line.startswith("Likely mistake: dW is the expected value times a constant, 1/4 (= 1/N)") and "\n" not in line
    )
    with pytest.raises(AssertionError) as info:
        assert_close(e.sum(axis=0), e, "dgamma from batchnorm_backward")
    named = [ln for ln in str(info.value).splitlines() if ln.startswith("Likely mistake: ")]
    assert len(named) == 1 and "summed over axis 0" in named[0], str(info.value)


def test_no_reference_value_is_quoted():
    e = np.array([[1.25, -3.5], [7.75, 0.5], [2.0, 9.125]])
    for got in (-e, e.T, 3 * e, e.sum(axis=0), np.flip(e, 0)):
        message = diagnose(got, e)
        assert message and not any(f"{v:g}" in message for v in e.ravel() if abs(v) not in (2.0, 0.5)), message


def test_the_search_is_bounded():
    import time

    e = _planted((64, 32, 8, 8))
    noise = _planted((64, 32, 8, 8), 1)
    start = time.perf_counter()
    assert diagnose(noise, e) is None
    assert time.perf_counter() - start < 5.0  # loose: the budget is 40 ms of search after the cheap relations


# -- exceptions inside a student's function ------------------------------------------------------------------------
def _student_add(x, b):
    return x + b[:-1]


def _student_index(x):
    return x[:, x.shape[1]]


def test_a_broadcast_error_names_the_shapes_and_the_arguments():
    x, b = np.zeros((3, 4)), np.zeros(4)
    with pytest.raises(AssertionError) as info:
        checked_call(_student_add, x, b, what="add(x of shape (3, 4), b of shape (4,))", names=["x", "b"])
    message = str(info.value)
    assert "add(x of shape (3, 4), b of shape (4,)) raised ValueError" in message
    assert "Likely cause: numpy cannot combine arrays of shapes (3, 4) (the shape of x)" in message, message
    assert "(3,) (made inside your function)" in message, message
    assert "in _student_add (line" not in message or "`return x + b[:-1]`" in message


def test_an_index_error_names_the_axis():
    with pytest.raises(AssertionError) as info:
        checked_call(_student_index, np.zeros((2, 3)), what="pick(x of shape (2, 3))")
    assert "index 3 on axis 1, which has size 3: one past the end" in str(info.value), str(info.value)


def test_likely_causes_of_other_numpy_errors():
    def cause(fn):
        try:
            fn()
        except Exception as error:  # noqa: BLE001
            return likely_cause(error)

    assert "empty list" in cause(lambda: np.concatenate([]))
    assert "inner sizes differ (3 and 2)" in cause(lambda: np.zeros((2, 2)) @ np.zeros((3, 2)))
    assert "another number of elements" in cause(lambda: np.zeros(6).reshape(4, 2))
    assert "None" in cause(lambda: None + np.zeros(2))
    assert "dict.get('dilation', default)" in cause(lambda: {"stride": 1}["dilation"])
    assert "int or a pair" in cause(lambda: [a for a, b in [3]])
    assert cause(lambda: int("x")) is None


def test_a_hand_written_cause_still_comes_first():
    with pytest.raises(AssertionError) as info:
        checked_call(
            _student_add, np.zeros((3, 4)), np.zeros(4), what="add", causes=[(lambda e: True, "the bias is cut short")]
        )
    assert "Likely cause: the bias is cut short" in str(info.value)


# -- counts --------------------------------------------------------------------------------------------------------
def test_a_count_is_explained_by_its_difference():
    terms = {"the biases are missing": -30, "a kernel is counted as square": 96, "groups are ignored": 576}
    assert explain_count(508, 538, terms, "parameter count") == "the biases are missing"
    assert explain_count(538 + 96 + 576, 538, terms) == "a kernel is counted as square; and groups are ignored"
    assert "FLOPs" in explain_count(2 * 3200, 3200, terms, "MAC count")
    assert explain_count(538, 538, terms) is None
    assert explain_count(539, 538, terms) is None


@pytest.mark.parametrize("shape", [(5, 3, 4), (6, 2)])
def test_one_end_of_an_axis_missing_or_extra(shape):
    e = _planted(shape)
    ctx = Context(output="h", axes=("T",), time_axis=0)
    assert "h lacks the last time step along axis 0, T" in diagnose(e[:-1], e, ctx)
    assert "lacks the first 2 time steps" in diagnose(e[2:], e, ctx)
    extra = np.concatenate([np.zeros_like(e[:1]), e])
    assert "1 time step too many at the start" in diagnose(extra, e, ctx)
    assert diagnose(_planted((shape[0] - 1,) + shape[1:], 9), e, ctx) is None


def test_elementwise_relations():
    x = _planted((4, 6))
    e = np.where(x > 0, _planted((4, 6), 1), 0.0)
    assert "values that belong there (the upstream gradient, dout) are not multiplied in" in diagnose(
        (e != 0).astype(float), e, Context(output="dx")
    )
    assert "negative values are cut to 0" in diagnose(np.maximum(x, 0), x)
    assert "rounded down" in diagnose(np.floor(x), x)
    assert diagnose(np.round(x), x) is None


def test_check_elementwise_names_the_inputs_sign_where_dx_is_right():
    """The activation check gives the engine masks of x's sign: a derivative wrong only at x = 0 is named so."""
    import torch.nn.functional as F

    from utils.references.backprop import check_elementwise

    def forward(x):
        return np.maximum(x, 0), x

    def backward(dout, x):
        return dout * (x >= 0)  # the slope 1 taken at x = 0 as well

    with pytest.raises(AssertionError) as info:
        check_elementwise(forward, backward, F.relu, "relu", np.random.default_rng(0), [(4, 7)])
    assert "Likely mistake: dx is right only where x is nonzero and wrong elsewhere." in str(info.value), str(
        info.value
    )
