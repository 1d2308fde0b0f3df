"""Protected paths: what a files scope must say to open one, and pyproject's [tool.uet]."""

from __future__ import annotations

import pytest

from uet import defaults
from uet.config import load_settings
from uet.errors import ConfigError
from uet.scope import FileScope, Protected, ProtectedPaths

PROTECTED = ProtectedPaths(defaults.PROTECTED_PATHS)
CHANGED = [
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
    ".uet/state.db",
    "config/routing.yaml",
    "src/app.py",
    "uet.toml",
]


def _same(path: str) -> tuple[str | None, str | None]:
    return ("x", "x")


def _blocked(scope: list[str], changed: list[str] = CHANGED) -> list[str]:
    return [path for path, _ in PROTECTED.violations(changed, FileScope(scope), _same)]


def test_without_a_scope_every_protected_path_is_refused_and_nothing_else() -> None:
    assert _blocked([]) == [p for p in CHANGED if p != "src/app.py"]


@pytest.mark.parametrize("catch_all", ["**", "*", "**/*", "*.toml", "**/*.yml", "./**"])
def test_a_catch_all_pattern_opens_no_protected_path(catch_all: str) -> None:
    assert "uet.toml" in _blocked([catch_all])
    assert ".github/workflows/ci.yml" in _blocked([catch_all])


@pytest.mark.parametrize(
    ("pattern", "opened"),
    [
        (".github/", ".github/workflows/ci.yml"),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        (".github/**/*.yml", ".github/workflows/ci.yml"),
        ("uet.toml", "uet.toml"),
        ("config/routing.yaml", "config/routing.yaml"),
        ("config/", "config/routing.yaml"),
        (".gitlab-ci.yml", ".gitlab-ci.yml"),
    ],
)
def test_a_pattern_that_spells_out_the_protected_entry_opens_that_path_only(
    pattern: str, opened: str
) -> None:
    blocked = _blocked([pattern])
    assert opened not in blocked
    assert blocked == [p for p in CHANGED if p not in {opened, "src/app.py"}]


def test_a_leading_wildcard_entry_is_opened_by_a_pattern_ending_in_its_name() -> None:
    paths = ProtectedPaths(["**/.env"])
    changed = ["src/.env"]
    assert paths.violations(changed, FileScope(["src/**"]), _same) == [("src/.env", "**/.env")]
    assert paths.violations(changed, FileScope(["src/.env"]), _same) == []


def test_pyproject_is_protected_only_when_its_tool_uet_table_changes() -> None:
    before = '[project]\nname = "a"\n[tool.uet]\nhome = ".uet"\n'
    deps = '[project]\nname = "a"\ndependencies = ["attrs"]\n[tool.uet]\nhome = ".uet"\n'
    moved = '[project]\nname = "a"\n[tool.uet]\nhome = "/tmp/x"\n'
    scope = FileScope([])

    def check(after: str | None, old: str | None = before) -> list[tuple[str, str]]:
        return PROTECTED.violations(["pyproject.toml"], scope, lambda _: (old, after))

    assert check(deps) == []
    assert check(moved) == [("pyproject.toml", "pyproject.toml[tool.uet]")]
    assert check("[tool.uet\n") != []  # not TOML any more: counts as a change
    assert check(None) != []  # deleted along with its table
    assert check('[project]\nname = "a"\n', None) == []  # a new file without the table
    assert check(moved, None) != []  # a new file that adds the table


def test_an_entry_must_be_relative_and_the_setting_adds_to_the_defaults() -> None:
    with pytest.raises(ValueError, match="relative"):
        Protected.parse("/etc/passwd")
    settings = load_settings(env={"UET_PROTECTED_PATHS": "deploy/, Makefile"})
    assert settings.protected_paths == ("deploy/", "Makefile")
    assert settings.all_protected_paths[: len(defaults.PROTECTED_PATHS)] == (
        defaults.PROTECTED_PATHS
    )
    assert settings.all_protected_paths[-2:] == ("deploy/", "Makefile")
    with pytest.raises(ConfigError, match=r"agents\.protected_paths"):
        load_settings(env={"UET_PROTECTED_PATHS": "../up"})


def test_uet_s_home_is_protected_wherever_it_is_configured() -> None:
    assert load_settings().all_protected_paths.count(".uet/**") == 1
    assert "state/**" in load_settings(env={"UET_HOME": "state"}).all_protected_paths


def test_the_ci_files_of_the_common_ci_systems_are_protected() -> None:
    ci = [".circleci/config.yml", "Jenkinsfile", ".travis.yml", "azure-pipelines.yml"]
    assert _blocked(["**"], ci) == ci
