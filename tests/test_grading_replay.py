"""The check outside the kernel (``autograder.replay``): records, their reading, the stand-ins, the plan.

The pipeline-level proof (a student who silences the agent in the kernel still loses the points of
a wrong answer) is in ``test_grading_attacks.py``; every assignment's reference and independent
solution passing it is in ``test_course_pipeline.py``.
"""

from __future__ import annotations

import os
import types

import numpy as np
import pytest
import torch

from autograder import replay
from autograder.agent import Recorder, encode
from autograder.execute import grading_rules
from autograder.notebooks import read_notebook, tag_notebook
from conftest import ASSIGNMENTS


def record(tmp_path, calls, names=None, test="t"):
    """Run ``calls`` (``(label, fn, args, kwargs)``) through the agent's recorder; the record's path."""
    shell = types.SimpleNamespace(user_ns=dict(names or {}))
    recorder = Recorder(str(tmp_path), f"{test}.npz", "x = " + " + ".join(names or ["0"]), shell, set())
    for label, fn, args, kwargs in calls:
        entry = recorder.begin(label, args, kwargs, is_init=label.endswith(".__init__"))
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            recorder.end(entry, args, kwargs, error=exc)
            continue
        recorder.end(entry, args, kwargs, result)
    recorder.write()
    return tmp_path / f"{test}.npz"


PLAIN = [
    None,
    True,
    "text",
    7,
    2**80,
    -0.0,
    float("nan"),
    float("inf"),
    np.float32(1.5),
    np.int64(3),
    np.arange(6.0).reshape(2, 3),
    np.array([True, False]),
    np.zeros((0, 4), dtype=np.float32),
    torch.arange(3, dtype=torch.float64),
    (1, [2.0, {"k": np.ones(2)}]),
    {("a", 1): slice(1, None, 2)},
]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_data_survives_a_record(tmp_path, value):
    path = record(tmp_path, [("f", lambda: value, (), {})])
    meta, npz = replay.load_record(path)
    back = replay.Replayer(meta, npz).call("f", (), {})
    arrays_a, arrays_b = [], []
    assert replay.same(
        encode(value, arrays_a),
        replay.Decoder(replay.Arrays.of(arrays_a), {}),
        encode(back, arrays_b),
        arrays_b,
    )
    assert type(back) is type(value) or isinstance(value, np.generic)


def test_a_generator_and_the_global_random_state_move_as_in_the_kernel(tmp_path):
    def draws(rng):
        np.random.random()
        return rng.random(3)

    path = record(tmp_path, [("draws", draws, (np.random.default_rng(1),), {})])
    np.random.seed(0)
    meta, npz = replay.load_record(path)
    mine = np.random.default_rng(1)
    replayer = replay.Replayer(meta, npz)
    expected_next = np.random.default_rng(1)
    expected_next.random(3)
    np.testing.assert_array_equal(replayer.call("draws", (mine,), {}), np.random.default_rng(1).random(3))
    assert mine.random() == expected_next.random(), "the generator passed in was not advanced as in the kernel"


def test_changes_in_place_and_to_the_object_are_replayed(tmp_path):
    class Model:
        def __init__(self, n):
            self.params = {"W": np.zeros(n)}

        def step(self, x, cache):
            self.params["W"] += x
            cache["seen"] = x.sum()
            x *= 2
            return None

    model = Model.__new__(Model)
    x, cache = np.ones(3), {}
    calls = [("Model.__init__", Model.__init__, (model, 3), {}), ("Model.step", Model.step, (model, x, cache), {})]
    path = record(tmp_path, calls)
    meta, npz = replay.load_record(path)
    stand_in = replay.stand_in_class("Model", replay.Replayer(meta, npz))
    mine_x, mine_cache = np.ones(3), {}
    obj = stand_in(3)
    obj.step(mine_x, mine_cache)
    np.testing.assert_array_equal(obj.params["W"], np.ones(3))
    np.testing.assert_array_equal(mine_x, 2 * np.ones(3))
    assert mine_cache == {"seen": 3.0}


