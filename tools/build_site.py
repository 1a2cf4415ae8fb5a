"""Build the course website: a Sphinx book (MyST-NB, sphinx-book-theme) of every lecture and seminar.

    python tools/build_site.py [--out site] [--jobs 2]      (or `make site`; then open site/index.html)

What it does, in order:
1. executes every lectures/*.ipynb and seminars/*.ipynb (whatever exists: the toctree is a glob) in a fresh
   kernel, `jobs` at a time; ipywidgets' `interact` is replaced in the kernel by precomputed frames behind
   plain HTML sliders (tools/static_interact.py), so a slider changes the picture without a kernel. A cell
   that raises stops the build with the notebook's path, the cell's number and id, and the error;
2. folds plot-making code: a code cell that draws a figure and has more than FOLD_LINES lines, or whose
   first line is `# plot`, gets the `hide-input` tag (the figure stays, the code is one click away);
   cells already tagged hide-input/remove-input/show-input keep their tags. The notebooks are not edited;
3. stages a Sphinx source folder: tools/book/ (conf.py, index.md, _static/), the executed notebooks, each
   with a download link to its committed (output-free) notebook, the generated syllabus and per-topic
   toctrees, and an Assignments page that links the released student versions only
   (`python -m autograder release`);
4. runs Sphinx in the scratch folder (the figures MyST-NB extracts, its `jupyter_execute/`, stay there),
   moves the HTML to `--out`, copies MathJax (jupyter-server-mathjax's MathJax 2) into _static/mathjax, and
   fails if any page would load something from another host.

Nothing is written outside `--out` and a temporary folder: a build leaves a clone's `git status` clean
(tests/test_site.py builds the site in a scratch clone and checks it).

Search is Sphinx's own (a script-tag index), so it works from file:// and from a static server.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from tools.notebooks import KERNEL_ARGUMENTS, NOTEBOOK_CELL_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(__file__).resolve().parent / "book"
SECTIONS = ("lectures", "seminars")
FOLD_LINES = 6  # plot cells longer than this are folded
KEEP_TAGS = {"hide-input", "remove-input", "show-input", "remove-cell", "hide-cell"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SETUP_CELL = "from tools.static_interact import install as _site_install\n_site_install()\ndel _site_install"
# The course's one style of notebook title (the first heading; tests/test_titles.py holds every notebook to it,
# and `python -m autograder new` writes it): "Lecture 2: Batch normalisation and dropout".
TITLE_STYLE = re.compile(r"(?P<kind>Lecture|Seminar|Assignment) (?P<number>[1-9]\d*): (?P<title>[A-Z0-9].*\S)")
MATHJAX_CONFIGS = ("TeX-AMS-MML_HTMLorMML-full", "Safe")  # named in tools/book/conf.py's mathjax_path
# A src/href that makes the browser fetch something from another host when the page loads.
REMOTE_RESOURCE = re.compile(
    r"""(?:<script[^>]*\bsrc|<link[^>]*\bhref|<img[^>]*\bsrc|<iframe[^>]*\bsrc|import\(|url\()\s*=?\s*["']?"""
    r"""(?:https?:)?//""",
    re.I,
)


class BuildError(RuntimeError):
    """A notebook did not execute, or a page would load something from another host."""


def notebooks(root: Path = ROOT) -> list[Path]:
    """Every lecture and seminar, in topic order."""
    return sorted((p for section in SECTIONS for p in (root / section).glob("*.ipynb")), key=lambda p: (p.stem, p))


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


def first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    return lines[0].strip()[:80] if lines else ""


def execute(path: Path, root: Path = ROOT, timeout: int = NOTEBOOK_CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run the notebook in its own folder with the static `interact`; a failing cell raises BuildError."""
    nb = nbformat.read(path, as_version=4)
    setup = nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": ["remove-cell"]})
    nb.cells.insert(0, setup)
    current = {"index": 0}

    def on_cell_start(cell, cell_index, **_):
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        extra_arguments=KERNEL_ARGUMENTS,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=on_cell_start,
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        index = current["index"]
        cell = nb.cells[index]
        where = _relative(path, root)
        if index == 0:
            raise BuildError(f"{where}: the site's setup cell failed: {error}") from error
        summary = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip().splitlines()
        detail = "\n".join(summary[-12:])
        raise BuildError(
            f"{where}: cell {index} (counting from 1; id {cell.get('id', '?')}, "
            f"starting `{first_line(cell.source)}`) failed "
            f"while building the site:\n{detail}"
        ) from error
    nb.cells.pop(0)
    return nb


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def draws_a_figure(cell: nbformat.NotebookNode) -> bool:
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if (
            "image/png" in data
            or "image/svg+xml" in data
            or 'class="static-interact"' in str(data.get("text/html", ""))
        ):
            return True
    return False


def fold_plot_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Tag plot-making cells `hide-input` (see the module docstring for the rule)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if KEEP_TAGS & set(tags):
            continue
        lines = [line for line in cell.source.splitlines() if line.strip()]
        marked = bool(lines) and re.match(r"#\s*plot\b", lines[0], re.I)
        if marked or (draws_a_figure(cell) and len(lines) > FOLD_LINES):
            tags.append("hide-input")
    return nb


def tidy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what needs a kernel on the page: widget views (tqdm's bars) and the widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    return nb


def add_download_link(nb: nbformat.NotebookNode, target: str) -> nbformat.NotebookNode:
    """A line under the page title linking the committed notebook (`target` is from the source root)."""
    link = nbformat.v4.new_markdown_cell(
        f'<span class="course-download">Download this notebook: {{download}}`{Path(target).name} <{target}>` '
        "(without outputs; open it in JupyterLab with `make lab`).</span>"
    )
    position = (
        1 if nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("#") else 0
    )
    nb.cells.insert(position, link)
    return nb


def release_assignments(dest: Path) -> list[Path]:
    """The student versions of every assignment (python -m autograder release), as notebooks under dest."""
    subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--out", str(dest)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return sorted(dest.glob("*/*.ipynb"))


def topic_number(stem: str) -> str:
    match = re.match(r"(\d+)", stem)
    return match.group(1) if match else stem


def syllabus_and_toctrees(pages: dict[str, str], released: list[Path], released_root: Path) -> tuple[str, str]:
    """Markdown for the landing page: the syllabus table and one hidden toctree per topic.

    pages: docname ("lectures/01_backprop") -> title.
    """
    topics: dict[str, dict[str, str]] = {}
    for docname in pages:
        section, stem = docname.split("/")
        topics.setdefault(topic_number(stem), {})[section] = docname
    assignments = {topic_number(p.parent.name): p for p in released}
    rows = ["| Topic | Lecture | Seminar | Assignment |", "| --- | --- | --- | --- |"]
    trees = []
    for number in sorted(set(topics) | set(assignments)):
        docs = topics.get(number, {})
        cells = []
        for section in SECTIONS:
            doc = docs.get(section)
            cells.append(f"[{pages[doc]}]({doc}.ipynb)" if doc else "")
        label = int(number) if number.isdigit() else number
        if number in assignments:
            cells.append(f"[Assignment {label}](assignments.md#assignment-{number})")
        else:
            cells.append("")
        rows.append(f"| {int(number) if number.isdigit() else number} | " + " | ".join(cells) + " |")
        if docs:
            name = docs.get("lectures") or docs.get("seminars")
            styled = TITLE_STYLE.fullmatch(pages[name])
            caption = styled["title"] if styled else pages[name]
            entries = "\n".join(docs[s] for s in SECTIONS if s in docs)
            label = int(number) if number.isdigit() else number
            trees.append(f"```{{toctree}}\n:caption: {label}. {caption}\n:hidden:\n\n{entries}\n```")
    trees.append("```{toctree}\n:caption: Assignments\n:hidden:\n\nassignments\n```")
    return "\n".join(rows), "\n\n".join(trees)


def assignments_page(released: list[Path], released_root: Path) -> str:
    parts = [
        "# Assignments\n",
        "Each assignment is a notebook: fill in the functions between the markers, run it, press **Validate** in "
        "JupyterLab's toolbar (nbgrader) to run the visible tests, and hand it in. Only the student versions are "
        "here; the hidden tests run when it is graded.\n",
    ]
    for path in released:
        number = topic_number(path.parent.name)
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(released_root.parent).as_posix()
        parts.append(f"({'assignment-' + number})=\n## {title_of(nb, path.parent.name)}\n")
        parts.append(f"{{download}}`Download {path.name} (student version) </{rel}>`\n")
    return "\n".join(parts)


def remote_resources(page: str) -> list[str]:
    """Every place in an HTML page (or CSS/JS) that makes the browser fetch from another host on load."""
    return REMOTE_RESOURCE.findall(page)


def mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def build(
    out: Path, sources: list[Path] | None = None, jobs: int = 2, root: Path = ROOT, assignments: bool = True
) -> Path:
    """Build the site into `out` and return its index.html. sources defaults to every lecture and seminar."""
    sources = notebooks(root) if sources is None else [Path(p) for p in sources]
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="course-book-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(BOOK, src)
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            executed = list(pool.map(lambda p: execute(p, root), sources))
        pages = {}
        for path, nb in zip(sources, executed):
            section = path.parent.name if path.parent.name in SECTIONS else "lectures"
            docname = f"{section}/{path.stem}"
            original = src / "_notebooks" / section / path.name
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, original)
            nb = add_download_link(fold_plot_code(tidy(nb)), f"/_notebooks/{section}/{path.name}")
            (src / section).mkdir(exist_ok=True)
            nbformat.write(nb, src / f"{docname}.ipynb")
            pages[docname] = title_of(nb, path.stem)
        released_root = src / "_released"
        released = release_assignments(released_root) if assignments else []
        (src / "assignments.md").write_text(assignments_page(released, released_root))
        syllabus, toctrees = syllabus_and_toctrees(pages, released, released_root)
        index = (src / "index.md").read_text()
        (src / "index.md").write_text(index.replace("{syllabus}", syllabus).replace("{toctrees}", toctrees))

        # Sphinx writes into the scratch folder: MyST-NB puts the figures it extracts in `jupyter_execute/`
        # NEXT TO its output folder, which for `--out site` was the project root (hundreds of untracked PNGs).
        html = Path(tmp) / "build" / "html"
        command = [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            "-d",
            str(Path(tmp) / "build" / "doctrees"),
            str(src),
            str(html),
        ]
        result = subprocess.run(command, cwd=src, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"sphinx failed:\n{result.stdout}\n{result.stderr}")
        if result.stderr.strip():
            print(result.stderr, file=sys.stderr)
        shutil.rmtree(html / ".doctrees", ignore_errors=True)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(html, out)
    shutil.copytree(mathjax_dir(), out / "_static" / "mathjax", dirs_exist_ok=True)
    remote = {
        str(p.relative_to(out)): found
        for p in out.rglob("*")
        if p.suffix in {".html", ".css"} and (found := remote_resources(p.read_text(errors="replace")))
    }
    if remote:
        raise BuildError(f"pages would load from another host: {remote}")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        index = build(args.out, jobs=args.jobs)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {index} in {time.perf_counter() - start:.0f} s; open it in a browser")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
