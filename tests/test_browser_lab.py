"""The student's workflow in JupyterLab, in a real browser (Debian's chromium driven by Playwright).

JupyterLab starts from the course's environment on a free local port with a token, in a scratch folder
holding the released (student) assignments and a seminar. The tests open a released assignment, run all
its cells, press nbgrader's Validate button (which must report the failing tests of the blank notebook),
and see an ipywidgets slider render in the seminar.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser import browser_context, free_port, require_browser

from conftest import ROOT

pytestmark = [pytest.mark.xdist_group("lab"), pytest.mark.slow]
SEMINAR = "01_backprop.ipynb"  # its interact() sliders are the widget to see


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    home = tmp_path_factory.mktemp("lab")
    subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--out", str(home / "release")],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (home / "seminars").mkdir()
    shutil.copy2(ROOT / "seminars" / SEMINAR, home / "seminars" / SEMINAR)
    # every cell in the DOM (JupyterLab 4 otherwise renders only the cells near the viewport)
    settings = home / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / ".runtime"), PYTHONPATH=str(ROOT))
    jupyter = Path(sys.executable).parent / "jupyter"
    log = open(home / "lab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--no-browser",
            "--allow-root",  # CI runs as root
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home}",
            f"--LabApp.workspaces_dir={home / '.workspaces'}",
            f"--LabApp.user_settings_dir={home / '.settings'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        with browser_context(viewport={"width": 1400, "height": 1000}) as context:
            requests: list[str] = []
            context.on("request", lambda request: requests.append(request.url))
            yield dict(base=base, token=token, home=home, context=context, requests=requests)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def open_notebook(lab, relative: str):
    page = lab["context"].new_page()
    page.goto(f"{lab['base']}/lab/tree/{relative}?token={lab['token']}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=90_000)
    return page


def run_all(page):
    """Run > Run All Cells once the kernel is connected; again if nothing started (a click that lands
    before the kernel's session is wired up is dropped)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".jp-StatusBar-Widget").filter(has_text="Idle").first.wait_for(timeout=120_000)
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(STARTED, timeout=30_000)
            return
        except PlaywrightTimeout:
            continue
    pytest.fail("Run > Run All Cells started no cell")


STARTED = (
    "() => Array.from(document.querySelectorAll('.jp-InputArea-prompt'))"
    ".some(p => /\\[(\\d+|\\*)\\]/.test(p.textContent))"
)


def released_assignment(lab) -> str:
    notebooks = sorted((lab["home"] / "release").glob("*/*.ipynb"))
    assert notebooks, "python -m autograder release wrote no notebook"
    return notebooks[0].relative_to(lab["home"]).as_posix()


def test_a_released_assignment_runs_and_validate_reports_the_failing_tests(lab):
    page = open_notebook(lab, released_assignment(lab))
    run_all(page)
    # a blank notebook: the cells before the first test run, and the first test fails on the stub
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    try:
        error.first.wait_for(timeout=180_000)
    finally:
        page.screenshot(path=str(lab["home"] / "run-all.png"), full_page=True)
    assert "NotImplementedError" in error.first.inner_text()
    counts = page.locator(".jp-InputArea-prompt").all_inner_texts()
    assert sum(1 for c in counts if c.strip("[]: ").isdigit()) >= 2, counts

    page.get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    dialog.locator(".jp-Dialog-body").filter(has_text="failed").first.wait_for(timeout=180_000)
    text = dialog.inner_text()
    page.screenshot(path=str(lab["home"] / "validate.png"))
    assert "Validation" in text or "failed" in text, text
    assert "NotImplementedError" in text, text


def test_a_widget_renders_in_a_seminar(lab):
    page = open_notebook(lab, f"seminars/{SEMINAR}")
    run_all(page)
    slider = page.locator(".jp-OutputArea .widget-slider, .jp-OutputArea .jupyter-widgets .slider-container")
    slider.first.wait_for(timeout=180_000)
    slider.first.scroll_into_view_if_needed()
    assert slider.first.is_visible()
    page.screenshot(path=str(lab["home"] / "widget.png"))


def test_jupyterlab_requested_nothing_from_another_host(lab):
    elsewhere = [
        u for u in lab["requests"] if urlparse(u).hostname not in (None, "127.0.0.1") and not u.startswith("data:")
    ]
    assert elsewhere == []
