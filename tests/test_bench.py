"""`make bench` keeps working: its convolution rows and its table (the timings themselves are
reported, never asserted: a timed test on a shared 2-core machine would flake)."""

from __future__ import annotations

import os

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
