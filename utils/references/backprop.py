"""Torch references for assignment 1 (backpropagation), imported by its locked test cells."""

from __future__ import annotations

import contextlib

import numpy as np

from ..checks import assert_close, torch_reference


def check_elementwise(
    forward, backward, torch_fn, name, rng, shapes, scales=(1.0,), slopes=(None,), strict_floats=False
):
    """An activation's forward and backward pass against torch autograd on random inputs.

    Every third input is exactly 0, where ReLU-like derivatives need a convention (torch's: the
    slope of the negative side). With ``slopes`` the functions get ``negative_slope=``; with
    ``strict_floats`` an overflow or an invalid operation inside them is an error.

    Args:
        forward, backward: the student's pair: forward(x) -> (out, cache), backward(dout, cache) -> dx.
        torch_fn: torch's activation (taking ``negative_slope`` second when slopes are given).
        name: the activation's name in messages, e.g. ``"relu"``.
        rng: numpy Generator; shapes, scales, slopes: what to try.
    """
    for shape in shapes:
        for scale in scales:
            for slope in slopes:
                x, dout = scale * rng.normal(size=shape), rng.normal(size=shape)
                x.flat[::3] = 0.0
                kwargs = {} if slope is None else {"negative_slope": slope}
                fn = torch_fn if slope is None else (lambda t, s=slope: torch_fn(t, s))
                expected_out, (expected_dx,) = torch_reference(fn, x, dout=dout)
                guard = (
                    np.errstate(over="raise", invalid="raise", divide="raise")
                    if strict_floats
                    else contextlib.nullcontext()
                )
                with guard:
                    out, cache = forward(x.copy(), **kwargs)
                    dx = backward(dout.copy(), cache)
                where = f"shape {shape}, scale {scale}" + ("" if slope is None else f", negative_slope {slope}")
                assert_close(out, expected_out, f"out from {name}_forward, {where}")
                assert_close(
                    dx,
                    expected_dx,
                    f"dx from {name}_backward, {where}",
                    hint="some inputs are exactly 0: the derivative there is torch's, that of the negative side.",
                )


def _stand_in(torch_fn, n_inputs):
    """A (forward, backward) pair with the assignment's signatures, computed by torch autograd.

    forward(*arrays, **kwargs) -> (out, cache); backward(dout, cache) -> the input gradients (one
    array, or a tuple when there are several inputs). The cache is torch's own business."""
    import torch

    def forward(*args, **kwargs):
        inputs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in args[:n_inputs]]
        out = torch_fn(*inputs, *args[n_inputs:], **kwargs)
        return out.detach().numpy(), (inputs, out)

    def backward(dout, cache):
        inputs, out = cache
        grads = torch.autograd.grad(out, inputs, torch.tensor(np.asarray(dout, dtype=np.float64)), retain_graph=True)
        grads = tuple(g.numpy() for g in grads)
        return grads if len(grads) > 1 else grads[0]

    return forward, backward


def _layer_standins():
    import torch
    import torch.nn.functional as F

    linear = _stand_in(lambda x, W, b: x @ W + b, 3)
    relu = _stand_in(F.relu, 1)
    leaky = _stand_in(lambda x, negative_slope=0.01: F.leaky_relu(x, negative_slope), 1)
    sigmoid = _stand_in(torch.sigmoid, 1)
    tanh = _stand_in(torch.tanh, 1)

    def softmax_cross_entropy(scores, y):
        s = torch.tensor(np.asarray(scores, dtype=np.float64), requires_grad=True)
        loss = F.cross_entropy(s, torch.as_tensor(np.asarray(y), dtype=torch.long))
        (grad,) = torch.autograd.grad(loss, s)
        return float(loss.detach()), grad.numpy()

    return {
        "linear_forward": linear[0],
        "linear_backward": linear[1],
        "relu_forward": relu[0],
        "relu_backward": relu[1],
        "leaky_relu_forward": leaky[0],
        "leaky_relu_backward": leaky[1],
        "sigmoid_forward": sigmoid[0],
        "sigmoid_backward": sigmoid[1],
        "tanh_forward": tanh[0],
        "tanh_backward": tanh[1],
        "softmax_cross_entropy": softmax_cross_entropy,
    }


LAYER_STANDINS = _layer_standins()
"""Torch stand-ins for every layer function of assignment 1, by name: the MLP's test cells run the
student's MLP on them, so that a bug in a layer costs only that layer's points."""
