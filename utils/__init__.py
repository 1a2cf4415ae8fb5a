"""The course's shared library: every notebook imports what it needs from here.

Kept small on purpose; each piece is tested in ``tests/test_utils.py``.
"""

from .checks import answered, assert_close, assert_shapes, check_answer, expect_failure, to_numpy, torch_reference
from .core import device, seed_everything, setup_notebook
from .data import Split, load_digits, load_sample_image, minibatches
from .gradcheck import numeric_gradient, relative_error
from .plotting import plot_history, show_images
from .training import History, accuracy, fit, fit_torch

__all__ = [
    "answered",
    "check_answer",
    "assert_close",
    "assert_shapes",
    "expect_failure",
    "to_numpy",
    "torch_reference",
    "device",
    "seed_everything",
    "setup_notebook",
    "Split",
    "load_digits",
    "load_sample_image",
    "minibatches",
    "numeric_gradient",
    "relative_error",
    "plot_history",
    "show_images",
    "History",
    "accuracy",
    "fit",
    "fit_torch",
]
