"""Torch references for assignment 3 (convolutions and pooling), imported by its locked test cells.

Every function takes and returns float64 numpy arrays in the assignment's layouts:
``x`` (N, C, H, W), ``w`` (F, C, HH, WW), ``b`` (F,), ``conv_param`` a dict with optional
``"stride"``, ``"pad"``, ``"dilation"`` (int or pair each), ``pool_param`` a dict with
``"pool_height"``, ``"pool_width"``, ``"stride"``. The stand-ins (``conv_output_size``, ``im2col``,
``col2im``) have the signatures of the functions students write, computed by torch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import assert_close, torch_reference
from ..diagnose import context_from_name
from . import _shapes_in, checked_call


def _conv_kwargs(conv_param: dict) -> dict:
    return {
        "stride": conv_param.get("stride", 1),
        "padding": conv_param.get("pad", 0),
        "dilation": conv_param.get("dilation", 1),
    }


# -- stand-ins for upstream student functions ------------------------------------------------------
def conv_output_size(L, k, stride=1, pad=0, dilation=1):
    """Output length along one axis, read off the shape torch's conv2d produces (an int).

    Raises ValueError, as torch does, when the dilated kernel does not fit the padded input."""
    try:
        out = F.conv2d(
            torch.zeros(1, 1, L, 1),
            torch.zeros(1, 1, k, 1),
            stride=(stride, 1),
            padding=(pad, 0),
            dilation=(dilation, 1),
        )
    except RuntimeError as error:
        raise ValueError(
            f"a kernel of size {k} with dilation {dilation} does not fit an input of length {L} padded by {pad}"
        ) from error
    return int(out.shape[2])


def im2col(x, kernel_size, stride=1, pad=0, dilation=1):
    """torch's unfold: (N, C, H, W) -> (N, C*HH*WW, H_out*W_out).

    The batch is folded into the channels first (unfold treats channels alike and orders its rows
    by channel): torch's unfold loops over the images of a batch one by one, which takes seconds for
    the million tiny images of a test of CPU time, and milliseconds as one image of many channels."""
    x = np.asarray(x, dtype=np.float64)
    N, C = x.shape[:2]
    if N * C == 0:  # unfold takes an empty batch, not an image of no channels
        return F.unfold(torch.from_numpy(x), kernel_size, dilation=dilation, padding=pad, stride=stride).numpy()
    cols = F.unfold(
        torch.from_numpy(x).reshape(1, N * C, *x.shape[2:]), kernel_size, dilation=dilation, padding=pad, stride=stride
    )
    return cols.reshape(N, -1, cols.shape[-1]).numpy()


def col2im(dcols, x_shape, kernel_size, stride=1, pad=0, dilation=1):
    """torch's fold, the adjoint of unfold: (N, C*HH*WW, H_out*W_out) -> x_shape."""
    return F.fold(
        torch.from_numpy(np.asarray(dcols, dtype=np.float64)),
        tuple(x_shape[2:]),
        kernel_size,
        dilation=dilation,
        padding=pad,
        stride=stride,
    ).numpy()


# -- references ------------------------------------------------------------------------------------
def torch_conv(x, w, b, conv_param):
    """torch's conv2d on float64 copies: the reference output, shape (N, F, H_out, W_out)."""
    return F.conv2d(
        torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(w)), torch.from_numpy(b), **_conv_kwargs(conv_param)
    ).numpy()


def conv_grads(x, w, b, conv_param, dout):
    """[dx, dw, db] from torch's autograd through conv2d, in float64."""
    _, grads = torch_reference(lambda x, w, b: F.conv2d(x, w, b, **_conv_kwargs(conv_param)), x, w, b, dout=dout)
    return grads


def conv_cache(x, w, b, conv_param):
    """The cache conv_forward_im2col stores, ``(x, w, b, conv_param, cols)``, built by torch so that a
    backward test does not depend on the student's forward pass."""
    cols = im2col(x, w.shape[2:], conv_param.get("stride", 1), conv_param.get("pad", 0), conv_param.get("dilation", 1))
    return (x, w, b, conv_param, cols)


def conv_case(rng, x_shape, w_shape, conv_param):
    """Random ``x``, ``w``, ``b`` of the given shapes and a ``dout`` of the output's shape."""
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    return x, w, b, rng.standard_normal(torch_conv(x, w, b, conv_param).shape)


FLIPPED = (
    "the kernel is flipped, which is a true convolution; conv2d computes cross-correlation: multiply "
    "w[f, c, u, v] with the pixel at offset (u*dilation_h, v*dilation_w) in the window, no flip."
)


