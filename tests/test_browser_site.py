"""The website in a real browser (Debian's chromium driven by Playwright): every lecture and seminar page
loads with its math typeset and its figures, the sidebar and previous/next links resolve, search finds
"BatchNorm", a slider on a static page changes the picture, and nothing is requested from another host,
both from file:// and from a static server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from browser import browser_context, built_site, free_port, require_browser

from conftest import ROOT
from tools import build_site

pytestmark = [pytest.mark.xdist_group("site"), pytest.mark.slow]

WAIT_FOR_MATHJAX = "() => new Promise(done => MathJax.Hub.Queue(() => done(true)))"


@pytest.fixture(scope="module")
def site():
    require_browser()  # fail fast, before the build, when chromium is missing
    return built_site()


@pytest.fixture(scope="module")
def browser(site):
    with browser_context(viewport={"width": 1300, "height": 900}) as context:
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        context.requests = requests
        yield context


def pages_of(site: Path) -> list[Path]:
    return [site / p.parent.name / f"{p.stem}.html" for p in build_site.notebooks(ROOT)]


def file_of(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_every_lecture_and_seminar_page_loads_with_math_figures_and_working_links(site, browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    for path in pages_of(site):
        page.goto(path.as_uri())
        name = path.relative_to(site)
        assert page.locator("article h1").count() >= 1, f"{name}: no title"
        # math: MathJax has typeset every inline/display formula (no raw TeX delimiters left)
        page.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=20_000)
        page.evaluate(WAIT_FOR_MATHJAX)
        assert page.locator(".MathJax, .MathJax_Display, .MathJax_CHTML").count() > 0, f"{name}: no typeset math"
        raw = page.evaluate(
            "() => Array.from(document.querySelectorAll('span.math, div.math'))"
            ".filter(e => e.textContent.trim().startsWith('\\\\(') || e.textContent.trim().startsWith('\\\\[')).length"
        )
        assert raw == 0, f"{name}: {raw} formulas left untypeset"
        assert page.locator(".MathJax_Error, .merror").count() == 0, f"{name}: MathJax reports a TeX error"
        # figures: at least one image in the outputs, and every image decoded
        images = page.locator(".cell_output img")
        assert images.count() > 0, f"{name}: no figure"
        broken = page.evaluate(
            "() => Array.from(document.querySelectorAll('.cell_output img'))"
            ".filter(i => i.offsetParent !== null && !(i.complete && i.naturalWidth > 0)).length"
        )
        assert broken == 0, f"{name}: {broken} figures did not load"
        # sidebar and previous/next links point at files that exist
        links = page.eval_on_selector_all(
            ".bd-sidebar-primary a.reference.internal, .prev-next-area a", "els => els.map(e => e.href)"
        )
        assert len(links) >= len(pages_of(site)), f"{name}: the sidebar misses pages"
        for link in links:
            assert file_of(link).is_file(), f"{name}: link to {link} does not resolve"
        assert page.locator(".prev-next-area a").count() >= 1, f"{name}: no previous/next links"
        # the page links its notebook
        assert page.locator("a.download[href$='.ipynb']").count() >= 1, f"{name}: no notebook download"
    assert errors == [], f"JavaScript errors: {errors}"

    # previous/next walk the book in order
    page.goto((site / "index.html").as_uri())
    page.locator(".prev-next-area a.right-next").click()
    page.wait_for_load_state()
    assert file_of(page.url) == pages_of(site)[0]


def test_plot_code_is_folded_behind_a_toggle(site, browser):
    page = browser.new_page()
    page.goto(pages_of(site)[0].as_uri())
    folded = page.locator(".tag_hide-input details.hide-above-input, .tag_hide-input details")
    assert folded.count() > 0
    code = page.locator(".tag_hide-input .cell_input").first
    assert not code.is_visible(), "folded code should be hidden until the reader opens it"
    page.locator(".tag_hide-input details summary").first.click()
    assert code.is_visible()


def test_a_slider_on_a_static_page_changes_the_picture(site, browser, tmp_path):
    page = browser.new_page()
    for path in pages_of(site):
        page.goto(path.as_uri())
        if page.locator(".static-interact").count():
            break
    else:
        pytest.fail("no page has an interactive plot")
    widget = page.locator(".static-interact").first
    widget.scroll_into_view_if_needed()
    visible = widget.locator(".si-frame:visible")
    assert visible.count() == 1
    before = visible.inner_html()
    slider = widget.locator("input.si-slider").first
    at_max = slider.evaluate("s => s.value === s.max")
    slider.focus()
    slider.press("ArrowLeft" if at_max else "ArrowRight")
    assert widget.locator(".si-frame:visible").count() == 1
    after = widget.locator(".si-frame:visible").inner_html()
    assert after != before, "moving the slider should show another picture"
    assert widget.locator(".si-frame:visible img").count() >= 1
    label = slider.evaluate("s => s.nextElementSibling.textContent")
    assert label, "the slider shows its value"
    page.screenshot(path=str(tmp_path / "slider.png"))  # not in the clone, whose status test_site checks


def test_search_finds_batchnorm_from_file_url(site, browser):
    page = browser.new_page()
    page.goto((site / "search.html").as_uri() + "?q=BatchNorm")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=20_000)
    titles = results.all_inner_texts()
    assert any("Batch" in t for t in titles), titles
    results.first.click()
    page.wait_for_load_state()
    assert file_of(page.url).is_file()


def test_search_and_pages_work_from_a_static_server(site, browser):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        page = browser.new_page()
        page.goto(f"{base}/search.html?q=BatchNorm")
        page.locator("#search-results ul.search li a").first.wait_for(timeout=20_000)
        page.goto(f"{base}/{pages_of(site)[0].relative_to(site).as_posix()}")
        page.evaluate(WAIT_FOR_MATHJAX)
        assert page.locator(".MathJax, .MathJax_Display").count() > 0
    finally:
        server.shutdown()
        server.server_close()


def test_no_request_went_to_another_host(site, browser):
    # runs last in this module: the browser context logged every request the tests above made
    assert browser.requests, "the request log is empty"
    elsewhere = [
        url
        for url in browser.requests
        if not (url.startswith(("file:", "data:", "about:", "blob:")) or urlparse(url).hostname == "127.0.0.1")
    ]
    assert elsewhere == []
