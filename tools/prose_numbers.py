"""Numbers in a notebook's prose that no nearby output or code shows: figures typed in by hand.

The course's rule is that every number the prose states is computed in the notebook and quoted from
the run (or asserted where it is quoted). ``unquoted(nb)`` reads an *executed* notebook and returns
each number of a markdown cell that appears neither in the outputs nor in the code of the code cells
around it (``NEAR`` cells before and after), as ``(cell index, number as written, context)``.

What does not count as a stated figure: numbers inside LaTeX maths (formulas, their constants and
worked arithmetic), inside code spans and headings, small integers (``SMALL``: counts and
exponents), years, angles, section and figure references and model names (``ResNet-18``), a
paper's figures in a sentence that cites it (``He et al. 2015``: the citation is what holds them), an
assignment's points and count of test cells (``tests/test_assignments.py`` checks both), and the
allow-listed constants of ``ALLOWED``. A number matches an output or code
number when it is that number rounded to the precision it is written with (``0.426`` matches
``0.42631``; ``12.2%`` matches ``12.2 %`` and ``0.122``).

    python -m tools.prose_numbers NOTEBOOK.ipynb      # executes it, prints what is unquoted
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from nbformat import NotebookNode

NEAR = 3  # code cells before and after a markdown cell whose outputs and code may quote its numbers
SMALL = 10  # integers up to this are counts ("two layers"), not figures
# Constants the prose may state without a run: definitions and conventions, not measurements.
ALLOWED = {
    "0.5",  # a half
    "1e-5",  # BatchNorm's and LayerNorm's default eps
    "0.9",  # momentum's and beta1's defaults
    "0.999",  # beta2's default
    "1e-8",  # Adam's default eps
    "0.1",  # BatchNorm's default momentum
    "0.01",  # LeakyReLU's default slope
    "1e-3",  # Adam's default learning rate
    "255",  # the largest 8-bit grey level
    "64",  # 8 x 8 pixels
    "100",  # a percent
    "1000",  # ImageNet's classes
}
NUMBER = re.compile(
    r"(?<![\w.$^_{\\])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s?[%×x](?!\w))?(?![\w}])"
)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|\\\[.*?\\\]|\\\(.*?\\\)", re.S)
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
LINK = re.compile(r"\]\([^)]*\)|<[^>]+>|https?://\S+")
REFERENCE = re.compile(
    r"(?:§|section|sections|cell|cells|part|parts|figure|fig\.|table|eq\.|equation|chapter|lecture|seminar|"
    r"assignment|topic|step|exercise|question|version|v|layer|appendix|algorithm|et al\.?|and)\s*\(?$",
    re.I,
)


def _value(text: str) -> tuple[float, float, bool]:
    """(value, half a unit of its last written digit, whether it is a percentage)."""
    text, _, scale = text.partition("*")
    if scale:
        value, half, percent = _value(text)
        return value * SCALES[scale], half * SCALES[scale], percent
    percent = text.rstrip().endswith("%")
    core = re.sub(r"[%×x\s]", "", text).replace(",", "")
    mantissa, _, exponent = core.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    value = float(core)
    unit = 10.0 ** (-decimals) * (10.0 ** int(exponent) if exponent else 1.0)
    return value, unit / 2, percent


def _numbers(text: str) -> list[float]:
    values = []
    for match in NUMBER.finditer(re.sub(r"(?<=\d)_(?=\d)", "", text)):  # code's 10_000
        try:
            values.append(_value(match.group())[0])
        except ValueError:
            continue
    return values


SCALE = re.compile(r"\s*(thousand|million|billion)\b", re.I)
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
POINTS = re.compile(r"\**\s*(?:points?|test cells?)\b")
HEADING = re.compile(r"^\s{0,3}#.*$", re.M)
ANGLE = re.compile(r"\s?(?:°|degrees?\b)")


# A sentence that cites a paper ("He et al. (2015, Table 2)", "Simonyan and Zisserman 2015, §2.3")
# states that paper's figures: the rule for those is the citation, checked by reading the paper.
CITATION = re.compile(r"[A-Z][\w-]+(?: et al[._]?| and [A-Z][\w-]+)?,? \(?(?:19|20)\d\d\b")


def _cited_spans(text: str) -> list[tuple[int, int]]:
    """The sentences (and table rows) of ``text`` that carry a citation."""
    spans = []
    # Abbreviations keep their sentence whole (same length, so positions still match the text).
    text = re.sub(r"\b(?:et al|e\.g|i\.e|vs|Fig|Eq|cf)\.", lambda m: m.group().replace(".", "_"), text)
    for line in re.finditer(r"[^\n]+", text):
        row = line.group()
        if row.lstrip().startswith("|") and CITATION.search(row):
            spans.append((line.start(), line.end()))  # a table row: the citation covers the row
    for sentence in re.finditer(r"(?:[^.!?]|[.!?](?!\s|$))+[.!?]?", text):  # 27.94 is not an end
        if CITATION.search(sentence.group()):
            spans.append((sentence.start(), sentence.end()))
    return spans


def _stated(markdown: str) -> list[tuple[str, str]]:
    """The numbers of a markdown cell that state a figure, with some words around each."""
    text = LINK.sub(" ", CODE.sub(" ", MATH.sub(" ", HEADING.sub(" ", markdown))))
    cited = _cited_spans(text)
    found = []
    for match in NUMBER.finditer(text):
        if any(start <= match.start() < end for start, end in cited):
            continue
        written = match.group().strip()
        before = text[max(0, match.start() - 12) : match.start()]
        try:
            value, _, percent = _value(written)
        except ValueError:
            continue
        if REFERENCE.search(before.rstrip()) or re.search(r"[A-Za-z]-?$", before):
            continue  # "§3", "section 8", "Figure 2", "ResNet-50", "v2"
        if POINTS.match(text, match.end()) or "**total**" in text[text.rfind("\n", 0, match.start()) : match.start()]:
            continue  # an assignment's points, which tests/test_assignments.py adds up
        if not percent and value == int(value) and "." not in written and "e" not in written.lower():
            if value <= SMALL or 1900 <= value <= 2030:
                continue
        if written.rstrip("%× x").strip() in ALLOWED or ANGLE.match(text, match.end()):
            continue
        scale = SCALE.match(text, match.end())
        if scale:
            written = f"{written}*{scale.group(1).lower()}"
        context = text[max(0, match.start() - 40) : match.end() + 20].replace("\n", " ")
        found.append((written, context))
    return found


def _matches(written: str, shown: list[float]) -> bool:
    value, half, percent = _value(written)
    candidates = [value, value / 100] if percent else [value]
    for target in candidates:
        tolerance = half / 100 if (percent and target is not value) else half
        for number in shown:
            if math.isclose(number, target, rel_tol=1e-9, abs_tol=tolerance * 1.0001):
                return True
    return False


def _cell_text(cell: NotebookNode) -> str:
    parts = [cell.source]
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(output["text"] if isinstance(output["text"], str) else "".join(output["text"]))
        for key in ("text/plain", "text/markdown", "text/html"):
            data = output.get("data", {}).get(key)
            if data:
                parts.append(data if isinstance(data, str) else "".join(data))
    return "\n".join(parts)


def unquoted(nb: NotebookNode) -> list[tuple[int, str, str]]:
    """Each stated number of ``nb``'s markdown that no code cell within ``NEAR`` shows."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        before = [i for i in code if i < index][-NEAR:]
        after = [i for i in code if i > index][:NEAR]
        shown = [v for i in before + after for v in _numbers(_cell_text(nb.cells[i]))]
        stated = _stated(cell.source)
        found += [(index, written, context) for written, context in stated if not _matches(written, shown)]
    return found


def main(argv: list[str]) -> int:
    from tools.notebooks import run_notebook

    missing = 0
    for path in argv:
        nb = run_notebook(Path(path))
        for index, written, context in unquoted(nb):
            print(f"{path}: cell {index + 1}: {written!r} in ...{context}...")
            missing += 1
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