def _window_cause(error, w_shape):
    """What a broadcast failure between a window of the padded input and a filter w[f] says: the padding of the
    batch and channel axes, or a window that runs off the padded input (a stride, padding or dilation of one axis
    used for the other); None for another error."""
    if not isinstance(error, ValueError) or "broadcast" not in str(error):
        return None
    C, HH, WW = w_shape[1:]
    shapes = [s for s in _shapes_in(str(error).split("shapes", 1)[-1]) if len(s) == 3]
    window = next((s for s in shapes if s != (C, HH, WW)), None)
    if window is None or (C, HH, WW) not in shapes:
        return None
    if window[0] != C:
        return (
            f"a window of the padded input has {window[0]} channels where w[f] has C = {C}: np.pad(x, pad) pads "
            "every axis, the batch and the channels too; pad only H and W, np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), "
            "(pad_w, pad_w)))."
        )
    return (
        f"a window of the padded input has shape {window} where w[f] has (C, HH, WW) = {(C, HH, WW)}: the window "
        "runs off the padded input. Check that the rows use pad_h, stride_h and dil_h and the columns pad_w, "
        "stride_w and dil_w (np.pad takes one (before, after) pair per axis: ((0, 0), (0, 0), (pad_h, pad_h), "
        "(pad_w, pad_w)))."
    )


def forward_check(forward, x, w, b, conv_param, name, rtol=1e-6):
    """Check a convolution forward pass against conv2d; return its ``(out, cache)``.

    The function gets copies: the expected answer is computed from the arrays as they were, and a
    function that writes into its inputs is named (it would change what the caller still holds).
    """
    given = (x.copy(), w.copy(), b.copy())
    result = checked_call(
        forward,
        *given,
        dict(conv_param),
        what=f"{name}(x of shape {x.shape}, w of shape {w.shape}, b of shape {b.shape}, conv_param={conv_param})",
        names=["x", "w", "b"],
        causes=[
            (lambda error: _window_cause(error, w.shape) is not None, lambda error: _window_cause(error, w.shape)),
            (
                lambda error: _forward_cause(error, x.shape, w.shape, conv_param) is not None,
                lambda error: _forward_cause(error, x.shape, w.shape, conv_param),
            ),
        ],
    )
    for label, before, after in zip(("x", "w", "b"), (x, w, b), given):
        assert np.array_equal(before, after), (
            f"{name} changed its input {label} in place: leave the arrays it is given as they were."
        )
    assert isinstance(result, tuple) and len(result) == 2, (
        f"{name} must return a pair (out, cache), got {type(result).__name__}."
    )
    out, cache = result
    expected = torch_conv(x, w, b, conv_param)
    what = f"{name} with x {x.shape}, w {w.shape}, conv_param={conv_param}"
    assert np.shape(out) == expected.shape, (
        f"out from {what} has shape {np.shape(out)}, expected {expected.shape}: compute H_out and "
        "W_out with conv_output_size (stride, padding and dilation all change them)."
    )
    assert_close(
        out,
        expected,
        f"out from {what}",
        context=context_from_name(f"out from {what}", axes=("N", "F", "H_out", "W_out"), batch_axis=0, channel_axis=1),
        rtol=rtol,
        mistakes={
            FLIPPED: torch_conv(x, w[:, :, ::-1, ::-1], b, conv_param),
            "the bias is missing: add b[f] once to every output of filter f.": torch_conv(
                x, w, np.zeros_like(b), conv_param
            ),
            "the bias is added once per input channel (C times) instead of once per output.": torch_conv(
                x, w, x.shape[1] * b, conv_param
            ),
            **forward_variants(x, w, b, conv_param, expected.shape),
        },
    )
    check_conv_cache(cache, x, w, b, conv_param, name.split(" ")[0])
    return out, cache


# -- pooling ---------------------------------------------------------------------------------------
def pool_param_of(pool_h, pool_w, stride):
    return {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}


def torch_pool(kind, x, pool_param, dout=None):
    """(out, dx) from torch's max_pool2d (``kind="max"``) or avg_pool2d and autograd, in float64;
    dx is None without ``dout``."""
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    size, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    if dout is None:
        return pool(torch.from_numpy(x), size, stride=stride).numpy(), None
    out, (dx,) = torch_reference(lambda x: pool(x, size, stride=stride), x, dout=dout)
    return out, dx


def check_pool_shape(value, expected, what, mistakes=None):
    """The output's shape; a wrong one that a known mistake (``{message: array}``) reproduces is named."""
    if np.shape(value) == expected.shape:
        return
    lines = [
        f"{what} has shape {np.shape(value)}, expected {expected.shape}: the output size is "
        "(H - pool_height) // stride + 1 by (W - pool_width) // stride + 1."
    ]
    for message, variant in (mistakes or {}).items():
        try:
            same = np.shape(value) == np.shape(variant) and np.allclose(
                np.asarray(value, dtype=np.float64), variant, rtol=1e-6, atol=1e-8
            )
        except (TypeError, ValueError):
            same = False
        if same:
            lines.append(f"Likely mistake: {message}")
            break
    raise AssertionError("\n".join(lines))


