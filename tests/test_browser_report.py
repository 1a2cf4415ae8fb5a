"""The instructor's report and the students' feedback in a real browser (Debian's chromium driven by
Playwright, tests/browser.py), with the network off.

- Feedback (autograder/feedback.py): a page rendered as nbgrader's GenerateFeedback renders it, in a
  feedback folder with its MathJax copy, has its formulas typeset and requests nothing but files of
  that folder.
- The report (autograder/report.py) of a generated class of 200 students (``ClassData`` made up
  directly: nothing is graded): it renders in seconds, its tables sort, a bar of a histogram shows its
  students, a student's view opens from a name and from its address, every feedback link resolves to a
  file, and nothing is requested but the page.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import pytest
from browser import browser_context
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from test_feedback import render_feedback

from autograder.feedback import MATHJAX_FOLDER, ship_mathjax
from autograder.notebooks import tag_notebook
from autograder.report import FAILED, NOT_ATTEMPTED, PASSED, ClassData, Outcome, render_html, summarize

pytestmark = [pytest.mark.xdist_group("report-browser"), pytest.mark.slow]


def expect(target):
    """Playwright's ``expect`` (imported here: without Playwright, tests/browser.py says what to install)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


WAIT_FOR_MATHJAX = "() => new Promise(done => MathJax.Hub.Queue(() => done(true)))"


def local(url: str, folder: Path) -> bool:
    """Whether a request of the page is a file under ``folder`` (MathJax's font test asks for about:blank)."""
    parsed = urlparse(url)
    return url == "about:blank" or (parsed.scheme == "file" and Path(unquote(parsed.path)).is_relative_to(folder))


@pytest.fixture(scope="module")
def browser():
    """One chromium for the module, offline."""
    with browser_context(offline=True, viewport={"width": 1300, "height": 900}) as context:
        yield context


# -- feedback ------------------------------------------------------------------------------------
def test_feedback_typesets_its_formulas_offline_from_the_feedback_folder(tmp_path, browser):
    nb = tag_notebook(
        new_notebook(
            cells=[
                new_markdown_cell(
                    "# Softmax\nThe loss is $L = -\\sum_i y_i \\log p_i$, and\n"
                    "$$\\frac{\\partial L}{\\partial z_i} = p_i - y_i.$$\n![a figure](https://example.com/figure.png)"
                ),
                new_code_cell("def softmax(z):\n    ### BEGIN SOLUTION\n    return z\n    ### END SOLUTION"),
                new_code_cell("# Test: softmax (2 points)\nassert False"),
            ]
        )
    )
    said = "AssertionError: the sum costs $5 and $6"  # shown as written, in the error output
    nb.cells[2].outputs = [new_output("error", ename="AssertionError", evalue=said[16:], traceback=[said])]
    for cell in nb.cells:  # what nbgrader's GetGrades adds before the page is rendered
        if cell.metadata["nbgrader"].get("grade"):
            cell.metadata["nbgrader"]["score"] = 0.0
    feedback = tmp_path / "feedback"
    page = feedback / "ann" / "01_backprop" / "backprop.html"
    page.parent.mkdir(parents=True)
    page.write_text(render_feedback(nb), encoding="utf-8")
    ship_mathjax(feedback)
    requests: list[str] = []
    tab = browser.new_page()
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(page.as_uri())
    tab.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=20_000)
    tab.evaluate(WAIT_FOR_MATHJAX)
    assert tab.locator(".MathJax").count() >= 1 and tab.locator(".MathJax_Display").count() == 1
    raw = tab.evaluate("() => document.querySelector('.rendered_html').innerText")
    assert "\\sum" not in raw and "\\frac" not in raw, raw
    error = tab.locator(".output_error").inner_text()
    assert said in error and tab.locator(".output_error .MathJax").count() == 0, "not typeset"
    assert tab.locator("img[src^='http']").count() == 0
    tab.close()
    mathjax = feedback / MATHJAX_FOLDER
    assert any(urlparse(u).path.endswith("/MathJax.js") for u in requests), requests
    assert any(u.endswith(".woff?V=2.7.9") for u in requests), "the web fonts come from the copy"
    assert all(local(u, feedback) for u in requests), [u for u in requests if not local(u, feedback)]
    assert all(local(u, mathjax) for u in requests if u not in (page.as_uri(), "about:blank"))


