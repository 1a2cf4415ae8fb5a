"""Reproducibility and the few settings every notebook shares."""

from __future__ import annotations

import os
import random
import sys
import warnings

import numpy as np
import torch

# Set to a relative size (e.g. 1e-3) to perturb every float32 matrix product and convolution that
# torch computes, as TF32 arithmetic on a GPU would: a test run with it set shows which float32
# comparisons in the notebooks are tighter than float32 hardware justifies.
PERTURB_ENV = "DL_COURSE_PERTURB_FLOAT32"


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, numpy and torch; return a numpy ``Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def device() -> torch.device:
    """The GPU when one is present, else the CPU: torch code in the course runs on either."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))


def show_warnings_on_stdout() -> None:
    """Print warnings to stdout, once per place in the code.

    nbgrader scores a test cell that writes anything to stderr as failed, so a warning on stderr
    would cost a correct answer its points; on stdout the student still reads it (a RuntimeWarning
    from ``np.log(0)`` while working) and the grade does not depend on it.
    """
    warnings.simplefilter("default")
    warnings.showwarning = _warning_to_stdout


class _Float32Perturbation(torch.utils._python_dispatch.TorchDispatchMode):
    """Multiplies float32 results of matrix products and convolutions by ``1 + size * noise``."""

    OPS = {"mm", "addmm", "bmm", "baddbmm", "mv", "addmv", "dot", "convolution", "_convolution"}

    def __init__(self, size: float, seed: int = 12345):
        super().__init__()
        self.size = size
        self.generator = torch.Generator().manual_seed(seed)  # leaves the global RNG alone

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in self.OPS and isinstance(out, torch.Tensor) and out.dtype == torch.float32:
            noise = torch.randn(out.shape, generator=self.generator).to(out.device)
            out = out * (1 + self.size * noise)
        return out


_perturbation: _Float32Perturbation | None = None


def perturb_float32(size: float) -> None:
    """From now on, perturb torch's float32 products by relative noise of ``size`` (see PERTURB_ENV)."""
    global _perturbation
    if _perturbation is None:
        _perturbation = _Float32Perturbation(size)
        _perturbation.__enter__()


def setup_notebook(seed: int = 0, quiet: bool = False, torch_threads: int | None = 1) -> np.random.Generator:
    """What the first code cell of every notebook calls.

    Seeds everything, prints arrays compactly, and:

    * shows warnings on stdout rather than stderr (see :func:`show_warnings_on_stdout`), or with
      ``quiet`` silences them altogether;
    * sets torch's intra-op threads (one by default): the course's tensors are small, so extra
      threads only add overhead, and they thrash when several notebooks run at once (the test
      suite, a class grading run). ``None`` keeps torch's default;
    * if the environment variable ``DL_COURSE_PERTURB_FLOAT32`` is set, perturbs float32 matrix
      products as TF32 would (a robustness check of the notebooks' tolerances).

    Returns the seeded numpy ``Generator``.
    """
    if quiet:
        warnings.filterwarnings("ignore")
    else:
        show_warnings_on_stdout()
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    if os.environ.get(PERTURB_ENV):
        perturb_float32(float(os.environ[PERTURB_ENV]))
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    return seed_everything(seed)
