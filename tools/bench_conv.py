"""Benchmark: the assignment's reference convolution in numpy against torch's conv2d on the CPU.

A LeNet-sized first layer: x of shape (64, 1, 28, 28), 6 filters of 5x5, stride 1, no padding.
Forward plus backward (dx, dw, db) of the reference im2col solution, loaded from the assignment's
source notebook, against torch's conv2d forward plus autograd backward in the same dtype. torch is
timed both on one thread (like for like: numpy does this work essentially single-threaded)
and with its default thread count; the ratio quoted is against the faster of the two. The naive
loop forward runs on 4 of the 64 images and its time is scaled by 16.

    python -m tools.bench_conv        prints the rows
    from tools.bench_conv import rows what tools/bench.py calls
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from autograder.notebooks import cell_kind, exec_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOK = ROOT / "assignments" / "03_convolutions" / "convolutions.ipynb"
BATCH, CHANNELS, SIZE, FILTERS, KERNEL = 64, 1, 28, 6, 5
NAIVE_BATCH = 4
TARGET_RATIO = 10.0  # issue 4: the im2col forward+backward within 10x of torch


def load_reference() -> dict:
    """The reference solutions: the set-up cell, the helper cell and every solution cell."""
    # The cells run in this process: no figure windows. (Not MPLBACKEND: the environment would leak
    # into every kernel started later by the same process and turn off inline plots there.)
    matplotlib.use("Agg")
    return exec_notebook(
        NOTEBOOK,
        include=lambda cell: (
            cell_kind(cell) == "solution"
            or "utils.setup_notebook" in cell.source
            or "def unpack_conv_param" in cell.source
        ),
    )


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_fwd_bwd(x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray) -> Callable[[], None]:
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.from_numpy(dout)

    def run() -> None:
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt).backward(dt)

    return run


def rows(repeats: int = 15) -> list[dict]:
    """One dict per measurement: {"name", "seconds" (median of `repeats` runs), "note"}."""
    threads = torch.get_num_threads()  # before the notebook's set-up cell pins torch to one thread
    ns = load_reference()
    torch.set_num_threads(threads)
    forward, backward, naive = ns["conv_forward_im2col"], ns["conv_backward"], ns["conv_forward_naive"]
    shape = f"x ({BATCH},{CHANNELS},{SIZE},{SIZE}), w ({FILTERS},{CHANNELS},{KERNEL},{KERNEL})"
    out: list[dict] = []
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((BATCH, CHANNELS, SIZE, SIZE)).astype(dtype)
        w = rng.standard_normal((FILTERS, CHANNELS, KERNEL, KERNEL)).astype(dtype)
        b = rng.standard_normal(FILTERS).astype(dtype)
        h_out = SIZE - KERNEL + 1
        dout = rng.standard_normal((BATCH, FILTERS, h_out, h_out)).astype(dtype)
        name = np.dtype(dtype).name

        def numpy_fwd_bwd(x=x, w=w, b=b, dout=dout) -> None:
            _, cache = forward(x, w, b, {})
            backward(dout, cache)

        t_numpy = median_seconds(numpy_fwd_bwd, repeats)
        torch.set_num_threads(1)
        try:
            t_torch_1 = median_seconds(torch_fwd_bwd(x, w, b, dout), repeats)
        finally:
            torch.set_num_threads(threads)
        t_torch_n = median_seconds(torch_fwd_bwd(x, w, b, dout), repeats)
        best = min(t_torch_1, t_torch_n)
        out += [
            {
                "name": f"conv numpy im2col fwd+bwd ({name})",
                "seconds": t_numpy,
                "note": f"{t_numpy / best:.1f}x torch ({'within' if t_numpy / best <= TARGET_RATIO else 'OVER'} "
                f"the {TARGET_RATIO:.0f}x target); {shape}; reference solution of assignment 3",
            },
            {
                "name": f"conv torch conv2d fwd+bwd ({name}, 1 thread)",
                "seconds": t_torch_1,
                "note": f"{shape}; autograd, CPU",
            },
        ]
        if threads > 1:
            out.append(
                {
                    "name": f"conv torch conv2d fwd+bwd ({name}, {threads} threads)",
                    "seconds": t_torch_n,
                    "note": f"{shape}; autograd, CPU",
                }
            )
    x_few = x[:NAIVE_BATCH]  # float64: the last dtype of the loop above
    t_naive = median_seconds(lambda: naive(x_few, w, b, {}), repeats=3, warmup=0) * (BATCH / NAIVE_BATCH)
    t_fast = median_seconds(lambda: forward(x, w, b, {}), repeats)
    out.append(
        {
            "name": "conv numpy naive loops forward (float64)",
            "seconds": t_naive,
            "note": f"timed on {NAIVE_BATCH} images, scaled x{BATCH // NAIVE_BATCH} to {BATCH}; "
            f"{t_naive / t_fast:.0f}x the im2col forward",
        }
    )
    return out


if __name__ == "__main__":
    for row in rows():
        print(f"{row['name']:<48} {1e3 * row['seconds']:9.2f} ms   {row['note']}")
