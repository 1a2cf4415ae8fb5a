"""How well a blind catalogue of student mistakes is caught and named by the grader's test cells.

    python -m tools.blind_report [--assignment NN] [--function NAME] [--judge]

Each entry of a blind catalogue (``tests/blind/aNN_*.py``, one per assignment; all of them by default) is run
in place of its solution cell, and the function's full test cell (visible and hidden parts, as the grader runs
it) is executed in-process, the way ``tests/harness.py`` runs misconceptions. The table gives per function: the
mistakes caught, the share of caught mistakes whose message names the mistake (the ``named`` judgement recorded
in the catalogue), and then, per entry, the outcome and the first line of the message a student would read.
Printed, never asserted: the assertions (every correct entry passes, every mistake fails) are in
``tests/test_blind.py``.

``--judge`` prints each caught mistake's full message next to its description, for judging ``named`` by hand.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Result:
    entry: dict
    passed: bool
    kind: str
    message: str

    @property
    def first_line(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


def catalogues(number: str | None = None) -> list:
    """The blind catalogue modules (each names its ``ASSIGNMENT`` folder), in assignment order; with ``number``
    ("01", "4"), only that assignment's."""
    import importlib

    modules = []
    for path in sorted((ROOT / "tests" / "blind").glob("a[0-9][0-9]_*.py")):
        if number is None or path.stem[1:3] == number.zfill(2):
            modules.append(importlib.import_module(f"blind.{path.stem}"))
    return modules


def run_entry(entry: dict, A) -> Result:
    """Run the entry's function's full test cell of assignment ``A`` (a ``harness.Assignment``) with the entry's
    code in place of the solution cell."""
    from harness import from_source

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = A.run_test(entry["function"], replace=from_source(entry["code"]))
    return Result(entry, outcome.passed, outcome.kind, outcome.message)


def measure(entries: list[dict], folder: str) -> list[Result]:
    from harness import Assignment

    A = Assignment(folder)
    return [run_entry(entry, A) for entry in entries]


def _short(text: str, width: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def table(results: list[Result], functions: list[str]) -> str:
    lines = [
        "| function | mistakes | caught | named (of caught) | correct solutions passing |",
        "|---|---|---|---|---|",
    ]
    totals = [0, 0, 0, 0, 0]
    for function in functions:
        rows = [r for r in results if r.entry["function"] == function]
        mistakes = [r for r in rows if r.entry["kind"] == "mistake"]
        caught = [r for r in mistakes if not r.passed]
        named = [r for r in caught if r.entry.get("named")]
        correct = [r for r in rows if r.entry["kind"] == "correct"]
        good = [r for r in correct if r.passed]
        lines.append(f"| {function} | {len(mistakes)} | {len(caught)} | {len(named)} | {len(good)}/{len(correct)} |")
        for i, value in enumerate((len(mistakes), len(caught), len(named), len(good), len(correct))):
            totals[i] += value
    share = f" ({100 * totals[2] / totals[1]:.0f}%)" if totals[1] else ""
    lines.append(f"| **total** | {totals[0]} | {totals[1]} | {totals[2]}{share} | {totals[3]}/{totals[4]} |")
    return "\n".join(lines)


def details(results: list[Result]) -> str:
    lines = [
        "",
        "| function | kind | mistake | outcome | named | first line of the message |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        e = r.entry
        outcome = "passed" if r.passed else r.kind
        named = "" if e["kind"] == "correct" or r.passed else {True: "yes", False: "NO", None: "?"}[e.get("named")]
        outcome = "PASSED (gap)" if e["kind"] == "mistake" and r.passed else outcome
        lines.append(
            f"| {e['function']} | {e['kind']} | {e['description']} | {outcome} | {named} | "
            f"{_short(r.first_line).replace('|', '/')} |"
        )
    return "\n".join(lines)


def findings(results: list[Result]) -> str:
    """The caught mistakes whose message does not name them, the mistakes that pass, the correct entries that fail."""
    lines = ["", "Caught but not named (the message they get, and the message a teacher would want):"]
    for r in results:
        e = r.entry
        if e["kind"] == "mistake" and not r.passed and e.get("named") is False:
            lines += [
                f"- {e['function']}: {e['description']}",
                f"    got:    {r.kind}: {_short(r.message, 300)}",
                f"    wanted: {e.get('wanted')}",
            ]
    lines += ["", "Mistakes that PASS the full test cell (gaps in grading):"]
    for r in results:
        if r.entry["kind"] == "mistake" and r.passed:
            lines += [f"- {r.entry['function']}: {r.entry['description']}", f"    why: {r.entry.get('gap')}"]
    failing = [r for r in results if r.entry["kind"] == "correct" and not r.passed]
    lines += ["", "Correct solutions that FAIL (a test too strict):" + ("" if failing else " none")]
    for r in failing:
        lines += [f"- {r.entry['function']}: {r.entry['description']}", f"    {r.kind}: {_short(r.message, 300)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", help="only this assignment's catalogue (its number: 01, 4)")
    parser.add_argument("--function", help="only this graded function")
    parser.add_argument("--judge", action="store_true", help="print each caught mistake's whole message")
    args = parser.parse_args(argv)
    for catalogue in catalogues(args.assignment):
        entries = [e for e in catalogue.ENTRIES if args.function in (None, e["function"])]
        functions = [f for f in catalogue.FUNCTIONS if args.function in (None, f)]
        if not entries:
            continue
        print(f"## {catalogue.ASSIGNMENT}")
        results = measure(entries, catalogue.ASSIGNMENT)
        if args.judge:
            for i, r in enumerate(results):
                print(f"=== [{i}] {r.entry['function']} / {r.entry['kind']}: {r.entry['description']}")
                print("PASSED" if r.passed else f"{r.kind}: {r.message}")
            continue
        print(table(results, functions))
        print(details(results))
        print(findings(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
