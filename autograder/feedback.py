"""Feedback that keeps hidden tests hidden: ``HideHiddenTests``, a step of nbgrader's GenerateFeedback.

nbgrader renders a student's feedback from the autograded notebook, whose test cells hold the full
test code, hidden part included (nbgrader's issue #917). This preprocessor runs in
``GenerateFeedback.preprocessors`` (see ``nbgrader_config.py``), after ``GetGrades``, and changes
what the HTML shows of each test cell:

- its source keeps the ``# Test: <name> (<N> points)`` header and the visible checks; each region
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` becomes one line,
  ``# hidden tests: not shown``;
- an error output keeps only ``ExceptionName: message`` (``ename``/``evalue``): the message is the
  test author's words for the student, while the traceback's frames quote the lines around the
  failure, hidden ones included;
- stream and display outputs, and the score nbgrader shows per cell, stay as they are.

Other cells keep their tracebacks, minus any frame that quotes a hidden line (student code can call
a function a hidden test defined). The autograded notebook itself is not changed on disk.

The page is the student's work shown to the student and to the instructor, so ``FeedbackExporter``
renders nothing of it that could run: outputs are kept in the formats listed in ``SHOWN_OUTPUTS``
only (no JavaScript, no widgets), HTML outputs and every rendered markdown pass ``clean_html`` (an
allow-list of tags and attributes: no script, no ``on*`` handler, no ``javascript:`` URL), and what
the templates put in attributes unescaped (image sizes, grade ids) is reduced to plain values.

The page loads nothing from another host, so it reads the same offline and tells no third party that a
student opened it. nbgrader's template loads MathJax from a public CDN; ``FeedbackExporter`` gives it
the course's own MathJax 2 instead (jupyter-server-mathjax's, the copy the site ships, with the site's
settings), at ``../../.mathjax/`` from a page ``feedback/<student>/<assignment>/<notebook>.html``.
``ship_mathjax`` puts that copy in a feedback folder, once for the class (a student id never starts
with a dot: ``grade`` skips such folders); a page opened without it shows the TeX as written. Images
are shown from the notebook itself only (``data:`` URIs), never fetched from the web.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import bleach
from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .notebooks import BEGIN_HIDDEN, END_HIDDEN

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded code cell (nbgrader ``grade`` and not ``solution``)."""
    return cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell)


def split_hidden(source: str, placeholder: str) -> tuple[str, list[str]]:
    """``(source with each hidden region replaced by placeholder, the hidden regions' lines)``.

    The placeholder keeps the BEGIN marker's indentation; a region without its END marker runs to
    the end of the cell (hiding too much rather than too little).
    """
    shown, hidden, inside = [], [], False
    for line in source.split("\n"):
        if not inside and BEGIN_HIDDEN in line:
            inside = True
            shown.append(line[: len(line) - len(line.lstrip())] + placeholder)
        elif inside and END_HIDDEN in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            shown.append(line)
    return "\n".join(shown), hidden


def _nontrivial(lines: list[str]) -> set[str]:
    """Hidden lines worth protecting: stripped, not blank, not a lone bracket or keyword."""
    return {s for s in (line.strip() for line in lines) if len(s) > 3}


class HideHiddenTests(NbGraderPreprocessor):
    """Show test cells without their hidden part and without tracebacks (module docstring)."""

    placeholder = Unicode("# hidden tests: not shown", help="The line shown in place of hidden tests.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden: set[str] = set()
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source, lines = split_hidden(cell.source, self.placeholder)
                hidden |= _nontrivial(lines)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error":
                    continue
                if is_test_cell(cell):
                    out.traceback = [f"{out.ename}: {out.evalue}" if out.evalue else out.ename]
                else:
                    out.traceback = [
                        frame for frame in out.traceback if not any(h in ANSI.sub("", frame) for h in hidden)
                    ]
        return nb, resources


class _Unparsed:
    """Stands in for BeautifulSoup in ``FeedbackExporter``: the page as it is."""

    def __init__(self, html: str, features: str | None = None):
        self.html = html

    def select(self, selector: str) -> list:
        return []

    def __str__(self) -> str:
        return self.html


# What a student's output may be shown as; the first two are escaped as text, images are data URIs.
SHOWN_OUTPUTS = {"text/plain", "text/latex", "text/html", "text/markdown", "image/png", "image/jpeg", "image/svg+xml"}
TAGS = {
    *"a abbr b blockquote br caption code col colgroup dd del details div dl dt em figcaption figure hr i".split(),
    *"img ins kbd li mark ol p pre q s samp small span strong sub summary sup table tbody td tfoot th".split(),
    *"thead tr u ul h1 h2 h3 h4 h5 h6".split(),
}
ATTRIBUTES = {"class", "title", "alt", "href", "src", "width", "height", "colspan", "rowspan", "align", "start", "id"}
IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml)[;,]", re.I)


def _allowed(tag: str, name: str, value: str) -> bool:
    if name == "id":  # the anchors of markdown headings
        return tag in {"h1", "h2", "h3", "h4", "h5", "h6"}
    if name == "src":  # images from the notebook itself; one from the web would be a request to another host
        return tag == "img" and IMAGE_DATA.match(value) is not None
    if name == "href" and value.lower().startswith("data:"):
        return False
    return name in ATTRIBUTES


