"""The course's own tooling: notebook execution (shared by the tests, the site and the grader),
the site builder and the benchmarks. Installed with the project, so ``python -m tools.bench`` and
``from tools.notebooks import run_notebook`` work from anywhere."""

import sys

# jsonschema, which nbformat validates notebooks with, imports rfc3987_syntax where it is installed
# (jupyter-events pulls it in), and that module builds ~35 Earley parsers at import: ~1.7 s in every
# process that reads a notebook, for the "iri" formats no notebook schema uses
# (python-jsonschema/jsonschema#1428). Marked absent, jsonschema skips those two checks.
sys.modules.setdefault("rfc3987_syntax", None)
