"""The two ways to install the course (pip with pyproject.toml, conda with environment.yml) agree."""

from __future__ import annotations

import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT


def normalise(spec: str) -> tuple[str, str]:
    req = Requirement(spec)
    return req.name.lower().replace("_", "-"), str(req.specifier)


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(map(normalise, project["dependencies"]))
    for extra in project.get("optional-dependencies", {}).values():
        wanted |= set(map(normalise, extra))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml should have exactly one pip: section"
    listed = set(map(normalise, pip_lists[0]))
    assert listed == wanted, (
        f"only in pyproject.toml: {sorted(wanted - listed)}; only in environment.yml: {sorted(listed - wanted)}"
    )
    assert "python=3.11" in env["dependencies"]


@pytest.mark.xdist_group("grouping-check")
def test_xdist_groups_keep_their_tests_on_one_worker(request):
    """`make test` runs `--dist loadgroup`: tests that share an expensive module-scoped run (a graded class, the
    site) are marked with one xdist_group, and xdist keeps them on one worker by the group it appends to each
    test's id. A pytest that drops that suffix (9.2 with xdist 3.8) makes every such run happen once per worker."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run by pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@grouping-check"), (
        f"pytest-xdist could not mark this test with its group ({request.node.nodeid}): check the pytest and "
        "pytest-xdist versions in pyproject.toml"
    )