def random_conv_configs(
    rng, count, max_batch=3, max_channels=4, sizes=(4, 9), max_filters=4, max_kernel=4, max_stride=3
):
    """``count`` random ``(x_shape, w_shape, conv_param)`` cases with pairs for stride, padding and
    dilation; the sizes are drawn from half-open ranges and the kernel always fits."""
    configs = []
    while len(configs) < count:
        x_shape = (
            int(rng.integers(1, max_batch)),
            int(rng.integers(1, max_channels)),
            int(rng.integers(*sizes)),
            int(rng.integers(*sizes)),
        )
        w_shape = (
            int(rng.integers(1, max_filters)),
            x_shape[1],
            int(rng.integers(1, max_kernel)),
            int(rng.integers(1, max_kernel)),
        )
        conv_param = {
            "stride": (int(rng.integers(1, max_stride)), int(rng.integers(1, max_stride))),
            "pad": (int(rng.integers(0, 3)), int(rng.integers(0, 3))),
            "dilation": (int(rng.integers(1, 3)), int(rng.integers(1, 3))),
        }
        fits = all(
            x_shape[2 + a] + 2 * conv_param["pad"][a] >= conv_param["dilation"][a] * (w_shape[2 + a] - 1) + 1
            for a in (0, 1)
        )
        if fits:
            configs.append((x_shape, w_shape, conv_param))
    return configs


# -- the known mistakes a test cell names (issue 23): each computed by torch from a wrong reading of the task ----
def _pairs(conv_param: dict) -> tuple:
    def pair(v):
        return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)

    return tuple(pair(conv_param.get(k, d)) for k, d in (("stride", 1), ("pad", 0), ("dilation", 1)))


def _crop(a, shape):
    """``a``'s first ``shape[-2:]`` rows and columns (what a loop over the right output size reads of a larger
    grid), or None when ``a`` is smaller."""
    if a is None or a.shape[-2] < shape[-2] or a.shape[-1] < shape[-1]:
        return None
    return a[..., : shape[-2], : shape[-1]]


STRIDE_IGNORED = (
    "the stride is ignored: output (i, j) is the window starting at (i*stride_h, j*stride_w); yours moves the "
    "window by one pixel per output."
)
DILATION_IGNORED = (
    "dilation is ignored: the taps of a dilated kernel are dilation pixels apart, tap (u, v) is the pixel at offset "
    "(u*dil_h, v*dil_w) of its window; slice the padded input with step dil_h (rows) and dil_w (columns)."
)
PAD_H_BOTH = "the vertical padding is used for both axes: pad (and crop) the columns with pad_w, the rows with pad_h."
CACHE_FIELDS = ("x", "w", "b", "conv_param")


def forward_variants(x, w, b, conv_param, shape) -> dict:
    """``{message: out}`` for the forward pass's known mistakes that change its values, not its shape ``shape``
    (the size computed with conv_output_size): the stride or the dilation ignored in the window, the vertical
    padding used for both axes, the bias added inside the sum."""
    (sh, sw), (ph, pw), (dh, dw) = _pairs(conv_param)
    C, HH, WW = w.shape[1:]
    variants = {}
    if C * HH * WW > 1:
        variants[
            "the bias is added inside the sum, once per product (C*HH*WW times): add b[f] once, after summing "
            "the window."
        ] = torch_conv(x, w, C * HH * WW * b, conv_param)
    scrambled = w.reshape(-1, w.shape[0]).T.reshape(w.shape)
    if not np.array_equal(scrambled, w):
        variants[
            "the weight matrix is scrambled: w.reshape(-1, F).T has the shape of w.reshape(F, -1) but not its "
            "entries (a reshape where none was needed); row f must be filter f flattened in (c, u, v) order, "
            "w.reshape(F, -1)."
        ] = torch_conv(x, np.ascontiguousarray(scrambled), b, conv_param)
    if (sh, sw) != (1, 1):
        variants[STRIDE_IGNORED] = _crop(torch_conv(x, w, b, {**conv_param, "stride": 1}), shape)
    if (dh, dw) != (1, 1):
        variants[DILATION_IGNORED] = _crop(torch_conv(x, w, b, {**conv_param, "dilation": 1}), shape)
    if ph != pw:
        try:
            variants[PAD_H_BOTH] = _crop(torch_conv(x, w, b, {**conv_param, "pad": (ph, ph)}), shape)
        except RuntimeError:  # the kernel does not fit with that padding
            pass
    return {k: v for k, v in variants.items() if v is not None}


