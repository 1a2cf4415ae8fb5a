"""The website builder (tools/build_site.py): what it stages and checks, without a browser.

The whole site is built once per test process (tests/browser.py), as `make site` builds it, in a scratch clone
of the working tree (tests/scratch_clone.py), and shared with test_browser_site.py.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from browser import built_site
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from scratch_clone import git, scratch_clone, status

from autograder.course import KERNELSPEC
from conftest import ROOT
from tools import build_site, static_interact

pytestmark = pytest.mark.xdist_group("site")


def write_notebook(path, *cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_a_broken_notebook_fails_the_build_naming_the_notebook_and_the_cell(tmp_path):
    path = write_notebook(
        tmp_path / "lectures" / "99_broken.ipynb",
        new_markdown_cell("# Broken"),
        new_code_cell("x = 1"),
        new_code_cell("y = undefined_name + 1"),
    )
    with pytest.raises(build_site.BuildError) as error:
        build_site.execute(path, root=tmp_path)
    message = str(error.value)
    assert "lectures/99_broken.ipynb" in message
    assert "cell 3 (counting from 1" in message and "y = undefined_name + 1" in message
    assert "NameError" in message
    assert "\x1b[" not in message, "colour codes should be stripped"


def test_plot_cells_are_folded_and_short_or_tagged_cells_are_left_alone():
    png = {"output_type": "display_data", "data": {"image/png": "AAAA"}, "metadata": {}}
    long_plot = new_code_cell("\n".join(f"line_{i} = {i}" for i in range(10)))
    long_plot.outputs = [nbformat.from_dict(png)]
    short_plot = new_code_cell("plt.plot(x)\nplt.show()")
    short_plot.outputs = [nbformat.from_dict(png)]
    marked = new_code_cell("# plot: the loss\nplt.plot(x)")
    shown = new_code_cell("\n".join(f"line_{i} = {i}" for i in range(10)), metadata={"tags": ["show-input"]})
    shown.outputs = [nbformat.from_dict(png)]
    long_no_plot = new_code_cell("\n".join(f"line_{i} = {i}" for i in range(10)))
    nb = build_site.fold_plot_code(new_notebook(cells=[long_plot, short_plot, marked, shown, long_no_plot]))
    tags = [cell.metadata.get("tags", []) for cell in nb.cells]
    assert tags == [["hide-input"], [], ["hide-input"], ["show-input"], []]


def test_static_interact_makes_one_frame_per_value_and_keeps_errors_on_the_page():
    from ipywidgets import IntSlider, fixed

    def show(n, scale):
        if n == 3:
            raise ValueError("three is not allowed")
        print("n squared is", n * n * scale)

    page = static_interact.static_html(show, {"n": IntSlider(2, 0, 4), "scale": fixed(1)})
    frames = re.findall(r'<div class="si-frame" data-key="(\d+)"( hidden)?>(.*?)</div>', page, re.S)
    assert [key for key, _, _ in frames] == ["0", "1", "2", "3", "4"]
    assert [hidden for _, hidden, _ in frames].count("") == 1, "only the default frame is visible"
    assert "n squared is 4" in dict((k, body) for k, _, body in frames)["2"]
    assert "ValueError: three is not allowed" in dict((k, body) for k, _, body in frames)["3"]
    assert build_site.remote_resources(page) == []


def test_a_large_grid_moves_one_control_at_a_time():
    from ipywidgets import IntSlider

    page = static_interact.static_html(lambda a, b, c: None, {k: IntSlider(1, 0, 8) for k in "abc"})
    keys = re.findall(r'data-key="([\d,]+)"', page)
    assert len(keys) == 1 + 3 * 8 and "one control moves at a time" in page


def test_remote_resource_check_can_fail():
    assert build_site.remote_resources('<script src="https://cdn.example/x.js"></script>')
    assert build_site.remote_resources("<link rel='stylesheet' href='//cdn.example/x.css'>")
    assert build_site.remote_resources("@font-face { src: url(https://fonts.example/a.woff2) }")
    assert not build_site.remote_resources('<a href="https://arxiv.org/abs/1502.03167">paper</a>')


def test_the_clean_tree_check_can_fail(tmp_path):
    """The scratch clone starts clean, and a file a build would leave in it shows in its status."""
    clone = scratch_clone(tmp_path / "clone")
    assert status(clone) == []
    assert (clone / "lectures" / "01_backprop.ipynb").read_bytes() == (ROOT / "lectures/01_backprop.ipynb").read_bytes()
    (clone / "lectures" / "figure.png").write_bytes(b"")  # what a notebook saving a figure would leave
    (clone / "site").mkdir()
    (clone / "site" / "index.html").write_text("")  # site/ is ignored
    assert status(clone) == ["?? lectures/figure.png"]
    # jupyter_execute/ is ignored now (leftovers of older builds): the second check sees it among ignored files.
    (clone / "jupyter_execute").mkdir()
    (clone / "jupyter_execute" / "figure.png").write_bytes(b"")
    ignored = git("status", "--porcelain", "--ignored", cwd=clone).splitlines()
    assert "!! jupyter_execute/" in ignored


@pytest.mark.notebook  # builds the whole site: executes every lecture and seminar
def test_make_site_leaves_the_tree_clean():
    """`make site` in a clone writes the site to site/ (ignored) and leaves nothing else behind: no untracked
    jupyter_execute/ of figures (MyST-NB's, written next to Sphinx's output folder), nothing the notebooks wrote."""
    site = built_site()
    if os.environ.get("DL_COURSE_SITE"):
        pytest.skip("DL_COURSE_SITE names a site built elsewhere: there is no clone to check")
    clone = site.parent
    assert (clone / ".git").is_dir() and (site / "index.html").is_file()
    assert status(clone) == [], "the site build left files in the tree that git would offer to commit"
    ignored = git("status", "--porcelain", "--ignored", cwd=clone).splitlines()
    assert [line for line in ignored if line != "!! site/" and not line.endswith("__pycache__/")] == [], (
        "the site build left ignored files besides site/ (a build product belongs in site/ or a temporary folder)"
    )


@pytest.mark.notebook  # builds the whole site: executes every lecture and seminar
def test_every_lecture_and_seminar_has_a_page_linking_its_notebook():
    site = built_site()
    sources = build_site.notebooks(ROOT)
    assert sources, "no lectures or seminars found"
    index = (site / "index.html").read_text()
    for source in sources:
        page = site / source.parent.name / f"{source.stem}.html"
        assert page.is_file(), f"no page for {source.relative_to(ROOT)}"
        text = page.read_text()
        links = re.findall(r'href="(\.\./_downloads/[^"]+\.ipynb)"', text)
        assert links, f"{page.name} does not link its notebook"
        download = (page.parent / links[0]).resolve()
        assert download.name == source.name and download.is_file()
        assert nbformat.read(download, as_version=4) == nbformat.read(source, as_version=4), (
            "the download should be the committed notebook, outputs-free"
        )
        assert f'href="{source.parent.name}/{source.stem}.html"' in index, f"the landing page misses {source.name}"
        assert 'src="../_static/mathjax/MathJax.js' in text, "MathJax should come from the site itself"


@pytest.mark.notebook  # builds the whole site: executes every lecture and seminar
def test_assignments_page_links_only_the_released_student_versions():
    site = built_site()
    text = (site / "assignments.html").read_text()
    links = re.findall(r'href="(_downloads/[^"]+\.ipynb)"', text)
    folders = sorted(p for p in (ROOT / "assignments").iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert len(links) >= len(folders)
    for link in links:
        source = (site / link).read_text()
        assert "BEGIN SOLUTION" not in source and "BEGIN HIDDEN TESTS" not in source, link
    for page in site.rglob("*.html"):
        assert "### BEGIN SOLUTION" not in page.read_text(), f"{page} shows a reference solution"


@pytest.mark.notebook  # builds the whole site: executes every lecture and seminar
def test_plot_code_is_folded_and_interactive_plots_have_frames():
    site = built_site()
    pages = [p.read_text() for p in site.glob("*/*.html") if p.parent.name in build_site.SECTIONS]
    assert sum(text.count("tag_hide-input") for text in pages) >= 5
    assert any('class="static-interact"' in text for text in pages)


@pytest.mark.notebook  # builds the whole site: executes every lecture and seminar
def test_no_page_loads_anything_from_another_host():
    site = built_site()
    found = {
        str(p.relative_to(site)): hits
        for p in site.rglob("*")
        if p.suffix in {".html", ".css"} and (hits := build_site.remote_resources(p.read_text(errors="replace")))
    }
    assert found == {}
    mathjax = site / "_static" / "mathjax"
    for name in build_site.MATHJAX_CONFIGS:  # MathJax silently renders nothing when a config is missing
        assert (mathjax / "config" / f"{name}.js").is_file() or (mathjax / "extensions" / f"{name}.js").is_file()
