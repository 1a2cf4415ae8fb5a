"""Torch code graded outside the kernel: the student's modules stay in a torch room, the test runs here.

A test of torch code (assignment 4's ``ResidualBlock``, ``count_params_macs``) runs in the grader's
process with each graded name answering from a torch room (``autograder.torchroom``); the room
computes what the student's code computes and never says whether a test passed.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
import torch.nn as nn
from nbformat.v4 import new_code_cell, new_notebook

from autograder import replay
from autograder import sandbox as sb
from autograder.notebooks import tag_notebook
from autograder.torchroom import RemoteObject, apply_changes, placeholder
from conftest import UNSAFE, errors_of

BLOCK = (
    "class Block(nn.Module):\n    def __init__(self, n):\n        ### BEGIN SOLUTION\n        super().__init__()\n"
    "        self.lin = nn.Linear(n, n)\n        self.bn = nn.BatchNorm1d(n)\n        self.scale = 2.0\n"
    "        ### END SOLUTION\n    def forward(self, x):\n        ### BEGIN SOLUTION\n"
    "        return self.scale * self.bn(self.lin(x))\n        ### END SOLUTION"
)
# The test reads the object as a test of assignment 4 does: type, submodules, state dict, modes, calls.
TEST_BLOCK = """# Test: Block (3 points)
torch.manual_seed(0)
reference = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).double()
block = Block(3)
assert isinstance(block, nn.Module), "Block must be an nn.Module"
assert not any(isinstance(m, nn.Conv2d) for m in block.modules())
assert isinstance(block.lin, nn.Linear) and block.lin.in_features == 3
assert getattr(block, "missing", None) is None
block = block.double()
keys = {"lin.weight", "lin.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}
assert set(block.state_dict()) == keys, sorted(block.state_dict())
names = {"lin": "0", "bn": "1"}
block.load_state_dict({k: reference.state_dict()[names[k.split(".")[0]] + "." + k.split(".", 1)[1]] for k in keys})
x = torch.randn(5, 3, dtype=torch.float64)
for train in (False, True):
    block.train(train); reference.train(train)
    with torch.no_grad():
        torch.testing.assert_close(block(x.clone()), 2 * reference(x.clone()))
torch.testing.assert_close(block.state_dict()["bn.running_mean"], reference.state_dict()["1.running_mean"])
block.eval(); reference.eval()
given, theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
(block(given) * torch.arange(15.0, dtype=torch.float64).reshape(5, 3)).sum().backward()
(2 * reference(theirs) * torch.arange(15.0, dtype=torch.float64).reshape(5, 3)).sum().backward()
assert given.grad is not None, "no gradient reaches x"
torch.testing.assert_close(given.grad, theirs.grad, msg="the gradient of x")
### BEGIN HIDDEN TESTS
x = torch.randn(7, 3, dtype=torch.float64)
with torch.no_grad():
    torch.testing.assert_close(block(x), 2 * reference(x), msg="hidden: a batch of 7")
### END HIDDEN TESTS"""
COUNT = (
    "def count(model):\n    ### BEGIN SOLUTION\n    modes = {m: m.training for m in model.modules()}\n"
    "    seen = []\n    handles = [m.register_forward_hook(lambda m, i, o: seen.append(o.numel()))\n"
    "               for m in model.modules() if isinstance(m, nn.Linear)]\n    model.eval()\n"
    "    with torch.no_grad():\n        model(torch.randn(2, 4))\n    for h in handles:\n        h.remove()\n"
    "    for m, t in modes.items():\n        m.training = t\n    return sum(seen) // 2\n    ### END SOLUTION"
)
# The model is the grader's, of a class the test defines: it goes to the room as a copy, and what the
# student's function did to it (modes, hooks, buffers, a probe's flag) comes back to it.
TEST_COUNT = """# Test: count (2 points)
class Probe(nn.Linear):
    hooked = False
    def forward(self, x):
        self.hooked = self.hooked or bool(self._forward_hooks)
        return super().forward(x)
model = nn.Sequential(Probe(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
model[2].eval()
before = model[1].running_mean.clone()
assert count(model) == 5, "3 + 2 outputs"
assert model[0].hooked, "the probe saw a hook"
assert not any(m._forward_hooks for m in model.modules()), "hooks left behind"
assert model.training and model[1].training and not model[2].training, "modes changed"
assert torch.equal(model[1].running_mean, before), "running statistics moved"
### BEGIN HIDDEN TESTS
assert count(nn.Sequential(nn.Linear(4, 6))) == 6, "hidden: one layer"
### END HIDDEN TESTS"""


def repeat(tmp_path, block: str = BLOCK, count: str = COUNT, forbidden: dict | None = None, timeout: int = 60):
    """The notebook's kernel passed both tests; they are repeated with ``block`` and ``count`` as the
    student's cells (neither is numpy-only: a torch room)."""
    cells = ["import numpy as np\nimport torch\nimport torch.nn as nn", BLOCK, TEST_BLOCK, COUNT, TEST_COUNT]
    source = tag_notebook(new_notebook(cells=[new_code_cell(c) for c in cells]))
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    ran = nbformat.from_dict(source)
    ran.cells[1].source, ran.cells[3].source = block, count
    rules = {"numpy_only": [], "forbidden": forbidden or {}}
    limits = sb.Limits(uid=61512)
    summary = replay.check_outside(ran, path, rules, timeout, None, sandboxed=not UNSAFE, limits=limits)
    return ran, summary


@pytest.mark.slow
def test_honest_torch_code_passes_and_hooks_left_behind_do_not_outlive_the_test(tmp_path):
    hooks_before = dict(torch.nn.modules.module._global_forward_hooks)
    ran, summary = repeat(tmp_path)
    assert summary["passed"] == ["Block", "count"] and summary["failed"] == summary["failed hidden tests"] == []
    assert all(errors_of(c) == [] for c in ran.cells), [errors_of(c) for c in ran.cells]
    assert dict(torch.nn.modules.module._global_forward_hooks) == hooks_before


@pytest.mark.parametrize(
    ("change", "test", "said"),
    [
        (("self.scale * self.bn", "self.scale * self.lin(x) if False else self.scale * self.bn"), None, None),
        (
            ("self.bn(self.lin(x))", "self.bn(self.lin(x)) * (1.0 if len(x) == 5 else 2.0)"),
            "Block",
            "hidden: a batch of 7",
        ),
        (("nn.BatchNorm1d(n)", "nn.BatchNorm1d(n, momentum=0.5)"), "Block", "Tensor-likes are not close"),
        (("self.bn(self.lin(x))", "self.bn(self.lin(x.detach()))"), "Block", "no gradient reaches x"),
        (("self.bn(self.lin(x))", "self.bn(self.lin(x) + 0 * x.pow(2).sum())"), None, None),
        (("    for h in handles:\n        h.remove()\n", ""), "count", "hooks left behind"),
        (("        m.training = t\n", "        pass\n"), "count", "modes changed"),
        (("    model.eval()\n", ""), "count", "running statistics moved"),
    ],
    ids=[
        "equivalent",
        "wrong on the hidden input",
        "BatchNorm momentum",
        "x cut from autograd",
        "an extra path of zero gradient",
        "hooks left",
        "modes",
        "train mode",
    ],
)
@pytest.mark.slow
def test_what_the_students_torch_code_did_is_judged_here(tmp_path, change, test, said):
    old, new = change
    block = BLOCK.replace(old, new) if old in BLOCK else BLOCK
    count = COUNT.replace(old, new) if old in COUNT else COUNT
    assert (block, count) != (BLOCK, COUNT) or test is None
    ran, summary = repeat(tmp_path, block, count)
    failed = summary["failed"] + summary["failed hidden tests"]
    assert failed == ([test] if test else []), summary
    if test:
        cell = ran.cells[2 if test == "Block" else 4]
        assert any(said in evalue for _, evalue in errors_of(cell)), [e[1][:900] for e in errors_of(cell)]


@pytest.mark.slow
def test_a_torch_room_patched_from_inside_cannot_pass_a_test(tmp_path):
    """Red team F5: the student's code, loaded in the room, replaces the room's server so that every
    answer is what the student wants. The grader computes every reference and comparison itself, and
    a room that answers out of protocol is stopped: the test scores nothing."""
    patch = (
        "import sys\nclass Patch:\n    server = getattr(sys.modules['__main__'], 'Server', None)\n"
        "    if server is not None:\n"
        "        server.remote = lambda self, meta: self.send({'op': 'result', 'result': {'v': True}})\n"
    )
    wrong = BLOCK.replace("self.scale * self.bn", "0 * self.bn")
    ran, summary = repeat(tmp_path, patch + wrong)
    assert "Block" not in summary["passed"], summary
    assert errors_of(ran.cells[2]), "the test kept its pass"
    # torch's own comparisons, patched in the room, are not the grader's.
    rigged = "import torch\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.equal = lambda *a: True\n"
    ran, summary = repeat(tmp_path, rigged + wrong)
    assert summary["failed"] == ["Block"] and "count" in summary["passed"], summary


@pytest.mark.slow
def test_a_ruled_out_base_class_is_read_from_the_source(tmp_path):
    borrowed = BLOCK.replace("class Block(nn.Module)", "class Block(nn.Sequential)")
    ran, summary = repeat(tmp_path, borrowed, forbidden={"Block": ["torch.nn.Sequential"]})
    assert summary["failed"] == ["Block"], summary
    [(ename, evalue)] = errors_of(ran.cells[2])
    assert ename == "NumpyOnlyError" and "Sequential" in evalue, evalue


def test_isinstance_sees_only_torch_classes_from_a_fixed_table_and_nothing_runs_here():
    """Red team: a class built here from the room's description ran a function the student chose
    (a base's ``__init_subclass__`` calling a class attribute resolved from the description)."""
    import sys

    from torchvision.models.resnet import BasicBlock

    conv = placeholder({"name": "Conv2d", "mro": [["torch.nn.modules.conv", "Conv2d"]]})
    assert conv is nn.Conv2d
    mine = [["__main__", "Mine"], ["torchvision.models.resnet", "BasicBlock"], ["torch.nn.modules.module", "Module"]]
    assert placeholder({"name": "Mine", "mro": mine}) is BasicBlock
    forged = {
        "name": "X",
        "mro": [["torch.utils._python_dispatch", "TorchDispatchMode"], ["antigravity", "X"]],
        "functions": {"_should_skip_dynamo": ["torch.hub", "zipfile.main"]},
    }
    assert placeholder(forged) is object and "antigravity" not in sys.modules
    assert placeholder({"mro": "not a list of pairs"}) is object


def test_changes_from_the_room_touch_only_what_the_module_already_has():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    changes = {
        "modules": {
            "": {"attributes": {"training": False, "forward": "hidden", "new": 1}, "hooks": [2, 0, 0]},
            "1": {"attributes": {"training": "yes"}, "hooks": [0, 0, 0]},
        },
        "tensors": {"b:1.running_mean": torch.ones(2, dtype=torch.float64), "p:nothing": torch.ones(1)},
        "trainable": {"0.weight": False},
        "global_hooks": [0, 0, 0],
    }
    apply_changes(model, changes)
    assert not model.training and model[1].training  # "yes" is not a bool
    assert "forward" not in model.__dict__ and "new" not in model.__dict__
    assert len(model._forward_hooks) == 2 and torch.equal(model[1].running_mean, torch.ones(2))
    assert not model[0].weight.requires_grad and model[0].bias.requires_grad


def test_a_remote_object_is_not_a_local_module():
    assert not issubclass(RemoteObject, nn.Module)


def test_a_message_that_repeats_an_array_cannot_blow_up_in_the_grader():
    """Red team: a room that references one 2 MB array many times as complex128 took the grader's
    memory up by a gigabyte. Decoding is held to twice what a message may carry."""
    import numpy as np

    from autograder import wire

    arrays = [np.zeros(2**18)]  # 2 MB
    table = wire.Arrays.of(arrays)
    node = {"list": [{"tensor": 0, "dtype": "complex128"}] * 200}
    with pytest.raises(wire.WireError, match="decodes to more"):
        wire.Decoder(table)(node)
    assert len(wire.Decoder(table)({"list": [{"tensor": 0, "dtype": "float64"}] * 3})) == 3


def test_a_hidden_checks_message_cannot_carry_a_long_number_out():
    """Red team: a count returned for a hidden input (3, 224, 224) encoded that input as a 200-digit
    integer, which the check's message quoted in the feedback."""
    secret = int.from_bytes(b"ResNet input=(3, 224, 224) w0=(64, 3, 7, 7)", "big")
    said = replay._bounded(f"AssertionError: resnet18: {secret:,} parameters, torchvision publishes 11,689,512.")
    assert f"{secret:,}"[:12] not in said and "11,689,512" in said and len(said) < 120


def test_a_test_that_exits_fails_instead_of_ending_the_grader():
    _, error = replay._run("raise SystemExit(2)", {}, "<test cell>", 5)
    assert isinstance(error, SystemExit)


@pytest.mark.slow
def test_the_repeat_of_a_notebook_has_one_time_budget(tmp_path, monkeypatch):
    """Red team: a cell that makes the room sleep at every test cost tests x timeout. The repeat
    stops at its budget; the tests left are over a limit, each with a message."""
    monkeypatch.setattr(replay, "REPEAT_BUDGET", 4)
    pause = "        import time\n        time.sleep(3)\n        return self.scale"
    slow = BLOCK.replace("        return self.scale", pause)
    ran, summary = repeat(tmp_path, slow, timeout=3)
    assert summary["over a limit"] == ["Block", "count"], summary
    assert any("budget" in evalue for _, evalue in errors_of(ran.cells[4])), errors_of(ran.cells[4])
