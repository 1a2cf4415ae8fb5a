"""A scratch clone of the course: the working tree as one commit of a fresh git repository in a temporary folder.

What a build leaves behind shows in the clone's `git status`, which the shared working tree cannot tell
(other work is under way there). The clone holds what `git status` would list in the working tree, tracked
files as they are on disk and untracked ones that are not ignored, so uncommitted edits are built too; its
.gitignore is the working tree's. It reuses this venv: `with_clone_first` puts the clone's `utils`, `tools`
and `autograder` ahead of the editable install's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT

GIT_IDENTITY = ["-c", "user.name=scratch", "-c", "user.email=scratch@localhost", "-c", "commit.gpgsign=false"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def scratch_clone(dest: Path, root: Path = ROOT) -> Path:
    """Copy `root`'s tracked and untracked-but-not-ignored files to `dest`, and commit them there."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root).split("\0")
    for name in sorted(set(filter(None, listed))):
        source = root / name
        if not source.exists() and not source.is_symlink():  # deleted in the working tree, not yet committed
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git(*GIT_IDENTITY, "commit", "-q", "-m", "scratch clone of the working tree", cwd=dest)
    return dest


def with_clone_first(clone: Path) -> dict[str, str]:
    """The environment for a command run in the clone: its packages first, for kernels started in its folders."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(clone), env.get("PYTHONPATH")]))
    env.pop("DL_COURSE_SITE", None)
    return env


def status(clone: Path) -> list[str]:
    """`git status --porcelain` of the clone, one entry per untracked file: what a build left behind."""
    return git("status", "--porcelain", "--untracked-files=all", cwd=clone).splitlines()
