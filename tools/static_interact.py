"""ipywidgets' `interact` for the static website: precomputed frames behind plain HTML sliders.

tools/build_site.py runs ``install()`` in the kernel before a notebook's first cell. From then on
``interact(f, a=IntSlider(...))`` (also as a decorator, and as ``ipywidgets.interact``) calls ``f`` for a
grid of control values, keeps each call's figures and printed text as one frame, and displays HTML whose
sliders switch between the frames with a few lines of inline JavaScript: no kernel, no widget manager,
nothing loaded from another host. JupyterLab is untouched (the notebooks call the real ``interact``).

When every combination of the controls' values fits in ``MAX_FRAMES``, all combinations are computed;
otherwise each control moves alone with the others at their defaults (the page says so).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import uuid
from typing import Any

MAX_FRAMES = 40  # combinations computed when all of them fit
MAX_STEPS = 9  # values per control (evenly spaced, the default always among them)


def control_values(widget: Any) -> tuple[list[Any], list[str], int]:
    """The values a control takes on the static page, their labels, and the index of its default."""
    import numpy as np

    name = type(widget).__name__
    if hasattr(widget, "_options_values"):  # SelectionSlider, Dropdown, ToggleButtons, ...
        values, labels = list(widget._options_values), [str(x) for x in widget._options_labels]
        current = widget.value
    elif name == "Checkbox" or name == "ToggleButton":
        values, labels, current = [False, True], ["off", "on"], widget.value
    elif name == "FloatLogSlider":
        exps = np.arange(widget.min, widget.max + widget.step / 2, widget.step)
        values = [float(widget.base**e) for e in exps]
        labels = [f"{v:.3g}" for v in values]
        current = widget.value
    elif hasattr(widget, "min") and hasattr(widget, "max") and hasattr(widget, "step"):
        step = widget.step or 1
        if isinstance(widget.value, int) and not isinstance(widget.value, bool):
            values = list(range(int(widget.min), int(widget.max) + 1, int(step)))
        else:
            values = [float(v) for v in np.arange(widget.min, widget.max + step / 2, step)]
        labels = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in values]
        current = widget.value
    else:  # a text box or anything else: fixed at its value
        return [widget.value], [str(widget.value)], 0
    default = int(np.argmin([abs(_distance(v, current)) for v in values])) if values else 0
    if len(values) > MAX_STEPS:  # evenly spaced, keeping the default
        keep = set(np.linspace(0, len(values) - 1, MAX_STEPS).round().astype(int).tolist()) | {default}
        keep = sorted(keep)
        default = keep.index(default)
        values, labels = [values[i] for i in keep], [labels[i] for i in keep]
    return values, labels, default


def _distance(a: Any, b: Any) -> float:
    try:
        return float(a) - float(b)
    except (TypeError, ValueError):
        return 0.0 if a == b else 1e300


def _frame_html(f, kwargs: dict) -> str:
    """Call f(**kwargs) and return what it showed: figures as PNG images, printed text, rich HTML."""
    import matplotlib.pyplot as plt
    from IPython.utils.capture import capture_output

    error = None
    with capture_output() as captured:
        try:
            result = f(**kwargs)
        except Exception as exc:  # interact shows the error under the controls; so does the page
            result, error = None, f"{type(exc).__name__}: {exc}"
    parts = []
    if captured.stdout:
        parts.append(f"<pre>{html.escape(captured.stdout)}</pre>")
    for output in captured.outputs:
        data = output.data
        if "image/png" in data:
            parts.append(f'<img src="data:image/png;base64,{data["image/png"]}" alt="figure">')
        elif "text/html" in data:
            parts.append(data["text/html"])
        elif "text/plain" in data:
            parts.append(f"<pre>{html.escape(data['text/plain'])}</pre>")
    for number in plt.get_fignums():  # figures drawn but not shown
        buffer = io.BytesIO()
        plt.figure(number).savefig(buffer, format="png", bbox_inches="tight")
        parts.append(f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}" alt="figure">')
    plt.close("all")
    if error is not None:
        parts.append(f'<pre class="si-error">{html.escape(error)}</pre>')
    if result is not None and not captured.outputs:
        parts.append(f"<pre>{html.escape(repr(result))}</pre>")
    return "".join(parts)


def static_html(f, controls: dict[str, Any]) -> str:
    """The frames of f over the controls (name -> ipywidgets control or fixed value) as one HTML block."""
    from ipywidgets import Widget, fixed

    fixed_kwargs = {}
    names, grids = [], []
    for name, control in controls.items():
        if isinstance(control, fixed):
            fixed_kwargs[name] = control.value
        elif isinstance(control, Widget):
            names.append((name, getattr(control, "description", "") or name))
            grids.append(control_values(control))
        else:  # an abbreviation: (min, max[, step]), a list of options, a bool, a number
            from ipywidgets.widgets.interaction import interactive

            widget = interactive.widget_from_abbrev(control)
            if widget is None:
                fixed_kwargs[name] = control
            else:
                names.append((name, name))
                grids.append(control_values(widget))
    defaults = tuple(g[2] for g in grids)
    total = 1
    for values, _, _ in grids:
        total *= len(values)
    if total <= MAX_FRAMES:
        keys = list(itertools.product(*[range(len(g[0])) for g in grids]))
        mode = "all"
    else:
        keys = [defaults]
        for i, (values, _, _) in enumerate(grids):
            keys += [defaults[:i] + (j,) + defaults[i + 1 :] for j in range(len(values)) if j != defaults[i]]
        mode = "one"
    frames = {}
    for key in keys:
        kwargs = dict(fixed_kwargs)
        kwargs.update({name: grids[i][0][j] for i, ((name, _), j) in enumerate(zip(names, key))})
        frames[",".join(map(str, key))] = _frame_html(f, kwargs)

    uid = "si-" + uuid.uuid4().hex[:10]
    rows = []
    for i, ((_, label), (_, labels, default)) in enumerate(zip(names, grids)):
        rows.append(
            f'<label for="{uid}-{i}">{html.escape(label)}</label>'
            f'<input type="range" id="{uid}-{i}" class="si-slider" min="0" max="{len(labels) - 1}" step="1" '
            f'value="{default}" data-labels="{html.escape(json.dumps(labels))}" data-default="{default}">'
            f'<output class="si-value">{html.escape(labels[default])}</output>'
        )
    note = "Precomputed pictures: run the notebook in JupyterLab for live controls."
    if mode == "one":
        note += " Here one control moves at a time; the others go back to their defaults."
    body = "".join(
        f'<div class="si-frame" data-key="{key}"{"" if key == ",".join(map(str, defaults)) else " hidden"}>'
        f"{content}</div>"
        for key, content in frames.items()
    )
    script = (
        """
