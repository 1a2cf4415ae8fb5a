"""The course's grading command line.

python -m autograder release [--out DIR]            student versions of every assignment
python -m autograder grade SUBMISSIONS [--out DIR]  autograde SUBMISSIONS/<student>/<assignment>/*.ipynb
python -m autograder demo                           release, grade example submissions, check the grades
python -m autograder tag [NOTEBOOK ...]             write nbgrader metadata from the cells' markers
python -m autograder new NN_topic [--title T]       scaffold a topic: notebooks and tests, wired up
python -m autograder topics                         print the README's topic table from the notebooks
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import DEFAULT_SOURCE, GradeReport, PipelineError, find_source_notebooks
from .notebooks import NotebookFormatError, tag_file


def _print_report(report: GradeReport) -> None:
    print()
    print(report.table())
    print()
    print(f"grades:   {report.csv_path}")
    print(f"feedback: {report.feedback_dir}/<student>/<assignment>/<notebook>.html")
    if report.report_path is not None:
        print(f"report:   {report.report_path} (and problems.json beside it)")
    overridden = [p for p in report.problems if p.reason == "overridden"]
    problems = [p for p in report.problems if p.reason != "overridden"]
    if overridden:
        print(f"\n{len(overridden)} score(s) set by the instructor (--overrides):")
        for problem in overridden:
            print(f"  - {problem}")
    if problems:
        print(f"\n{len(problems)} problem(s); every other submission was graded:")
        for problem in problems:
            print(f"  - {problem}")


def _cmd_release(args: argparse.Namespace) -> int:
    from .course import release

    for path in release(Path(args.out), Path(args.source)):
        print(f"released {path}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from .course import grade
    from .sandbox import parse_size

    report = grade(
        Path(args.submissions),
        Path(args.out),
        Path(args.source),
        db_url=args.db,
        timeout=args.timeout,
        unsafe=args.unsafe,
        memory=parse_size(args.memory) if args.memory else None,
        jobs=args.jobs,
        scheduler=args.scheduler,
        resume=args.resume,
        overrides=Path(args.overrides) if args.overrides else None,
    )
    _print_report(report)
    if not args.unsafe:
        from .sandbox import cgroup_mode

        mode = cgroup_mode()
        print(
            f"sandbox limits: memory and tasks per submission (cgroup {mode})"
            if mode
            else "sandbox limits: per process only (no cgroup could be made here)"
        )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    report, failures = demo.run(Path(args.out), Path(args.release_dir), Path(args.source), jobs=args.jobs)
    _print_report(report)
    if failures:
        print("\nDEMO FAILED:\n" + "\n".join(f"  - {f}" for f in failures))
        return 1
    print("\ndemo OK: the reference earns full marks, the blank release 0, the partial one in between.")
    print("Where to look:")
    print("  the grades:             the table above, and " + str(report.csv_path))
    partial = sorted((Path(report.feedback_dir) / "partial").glob("*/*.html"))
    if partial:
        print(f"  a student's feedback:   {partial[0]} (the partial submission; open it in a browser)")
    if report.report_path is not None:
        print(f"  the instructor report:  {report.report_path}")
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.notebooks] or find_source_notebooks(Path(args.source))
    changed = []
    for path in paths:
        try:
            if tag_file(path, check=args.check):
                changed.append(path)
        except NotebookFormatError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for path in changed:
        print(f"{'needs tagging' if args.check else 'tagged'}: {path}")
    return 1 if (args.check and changed) else 0


def _cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, new_topic

    try:
        written = new_topic(args.name, args.title, Path(args.root))
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"created {path}")
    print("next: write the content, keep `make test` green, and run `python -m autograder topics` for the README")
    return 0


def _cmd_topics(args: argparse.Namespace) -> int:
    from .scaffold import topic_table

    print(topic_table(Path(args.root)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    source_help = "folder of assignment source notebooks (default: %(default)s)"

    p = sub.add_parser("release", help="write the student version of every assignment")
    p.add_argument("--out", default="release", help="output folder (default: %(default)s)")
    p.add_argument("--source", default=str(DEFAULT_SOURCE), help=source_help)
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("grade", help="autograde a folder of submissions")
    p.add_argument("submissions", help="folder laid out as SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb")
    p.add_argument("--out", default="graded", help="output folder for grades.csv and feedback/ (default: %(default)s)")
    p.add_argument(
        "--db", default=None, help="SQLAlchemy URL of the gradebook (default: a fresh SQLite file in OUT/course)"
    )
    p.add_argument(
        "--timeout", type=int, default=None, help="seconds a cell may run before it is interrupted (default: 120)"
    )
    p.add_argument("--memory", default=None, help="memory each submission's processes may use, e.g. 2G (default: 4G)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks executed at a time, in worker processes (default: 1)")
    p.add_argument("--scheduler", default=None, help="execute on the Dask cluster at this address, tcp://host:8786")
    p.add_argument(
        "--resume", action="store_true", help="reuse this OUT folder's executions whose submission has not changed"
    )
    p.add_argument(
        "--unsafe",
        action="store_true",
        help="grade without the sandbox where it cannot work (student code then runs with your rights)",
    )
    p.add_argument(
        "--overrides",
        default=None,
        help="CSV file of scores set by hand after review: student,assignment,test,score,reason",
    )
    p.add_argument("--source", default=str(DEFAULT_SOURCE), help=source_help)
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("demo", help="release, build example submissions, grade them and check the grades")
    p.add_argument("--out", default="graded", help="output folder (default: %(default)s)")
    p.add_argument("--release-dir", default="release", help="where the student versions go (default: %(default)s)")
    p.add_argument("--source", default=str(DEFAULT_SOURCE), help=source_help)
    p.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: the cores, at most 4)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("tag", help="write nbgrader metadata into assignment notebooks from their markers")
    p.add_argument("notebooks", nargs="*", help="notebooks to tag (default: every assignment notebook)")
    p.add_argument("--source", default=str(DEFAULT_SOURCE), help=source_help)
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs tagging")
    p.set_defaults(func=_cmd_tag)

    from .course import ROOT

    p = sub.add_parser("new", help="scaffold a topic: lecture, seminar, assignment and tests")
    p.add_argument("name", help="NN_topic, e.g. 06_attention")
    p.add_argument("--title", default=None, help="the topic's title (default: from the name)")
    p.add_argument("--root", default=str(ROOT), help="the course folder (default: %(default)s)")
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("topics", help="print the README's topic table, made from the notebooks")
    p.add_argument("--root", default=str(ROOT), help="the course folder (default: %(default)s)")
    p.set_defaults(func=_cmd_topics)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
