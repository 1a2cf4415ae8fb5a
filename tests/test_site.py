"""The website builder: executed pages, local math, widget plots kept, nothing loaded from a CDN."""

from __future__ import annotations

import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course import KERNELSPEC
from tools import build_site as course_site

PLOT = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"
WIDGET = (
    "from ipywidgets import interact\nimport matplotlib.pyplot as plt\n"
    "@interact(slope=(0.0, 2.0))\ndef show(slope=1.0):\n    plt.plot([0, 1], [0, slope])\n    plt.show()"
)


def test_site_page_has_outputs_local_math_and_no_remote_resources(tmp_path):
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A page title\nEuler: $e^{i\\pi} + 1 = 0$"),
            new_code_cell(PLOT),
            new_code_cell(WIDGET),
        ]
    )
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    path = tmp_path / "lectures" / "99_page.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)

    [page] = course_site.build(tmp_path / "site", [path], jobs=1)
    text = page.read_text()
    assert page == tmp_path / "site" / "lectures" / "99_page.html"
    assert 'src="../static/mathjax/MathJax.js' in text
    mathjax = tmp_path / "site" / "static" / "mathjax"
    assert (mathjax / "MathJax.js").is_file()
    configs = re.search(r'MathJax\.js\?config=([^"]+)"', text).group(1).split(",")
    for name in configs:  # MathJax silently renders nothing when a requested config is missing
        assert (mathjax / "config" / f"{name}.js").is_file() or (mathjax / "extensions" / f"{name}.js").is_file(), name
    assert len(re.findall(r'<img[^>]*src="data:image/png;base64', text)) == 2, (
        "the plain plot and the widget's plot should both be there"
    )
    assert "Interactive in JupyterLab" in text
    assert course_site.remote_resources(text) == []
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="lectures/99_page.html">A page title</a>' in index


def test_remote_resource_check_can_fail():
    assert course_site.remote_resources('<script src="https://cdn.example/x.js"></script>')
    assert course_site.remote_resources("<link rel='stylesheet' href='//cdn.example/x.css'>")
    assert not course_site.remote_resources('<a href="https://arxiv.org/abs/1502.03167">paper</a>')
