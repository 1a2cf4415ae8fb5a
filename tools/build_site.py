"""Build the course website: every lecture and seminar executed and rendered to HTML.

    python tools/build_site.py [--out site] [--jobs 2]

Math is rendered by a MathJax copy served from the site itself (from the jupyter-server-mathjax
package) and nothing is loaded from a CDN, so the site works offline. Plots made through ipywidgets
(`interact`) are kept as the static picture for the sliders' default values, with a note that the
controls are live in JupyterLab.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from tools.notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {"lectures": "Lectures", "seminars": "Seminars"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX_CONFIG = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"  # the configs jupyter-server-mathjax ships
INTERACTIVE_NOTE = (
    "<p style='font-size:0.85em;color:#666'><em>Interactive in JupyterLab: "
    "this is the output for the controls' default values.</em></p>"
)
# A src/href that makes the browser fetch something from another host when the page loads.
REMOTE_RESOURCE = re.compile(
    r"""(?:<script[^>]*\bsrc|<link[^>]*\bhref|<img[^>]*\bsrc|import\()\s*=?\s*["'](?:https?:)?//""", re.I
)


def execute(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run a notebook in its own folder, keeping ipywidgets' state."""
    return run_notebook(path, timeout=timeout, store_widget_state=True)


def flatten_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace each widget view with what its Output widgets captured, and drop the widget state
    (whose renderer would otherwise be fetched from a CDN)."""
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})

    def captured(model_id: str, seen: set[str]) -> list:
        if model_id in seen or model_id not in state:
            return []
        seen.add(model_id)
        model = state[model_id]
        if model.get("model_name") == "OutputModel":
            return list(model.get("state", {}).get("outputs", []))
        outputs = []
        for child in model.get("state", {}).get("children", []):
            outputs += captured(str(child).replace("IPY_MODEL_", ""), seen)
        return outputs

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        new_outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                new_outputs.append(output)
                continue
            inner = captured(view["model_id"], set())
            if inner:
                new_outputs.append(nbformat.v4.new_output("display_data", data={"text/html": INTERACTIVE_NOTE}))
                new_outputs += [nbformat.from_dict(o) for o in inner]
        cell.outputs = new_outputs
    return nb


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


def render(nb: nbformat.NotebookNode, mathjax_url: str) -> str:
    exporter = HTMLExporter(
        template_name="site_template",
        extra_template_basedirs=[str(ROOT / "tools")],
        mathjax_url=mathjax_url,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


def remote_resources(page: str) -> list[str]:
    """What a page would fetch from another host (should be nothing)."""
    return [page[m.start() : m.end() + 60] for m in REMOTE_RESOURCE.finditer(page)]


def build(out: Path, notebooks: list[Path] | None = None, jobs: int = 2) -> list[Path]:
    """Execute and render ``notebooks`` (default: all lectures and seminars) into ``out``."""
    import jupyter_server_mathjax

    notebooks = (
        notebooks
        if notebooks is not None
        else sorted(p for section in SECTIONS for p in (ROOT / section).glob("*.ipynb"))
    )
    out.mkdir(parents=True, exist_ok=True)
    mathjax_dir = out / "static" / "mathjax"
    if not (mathjax_dir / "MathJax.js").exists():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", mathjax_dir, dirs_exist_ok=True)

    def one(path: Path) -> tuple[Path, str, Path]:
        section = path.parent.name
        nb = flatten_widgets(execute(path))
        page = out / section / path.with_suffix(".html").name
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render(nb, f"../static/mathjax/{MATHJAX_CONFIG}"), encoding="utf-8")
        print(f"  built {page.relative_to(out)}", flush=True)
        return path, title_of(nb, path.stem), page

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, notebooks))

    items = {}
    for path, title, page in results:
        items.setdefault(path.parent.name, []).append(
            f'<li><a href="{page.relative_to(out).as_posix()}">{html.escape(title)}</a></li>'
        )
    body = "".join(f"<h2>{SECTIONS.get(s, s.title())}</h2><ul>{''.join(v)}</ul>" for s, v in items.items())
    (out / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Deep learning, layer by layer</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:3em auto;padding:0 1em;line-height:1.5}"
        "a{color:#1a5fb4}</style></head><body><h1>Deep learning, layer by layer</h1>"
        "<p>Lectures and seminars with their outputs. Each page is an executed Jupyter notebook; "
        "open the same notebook in JupyterLab (<code>make lab</code>) to run it and use its controls.</p>"
        f"{body}</body></html>",
        encoding="utf-8",
    )
    return [page for _, _, page in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "site"))
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    args = parser.parse_args(argv)
    pages = build(Path(args.out), jobs=args.jobs)
    leaks = {p: r for p in pages if (r := remote_resources(p.read_text(encoding="utf-8")))}
    for page, found in leaks.items():
        print(f"error: {page} loads remote resources: {found}", file=sys.stderr)
    print(f"site: {Path(args.out) / 'index.html'} ({len(pages)} pages)")
    return 1 if leaks else 0


if __name__ == "__main__":
    raise SystemExit(main())
