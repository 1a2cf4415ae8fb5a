"""The course's own tooling: notebook execution (shared by the tests, the site and the grader),
the site builder and the benchmarks. Installed with the project, so ``python -m tools.bench`` and
``from tools.notebooks import run_notebook`` work from anywhere."""
