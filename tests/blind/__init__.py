"""Blind catalogues of student mistakes, one module per assignment (see README.md), and what they share: how an
entry is written as an edit of a base solution, and how the recorded judgements are attached to the entries."""

from __future__ import annotations


def edit(base: str, *edits: tuple[str, str]) -> str:
    """base with each (old, new) applied; each old must occur exactly once, so that an edit cannot miss."""
    code = base
    for old, new in edits:
        count = code.count(old)
        if count != 1:
            raise ValueError(f"an edit's old text occurs {count} times, expected once: {old!r}")
        code = code.replace(old, new)
    return code


def judge(entries: list[dict], named: dict, gaps: dict) -> None:
    """Attach the recorded judgements to ``entries``: ``named`` maps an entry to True or to ``(False, the message
    a teacher would want)``, ``gaps`` to why a mistake passes. An entry is named by the start of its description,
    or by ``(function, start of its description)`` where descriptions repeat across functions; each key must match
    exactly one entry."""
    for entry in entries:
        entry.setdefault("wanted", None)
        entry.setdefault("gap", None)
    for table, field in ((named, "named"), (gaps, "gap")):
        for key, value in table.items():
            function, start = key if isinstance(key, tuple) else (None, key)
            matches = [e for e in entries if function in (None, e["function"]) and e["description"].startswith(start)]
            if len(matches) != 1:
                raise ValueError(f"{key!r} matches {len(matches)} catalogue entries, expected one")
            entry = matches[0]
            if field == "named":
                entry["named"], entry["wanted"] = (value, None) if value is True else value
            else:
                entry["gap"] = value