def test_the_students_exception_is_raised_again(tmp_path):
    def fails(x):
        raise FloatingPointError("overflow in exp")

    path = record(tmp_path, [("f", fails, (np.ones(2),), {})])
    with pytest.raises(FloatingPointError, match="overflow in exp"):
        replay.Replayer(*replay.load_record(path)).call("f", (np.ones(2),), {})


@pytest.mark.parametrize(
    "label, args, message",
    [
        ("f", (np.ones(2) + 1e-6,), "other arguments"),
        ("g", (np.ones(2),), "was to f"),
        ("f", (np.ones(3),), "other arguments"),
    ],
)
def test_a_different_call_from_the_recorded_one_is_refused(tmp_path, label, args, message):
    path = record(tmp_path, [("f", lambda x: x, (np.ones(2),), {})])
    replayer = replay.Replayer(*replay.load_record(path))
    with pytest.raises(replay.ReplayError, match=message):
        replayer.call(label, args, {})


def test_more_calls_than_recorded_are_refused(tmp_path):
    path = record(tmp_path, [("f", lambda: 1, (), {})])
    replayer = replay.Replayer(*replay.load_record(path))
    replayer.call("f", (), {})
    with pytest.raises(replay.ReplayError, match="more often"):
        replayer.call("f", (), {})


def test_free_names_are_recorded_by_value(tmp_path):
    path = record(tmp_path, [], names={"test_accuracy": 0.97})
    meta, npz = replay.load_record(path)
    assert replay.Decoder(npz, {})(meta["names"]["test_accuracy"]) == 0.97


def test_records_that_are_not_plain_data_are_refused(tmp_path):
    target = record(tmp_path, [("f", lambda: 1, (), {})])
    os.symlink(target, tmp_path / "link.record")
    with pytest.raises(replay.RecordError, match="no record"):
        replay.load_record(tmp_path / "link.record")
    with pytest.raises(replay.RecordError, match="no record"):
        replay.load_record(tmp_path / "missing.record")
    os.mkfifo(tmp_path / "fifo.record")  # opening it for reading would wait for a writer forever
    with pytest.raises(replay.RecordError, match="regular file"):
        replay.load_record(tmp_path / "fifo.record")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path, tmp_path / "elsewhere" / "records")  # the records folder swapped for a link
    with pytest.raises(replay.RecordError, match="no record"):
        replay.load_record(tmp_path / "elsewhere" / "records" / target.name)
    for junk in (b"not a record", replay.RECORD_MAGIC + b"\xff" * 8, replay.RECORD_MAGIC + (2).to_bytes(8, "little")):
        (tmp_path / "junk.record").write_bytes(junk)
        with pytest.raises(replay.RecordError, match="unreadable"):
            replay.load_record(tmp_path / "junk.record")
    # An index that claims object arrays, a structured dtype, or more bytes than there are: refused.
    blob = memoryview(np.arange(4.0).tobytes())
    for entry in (["|O", [4], 0, 32], ["[('a', 'O')]", [1], 0, 8], ["<f8", [5], 0, 40], ["<f8", [4], 8, 32]):
        with pytest.raises(replay.RecordError, match="malformed"):
            replay.Decoder(replay.Arrays([entry], blob), {})({"a": 0})
    np.testing.assert_array_equal(
        replay.Decoder(replay.Arrays([["<f8", [4], 0, 32]], blob), {})({"a": 0}), np.arange(4.0)
    )
    for bad in ({"int": "9" * 5000}, {"generator": "os.system"}, {"tensor": 0, "dtype": "__class__"}, {"x": 1}):
        with pytest.raises(replay.RecordError):
            replay.Decoder(replay.Arrays.of([np.ones(1)]), {})(bad)


def test_an_oversized_record_is_refused(tmp_path, monkeypatch):
    path = record(tmp_path, [("f", lambda: np.ones(1000), (), {})])
    monkeypatch.setattr(replay, "RECORD_FILE_LIMIT", 100)
    with pytest.raises(replay.RecordError, match="sane size"):
        replay.load_record(path)


def test_opaque_values_equal_nothing(tmp_path):
    path = record(tmp_path, [("f", lambda: object(), (), {})])
    back = replay.Replayer(*replay.load_record(path)).call("f", (), {})
    assert isinstance(back, replay.Opaque) and back != back.__class__("object")


