"""The two ways to install the course (pip with pyproject.toml, conda with environment.yml) agree."""

from __future__ import annotations

import tomllib

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