def pool_causes(x_shape, pool_param) -> list:
    """``checked_call``'s causes for a pooling function called on an x of ``x_shape``: :func:`pool_cause`."""
    return [
        (
            lambda error: pool_cause(error, x_shape, pool_param) is not None,
            lambda error: pool_cause(error, x_shape, pool_param),
        )
    ]


def backward_causes(x_shape, w_shape, conv_param, dout_shape) -> list:
    """``checked_call``'s causes for conv_backward: :func:`_backward_cause`."""
    return [
        (
            lambda error: _backward_cause(error, x_shape, w_shape, conv_param, dout_shape) is not None,
            lambda error: _backward_cause(error, x_shape, w_shape, conv_param, dout_shape),
        )
    ]


def im2col_causes(x_shape, pad) -> list:
    """``checked_call``'s causes for im2col: windows cut from x unpadded, a pair handed on where an int is needed."""
    (ph, pw) = _pair1(pad)

    def unpadded(error):
        shapes = _shapes_in(str(error))
        return (
            isinstance(error, ValueError)
            and "into shape" in str(error)
            and (ph or pw)
            and len(shapes) >= 2
            and len(shapes[0]) == len(shapes[-1]) >= 2
            and shapes[0][-2:] != shapes[-1][-2:]
            and all(a <= b for a, b in zip(shapes[0][-2:], shapes[-1][-2:]))
        )

    return [
        (
            unpadded,
            "a slice of the input is shorter than the H_out x W_out grid: the windows must be cut from the zero-padded "
            "input, np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w))), which is pad_h rows and pad_w "
            "columns larger on each side.",
        ),
        (
            lambda error: isinstance(error, TypeError) and "received an invalid combination" in str(error),
            "conv_output_size (torch underneath here) received a pair where it takes one int per axis: stride, pad "
            "and dilation may each be an int or a pair (vertical, horizontal); unpack them with pair() and pass the "
            "vertical ones for H, the horizontal ones for W.",
        ),
    ]


def check_conv_cache(cache, x, w, b, conv_param, name) -> None:
    """The cache's first four entries are the inputs as given, ``(x, w, b, conv_param)``, as the docstring says
    (conv_backward reads them)."""
    fields = "(x, w, b, conv_param)" if "naive" in name else "(x, w, b, conv_param, cols)"
    assert isinstance(cache, tuple) and len(cache) >= 4, (
        f"the cache of {name} must be the tuple {fields}, as the docstring says; got "
        f"{type(cache).__name__}{' of ' + str(len(cache)) if isinstance(cache, (tuple, list)) else ''}."
    )
    for k, (label, given) in enumerate(zip(CACHE_FIELDS[:3], (x, w, b))):
        got = cache[k]
        if np.shape(got) == np.shape(given) and np.array_equal(got, given):
            continue
        why = ""
        (ph, pw) = _pairs(conv_param)[1]
        if label == "x" and np.shape(got) == (*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw):
            why = " It is the zero-padded input: keep x for the cache and give the padded array another name."
        elif label == "w" and np.shape(got) == (w.shape[0], int(np.prod(w.shape[1:]))):
            why = " It is the (F, C*HH*WW) weight matrix w.reshape(F, -1): store w itself, shape (F, C, HH, WW)."
        raise AssertionError(
            f"cache[{k}] of {name} has shape {np.shape(got)} and is not the {label} it was given "
            f"(shape {np.shape(given)}): the cache is {fields}, the inputs as given.{why}"
        )
    assert cache[3] == conv_param, (
        f"cache[3] of {name} is {cache[3]!r}, not the conv_param it was given: the cache is {fields}."
    )


def _grid_fold(dcols, x_shape, kernel_size, shape_from, stride, pad, dilation):
    """torch's fold of ``dcols`` laid on the window grid of ``shape_from`` = (stride, pad, dilation) (zeros where
    that grid has windows ``dcols`` lacks): what col2im gives when it places the columns with those
    hyper-parameters; None when that grid is smaller."""
    N, K, _ = dcols.shape
    H_out = conv_output_size(x_shape[2], _pair1(kernel_size)[0], _pair1(stride)[0], _pair1(pad)[0], _pair1(dilation)[0])
    W_out = conv_output_size(x_shape[3], _pair1(kernel_size)[1], _pair1(stride)[1], _pair1(pad)[1], _pair1(dilation)[1])
    s2, p2, d2 = shape_from
    try:
        H2 = conv_output_size(x_shape[2], _pair1(kernel_size)[0], _pair1(s2)[0], _pair1(p2)[0], _pair1(d2)[0])
        W2 = conv_output_size(x_shape[3], _pair1(kernel_size)[1], _pair1(s2)[1], _pair1(p2)[1], _pair1(d2)[1])
    except ValueError:
        return None
    if H2 < H_out or W2 < W_out:
        return None
    grid = np.zeros((N, K, H2, W2))
    grid[:, :, :H_out, :W_out] = dcols.reshape(N, K, H_out, W_out)
    return col2im(grid.reshape(N, K, H2 * W2), x_shape, kernel_size, s2, p2, d2)


