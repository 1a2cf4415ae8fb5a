"""Assignment 3 (convolutions and pooling): the reference against torch, and the misconceptions.

The generic checks (reference passes, blank scores zero, points add up, the independent solution
earns full marks) run in tests/test_assignments.py. Here: the reference solutions against conv2d,
unfold/fold and pooling in float64 on many shapes, the table of mistakes a teacher expects with the
test cell whose visible message must name each, and the isolation of the test cells (a wrong
upstream function costs only its own points).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness import Assignment, Misconception, from_source, mutate, solution_sources
from utils.references.conv import random_conv_configs

A = Assignment("03_convolutions")
pytestmark = A.marks
SOLUTIONS = solution_sources(A)


@pytest.fixture(scope="module")
def ns() -> dict:
    return A.reference()


# --- the reference solutions against torch -----------------------------------------------------------

CONV_CONFIGS = [
    ((1, 1, 5, 5), (1, 1, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"stride": 1, "pad": 1}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"stride": 2, "pad": 1}),
    ((1, 2, 9, 8), (3, 2, 3, 2), {"stride": 1, "pad": 2, "dilation": 2}),
    ((2, 1, 6, 7), (2, 1, 1, 4), {"stride": (1, 2), "pad": (0, 1)}),
    ((1, 2, 5, 5), (2, 2, 5, 5), {}),
    ((2, 2, 7, 7), (2, 2, 2, 2), {"stride": 3}),
    ((3, 2, 11, 9), (2, 2, 3, 3), {"stride": (2, 3), "pad": (2, 1), "dilation": (1, 2)}),
    ((1, 1, 4, 9), (1, 1, 4, 1), {"pad": (1, 3), "dilation": (1, 3)}),
    ((2, 4, 8, 8), (5, 4, 1, 1), {"stride": 2}),
    ((1, 3, 6, 6), (2, 3, 3, 3), {"stride": 4, "pad": 3}),
    ((4, 1, 28, 28), (6, 1, 5, 5), {}),
]


ALL_CONFIGS = CONV_CONFIGS + random_conv_configs(
    np.random.default_rng(3), 12, max_batch=4, sizes=(3, 13), max_filters=5, max_kernel=5, max_stride=4
)


def torch_conv_grads(x, w, b, param, dout):
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(
        *tensors, stride=param.get("stride", 1), padding=param.get("pad", 0), dilation=param.get("dilation", 1)
    )
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("x_shape, w_shape, param", ALL_CONFIGS, ids=lambda v: str(v).replace(" ", ""))
def test_reference_conv_matches_torch(ns, x_shape, w_shape, param):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = ns["conv_forward_im2col"](x, w, b, param)
    dout = rng.standard_normal(out.shape)
    out_ref, (dx_ref, dw_ref, db_ref) = torch_conv_grads(x, w, b, param, dout)
    np.testing.assert_allclose(out, out_ref, rtol=1e-10, atol=1e-12)
    dx, dw, db = ns["conv_backward"](dout, cache)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, db_ref, rtol=1e-10, atol=1e-12)
    kernel = w_shape[2:]
    args = (param.get("stride", 1), param.get("pad", 0), param.get("dilation", 1))
    cols_ref = F.unfold(torch.from_numpy(x), kernel, dilation=args[2], padding=args[1], stride=args[0]).numpy()
    np.testing.assert_array_equal(ns["im2col"](x, kernel, *args), cols_ref)
    np.testing.assert_array_equal(cache[4], cols_ref)
    np.testing.assert_allclose(
        ns["col2im"](cols_ref, x.shape, kernel, *args),
        F.fold(
            torch.from_numpy(cols_ref), x.shape[2:], kernel, dilation=args[2], padding=args[1], stride=args[0]
        ).numpy(),
        rtol=1e-12,
        atol=1e-12,
    )
    if np.prod(out.shape) * np.prod(w_shape[1:]) < 20_000:
        naive, _ = ns["conv_forward_naive"](x, w, b, param)
        np.testing.assert_allclose(naive, out, rtol=1e-10, atol=1e-12)
    for axis, (length, k) in enumerate(zip(x_shape[2:], kernel)):
        along = [a[axis] if isinstance(a, tuple) else a for a in args]
        assert ns["conv_output_size"](length, k, *along) == out.shape[2 + axis]


def test_reference_conv_float32_and_default_param(ns):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 1, 12, 12), (3, 1, 5, 5), (3,)))
    out, cache = ns["conv_forward_im2col"](x, w, b, {})
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, F.conv2d(*(torch.from_numpy(a) for a in (x, w, b))).numpy(), rtol=1e-4, atol=1e-5)
    dx, dw, db = ns["conv_backward"](np.ones_like(out), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32


POOL_CONFIGS = [
    ((2, 3, 4, 6), (2, 2, 2)),
    ((1, 2, 7, 7), (3, 3, 2)),
    ((2, 1, 5, 7), (2, 3, 2)),
    ((1, 1, 8, 8), (2, 2, 1)),
    ((2, 2, 6, 5), (6, 5, 1)),
    ((3, 2, 9, 11), (3, 2, 3)),
    ((1, 4, 10, 10), (1, 1, 2)),
    ((2, 2, 9, 9), (4, 4, 3)),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, pool", POOL_CONFIGS, ids=str)
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
def test_reference_pooling_matches_torch(ns, kind, x_shape, pool, ties):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, x_shape).astype(float) if ties else rng.standard_normal(x_shape)
    ph, pw, s = pool
    param = {"pool_height": ph, "pool_width": pw, "stride": s}
    out, cache = ns[f"{kind}_pool_forward"](x, param)
    xt = torch.tensor(x, requires_grad=True)
    ref = (F.max_pool2d if kind == "max" else F.avg_pool2d)(xt, (ph, pw), stride=s)
    dout = rng.standard_normal(tuple(ref.shape))
    ref.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ns[f"{kind}_pool_backward"](dout, cache), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


# --- the visible tests name the typical mistakes -------------------------------------------------------

WRONG_SIZE = "def conv_output_size(L, k, stride=1, pad=0, dilation=1):\n    return {}\n"

IM2COL_LOOP_OVER_N = """
def im2col(x, kernel_size, stride=1, pad=0, dilation=1):
    return np.concatenate([IM2COL(x[n:n + 1], kernel_size, stride, pad, dilation) for n in range(x.shape[0])])