def clean_html(html: str) -> str:
    """``html`` with only the tags of ``TAGS`` and harmless attributes: no script, style, frame or
    form, no event handler, no ``javascript:`` or ``data:`` link, no image from the web (``data:``
    images stay)."""
    return bleach.clean(
        html,
        tags=TAGS,
        attributes=_allowed,
        protocols={"http", "https", "mailto", "data"},
        strip=True,
        strip_comments=True,
    )


def _plain_size(value) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def make_safe(nb: NotebookNode) -> NotebookNode:
    """Reduce what the templates take from the notebook to what cannot run (module docstring); in place."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if isinstance(meta, dict) and "grade_id" in meta:  # written into href and name attributes
            meta["grade_id"] = re.sub(r"[^\w.-]", "_", str(meta["grade_id"]))
        for out in cell.get("outputs", []):
            if "data" not in out:
                continue
            out.data = {k: v for k, v in out.data.items() if k in SHOWN_OUTPUTS and isinstance(v, str)}
            if "text/html" in out.data:
                out.data["text/html"] = clean_html(out.data["text/html"])
            sizes = {}
            for mime, info in out.get("metadata", {}).items():
                if mime in out.data and isinstance(info, dict):
                    sizes[mime] = {k: info[k] for k in ("width", "height") if _plain_size(info.get(k)) is not None}
            out.metadata = sizes
        if "outputs" in cell:
            cell.outputs = [out for out in cell.outputs if out.get("data", True)]  # nothing left to show
    return nb


# -- MathJax from the feedback folder ------------------------------------------------------------
MATHJAX_FOLDER = ".mathjax"  # in the feedback folder, beside the students' folders
MATHJAX_URL = f"../../{MATHJAX_FOLDER}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
# Left out of the copy: what these pages never load. The menu is off, so no other renderer (SVG), no
# other language (localization: English is built in) and no accessibility explorer (a11y) can be chosen.
MATHJAX_LEFT_OUT = ("localization", "extensions/a11y", "jax/output/SVG")

# nbgrader's feedback template calls ``mathjax()`` with no URL (its default is the CDN); the template of
# that name is this one, found before nbconvert's. Settings as the site's (tools/book/conf.py: STIX-Web,
# the only fonts jupyter-server-mathjax ships), delimiters as nbconvert's (a notebook's ``$...$``).
MATHJAX_TEMPLATE = r"""
{%- macro mathjax(url=None) -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], webFont: "STIX-Web", imageFont: null, preferredFont: null,
               linebreaks: {automatic: true}},
  displayAlign: "center",
  messageStyle: "none",
  showMathMenu: false,
  menuSettings: {zoom: "None"}
});
</script>
<script src="MATHJAX_URL"></script>
{%- endmacro %}
""".replace("MATHJAX_URL", MATHJAX_URL)


def mathjax_source() -> Path:
    """jupyter-server-mathjax's MathJax 2 (the folder with ``MathJax.js``)."""
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def ship_mathjax(feedback_dir: Path) -> Path:
    """Copy MathJax into ``feedback_dir/.mathjax`` for the pages under it, unless a copy is there; its path.

    Only what the pages can load is copied (``MATHJAX_LEFT_OUT``), about a third of the package. The
    copy is made beside and renamed into place, so a folder with ``MathJax.js`` in it is complete.
    """
    feedback_dir = Path(feedback_dir)
    dst = feedback_dir / MATHJAX_FOLDER
    if (dst / "MathJax.js").is_file():
        return dst
    src = mathjax_source()
    left_out = {src / part for part in MATHJAX_LEFT_OUT}

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if Path(folder, name) in left_out}

    feedback_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=feedback_dir, prefix=".mathjax-") as tmp:
        shutil.copytree(src, Path(tmp) / "copy", ignore=ignore)
        shutil.rmtree(dst, ignore_errors=True)  # an incomplete copy, if any
        (Path(tmp) / "copy").rename(dst)
    return dst


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, made safe for a student's notebook and without its last pass.

    After the preprocessors (nbgrader's and ours), ``make_safe`` removes what could run in a
    reader's browser, and every markdown rendered passes ``clean_html``.

    The last pass parses the finished page with BeautifulSoup's pure-Python parser only to add ``alt``
    text to images and ``tabindex`` to cells: about a second per feedback page with figures, as
    long as the rest of nbgrader's booking of a submission. Here a regular expression adds the
    ``alt`` text.

    MathJax comes from the feedback folder (``MATHJAX_TEMPLATE``, ``ship_mathjax``), not from a CDN.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_loaders = [DictLoader({"mathjax.html.j2": MATHJAX_TEMPLATE}), *self.extra_loaders]

    def _preprocess(self, nb, resources):
        nb, resources = super()._preprocess(nb, resources)
        return make_safe(nb), resources

    @pass_context
    def markdown2html(self, context, source):
        return clean_html(super().markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        with mock.patch("nbconvert.exporters.html.BeautifulSoup", _Unparsed):
            html, resources = super().from_notebook_node(nb, resources, **kw)
        return re.sub(r"<img(?![^>]*\balt=)", '<img alt="A figure from the notebook"', html), resources