def _pair1(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


def im2col_variants(x, kernel_size, stride, pad, dilation) -> dict:
    """``{message: cols}`` for im2col's known mistakes that keep its shape: the stride or the dilation ignored
    in the slice of a kernel offset, the padding all at the bottom and right."""
    (HH, WW), (ph, pw) = _pair1(kernel_size), _pair1(pad)
    N, C = x.shape[:2]
    H_out, W_out = _grid_shape(x.shape, kernel_size, stride, pad, dilation)
    variants = {}
    for message, changed in (
        (STRIDE_IGNORED.replace("output (i, j) is the window", "column (i, j) is the window"), (1, pad, dilation)),
        (DILATION_IGNORED, (stride, pad, 1)),
    ):
        if _pair1(changed[0]) == _pair1(stride) and _pair1(changed[2]) == _pair1(dilation):
            continue
        try:
            grid = im2col(x, kernel_size, *changed).reshape(
                N, C * HH * WW, *_grid_shape(x.shape, kernel_size, *changed)
            )
        except (RuntimeError, ValueError):
            continue
        grid = _crop(grid, (H_out, W_out))
        if grid is not None:
            variants[message] = grid.reshape(N, C * HH * WW, H_out * W_out)
    if ph or pw:
        bottom_right = np.pad(x, ((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw)))
        variants[
            "the padding is all at the bottom and right: pad adds pad_h rows above AND below (and pad_w columns "
            "left and right), np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))."
        ] = im2col(bottom_right, kernel_size, stride, 0, dilation)
    return variants


def _grid_shape(x_shape, kernel_size, stride, pad, dilation):
    (HH, WW), (sh, sw), (ph, pw), (dh, dw) = (_pair1(v) for v in (kernel_size, stride, pad, dilation))
    return conv_output_size(x_shape[2], HH, sh, ph, dh), conv_output_size(x_shape[3], WW, sw, pw, dw)


def col2im_variants(dcols, x_shape, kernel_size, stride, pad, dilation) -> dict:
    """``{message: dx}`` for col2im's known mistakes that keep its shape: the stride or the dilation ignored when a
    kernel offset's entries are added back, the kernel flipped, the rows read as (kernel row, kernel column,
    channel), the crop with the vertical padding."""
    (HH, WW), (ph, pw) = _pair1(kernel_size), _pair1(pad)
    N, K, L = dcols.shape
    C = x_shape[1]
    variants = {}
    if _pair1(stride) != (1, 1):
        variants[STRIDE_IGNORED.replace("output (i, j) is the window", "column (i, j) is added to the window")] = (
            _grid_fold(dcols, x_shape, kernel_size, (1, pad, dilation), stride, pad, dilation)
        )
    if _pair1(dilation) != (1, 1):
        variants[DILATION_IGNORED] = _grid_fold(dcols, x_shape, kernel_size, (stride, pad, 1), stride, pad, dilation)
    taps = dcols.reshape(N, C, HH, WW, L)
    if HH * WW > 1:
        variants[
            "the kernel is flipped: row c*HH*WW + u*WW + v of dcols goes back to the pixel at offset "
            "(u*dil_h, v*dil_w) of its window, not to the mirrored tap (HH-1-u, WW-1-v)."
        ] = col2im(
            np.ascontiguousarray(taps[:, :, ::-1, ::-1]).reshape(N, K, L), x_shape, kernel_size, stride, pad, dilation
        )
    if C > 1 and HH * WW > 1:
        variants[
            "dcols's rows are read as (kernel row, kernel column, channel): they are ordered (channel, kernel row, "
            "kernel column), as im2col's; reshape to (N, C, HH, WW, H_out, W_out)."
        ] = col2im(
            dcols.reshape(N, HH, WW, C, L).transpose(0, 3, 1, 2, 4).reshape(N, K, L),
            x_shape,
            kernel_size,
            stride,
            pad,
            dilation,
        )
    if ph != pw and ph <= 2 * pw:
        full = col2im(dcols, (N, C, x_shape[2] + 2 * ph, x_shape[3] + 2 * pw), kernel_size, stride, 0, dilation)
        variants[PAD_H_BOTH] = full[:, :, ph : ph + x_shape[2], ph : ph + x_shape[3]]
    return {k: v for k, v in variants.items() if v is not None}


def conv_backward_variants(x, w, b, conv_param, dout) -> tuple[dict, dict]:
    """``({message: dw}, {message: dx})`` for conv_backward's known mistakes: dw overwritten in a loop over the
    samples, dw from cols reshaped where a transpose was needed, dx with the flipped kernel, dx from the weight
    matrix reshaped where a transpose was needed."""
    N, F_ = dout.shape[:2]
    stride, pad, dilation = (conv_param.get(k, d) for k, d in (("stride", 1), ("pad", 0), ("dilation", 1)))
    cols = im2col(x, w.shape[2:], stride, pad, dilation)
    G = dout.reshape(N, F_, -1)
    K, L = cols.shape[1:]
    dw = {}
    if N > 1:
        dw[
            "dw holds the last sample's contribution only: the weights are shared by the whole batch, so dw is the "
            "SUM over the samples (+= in the loop, or a sum over axis 0)."
        ] = conv_grads(x[-1:], w, b, conv_param, dout[-1:])[1]
    if K != 1 and L != 1:
        dw[
            "dw is scrambled: cols.reshape(N, L, K) has the shape of cols's transpose but not its entries (a "
            "reshape where a transpose was needed); use cols.transpose(0, 2, 1)."
        ] = np.matmul(G, cols.reshape(N, L, K)).sum(axis=0).reshape(w.shape)
    dx = {}
    if np.prod(w.shape[2:]) > 1:
        dx[
            "dx uses the flipped kernel: in the im2col form dcols = W^T G with the unflipped W = w.reshape(F, -1); "
            "col2im already does the transposed convolution, so do not flip as well."
        ] = conv_grads(x, w[:, :, ::-1, ::-1].copy(), b, conv_param, dout)[0]
    if F_ != 1 and K != 1:
        dx[
            "dx is scrambled: dcols = W^T G needs W^T = w.reshape(F, -1).T, shape (C*HH*WW, F); w.reshape(-1, F) "
            "has that shape but not those entries (a reshape where a transpose was needed)."
        ] = col2im(np.matmul(w.reshape(-1, F_), G), x.shape, w.shape[2:], stride, pad, dilation)
    return dw, dx


# -- pooling's known mistakes --------------------------------------------------------------------------------
def _pool(kind, x, size, stride, dout=None):
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    if dout is None:
        return pool(torch.from_numpy(np.array(x, dtype=np.float64, order="C", copy=True)), size, stride=stride).numpy()
    x, dout = (np.array(a, dtype=np.float64, order="C", copy=True) for a in (x, dout))  # no negative strides
    _, (dx,) = torch_reference(lambda x: pool(x, size, stride=stride), x, dout=dout)
    return dx


def pool_forward_variants(kind, x, pool_param) -> dict:
    """``{message: out}`` for a pooling forward pass's known mistakes: pool_height used for both axes (another
    output shape), the stride ignored in the slices, the running maximum started at 0, the mean divided by
    stride**2 or floored with //."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    expected = _pool(kind, x, (ph, pw), s)
    variants = {}
    if ph != pw and x.shape[3] >= ph:
        variants[
            "pool_height is used for both axes: the window is pool_height x pool_width, and W_out = "
            "(W - pool_width) // stride + 1."
        ] = _pool(kind, x, (ph, ph), s)
    if s != 1:
        variants[
            "the stride is ignored in the slices: the window of output (i, j) starts at (i*stride, j*stride); "
            "slice with step stride."
        ] = _crop(_pool(kind, x, (ph, pw), 1), expected.shape)
    if kind == "max":
        variants[
            "out is 0 where every element of a window is negative: the running maximum starts at 0; start it at "
            "-inf (or at the first offset's slice)."
        ] = np.maximum(expected, 0)
    else:
        if s * s != ph * pw:
            variants[
                "the window's sum is divided by stride * stride: divide by its area, pool_height * pool_width (the "
                "two agree only when the stride equals the window)."
            ] = expected * (ph * pw) / (s * s)
        variants["out holds whole numbers: // floors the mean; divide with /."] = (expected * (ph * pw)) // (ph * pw)
    return {k: v for k, v in variants.items() if v is not None}


def max_pool_backward_variants(x, pool_param, dout) -> dict:
    """``{message: dx}`` for max_pool_backward's known mistakes, computed with torch's max_pool2d: the maximum
    receiving 1 instead of dout, ties sent to the last maximum or to the first in column-major order, a flat
    argmax unravelled with (pool_width, pool_height)."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out, W_out = dout.shape[2:]
    Hc, Wc = s * (H_out - 1) + ph, s * (W_out - 1) + pw  # the rows and columns the windows cover
    variants = {
        "dx is 1 at each window's maximum: the chain rule sends dout[n, c, i, j] times the local derivative 1; "
        "add dout, not 1.": _pool("max", x, (ph, pw), s, np.ones_like(dout)),
    }
    last = np.zeros_like(x)
    last[:, :, :Hc, :Wc] = _pool(
        "max", x[:, :, :Hc, :Wc][:, :, ::-1, ::-1], (ph, pw), s, np.ascontiguousarray(dout[:, :, ::-1, ::-1])
    )[:, :, ::-1, ::-1]
    variants[
        "on ties dx goes to the LAST maximum of the window: torch (and np.argmax over the flattened window) take the "
        "FIRST in row-major order; a running maximum must be updated only on >, not >=."
    ] = last
    variants[
        "on ties dx goes to the first maximum in column-major order (down the columns): torch takes the first "
        "in row-major order, scanning the window row by row (np.argmax over the window flattened with reshape)."
    ] = _pool("max", x.transpose(0, 1, 3, 2), (pw, ph), s, np.ascontiguousarray(dout.transpose(0, 1, 3, 2))).transpose(
        0, 1, 3, 2
    )
    if ph != pw:
        _, index = F.max_pool2d(torch.from_numpy(np.ascontiguousarray(x)), (ph, pw), stride=s, return_indices=True)
        index = index.numpy()
        i = np.arange(H_out)[:, None] * s
        j = np.arange(W_out)[None, :] * s
        k = (index // W - i) * pw + (index % W - j)  # the flat position in the (ph, pw) window, row-major
        rows, cols = i + k // ph, j + k % ph  # unravelled with (pw, ph)
        if rows.max() < H and cols.max() < W:
            swapped = np.zeros_like(x)
            n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
            np.add.at(swapped, (n[..., None, None], c[..., None, None], rows, cols), dout)
            variants[
                "the flat argmax k of a (pool_height, pool_width) window is unravelled with the sizes swapped: it is "
                "row k // pool_width, column k % pool_width, np.unravel_index(k, (pool_height, pool_width))."
            ] = swapped
    return variants


def avg_pool_backward_variants(fn, x, pool_param, dout) -> dict:
    """``{message: dx}`` for avg_pool_backward's known mistakes: dout divided by stride**2 or by
    pool_height**2, and, with dout = 1 (where an overwrite and an average over the covering windows give the
    same numbers), which of the two ``fn`` makes, read from one more call with a random dout."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    area = ph * pw
    expected = _pool("avg", x, (ph, pw), s, dout)
    variants = {}
    if s * s != area:
        variants[
            "dout is divided by stride * stride: each element of a window receives dout / (pool_height * "
            "pool_width), the window's area."
        ] = expected * area / (s * s)
    if ph > pw:  # the pool_width columns of each window read as pool_height ones: the window runs further right
        padded = np.pad(x, ((0, 0), (0, 0), (0, 0), (0, ph - pw)))
        variants[
            "pool_height is used for both axes: the share is dout / (pool_height * pool_width) and it goes to "
            "a pool_height x pool_width window."
        ] = _pool("avg", padded, (ph, ph), s, dout)[:, :, :, : x.shape[3]]
    if np.all(dout == 1):
        covered = (expected != 0) / area
        probe = np.random.default_rng(0).standard_normal(dout.shape)
        counts = _pool("avg", x, (ph, pw), s, np.ones_like(dout)) * area
        averaged = _pool("avg", x, (ph, pw), s, probe) / np.maximum(counts, 1)
        try:
            again = np.asarray(fn(probe, (x.copy(), dict(pool_param))), dtype=np.float64)
        except Exception:  # noqa: BLE001 - the probe only chooses the wording; the check reports errors
            again = None
        if again is not None and again.shape == x.shape and np.allclose(again, averaged, rtol=1e-6, atol=1e-9):
            variants[
                "each element's gradient is averaged over the windows that cover it: an element in several "
                "windows receives the SUM of their shares; do not divide by the number of windows."
            ] = covered
        else:
            variants[
                "overlapping windows overwrite each other: an element in several windows must receive the SUM of "
                "their shares (use +=, or np.add.at)."
            ] = covered
    return variants


def pool_cause(error, x_shape, pool_param):
    """What a numpy error raised inside a pooling function says about it, from the shapes in its message: the
    output size rounded up, a slice's end off by one, x cut into blocks or dout repeated (right only when the
    stride equals the window), a window that runs off x; None when the shapes say nothing of the kind."""
    if not isinstance(error, ValueError):
        return None
    text = str(error)
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x_shape
    H_out, W_out = (H - ph) // s + 1, (W - pw) // s + 1
    shapes = _shapes_in(text.split("shapes", 1)[-1] if "shapes" in text else text)
    grids = [sh[2:] for sh in shapes if len(sh) == 4 and sh[:2] == (N, C)]
    blocks = "cutting x into blocks (or repeating dout) works only when the stride equals the window; loop over the "
    blocks += "window's offsets (u, v) with slices of step stride instead."
    if "reshape" in text and any(len(sh) == 6 and sh[3] == ph and sh[5] == pw for sh in shapes):
        return blocks
    if "reshape" in text and any(len(sh) == 3 and sh[2] == ph * pw for sh in shapes):
        return (
            "a window of x has fewer than pool_height * pool_width elements: it runs off x. Window (i, j) starts "
            "at (i*stride, j*stride), not (i*pool_height, j*pool_width)."
        )
    if "broadcast" not in text:
        return None
    ceil = (-(-(H - ph) // s) + 1, -(-(W - pw) // s) + 1)
    if (H_out, W_out) != ceil and ceil in grids:
        return (
            f"an array of {ceil[0]} x {ceil[1]} windows: the output size is rounded up. H_out = (H - pool_height) // "
            "stride + 1 with the floor (and W_out likewise): a partial window at the border is dropped, as torch does."
        )
    if any(g != (H_out, W_out) and g[0] in (H_out, H_out - 1) and g[1] in (W_out, W_out - 1) for g in grids):
        return (
            "a slice of x (or dx) has H_out - 1 rows or W_out - 1 columns: a slice's end is exclusive, so the slice "
            "of offset u is u : u + stride*(H_out - 1) + 1 : stride."
        )
    if (H_out * ph, W_out * pw) in grids and s != ph:
        return blocks
    return None


def _backward_cause(error, x_shape, w_shape, conv_param, dout_shape):
    """What an error inside conv_backward says: cols used untransposed in dw, col2im called with other
    hyper-parameters than conv_param's; None otherwise."""
    import re

    text = str(error)
    K = int(np.prod(w_shape[1:]))
    L = int(np.prod(dout_shape[2:]))
    match = re.search(r"size (\d+) is different from (\d+)", text)
    if isinstance(error, ValueError) and "matmul" in text and match and {int(g) for g in match.groups()} == {K, L}:
        return (
            f"a product of G (N, F, L) with cols (N, C*HH*WW, L) = (N, {K}, {L}) untransposed: dW = sum_n G_n X_n^T "
            "needs cols transposed to (N, L, C*HH*WW), cols.transpose(0, 2, 1)."
        )
    if isinstance(error, RuntimeError) and "sliding blocks" in text:
        return (
            "col2im (torch's fold here) was called with a stride, padding or dilation other than the forward pass's: "
            f"pass all three from conv_param ({conv_param}) on to col2im."
        )
    return None


def _forward_cause(error, x_shape, w_shape, conv_param):
    """What an error inside conv_forward_im2col says: the bias broadcast along the positions, im2col given a
    square kernel or its positional arguments out of order; None otherwise."""
    import re

    text = str(error)
    F_, C, HH, WW = w_shape
    shapes = _shapes_in(text.split("shapes", 1)[-1])
    if isinstance(error, ValueError) and "broadcast" in text and (F_,) in shapes:
        if any(len(sh) == 3 and sh[1] == F_ for sh in shapes):
            return (
                "b (F,) is added to the (N, F, L) product: numpy lines b up with the LAST axis, the positions; b has "
                "one entry per filter, axis 1, so add b[:, None] (or b.reshape(F, 1))."
            )
    match = re.search(r"size (\d+) is different from (\d+)", text)
    if match and HH != WW:
        sizes = {int(g) for g in match.groups()}
        if sizes & {C * HH * HH, C * WW * WW} and C * HH * WW in sizes:
            return (
                f"im2col was given a square kernel: w is {HH} x {WW}, so its kernel_size is (HH, WW) = {(HH, WW)} "
                "(w.shape[2:]), not HH alone."
            )
    match = re.search(r"cannot reshape array of size (\d+)", text)
    (sh, sw), (ph, pw), (dh, dw) = _pairs(conv_param)
    if isinstance(error, ValueError) and match and (dh, dw) != (1, 1):
        try:
            undilated = conv_output_size(x_shape[2], HH, sh, ph, 1) * conv_output_size(x_shape[3], WW, sw, pw, 1)
        except ValueError:
            undilated = None
        if undilated is not None and int(match.group(1)) == x_shape[0] * F_ * undilated:
            return (
                "the product has as many positions as an UNDILATED kernel gives: cols was built without the dilation; "
                "pass conv_param's dilation on to im2col."
            )
    if isinstance(error, RuntimeError) and "stride should be greater than zero" in text:
        return (
            "im2col received a stride of 0, and conv_param has none: im2col's arguments are (x, kernel_size, stride, "
            "pad, dilation), in that order; check the order (or name them: stride=..., pad=...)."
        )
    return None
