"""The grading agent (autograder/agent.py) in a real IPython kernel: numpy-only functions that reach
torch (directly, by an alias, by a tensor method, through autograd or a utils helper) fail their
test cell; torch stand-ins the test swaps in do not; forbidden shortcuts are caught; tampering with
what the tests compare with is undone and named in every later test cell."""

from __future__ import annotations

import json
import os
import sys

import pytest
from jupyter_client.manager import start_new_kernel

from autograder.agent import RULES_ENV
from conftest import run_in_kernel

pytestmark = pytest.mark.slow  # real kernels: not in make check

RULES = {
    "numpy_only": ["good", "direct", "alias", "method", "autograd", "via_utils", "Model", "naive"],
    "forbidden": {"naive": ["scipy.signal.correlate", "numpy.lib.stride_tricks.sliding_window_view"]},
}
DEFINITIONS = """
import numpy as np, torch, utils
import torch as tt
from torch.nn.functional import relu as r

def good(x):
    return np.tanh(x)
def direct(x):
    return torch.tanh(torch.as_tensor(x)).numpy()
def alias(x):
    return r(tt.as_tensor(x)).numpy()
def method(x):
    return torch.from_numpy(x).exp().numpy()
def autograd(x):
    t = torch.tensor(x, requires_grad=True)
    (t * t).sum().backward()
    return t.grad.numpy()
def via_utils(x):
    return utils.torch_reference(torch.tanh, x, dout=np.ones_like(x))[0]
class Model:
    def forward(self, x):
        return torch.from_numpy(x).relu().numpy()
def naive(x):
    from scipy.signal import correlate
    return correlate(x, x)
def caller(x):
    return good(x)
"""


@pytest.fixture(scope="module")
def kernel():
    env = {**os.environ, RULES_ENV: json.dumps(RULES)}
    km, kc = start_new_kernel(extra_arguments=["--IPKernelApp.extensions=['autograder.agent']"], env=env)
    run(kc, DEFINITIONS)
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def run(kc, code: str, timeout: float = 120) -> str:
    return run_in_kernel(kc, code, timeout)


def test_numpy_code_passes(kernel):
    assert run(kernel, "# Test: good\nprint(good(np.zeros(2)).tolist())").strip() == "[0.0, 0.0]"


@pytest.mark.parametrize("name", ["direct", "alias", "method", "autograd", "via_utils"])
def test_every_way_into_torch_fails_the_test(kernel, name):
    out = run(kernel, f"# Test: {name}\nprint({name}(np.ones(2)))")
    assert out.startswith(f"NumpyOnlyError: {name} calls torch"), out


def test_a_method_of_a_graded_class_is_watched_too(kernel):
    out = run(kernel, "# Test: Model\nprint(Model().forward(np.ones(2)))")
    assert out.startswith("NumpyOnlyError: Model.forward calls torch"), out


def test_outside_test_cells_nothing_is_watched(kernel):
    assert run(kernel, "print(direct(np.zeros(1)).tolist())").strip() == "[0.0]"


def test_a_torch_stand_in_the_test_swaps_in_may_use_torch(kernel):
    code = (
        "# Test: caller\nimport utils.references\n"
        "with utils.references.standins(globals(), good=lambda x: torch.tanh(torch.as_tensor(x)).numpy()):\n"
        "    print(caller(np.zeros(2)).tolist())"
    )
    assert run(kernel, code).strip() == "[0.0, 0.0]"


def test_a_forbidden_shortcut_fails_the_test(kernel):
    out = run(kernel, "# Test: naive\nprint(naive(np.ones(3)))")
    assert out.startswith("NumpyOnlyError: naive calls scipy.signal.correlate"), out


def test_tampering_is_undone_and_fails_every_later_test(kernel):
    run(kernel, "np.allclose = lambda *a, **k: True\nutils.assert_close = lambda *a, **k: None")
    first = run(kernel, "# Test: after\nprint(np.allclose(1, 2))")
    assert first.startswith("TamperingDetected: the notebook's code replaced numpy.allclose, utils.assert_close")
    assert run(kernel, "print(np.allclose(1, 2))").strip() == "False", "the originals are back"
    assert run(kernel, "# Test: later\nprint('x')").startswith("TamperingDetected")


def test_a_utils_module_first_imported_by_the_student_is_guarded_too(kernel):
    # utils.references.backprop is not loaded with utils: the agent records it as it is imported.
    run(kernel, "import utils.references.backprop as b\nb.check_elementwise = lambda *a, **k: None")
    out = run(kernel, "# Test: later\nimport utils.references.backprop as b\nprint(b.check_elementwise)")
    assert "utils.references.backprop.check_elementwise" in out, out


def test_torchs_own_rewrapping_on_import_is_not_tampering():
    import torch

    from autograder.agent import Snapshot, _torch_wraps

    snapshot = Snapshot()
    original = torch.manual_seed
    import torch._compile

    wrapped = torch._compile._disable_dynamo(original)
    assert _torch_wraps(original, wrapped)
    assert not _torch_wraps(original, lambda seed: None)
    assert not _torch_wraps(original, torch._compile._disable_dynamo(lambda seed: None))
    torch.manual_seed = wrapped
    try:
        assert snapshot.restore() == []
        torch.manual_seed = lambda seed: None
        assert snapshot.restore() == ["torch.manual_seed"]
    finally:
        torch.manual_seed = original
        sys.meta_path.remove(snapshot.finder)
