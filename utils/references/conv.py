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
from . import checked_call


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
        },
    )
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


def check_pool_shape(value, expected, what):
    assert np.shape(value) == expected.shape, (
        f"{what} has shape {np.shape(value)}, expected {expected.shape}: the output size is "
        "(H - pool_height) // stride + 1 by (W - pool_width) // stride + 1."
    )


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
