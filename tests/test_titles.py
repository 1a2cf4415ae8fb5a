"""One name for the course, and one style of title for every notebook.

The course is "Deep learning from the ground up" wherever it is named: the README and CONTRIBUTING.md, the
site (Sphinx's project, the landing page) and the package's description.

A notebook's title is the first line of its first cell, a level-1 heading in the style of
`tools.build_site.TITLE_STYLE`: "Lecture 2: Batch normalisation and dropout". The kind comes from the
folder, the number from the file's or folder's two digits, the separator is ": ", and the title is in
sentence case (capitals only on its first word, acronyms such as CNN and LSTM, and the names in
PROPER_NAMES). The site's sidebar, its syllabus and the README's topic table are made from these titles.
"""

from __future__ import annotations

import re
import tomllib

import nbformat
import pytest

from autograder import scaffold
from conftest import ROOT, course_notebooks
from tools import build_site

COURSE_NAME = "Deep learning from the ground up"
KINDS = {"lectures": "Lecture", "seminars": "Seminar", "assignments": "Assignment"}
# Words a title may capitalise besides its first and all-capital acronyms; add a name here when a title needs it.
PROPER_NAMES = {"PyTorch", "NumPy", "ImageNet", "ResNet", "LeNet", "AlexNet", "VGG", "Adam"}


def title_line(path) -> str:
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0] if nb.cells else None
    assert first is not None and first.cell_type == "markdown", "the first cell should be the title, in markdown"
    line = first.source.split("\n", 1)[0]
    assert line.startswith("# "), f"the first cell should start with a level-1 heading, not {line!r}"
    return line[2:]


def expected_kind_and_number(path) -> tuple[str, int]:
    relative = path.relative_to(ROOT)
    folder = relative.parts[0]
    numbered = relative.parts[1] if folder == "assignments" else relative.name  # assignments/NN_topic/name.ipynb
    return KINDS[folder], int(numbered[:2])


def style_problems(title: str, kind: str, number: int) -> list[str]:
    """What is wrong with `title` for the notebook of that kind and number (nothing: an empty list)."""
    styled = build_site.TITLE_STYLE.fullmatch(title)
    expected = f"{kind} {number}: "
    if not styled:
        return [f"{title!r} should read {expected!r} followed by the title in sentence case"]
    problems = []
    if (styled["kind"], int(styled["number"])) != (kind, number):
        problems.append(f"{title!r} should start {expected!r} (its folder and number)")
    for word in re.findall(r"[A-Za-z][\w'-]*", styled["title"])[1:]:
        if word[0].isupper() and not word.isupper() and word not in PROPER_NAMES:
            problems.append(f"{word!r} in {title!r}: titles are in sentence case (or add a name to PROPER_NAMES)")
    return problems


@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_notebook_title_has_the_course_style(path):
    kind, number = expected_kind_and_number(path)
    assert style_problems(title_line(path), kind, number) == []


def test_the_style_check_can_fail():
    assert style_problems("Lecture 2: Batch normalisation and dropout", "Lecture", 2) == []
    assert style_problems("Lecture 4: CNN architectures, transfer learning", "Lecture", 4) == []
    for wrong in (
        "Lecture 2 — Batch normalisation and dropout",
        "Lecture 2. Batch normalisation and dropout",
        "Lecture 2 · Batch normalisation and dropout",
        "Lecture 2: batch normalisation and dropout",
        "Lecture 2:  Batch normalisation and dropout",
        "Lecture 02: Batch normalisation and dropout",
    ):
        assert style_problems(wrong, "Lecture", 2), wrong
    assert style_problems("Lecture 2: Batch Normalization and Dropout", "Lecture", 2)
    assert style_problems("Seminar 2: Batch normalisation and dropout", "Lecture", 2)
    assert style_problems("Lecture 3: Batch normalisation and dropout", "Lecture", 2)


def test_the_scaffold_writes_titles_in_the_course_style():
    """A topic made with `python -m autograder new` starts with titles that pass the check above."""
    for template, kind in (
        (scaffold.LECTURE, "Lecture"),
        (scaffold.SEMINAR, "Seminar"),
        (scaffold.ASSIGNMENT, "Assignment"),
    ):
        title = template[0].format(n=6, title="Attention").split("\n", 1)[0][2:]
        assert style_problems(title, kind, 6) == [], title


def test_the_sidebar_caption_is_the_title_without_its_prefix():
    pages = {
        "lectures/02_batchnorm_dropout": "Lecture 2: Batch normalisation and dropout",
        "seminars/02_batchnorm_dropout": "Seminar 2: Batch normalisation, dropout and other training heuristics",
    }
    _, trees = build_site.syllabus_and_toctrees(pages, [], ROOT)
    assert ":caption: 2. Batch normalisation and dropout\n" in trees


def test_the_course_has_one_name():
    readme = (ROOT / "README.md").read_text().split("\n", 1)[0]
    assert readme == f"# {COURSE_NAME}", f"README.md's title should be the course's name, {COURSE_NAME!r}"
    landing = (ROOT / "tools" / "book" / "index.md").read_text().split("\n", 1)[0]
    assert landing == f"# {COURSE_NAME}", "the site's landing page (tools/book/index.md)"
    conf = (ROOT / "tools" / "book" / "conf.py").read_text()
    assert re.search(rf'^project = "{COURSE_NAME}"$', conf, re.M), "the site's Sphinx project (tools/book/conf.py)"
    assert "html_title = project" in conf
    description = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["description"]
    assert description.startswith(f"{COURSE_NAME}:"), "pyproject.toml's description"
    contributing = (ROOT / "CONTRIBUTING.md").read_text().split("\n", 1)[0]
    assert contributing == f"# Contributing to {COURSE_NAME}"
    assert "](CONTRIBUTING.md)" in (ROOT / "README.md").read_text(), "the README should link CONTRIBUTING.md"