"""

FORWARD_WITH_LOOPS = """
def conv_forward_im2col(x, w, b, conv_param):
    out, _ = conv_forward_naive(x, w, b, conv_param)
    stride, pad, dilation = unpack_conv_param(conv_param)
    return out, (x, w, b, conv_param, im2col(x, w.shape[2:], stride, pad, dilation))
"""

COL2IM_FANCY_INDEX = """
def col2im(dcols, x_shape, kernel_size, stride=1, pad=0, dilation=1):
    (HH, WW), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(pad), pair(dilation)
    N, C, H, W = x_shape
    H_out, W_out = conv_output_size(H, HH, sh, ph, dh), conv_output_size(W, WW, sw, pw, dw)
    rows = (np.arange(HH)[:, None, None, None] * dh + np.arange(H_out)[None, None, :, None] * sh)
    cols = (np.arange(WW)[None, :, None, None] * dw + np.arange(W_out)[None, None, None, :] * sw)
    rows, cols = np.broadcast_to(rows, (HH, WW, H_out, W_out)), np.broadcast_to(cols, (HH, WW, H_out, W_out))
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    dxp[:, :, rows, cols] += dcols.reshape(N, C, HH, WW, H_out, W_out)   # repeated indices: no accumulation
    return dxp[:, :, ph:ph + H, pw:pw + W]
"""

MAX_BACKWARD_LOOPS = """
def max_pool_backward(dout, cache):
    x, p = cache
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
        {body}
    return dx
