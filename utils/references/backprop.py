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
