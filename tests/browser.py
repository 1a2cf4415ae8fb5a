"""Shared pieces of the browser tests: Debian's chromium driven by Playwright, and the site built once.

Playwright cannot download its own browser here, so it drives /usr/bin/chromium (`apt-get install -y
chromium`; .ci/run installs it). A missing browser FAILS the tests with that instruction: the browser
tests are part of the suite, not optional.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DL_COURSE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> None:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: run `apt-get update && apt-get install -y "
            "chromium` (as root; .ci/run does it), or point DL_COURSE_CHROMIUM at a chromium binary",
            pytrace=False,
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("the browser tests need Playwright's Python package: `.venv/bin/pip install -e '.[test]'`")


@contextlib.contextmanager
def browser_context(**options):
    """A fresh chromium (empty user-data-dir, the flags above) and its context; yields the context."""
    require_browser()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=FLAGS, headless=True, **options
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def built_site() -> Path:
    """The course website, built once per test process (the site tests share an xdist group).

    It is built as `make site` builds it (`python -m tools.build_site`, into `site/`), in a scratch clone of the
    working tree (tests/scratch_clone.py): the clone is `built_site().parent`, and test_site.py checks that the
    build left its `git status` clean. A failed build fails every test that needs the site, without a rebuild.
    """
    if os.environ.get("DL_COURSE_SITE"):  # a site already built by `make site`, while working on the tests
        return Path(os.environ["DL_COURSE_SITE"])
    return _clone_and_build()


@functools.cache
def _clone_and_build() -> Path:
    from scratch_clone import scratch_clone, with_clone_first

    if _failed:  # a failure is not cached by functools.cache: remembered here, so the build is not tried again
        pytest.fail(_failed[0], pytrace=False)
    clone = scratch_clone(Path(tempfile.mkdtemp(prefix="course-clone-")))
    atexit.register(shutil.rmtree, clone, True)
    build = subprocess.run(
        [sys.executable, "-m", "tools.build_site", "--jobs", "2"],
        cwd=clone,
        env=with_clone_first(clone),
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        _failed.append(f"`make site` (python -m tools.build_site) failed in a scratch clone:\n{build.stderr[-6000:]}")
        pytest.fail(_failed[0], pytrace=False)
    return clone / "site"


_failed: list[str] = []