"""

AVG_BACKWARD_ASSIGN = """
def avg_pool_backward(dout, cache):
    x, p = cache
    ph, pw, s = p["pool_height"], p["pool_width"], p["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        dx[n, c, i * s:i * s + ph, j * s:j * s + pw] = dout[n, c, i, j] / (ph * pw)
    return dx
"""


def wrong_variants(solutions: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain)."""
    naive, im2col, fwd = solutions["conv_forward_naive"], solutions["im2col"], solutions["conv_forward_im2col"]
    back, maxp, avgp = solutions["col2im"], solutions["max_pool_forward"], solutions["avg_pool_forward"]
    floor = "(L + 2 * pad - dilation * (k - 1) - 1)"
    return [
        ("size-no-plus-one", "conv_output_size", WRONG_SIZE.format(f"{floor} // stride"), "final +1 is missing"),
        (
            "size-no-minus-one",
            "conv_output_size",
            WRONG_SIZE.format("(L + 2 * pad - dilation * (k - 1)) // stride + 1"),
            "off by one",
        ),
        (
            "size-no-dilation",
            "conv_output_size",
            WRONG_SIZE.format("(L + 2 * pad - (k - 1) - 1) // stride + 1"),
            "dilation is ignored",
        ),
        ("size-ceil", "conv_output_size", WRONG_SIZE.format(f"-(-{floor} // stride) + 1"), "rounded up"),
        (
            "size-pad-once",
            "conv_output_size",
            WRONG_SIZE.format("(L + pad - dilation * (k - 1) - 1) // stride + 1"),
            "padding is counted once",
        ),
        ("size-no-fit-check", "conv_output_size", WRONG_SIZE.format(f"{floor} // stride + 1"), "Raise ValueError"),
        ("size-float", "conv_output_size", WRONG_SIZE.format(f"{floor} / stride + 1"), "return an int"),
        (
            "naive-flipped",
            "conv_forward_naive",
            mutate(naive, "np.sum(window * w[f])", "np.sum(window * w[f, :, ::-1, ::-1])"),
            "kernel is flipped",
        ),
        ("naive-no-bias", "conv_forward_naive", mutate(naive, " + b[f]", ""), "bias is missing"),
        (
            "im2col-row-order",
            "im2col",
            mutate(im2col, "return cols.reshape(", "return cols.transpose(0, 2, 3, 1, 4, 5).reshape("),
            "(kernel row, kernel column, channel)",
        ),
        (
            "im2col-flipped",
            "im2col",
            mutate(im2col, "return cols.reshape(", "return cols[:, :, ::-1, ::-1].reshape("),
            "kernel is flipped",
        ),
        (
            "im2col-transposed",
            "im2col",
            mutate(
                im2col,
                "return cols.reshape(N, C * HH * WW, H_out * W_out)",
                "return cols.reshape(N, C * HH * WW, H_out * W_out).transpose(0, 2, 1)",
            ),
            "rows and columns are swapped",
        ),
        (
            "im2col-loop-over-batch",
            "im2col",
            im2col.replace("def im2col(", "def IM2COL(") + IM2COL_LOOP_OVER_N,
            "not vectorised",
        ),
        (
            "fwd-flipped",
            "conv_forward_im2col",
            mutate(fwd, "np.matmul(w.reshape(F, -1), cols)", "np.matmul(w[:, :, ::-1, ::-1].reshape(F, -1), cols)"),
            "kernel is flipped",
        ),
        (
            "fwd-bias-per-channel",
            "conv_forward_im2col",
            mutate(fwd, "out += b.reshape(F, 1)", "out += C * b.reshape(F, 1)"),
            "once per input channel",
        ),
        ("fwd-loops", "conv_forward_im2col", FORWARD_WITH_LOOPS, "not vectorised"),
        (
            "fwd-cache-without-cols",
            "conv_forward_im2col",
            mutate(fwd, "return out, (x, w, b, conv_param, cols)", "return out, (x, w, b, conv_param)"),
            "(x, w, b, conv_param, cols)",
        ),
        (
            "db-shape",
            "conv_backward",
            mutate(back, "db = dout_mat.sum(axis=(0, 2))", "db = dout.sum(axis=0)"),
            "sums dout over axes (0, 2, 3)",
        ),
        (
            "db-mean",
            "conv_backward",
            mutate(back, "db = dout_mat.sum(axis=(0, 2))", "db = dout_mat.mean(axis=(0, 2))"),
            "db is the mean",
        ),
        (
            "dw-mean",
            "conv_backward",
            mutate(back, ".reshape(w.shape)", ".reshape(w.shape) / N"),
            "averaged over the batch",
        ),
        (
            "col2im-assign",
            "col2im",
            mutate(back, "+= dcols[:, :, u, v]", "= dcols[:, :, u, v]"),
            "overwrite each other",
        ),
        ("col2im-fancy-index", "col2im", COL2IM_FANCY_INDEX, "overwrite each other"),
        (
            "col2im-no-crop",
            "col2im",
            mutate(back, "return dxp[:, :, ph:ph + H, pw:pw + W]", "return dxp"),
            "crop the padding",
        ),
        (
            "maxpool-mean",
            "max_pool_forward",
            avgp.replace("def avg_pool_forward(", "def max_pool_forward("),
            "average pooling",
        ),
        (
            "maxpool-spread",
            "max_pool_backward",
            MAX_BACKWARD_LOOPS.format(body="dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += dout[n, c, i, j]"),
            "spread over the whole window",
        ),
        (
            "maxpool-spread-averaged",
            "max_pool_backward",
            MAX_BACKWARD_LOOPS.format(
                body="dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += dout[n, c, i, j] / (ph * pw)"
            ),
            "as in average pooling",
        ),
        (
            "maxpool-assign",
            "max_pool_backward",
            MAX_BACKWARD_LOOPS.format(
                body="r, q = np.unravel_index(window.argmax(), window.shape)\n"
                "        dx[n, c, i * s + r, j * s + q] = dout[n, c, i, j]"
            ),
            "overwrite each other",
        ),
        (
            "maxpool-assign-mask",
            "max_pool_backward",
            MAX_BACKWARD_LOOPS.format(
                body="r, q = np.unravel_index(window.argmax(), window.shape)\n"
                "        mask = np.zeros_like(window); mask[r, q] = 1\n"
                "        dx[n, c, i * s:i * s + ph, j * s:j * s + pw] = mask * dout[n, c, i, j]"
            ),
            "overwrite each other",
        ),
        (
            "maxpool-ties",
            "max_pool_backward",
            MAX_BACKWARD_LOOPS.format(
                body="dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += (window == window.max()) * dout[n, c, i, j]"
            ),
            "every tied maximum",
        ),
        ("avgpool-sum", "avg_pool_forward", mutate(avgp, "    out /= ph * pw\n", ""), "sum of each window"),
        (
            "avgpool-max",
            "avg_pool_forward",
            maxp.replace("def max_pool_forward(", "def avg_pool_forward("),
            "maximum of each window",
        ),
        (
            "avgpool-no-division",
            "avg_pool_backward",
            mutate(avgp, "share = dout / (ph * pw)", "share = dout"),
            "not divided by the window's area",
        ),
        ("avgpool-assign", "avg_pool_backward", AVG_BACKWARD_ASSIGN, "overwrite each other"),
    ]


def blind_variants(solutions: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain) for the mistakes of
    the blind catalogue (tests/blind/a03_convolutions.py) that the test cells once let through or caught without
    naming, each written here as an edit of the reference solution."""
    size, naive, im2col = solutions["conv_output_size"], solutions["conv_forward_naive"], solutions["im2col"]
    fwd, back, maxp, avgp = (
        solutions["conv_forward_im2col"],
        solutions["col2im"],
        solutions["max_pool_forward"],
        solutions["avg_pool_forward"],
    )
    floor = "L_out = (L + 2 * pad - span) // stride + 1"
    window = "window = xp[n, :, top:top + dh * (HH - 1) + 1:dh, left:left + dw * (WW - 1) + 1:dw]"
    tap = "xp[:, :, top:top + sh * (H_out - 1) + 1:sh, left:left + sw * (W_out - 1) + 1:sw]"
    add = "dxp[:, :, top:top + sh * (H_out - 1) + 1:sh, left:left + sw * (W_out - 1) + 1:sw] += dcols[:, :, u, v]"
    pool_slice = "x[:, :, u:u + s * (H_out - 1) + 1:s, v:v + s * (W_out - 1) + 1:s]"
    argmax = "first_max = windows.argmax(axis=2)"
    return [
        (
            "size-round",
            "conv_output_size",
            mutate(size, floor, "L_out = round((L + 2 * pad - span) / stride) + 1"),
            "rounded to the nearest",
        ),
        (
            "size-no-minus-no-plus",
            "conv_output_size",
            mutate(size, floor, "L_out = (L + 2 * pad - dilation * (k - 1)) // stride"),
            "both missing",
        ),
        (
            "size-fit-check-ge",
            "conv_output_size",
            mutate(size, "if span > L + 2 * pad:", "if span >= L + 2 * pad:"),
            "a strict > (not >=)",
        ),
        (
            "naive-bias-inside",
            "conv_forward_naive",
            mutate(naive, "np.sum(window * w[f]) + b[f]", "np.sum(window * w[f] + b[f])"),
            "bias is added inside the sum",
        ),
        (
            "naive-no-dilation",
            "conv_forward_naive",
            mutate(naive, window, "window = xp[n, :, top:top + HH, left:left + WW]"),
            "dilation is ignored",
        ),
        (
            "naive-no-stride",
            "conv_forward_naive",
            mutate(naive, "top, left = i * sh, j * sw", "top, left = i, j"),
            "stride is ignored",
        ),
        (
            "naive-pad-h-both",
            "conv_forward_naive",
            mutate(naive, "((0, 0), (0, 0), (ph, ph), (pw, pw))", "((0, 0), (0, 0), (ph, ph), (ph, ph))"),
            "vertical padding is used for both axes",
        ),
        (
            "naive-pad-every-axis",
            "conv_forward_naive",
            mutate(naive, "np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))", "np.pad(x, ph)"),
            "pads every axis",
        ),
        (
            "naive-strides-swapped",
            "conv_forward_naive",
            mutate(naive, "top, left = i * sh, j * sw", "top, left = i * sw, j * sh"),
            "the rows use pad_h, stride_h and dil_h",
        ),
        (
            "naive-cache-padded-x",
            "conv_forward_naive",
            mutate(naive, "xp = np.pad(x,", "x = xp = np.pad(x,"),
            "it is the zero-padded input",
        ),
        (
            "fwd-cache-weight-matrix",
            "conv_forward_im2col",
            mutate(
                fwd, "return out, (x, w, b, conv_param, cols)", "return out, (x, w.reshape(F, -1), b, conv_param, cols)"
            ),
            "weight matrix w.reshape(f, -1)",
        ),
        (
            "fwd-weight-matrix-scrambled",
            "conv_forward_im2col",
            mutate(fwd, "np.matmul(w.reshape(F, -1), cols)", "np.matmul(w.reshape(-1, F).T, cols)"),
            "weight matrix is scrambled",
        ),
        (
            "fwd-bias-on-positions",
            "conv_forward_im2col",
            mutate(fwd, "out += b.reshape(F, 1)", "out = out + b"),
            "add b[:, none]",
        ),
        (
            "fwd-square-kernel",
            "conv_forward_im2col",
            mutate(fwd, "im2col(x, (HH, WW),", "im2col(x, HH,"),
            "square kernel",
        ),
        (
            "fwd-im2col-argument-order",
            "conv_forward_im2col",
            mutate(fwd, "im2col(x, (HH, WW), stride, pad, dilation)", "im2col(x, (HH, WW), pad, stride, dilation)"),
            "check the order",
        ),
        (
            "im2col-no-padding",
            "im2col",
            mutate(im2col, "xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))", "xp = x"),
            "cut from the zero-padded input",
        ),
        (
            "im2col-ints-assumed",
            "im2col",
            mutate(
                im2col,
                "(HH, WW), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(pad), pair(dilation)",
                "(HH, WW) = pair(kernel_size)\n    sh = sw = stride\n    ph = pw = pad\n    dh = dw = dilation",
            ),
            "unpack them with pair()",
        ),
        (
            "fwd-no-dilation",
            "conv_forward_im2col",
            mutate(fwd, "im2col(x, (HH, WW), stride, pad, dilation)", "im2col(x, (HH, WW), stride, pad)"),
            "pass conv_param's dilation on to im2col",
        ),
        (
            "im2col-no-stride",
            "im2col",
            mutate(im2col, tap, "xp[:, :, top:top + H_out, left:left + W_out]"),
            "stride is ignored",
        ),
        (
            "im2col-no-dilation",
            "im2col",
            mutate(im2col, "top, left = u * dh, v * dw", "top, left = u, v"),
            "dilation is ignored",
        ),
        (
            "im2col-pad-bottom-right",
            "im2col",
            mutate(im2col, "((0, 0), (0, 0), (ph, ph), (pw, pw))", "((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw))"),
            "all at the bottom and right",
        ),
        (
            "col2im-no-stride",
            "col2im",
            mutate(back, add, "dxp[:, :, top:top + H_out, left:left + W_out] += dcols[:, :, u, v]"),
            "stride is ignored",
        ),
        (
            "col2im-no-dilation",
            "col2im",
            mutate(back, "top, left = u * dh, v * dw", "top, left = u, v"),
            "dilation is ignored",
        ),
        (
            "col2im-flipped",
            "col2im",
            mutate(back, "+= dcols[:, :, u, v]", "+= dcols[:, :, HH - 1 - u, WW - 1 - v]"),
            "kernel is flipped",
        ),
        (
            "col2im-rows-kernel-first",
            "col2im",
            mutate(
                back,
                "dcols = dcols.reshape(N, C, HH, WW, H_out, W_out)",
                "dcols = dcols.reshape(N, HH, WW, C, H_out, W_out).transpose(0, 3, 1, 2, 4, 5)",
            ),
            "(kernel row, kernel column, channel)",
        ),
        (
            "col2im-crop-pad-h",
            "col2im",
            mutate(back, "return dxp[:, :, ph:ph + H, pw:pw + W]", "return dxp[:, :, ph:ph + H, ph:ph + W]"),
            "vertical padding is used for both axes",
        ),
        (
            "col2im-negative-crop",
            "col2im",
            mutate(back, "return dxp[:, :, ph:ph + H, pw:pw + W]", "return dxp[:, :, ph:-ph, pw:-pw]"),
            "an empty crop",
        ),
        (
            "dw-last-sample",
            "conv_backward",
            mutate(
                back,
                "dw = np.tensordot(dout_mat, cols, axes=([0, 2], [0, 2])).reshape(w.shape)",
                "for n in range(N):\n        dw = (dout_mat[n] @ cols[n].T).reshape(w.shape)",
            ),
            "last sample's contribution only",
        ),
        (
            "dw-cols-reshaped",
            "conv_backward",
            mutate(
                back,
                "dw = np.tensordot(dout_mat, cols, axes=([0, 2], [0, 2])).reshape(w.shape)",
                "dw = np.matmul(dout_mat, cols.reshape(N, -1, C * HH * WW)).sum(axis=0).reshape(w.shape)",
            ),
            "has the shape of cols's transpose but not its entries",
        ),
        (
            "dw-cols-untransposed",
            "conv_backward",
            mutate(
                back,
                "dw = np.tensordot(dout_mat, cols, axes=([0, 2], [0, 2])).reshape(w.shape)",
                "dw = np.matmul(dout_mat, cols).sum(axis=0).reshape(w.shape)",
            ),
            "untransposed",
        ),
        (
            "dx-flipped",
            "conv_backward",
            mutate(
                back,
                "dcols = np.matmul(w.reshape(F, -1).T, dout_mat)",
                "dcols = np.matmul(w[:, :, ::-1, ::-1].reshape(F, -1).T, dout_mat)",
            ),
            "dx uses the flipped kernel",
        ),
        (
            "dx-weight-reshaped",
            "conv_backward",
            mutate(
                back, "dcols = np.matmul(w.reshape(F, -1).T, dout_mat)", "dcols = np.matmul(w.reshape(-1, F), dout_mat)"
            ),
            "w.reshape(f, -1).t",
        ),
        (
            "dx-col2im-no-dilation",
            "conv_backward",
            mutate(
                back,
                "dx = col2im(dcols, x.shape, (HH, WW), stride, pad, dilation)",
                "dx = col2im(dcols, x.shape, (HH, WW), stride, pad)",
            ),
            "pass all three",
        ),
        (
            "maxpool-start-at-zero",
            "max_pool_forward",
            mutate(maxp, "np.full((N, C, H_out, W_out), -np.inf,", "np.full((N, C, H_out, W_out), 0.0,"),
            "starts at 0",
        ),
        (
            "maxpool-pool-height-both",
            "max_pool_forward",
            mutate(maxp, 'pool_param["pool_width"]', 'pool_param["pool_height"]'),
            "pool_height is used for both axes",
        ),
        (
            "maxpool-no-stride",
            "max_pool_forward",
            mutate(
                maxp,
                "x[:, :, u:u + s * (H_out - 1) + 1:s, v:v + s * (W_out - 1) + 1:s], out=out",
                "x[:, :, u:u + H_out, v:v + W_out], out=out",
            ),
            "stride is ignored",
        ),
        (
            "maxpool-ceil",
            "max_pool_forward",
            mutate(
                maxp,
                "H_out, W_out = (H - ph) // s + 1, (W - pw) // s + 1",
                "H_out, W_out = -(-(H - ph) // s) + 1, -(-(W - pw) // s) + 1",
            ),
            "rounded up",
        ),
        (
            "maxpool-ones",
            "max_pool_backward",
            mutate(maxp, "np.where(first_max == offset, dout, 0)", "np.where(first_max == offset, 1.0, 0)"),
            "add dout, not 1",
        ),
        (
            "maxpool-last-tie",
            "max_pool_backward",
            mutate(maxp, argmax, "first_max = ph * pw - 1 - windows[:, :, ::-1].argmax(axis=2)"),
            "last maximum",
        ),
        (
            "maxpool-column-major-tie",
            "max_pool_backward",
            mutate(
                maxp,
                argmax,
                "by_column = windows.reshape(N, C, ph, pw, H_out, W_out).transpose(0, 1, 3, 2, 4, 5)\n"
                "    first_max = by_column.reshape(N, C, ph * pw, H_out, W_out).argmax(axis=2)\n"
                "    first_max = (first_max % ph) * pw + first_max // ph",
            ),
            "column-major",
        ),
        (
            "maxpool-unravel-swapped",
            "max_pool_backward",
            mutate(maxp, "u, v = divmod(offset, pw)", "u, v = divmod(offset, ph)"),
            "unravelled with the sizes swapped",
        ),
        (
            "avgpool-by-stride-squared",
            "avg_pool_forward",
            mutate(avgp, "out /= ph * pw", "out /= s * s"),
            "divided by stride * stride",
        ),
        ("avgpool-floor", "avg_pool_forward", mutate(avgp, "out /= ph * pw", "out //= ph * pw"), "whole numbers"),
        (
            "avgpool-slice-end",
            "avg_pool_forward",
            mutate(avgp, "out += " + pool_slice, "out += x[:, :, u:u + s * (H_out - 1):s, v:v + s * (W_out - 1):s]"),
            "end is exclusive",
        ),
        (
            "avgpool-back-by-stride-squared",
            "avg_pool_backward",
            mutate(avgp, "share = dout / (ph * pw)", "share = dout / (s * s)"),
            "divided by stride * stride",
        ),
        (
            "avgpool-back-averaged",
            "avg_pool_backward",
            mutate(
                avgp,
                "    ### END SOLUTION\n    return dx",
                "    count = np.zeros_like(dx)\n    for u in range(ph):\n        for v in range(pw):\n"
                "            count[:, :, u:u + s * (H_out - 1) + 1:s, v:v + s * (W_out - 1) + 1:s] += 1\n"
                "    dx = dx / np.maximum(count, 1)\n    ### END SOLUTION\n    return dx",
            ),
            "averaged over the windows",
        ),
        (
            "avgpool-back-pool-height-both",
            "avg_pool_backward",
            mutate(
                avgp,
                'pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]\n    N, C, H_out',
                'pool_param["pool_height"], pool_param["pool_height"], pool_param["stride"]\n    N, C, H_out',
            ),
            "pool_height is used for both axes",
        ),
    ]


MISCONCEPTIONS = [
    Misconception(name, test, from_source(source), phrase)
    for name, test, source, phrase in wrong_variants(SOLUTIONS) + blind_variants(SOLUTIONS)
]


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught_and_named(mistake):
    A.check_misconception(mistake)


WRONG_UPSTREAM = {
    "conv_output_size": WRONG_SIZE.format("(L + 2 * pad - dilation * (k - 1) - 1) // stride"),
    "im2col": mutate(SOLUTIONS["im2col"], "return cols.reshape(", "return cols[:, :, ::-1, ::-1].reshape("),
    "col2im": mutate(SOLUTIONS["col2im"], "+= dcols[:, :, u, v]", "= dcols[:, :, u, v]"),
}


@pytest.mark.parametrize("upstream", list(WRONG_UPSTREAM))
def test_a_wrong_upstream_function_costs_only_its_own_points(upstream):
    """Later test cells run the function they grade with torch stand-ins for what it calls."""
    failing = A.failing_tests(from_source(WRONG_UPSTREAM[upstream]))
    assert failing == [upstream], f"a wrong {upstream} fails the test cells {failing}"


# Pairs of mistakes whose messages rightly share a phrase.
AMBIGUOUS = {
    # both break the cache's contract, and the message rightly states the whole tuple
    frozenset(("fwd-cache-weight-matrix", "fwd-cache-without-cols")),
}


@pytest.mark.parametrize("mistake", [m for m in MISCONCEPTIONS if m.phrase], ids=str)
def test_a_hint_fires_only_for_its_own_mistake(mistake):
    """No other mistake's visible message of the same test cell carries this mistake's hint."""
    given = A.others_given_the_hint(mistake, [m for m in MISCONCEPTIONS if m.phrase], AMBIGUOUS)
    assert not given, f"{mistake}'s hint is also given to {given}"


def test_a_raised_error_names_the_call_the_line_and_the_cause():
    """A numpy error inside the student's pooling function becomes a message: the call, their line, and why."""
    mistake = next(m for m in MISCONCEPTIONS if m.name == "maxpool-ceil")
    message = A.run_test(mistake.test, replace=mistake.replace, hidden=False).message
    assert "max_pool_forward(x of shape (2, 1, 5, 7), pool_param=" in message, message
    assert "It was raised in your code, in max_pool_forward (line" in message, message
    assert "Likely cause: an array of 3 x 3 windows: the output size is rounded up" in message, message
