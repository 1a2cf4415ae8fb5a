"""`make bench` keeps working: its convolution rows and its table (the timings themselves are
reported, never asserted: a timed test on a shared 2-core machine would flake)."""

from __future__ import annotations

import os

import pytest

MPLBACKEND_BEFORE = os.environ.get("MPLBACKEND")

from tools import bench, bench_conv  # noqa: E402


def test_conv_rows_measure_every_implementation_and_print_as_a_table():
    rows = bench_conv.rows(repeats=1)
    names = [row["name"] for row in rows]
    for expected in (
        "conv numpy im2col fwd+bwd (float32)",
        "conv numpy im2col fwd+bwd (float64)",
        "conv torch conv2d fwd+bwd (float64, 1 thread)",
        "conv numpy naive loops forward (float64)",
    ):
        assert expected in names
    assert all(row["seconds"] > 0 for row in rows)
    assert all("x torch" in row["note"] and "10x target" in row["note"] for row in rows if "im2col" in row["name"])
    printed = bench.table(rows).splitlines()
    assert printed[0].split() == ["benchmark", "seconds", "note"]
    assert len(printed) == len(rows) + 2


def test_the_bench_leaves_the_environment_of_later_kernels_alone():
    bench_conv.load_reference()
    assert os.environ.get("MPLBACKEND") == MPLBACKEND_BEFORE, (
        "kernels started later would inherit it and lose inline plots"
    )


def test_rnn_rows_compare_the_numpy_lstm_with_torch():
    from tools import bench_rnn

    rows = bench_rnn.rows()
    assert any("numpy" in row["name"] and "x torch" in row["note"] for row in rows)
    assert all(row["seconds"] > 0 for row in rows)


def test_parallel_ceiling_is_a_ratio_of_serial_to_parallel_time():
    # Any machine lies between one core (about 1x, with the cost of forking) and two or more (about 2x).
    assert 0.5 < bench.parallel_ceiling(rounds=1, n=1_000_000) < 2.5


@pytest.mark.pipeline
@pytest.mark.xdist_group("bench-class")
def test_class_rows_grade_a_whole_class_each_way(tmp_path):
    import fixture_course as fx

    source = fx.build(tmp_path / "source")
    rows = bench.class_rows(fx.ASSIGNMENT, students=2, source=source)
    names = [row["name"] for row in rows]
    assert "grade 2 submissions of 00_fixture (jobs 1, no sandbox)" in names
    assert all("submissions/min" in row["note"] and "only" not in row["note"] for row in rows if "grade" in row["name"])
    from conftest import UNSAFE

    if not UNSAFE:
        for size in (2, 4):
            assert f"speed-up of --jobs 2 over --jobs 1, class of {size}" in names
            for jobs in (1, 2):
                assert f"grade {size} submissions of 00_fixture (jobs {jobs}, sandbox)" in names
        assert "speed-up of --jobs 2 over --jobs 1 per further submission" in names
        assert "sandbox overhead per submission" in names
        assert "this machine's ceiling: a CPU-bound loop in 2 processes vs 1" in names
        ceiling = next(row["note"] for row in rows if row["name"].startswith("this machine's ceiling"))
        assert "before the runs" in ceiling and "after" in ceiling