<script>
(function () {
  var root = document.getElementById("__ID__");
  var sliders = Array.prototype.slice.call(root.querySelectorAll(".si-slider"));
  function show(moved) {
    var key = sliders.map(function (s) { return s.value; }).join(",");
    if (!root.querySelector('.si-frame[data-key="' + key + '"]')) {
      sliders.forEach(function (s) { if (s !== moved) s.value = s.dataset.default; });
      key = sliders.map(function (s) { return s.value; }).join(",");
    }
    sliders.forEach(function (s) {
      s.nextElementSibling.textContent = JSON.parse(s.dataset.labels)[+s.value];
    });
    root.querySelectorAll(".si-frame").forEach(function (f) { f.hidden = f.dataset.key !== key; });
  }
  sliders.forEach(function (s) { s.addEventListener("input", function () { show(s); }); });
})();
</script>"""
    ).replace("__ID__", uid)
    return (
        f'<div class="static-interact" id="{uid}"><div class="si-controls">{"".join(rows)}</div>'
        f'<p class="si-note">{note}</p>{body}</div>{script}'
    )


def interact(__interact_f=None, **controls):
    """Stand-in for ipywidgets.interact: displays precomputed frames; returns f like the original."""
    from IPython.display import HTML, display

    def apply(f):
        display(HTML(static_html(f, controls)))
        return f

    if __interact_f is None:
        return apply
    return apply(__interact_f)


def install() -> None:
    """Replace ipywidgets' interact (in every place a notebook imports it from) with the static one."""
    import ipywidgets
    from ipywidgets.widgets import interaction

    ipywidgets.interact = interact
    ipywidgets.widgets.interact = interact
    interaction.interact = interact