# -- a class of 200 ------------------------------------------------------------------------------
ASSIGNMENTS = {  # assignment -> notebook, tests; each test -> (points, the mistakes its checks can name)
    "01_backprop": (
        "backprop.ipynb",
        {
            "test-linear_forward": (2, ["the weights are not transposed", "the bias is added twice"]),
            "test-linear_backward": (3, ["dw is not summed over the batch", "dx uses w instead of w.T"]),
            "test-relu_backward": (2, ["the gradient passes where x < 0"]),
            "test-softmax_loss": (3, ["the maximum is not subtracted before exp", "the loss is not averaged"]),
            "test-adam": (3, ["the bias correction uses t = 0", "the bias is added twice"]),
            "test-mlp": (4, []),
        },
    ),
    "02_batchnorm_dropout": (
        "batchnorm_dropout.ipynb",
        {
            "test-batchnorm_forward": (3, ["the variance is unbiased (ddof=1)", "running statistics not updated"]),
            "test-batchnorm_backward": (4, ["the mean's path through the variance is left out"]),
            "test-dropout_forward": (2, ["the kept units are not scaled by 1/p"]),
            "test-layernorm": (3, ["normalised over the batch instead of the features"]),
        },
    ),
    "03_convolutions": (
        "convolutions.ipynb",
        {
            "test-conv_forward": (4, ["the filter is flipped (a convolution, not a cross-correlation)"]),
            "test-conv_backward": (4, ["db is not summed over the positions"]),
            "test-maxpool_backward": (3, ["every element of the window gets the gradient"]),
        },
    ),
}
ODD_NAMES = ["o'brien & <i>sons", "ana maría", 'x" onclick="alert(1)', "名前", "a?b#c%20d"]
REASONS = ["flagged", "tampering", "timeout", "kernel-died", "overridden"]


def make_class(out: Path, size: int = 200, seed: int = 0) -> ClassData:
    """A made-up class: students of every kind (strong, weak, blank, absent), named mistakes drawn
    from each test's list, flags on some submissions, and a feedback page for every graded one."""
    rng = random.Random(seed)
    students = [f"s{k:03d}" for k in range(size - len(ODD_NAMES))] + ODD_NAMES
    data = ClassData(students=students, tests={})
    for assignment, (notebook, tests) in ASSIGNMENTS.items():
        data.tests[assignment] = {t: (notebook, float(p)) for t, (p, _) in tests.items()}
        data.max_scores[assignment] = float(sum(p for p, _ in tests.values()))
        data.scores[assignment], data.outcomes[assignment] = {}, {}
        for student in students:
            kind = rng.random()
            if kind < 0.03:
                continue  # did not submit
            skill = rng.uniform(0.2, 1.0)
            mine = {}
            for test, (points, named) in tests.items():
                if kind < 0.08:
                    mine[test] = Outcome(0.0, NOT_ATTEMPTED)
                elif rng.random() < skill:
                    mine[test] = Outcome(float(points), PASSED)
                elif named and rng.random() < 0.7:
                    mistake = rng.choice(named)
                    mine[test] = Outcome(0.0, FAILED, f"AssertionError: Likely mistake: {mistake}", mistake)
                else:
                    mine[test] = Outcome(0.0, FAILED, f"AssertionError: {test[5:]} returned the wrong shape")
            data.outcomes[assignment][student] = mine
            data.scores[assignment][student] = sum(o.score for o in mine.values())
            page = out / "feedback" / student / assignment / notebook.replace(".ipynb", ".html")
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"<!DOCTYPE html><title>feedback</title><p>{len(mine)} tests</p>", encoding="utf-8")
            link = "/".join(quote(part) for part in page.relative_to(out).parts)
            data.feedback.setdefault(student, {}).setdefault(assignment, []).append(link)
            if rng.random() < 0.06 or student in ODD_NAMES[:2]:
                reason = rng.choice(REASONS)
                said = f"{assignment} {reason}: the grader's words <script>alert(2)</script>"
                data.problems.append({"student": student, "assignment": assignment, "reason": reason, "message": said})
    data.problems.append({"student": "stray.txt", "assignment": None, "reason": "not-a-folder", "message": "ignored"})
    return data