@pytest.mark.parametrize("folder", sorted(p.name for p in ASSIGNMENTS.iterdir() if (p / ".").is_dir()))
def test_every_numpy_only_test_is_repeated_outside_the_kernel(folder):
    [path] = sorted((ASSIGNMENTS / folder).glob("*.ipynb"))
    rules = grading_rules(path)
    source = tag_notebook(read_notebook(path))
    _, tests, _, _ = replay.plan(source, set(rules["numpy_only"]))
    headers = [c.source.split("\n", 1)[0] for c in source.cells if c.source.startswith("# Test:")]
    repeated = [c.source.split("\n", 1)[0] for c in tests]
    # Only assignment 4's torch modules stay in the kernel: they must be objects of the student's process.
    expected = [h for h in headers if not ("ResidualBlock" in h or "count_params_macs" in h)]
    assert repeated == expected


SQUARE_TEST = "# Test: square (3 points)\nassert square(3) == 9, 'square(3) should be 9'"
LAYER_TEST = "# Test: layer (2 points)\nassert layer(2) == 4, 'layer(2) should be 4'"


def kernel_run(tmp_path, square_of_3, layer_failed=False):
    """A notebook whose kernel passed both tests (unless ``layer_failed``), ``square`` numpy-only and
    repeated outside with the recorded ``square(3) == square_of_3``; ``layer`` can only run in the kernel."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    solution = "def {}(x):\n    ### BEGIN SOLUTION\n    return {}\n    ### END SOLUTION"
    source = new_notebook(
        cells=[
            new_code_cell("import numpy as np"),
            new_code_cell(solution.format("square", "x * x")),
            new_code_cell(SQUARE_TEST),
            new_code_cell(solution.format("layer", "2 * x")),
            new_code_cell(LAYER_TEST),
        ]
    )
    tag_notebook(source)
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    records = tmp_path / "records"
    records.mkdir()
    recorder = Recorder(str(records), "square.record", SQUARE_TEST, types.SimpleNamespace(user_ns={}), {"square"})
    entry = recorder.begin("square", (3,), {}, is_init=False)
    recorder.end(entry, (3,), {}, square_of_3)
    recorder.write()
    ran = nbformat.from_dict(source)
    if layer_failed:
        ran.cells[4].outputs = [
            new_output("error", ename="AssertionError", evalue="layer(2) should be 4", traceback=[])
        ]
    summary = replay.check_outside(ran, path, {"numpy_only": ["square"]}, records)
    return ran, summary


def errors_of(cell) -> list[str]:
    return [o.evalue for o in cell.outputs if o.output_type == "error" and o.ename == replay.CLEAN_CHECK_FAILED]


def test_a_test_that_fails_outside_distrusts_the_tests_that_only_ran_inside(tmp_path):
    """square's wrong answer passed in a tampered kernel: layer's pass there is not trusted either."""
    ran, summary = kernel_run(tmp_path, square_of_3=10)
    assert summary["failed"] == ["square"] and summary["not trusted"] == ["layer"], summary
    [square_error] = errors_of(ran.cells[2])
    assert "square(3) should be 9" in square_error
    [layer_error] = errors_of(ran.cells[4])
    assert "cannot be trusted" in layer_error and "repeat of square failed" in layer_error


def test_honest_answers_leave_the_unrepeated_tests_alone(tmp_path):
    ran, summary = kernel_run(tmp_path, square_of_3=9)
    assert summary["passed"] == ["square"] and summary["not repeated"] == ["layer"], summary
    assert summary["not trusted"] == [] and errors_of(ran.cells[2]) == errors_of(ran.cells[4]) == []


def test_a_test_that_failed_in_the_kernel_keeps_its_own_message(tmp_path):
    ran, summary = kernel_run(tmp_path, square_of_3=10, layer_failed=True)
    assert summary["not trusted"] == [] and errors_of(ran.cells[4]) == [], summary
    assert [o.ename for o in ran.cells[4].outputs] == ["AssertionError"]
