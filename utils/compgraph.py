"""Drawing small computational graphs with their forward values and backward gradients.

Used by the backpropagation lecture and seminar to show, on one picture, what flows forward
(values, in blue above each node) and what flows backward (gradients of the loss, in red below
each node). The graph is described by plain dictionaries, so a notebook can fill in numbers it
computed by hand and the figure shows exactly those numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

FORWARD_COLOUR = "tab:blue"
BACKWARD_COLOUR = "tab:red"
NODE_RADIUS = 0.32


def _fmt(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return fmt.format(float(value))


def draw_graph(
    nodes: Mapping[str, Mapping[str, Any]],
    edges: Sequence[tuple[str, str] | tuple[str, str, str]],
    ax: plt.Axes | None = None,
    title: str | None = None,
    fmt: str = "{:.4g}",
    figsize: tuple[float, float] = (9.0, 4.0),
) -> plt.Axes:
    """Draw a computational graph, left to right, annotated with values and gradients.

    Args:
        nodes: ``{name: spec}``. Each ``spec`` has
            ``pos``: ``(x, y)`` position in data units (nodes about 1.5 units apart look right);
            ``label``: text inside the node (defaults to ``name``), e.g. ``"×"``, ``"σ"``, ``"w"``;
            ``value``: the forward value (a float, formatted with ``fmt``, or any string), optional;
            ``grad``: the gradient dL/d(node) (float or string), optional;
            ``kind``: ``"leaf"`` (drawn as a box: inputs and parameters) or ``"op"``
            (drawn as a circle: operations); default ``"op"``;
            ``text_dx``: horizontal shift of the value and gradient texts, in data units, to move
            them off an arrow that enters the node from above or below; default 0.
        edges: ``(src, dst)`` or ``(src, dst, text)`` pairs: ``src`` is an input of ``dst``.
            The optional ``text`` (e.g. the local derivative ``"∂r/∂q = 1"``) is written at the
            middle of the arrow.
        ax: axes to draw into; a new figure of ``figsize`` is made when ``None``.
        title: axes title.
        fmt: format of numeric values and gradients.

    Returns:
        The axes. Values appear in blue above each node, gradients in red below it.

    Raises:
        KeyError: an edge names a node that is not in ``nodes``.
        ValueError: a node has no ``pos``.
    """
    for name, spec in nodes.items():
        if "pos" not in spec:
            raise ValueError(f"node {name!r} has no 'pos': give every node an (x, y) position")
    for edge in edges:
        for end in edge[:2]:
            if end not in nodes:
                raise KeyError(f"edge {edge[:2]} names node {end!r}, which is not in nodes {list(nodes)}")
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)

    r = NODE_RADIUS
    for edge in edges:
        src, dst = edge[0], edge[1]
        (x0, y0), (x1, y1) = nodes[src]["pos"], nodes[dst]["pos"]
        length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        # start and end on the node outlines, not at their centres
        arrow = FancyArrowPatch(
            (x0 + 1.05 * r * ux, y0 + 1.05 * r * uy),
            (x1 - 1.05 * r * ux, y1 - 1.05 * r * uy),
            arrowstyle="-|>",
            mutation_scale=14,
            color="0.45",
            lw=1.3,
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
        ax.add_patch(arrow)
        if len(edge) > 2 and edge[2]:
            ax.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                edge[2],
                fontsize=8,
                color="0.25",
                ha="center",
                va="center",
                zorder=3,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9),
            )

    for name, spec in nodes.items():
        x, y = spec["pos"]
        label = spec.get("label", name)
        if spec.get("kind", "op") == "leaf":
            patch = FancyBboxPatch(
                (x - r, y - r * 0.8),
                2 * r,
                1.6 * r,
                boxstyle="round,pad=0.05",
                fc="#f2f2f2",
                ec="0.3",
                lw=1.2,
                zorder=2,
            )
        else:
            patch = plt.Circle((x, y), r, fc="#fff7e0", ec="0.3", lw=1.2, zorder=2)
        ax.add_patch(patch)
        ax.text(x, y, label, ha="center", va="center", fontsize=12, zorder=4)
        value, grad = _fmt(spec.get("value"), fmt), _fmt(spec.get("grad"), fmt)
        tx = x + spec.get("text_dx", 0.0)
        if value:
            ax.text(tx, y + r + 0.08, value, ha="center", va="bottom", fontsize=9, color=FORWARD_COLOUR, zorder=4)
        if grad:
            ax.text(tx, y - r - 0.08, grad, ha="center", va="top", fontsize=9, color=BACKWARD_COLOUR, zorder=4)

    xs = [spec["pos"][0] for spec in nodes.values()]
    ys = [spec["pos"][1] for spec in nodes.values()]
    ax.set_xlim(min(xs) - 1.0, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def graph_legend(ax: plt.Axes, loc: str = "lower left") -> None:
    """Add a legend saying blue = forward value, red = gradient of the loss."""
    handles = [
        plt.Line2D([], [], color=FORWARD_COLOUR, marker="s", ls="", label="forward value"),
        plt.Line2D([], [], color=BACKWARD_COLOUR, marker="s", ls="", label="gradient dL/d(node)"),
    ]
    ax.legend(handles=handles, loc=loc, fontsize=8, frameon=False)