@pytest.fixture(scope="module")
def big_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report200")
    data = make_class(out)
    started = time.perf_counter()
    page = render_html(data)
    seconds = time.perf_counter() - started
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return data, path, seconds


@pytest.fixture
def tab(big_report, browser):
    """The report, freshly opened in a tab; ``tab.load_seconds``, the URLs it asked for, its script
    errors and dialogs."""
    _, path, _ = big_report
    page = browser.new_page()
    page.errors, page.dialogs, page.requests = [], [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    started = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_selector("th button.sort")  # the script has run
    page.load_seconds = time.perf_counter() - started
    yield page
    assert not page.errors and not page.dialogs, (page.errors, page.dialogs)
    page.close()


def column(page, table: str, n: int) -> list[str]:
    """The text of column ``n`` in the visible rows of ``table`` (a CSS selector), top to bottom."""
    return page.eval_on_selector(
        table, f"t => Array.from(t.tBodies[0].rows).filter(r => !r.hidden).map(r => r.cells[{n}].innerText.trim())"
    )


def test_the_page_is_one_file_made_and_shown_in_reasonable_time(big_report, tab):
    data, path, seconds = big_report
    assert seconds < 30, f"render_html took {seconds:.1f} s for 200 students"
    assert tab.load_seconds < 15, f"chromium took {tab.load_seconds:.1f} s to show the page"
    assert path.stat().st_size < 3_000_000, path.stat().st_size
    assert tab.locator("#students-table tbody tr").count() == 200
    screenshot = path.with_name("report.png")
    tab.screenshot(path=str(screenshot), full_page=False)
    assert screenshot.stat().st_size > 10_000


def test_student_text_is_shown_as_text(tab):
    assert tab.evaluate("() => document.querySelectorAll('script').length") == 2, "the data and the script"
    odd = tab.locator("#students-table a.student", has_text="o'brien & <i>sons")
    assert odd.count() == 1 and odd.locator("i").count() == 0
    assert tab.locator("[onclick]").count() == 0
    for student in ODD_NAMES:  # each name's view opens, the name shown as written
        tab.evaluate("name => { location.hash = 'student=' + encodeURIComponent(name); }", student)
        expect(tab.locator("#student-view h2")).to_have_text(student)
        assert tab.locator("#student-view i, #student-view [onclick]").count() == 0


def test_tables_sort_by_a_click_on_their_header(big_report, tab):
    data, _, _ = big_report
    table = "#students-table"
    header = tab.locator(f"{table} thead th", has_text="total")
    total = len(ASSIGNMENTS) + 1  # the column of the total

    def totals():
        return [float(t.split(" / ")[0]) for t in column(tab, table, total)]

    header.locator("button").click()
    assert totals() == sorted(totals()) and header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    assert totals() == sorted(totals(), reverse=True) and header.get_attribute("aria-sort") == "descending"
    expected = max(sum(data.scores[a].get(s, 0.0) for a in ASSIGNMENTS) for s in data.students)
    assert totals()[0] == expected
    name = tab.locator(f"{table} thead th", has_text="student").first
    name.locator("button").click()
    numbered = [s for s in column(tab, table, 0) if s in data.students[: -len(ODD_NAMES)]]
    assert numbered == sorted(data.students[: -len(ODD_NAMES)]) and name.get_attribute("aria-sort") == "ascending"
    # the likely mistakes of an assignment: ranked by submissions; re-sorted by name, then back
    mistakes = "#a-0 table.sortable >> nth=0"
    counts = [int(n) for n in column(tab, mistakes, 2)]
    assert counts == sorted(counts, reverse=True) and counts[0] > 10
    tab.locator(mistakes).locator("thead th", has_text="likely mistake").locator("button").click()
    texts = column(tab, mistakes, 1)
    assert texts == sorted(texts)


def test_a_bar_of_a_histogram_shows_its_students_and_a_name_opens_their_view(big_report, tab):
    data, _, _ = big_report
    image = tab.locator("#a-1 img[usemap]")
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    areas = tab.eval_on_selector_all(
        "map[name='scores-1'] area",
        "as => as.map(a => [a.coords, +a.dataset.lo, +a.dataset.hi, a.title])",
    )
    assert len(areas) >= 3
    coords, lo, hi, title = max(areas, key=lambda a: int(a[3].split()[0]))  # the fullest bar
    x0, y0, x1, y1 = map(int, coords.split(","))
    tab.mouse.click(box["x"] + (x0 + x1) / 2, box["y"] + (y0 + y1) / 2)
    assignment = list(ASSIGNMENTS)[1]
    expected = sorted(s for s, v in data.scores[assignment].items() if lo <= v < hi)
    assert len(expected) == int(title.split()[0])
    shown = column(tab, "#students-table", 0)
    assert sorted(shown) == expected and tab.locator("#filter").is_visible()
    # the first student of the bar: their view, from their name
    student = shown[0]
    tab.locator("#students-table tbody tr:not([hidden]) a.student").first.click()
    view = tab.locator("#student-view")
    expect(view).to_be_visible()
    expect(view.locator("h2")).to_have_text(student)
    assert tab.evaluate("() => decodeURIComponent(location.hash)") == f"#student={student}"
    tables = view.locator("table")
    submitted = [a for a in ASSIGNMENTS if student in data.outcomes[a]]
    assert tables.count() == len(submitted)
    for k, a in enumerate(submitted):
        assert tables.nth(k).locator("tbody tr").count() == len(ASSIGNMENTS[a][1])
    named = [o.mistake for a in ASSIGNMENTS for o in data.outcomes[a].get(student, {}).values() if o.mistake]
    for mistake in named:
        assert mistake in view.inner_text()
    view.locator("button.close").click()
    expect(view).to_be_hidden()
    tab.locator("#filter button").click()
    assert tab.locator("#students-table tbody tr:not([hidden])").count() == 200


def test_a_students_view_opens_from_its_address_with_flags_and_feedback(big_report, tab):
    data, path, _ = big_report
    student = ODD_NAMES[0]  # flagged, and a name that must stay text
    tab.goto(f"{path.as_uri()}#student={quote(student, safe='')}")
    view = tab.locator("#student-view")
    expect(view.locator("h2")).to_have_text(student)
    flags = [p for p in data.problems if p["student"] == student]
    assert flags and view.locator("li", has_text="<script>alert(2)</script>").count() == len(flags)
    hrefs = view.locator("a").evaluate_all("as => as.map(a => a.href)")
    assert hrefs and all(Path(unquote(urlparse(h).path)).is_file() for h in hrefs), hrefs
    tab.keyboard.press("Escape")
    expect(view).to_be_hidden()


def test_every_flagged_submission_links_its_feedback_page(big_report, tab):
    data, path, _ = big_report
    rows = tab.locator("#flagged + table tbody tr")
    assert rows.count() == len(data.problems)
    hrefs = tab.locator("#flagged + table a:not(.student)").evaluate_all("as => as.map(a => a.href)")
    flagged = [p for p in data.problems if p["assignment"] is not None]
    assert len(hrefs) == len(flagged) > 10
    for href in hrefs:
        assert Path(unquote(urlparse(href).path)).is_file(), href
    first = tab.locator("#flagged + table a:not(.student)").first
    first.click()
    tab.wait_for_load_state()
    assert tab.locator("p").first.inner_text().endswith("tests"), "the feedback page opened"


def test_nothing_is_requested_but_the_page(big_report, tab):
    _, path, _ = big_report
    tab.locator("#students-table thead th button").nth(1).click()  # sort
    tab.locator("#a-0 area").first.dispatch_event("click")  # a bar of a histogram
    tab.locator("#students-table tbody tr:not([hidden]) a.student").first.click()  # a student's view
    expect(tab.locator("#student-view")).to_be_visible()
    tab.keyboard.press("Escape")
    assert tab.requests == [path.as_uri()], tab.requests


def test_the_summary_counts_not_attempted_apart(big_report):
    data, _, _ = big_report
    summary = summarize(data)
    for assignment, (_, tests) in ASSIGNMENTS.items():
        for test in tests:
            entry = summary["assignments"][assignment]["tests"][test]
            stubs = sum(o[test].status == NOT_ATTEMPTED for o in data.outcomes[assignment].values())
            assert stubs > 0 and entry["failures"] - sum(n for _, n in entry["messages"]) == stubs
            assert not any("NotImplementedError" in m for m, _ in entry["messages"])
