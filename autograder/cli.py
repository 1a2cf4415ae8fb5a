"""The course's grading command line: ``python -m autograder {release,grade,demo,tag}``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .notebooks import NotebookFormatError, tag_file


def _cmd_tag(args: argparse.Namespace) -> int:
    from .course import find_source_notebooks

    paths = [Path(p) for p in args.notebooks] or find_source_notebooks(Path(args.source))
    changed = []
    for path in paths:
        try:
            if tag_file(path, check=args.check):
                changed.append(path)
        except NotebookFormatError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    verb = "would change" if args.check else "tagged"
    for path in changed:
        print(f"{verb}: {path}")
    return 1 if (args.check and changed) else 0


def build_parser() -> argparse.ArgumentParser:
    from .course import DEFAULT_SOURCE

    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tag", help="write nbgrader metadata into assignment notebooks from their markers")
    p.add_argument("notebooks", nargs="*", help="notebooks to tag (default: every assignment notebook)")
    p.add_argument("--source", default=str(DEFAULT_SOURCE), help="assignments folder (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if any notebook needs tagging")
    p.set_defaults(func=_cmd_tag)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
