"""utils.compgraph draws what it is given and refuses malformed graphs with a clear message."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from utils.compgraph import draw_graph, graph_legend  # noqa: E402

NODES = {
    "a": {"pos": (0, 1), "kind": "leaf", "value": 2.0, "grad": -3.0},
    "b": {"pos": (0, -1), "kind": "leaf", "value": -1.5},
    "q": {"pos": (2, 0), "label": "×", "value": "a·b", "grad": 1.0},
}
EDGES = [("a", "q", "∂q/∂a = b"), ("b", "q")]


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_draws_labels_values_and_gradients():
    ax = draw_graph(NODES, EDGES, title="t")
    shown = texts(ax)
    for expected in ["a", "b", "×", "2", "-3", "-1.5", "a·b", "1", "∂q/∂a = b"]:
        assert expected in shown, (expected, shown)
    assert ax.get_title() == "t"
    # two nodes drawn as boxes, one as a circle, one arrow per edge
    kinds = [type(p).__name__ for p in ax.patches]
    assert kinds.count("FancyBboxPatch") == 2 and kinds.count("Circle") == 1
    assert kinds.count("FancyArrowPatch") == len(EDGES)
    graph_legend(ax)
    assert ax.get_legend() is not None
    plt.close("all")


def test_missing_gradient_is_not_drawn():
    ax = draw_graph(NODES, EDGES)
    assert "" not in texts(ax)
    plt.close("all")


def test_draws_into_given_axes():
    fig, axes = plt.subplots(1, 2)
    out = draw_graph(NODES, EDGES, ax=axes[1])
    assert out is axes[1] and not axes[0].texts
    plt.close(fig)


def test_unknown_node_in_edge_is_named():
    with pytest.raises(KeyError, match="'z'"):
        draw_graph(NODES, [("a", "z")])


def test_node_without_position_is_rejected():
    with pytest.raises(ValueError, match="pos"):
        draw_graph({"a": {"value": 1.0}}, [])


def test_text_shift_moves_value_and_gradient():
    nodes = {"a": {"pos": (0, 0), "value": 1.0, "grad": 2.0, "text_dx": 0.5}}
    ax = draw_graph(nodes, [])
    positions = {t.get_text(): t.get_position() for t in ax.texts}
    assert positions["1"][0] == 0.5 and positions["2"][0] == 0.5 and positions["a"][0] == 0
    plt.close("all")
