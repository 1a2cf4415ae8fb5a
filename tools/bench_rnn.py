"""Benchmark: the assignment's reference LSTM in numpy against torch's nn.LSTM on the CPU.

A sequence of 50 steps, batch 32, 32 inputs, 64 hidden units, float64 (what the assignment grades).
Forward plus backward (every gradient) of the reference ``lstm_forward``/``lstm_backward``, loaded
from assignment 5's source notebook with its own step functions, against ``nn.LSTM`` forward plus
autograd backward with the same weights and upstream gradient. torch is timed on one thread (like
for like: numpy's small matrix products here run essentially single-threaded) and with its default
thread count; the ratio quoted is against the faster of the two.

    python -m tools.bench_rnn        prints the rows
    from tools.bench_rnn import row  the one row tools/bench.py shows (rows() gives the torch rows too)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import torch

from autograder.notebooks import cell_kind, exec_notebook
from tools.bench_conv import median_seconds
from utils.references.rnn import torch_module

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "assignments" / "05_rnn_gates" / "rnn_gates.ipynb"
STEPS, BATCH, INPUTS, HIDDEN = 50, 32, 32, 64


def load_reference() -> dict:
    """The reference solutions: the set-up cell and every solution cell."""
    matplotlib.use("Agg")  # not MPLBACKEND: it would leak into kernels started later by this process
    return exec_notebook(
        NOTEBOOK, include=lambda cell: cell_kind(cell) == "solution" or "utils.setup_notebook" in cell.source
    )


def _inputs(steps: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, BATCH, INPUTS))
    h0, c0 = rng.standard_normal((BATCH, HIDDEN)), rng.standard_normal((BATCH, HIDDEN))
    scale = 1 / np.sqrt(HIDDEN)
    w_ih = rng.uniform(-scale, scale, (4 * HIDDEN, INPUTS))
    w_hh = rng.uniform(-scale, scale, (4 * HIDDEN, HIDDEN))
    b = rng.uniform(-scale, scale, 4 * HIDDEN)
    dh = rng.standard_normal((steps, BATCH, HIDDEN))
    return x, h0, c0, w_ih, w_hh, b, dh


def _torch_run(x, h0, c0, w_ih, w_hh, b, dh):
    lstm = torch_module("lstm", w_ih, w_hh, b)
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    dht = torch.from_numpy(dh)

    def run() -> None:
        lstm.zero_grad()
        xt.grad = ht.grad = ct.grad = None
        out, _ = lstm(xt, (ht[None], ct[None]))
        out.backward(dht)

    return run


def rows(repeats: int = 7, steps: int = STEPS) -> list[dict]:
    """The numpy row first (seconds and the ratio to torch), then torch's rows."""
    threads = torch.get_num_threads()  # before the notebook's set-up cell pins torch to one thread
    ns = load_reference()
    torch.set_num_threads(threads)
    forward, backward = ns["lstm_forward"], ns["lstm_backward"]
    x, h0, c0, w_ih, w_hh, b, dh = _inputs(steps)

    def numpy_run() -> None:
        _, cache = forward(x, h0, c0, w_ih, w_hh, b)
        backward(dh, cache)

    # the two agree before they are timed
    h, cache = forward(x, h0, c0, w_ih, w_hh, b)
    lstm_check = torch_module("lstm", w_ih, w_hh, b)
    with torch.no_grad():
        expected = lstm_check(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))[0]
    np.testing.assert_allclose(h, expected.numpy(), rtol=1e-9, atol=1e-12)

    t_numpy = median_seconds(numpy_run, repeats, warmup=1)
    torch.set_num_threads(1)
    try:
        t_torch_1 = median_seconds(_torch_run(x, h0, c0, w_ih, w_hh, b, dh), repeats, warmup=1)
    finally:
        torch.set_num_threads(threads)
    t_torch_n = median_seconds(_torch_run(x, h0, c0, w_ih, w_hh, b, dh), repeats, warmup=1)
    best = min(t_torch_1, t_torch_n)
    shape = f"seq {steps}, batch {BATCH}, input {INPUTS}, hidden {HIDDEN}, float64"
    out = [
        {
            "name": f"lstm numpy fwd+bwd (seq {steps})",
            "seconds": t_numpy,
            "note": f"{t_numpy / best:.1f}x torch; {shape}; reference solution of assignment 5",
        },
        {"name": f"lstm torch nn.LSTM fwd+bwd (seq {steps}, 1 thread)", "seconds": t_torch_1, "note": f"{shape}; CPU"},
    ]
    if threads > 1:
        out.append(
            {
                "name": f"lstm torch nn.LSTM fwd+bwd (seq {steps}, {threads} threads)",
                "seconds": t_torch_n,
                "note": f"{shape}; CPU",
            }
        )
    return out


def row(repeats: int = 7) -> dict:
    """The benchmark row: numpy LSTM forward+backward time, with its ratio to torch in the note."""
    return rows(repeats)[0]


if __name__ == "__main__":
    for r in rows():
        print(f"{r['name']:<48} {1e3 * r['seconds']:9.2f} ms   {r['note']}")
