"""The ``patch_policy`` config section: what a patch may touch, how it is validated, where it goes.

::

    [patch_policy]
    auto_merge = 0.95          # score at or above: merged through the merge queue
    review = 0.80              # at or above: pushed as the review branch uet/fix/<id>
    max_lines_changed = 200    # more: the manual queue (too_many_lines)
    max_files_changed = 10
    forbid_binary = true
    forbid_paths = ["migrations/**"]
    require_tests_for_paths = ["src/**"]   # a patch there needs the tests signal measured
    allow_test_edits = false   # true: changed (not only added) test lines are no tamper

    [patch_policy.weights]     # the confidence score's weights (normalised over the kinds run)
    tests = 0.4
    lint = 0.2

    [[patch_policy.checks]]    # replaces the default checks (tests, lint, types, security)
    name = "tests"
    kind = "tests"             # tests | lint | types | security | coverage
    command = ["python", "-m", "pytest", "-q"]
    timeout = 300
    repeat = 2                 # outcomes that differ between runs: flaky

    [[patch_policy.overrides]] # stricter rules for some paths or finding categories
    paths = ["src/payments/**"]
    auto_merge = 1.01          # never auto-merged
    max_lines_changed = 20

Several overrides may match a patch: the strictest value of each field wins (the highest
threshold, the lowest limit). Bad values are a :class:`~uet.errors.ConfigError` naming the
file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from uet.config import Settings
from uet.errors import ConfigError
from uet.scope import FileScope

SECTION = "patch_policy"

KINDS = ("tests", "lint", "types", "security", "coverage")
"""The kinds of signal a check gives; each has a weight in the confidence score."""

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "tests": 0.4,
    "lint": 0.2,
    "types": 0.15,
    "security": 0.15,
    "coverage": 0.1,
}
"""The originals' weights (docs/recovery.md says how the corpus confirmed them)."""

DEFAULT_AUTO_MERGE = 0.95
DEFAULT_REVIEW = 0.80
DEFAULT_MAX_LINES = 200
DEFAULT_MAX_FILES = 10
DEFAULT_CHECK_TIMEOUT_S = 300.0
DEFAULT_TEST_PATHS = ("tests/**", "test/**", "**/test_*.py", "**/*_test.py", "**/conftest.py")
DEFAULT_TEST_CONFIG = (
    "pytest.ini",
    "tox.ini",
    "setup.cfg",
    ".coveragerc",
    "noxfile.py",
    "**/conftest.py",
    "pyproject.toml",
)
"""Files that configure the tests; for ``pyproject.toml`` and ``setup.cfg`` only their test
and coverage sections count (:mod:`uet.recovery.tamper`)."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One validation check: a command run in the validation clone, with a timeout.

    ``command`` is argv; ``{python}`` is replaced by uet's Python and ``{files}`` by the
    patch's changed files matching ``files`` (the check is not applicable when none do).
    """

    name: str
    kind: str
    command: tuple[str, ...]
    timeout: float = DEFAULT_CHECK_TIMEOUT_S
    files: str | None = None  # a glob: the changed files {files} stands for
    repeat: int = 1  # runs; outcomes that differ between them are flaky


DEFAULT_CHECKS = (
    CheckSpec(
        "tests",
        "tests",
        ("{python}", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"),
        repeat=2,
    ),
    CheckSpec(
        "ruff",
        "lint",
        ("{python}", "-m", "ruff", "check", "--no-cache", "--quiet", "{files}"),
        60.0,
        "**.py",
    ),
    CheckSpec(
        "mypy",
        "types",
        (
            "{python}",
            "-m",
            "mypy",
            "--no-error-summary",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "{files}",
        ),
        120.0,
        "**.py",
    ),
    CheckSpec(
        "bandit", "security", ("{python}", "-m", "bandit", "-q", "-lll", "{files}"), 60.0, "**.py"
    ),
)
"""What validation runs unless ``[[patch_policy.checks]]`` says otherwise: the user's tests
(twice, for flakiness), ruff, mypy and bandit (HIGH severity) on the changed Python files."""


@dataclass(frozen=True, slots=True)
class Override:
    paths: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, files: Sequence[str], category: str | None) -> bool:
        if self.categories and category not in self.categories:
            return False
        if self.paths:
            scope = FileScope(self.paths)
            return any(scope.allows(path) for path in files)
        return bool(self.categories)


@dataclass(frozen=True, slots=True)
class PatchPolicy:
    """The resolved ``patch_policy`` (defaults where the section says nothing)."""

    auto_merge: float = DEFAULT_AUTO_MERGE
    review: float = DEFAULT_REVIEW
    max_lines_changed: int = DEFAULT_MAX_LINES
    max_files_changed: int = DEFAULT_MAX_FILES
    forbid_binary: bool = True
    forbid_paths: tuple[str, ...] = ()
    require_tests_for_paths: tuple[str, ...] = ()
    allow_test_edits: bool = False
    test_paths: tuple[str, ...] = DEFAULT_TEST_PATHS
    test_config: tuple[str, ...] = DEFAULT_TEST_CONFIG
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    checks: tuple[CheckSpec, ...] = DEFAULT_CHECKS
    overrides: tuple[Override, ...] = ()
    protected_paths: tuple[str, ...] = ()  # the project's (settings.all_protected_paths)

    def for_patch(self, files: Sequence[str], category: str | None = None) -> PatchPolicy:
        """This policy with the overrides that match the patch applied, strictest first."""
        policy = self
        for override in self.overrides:
            if override.matches(files, category):
                policy = policy._stricter(override.values)
        return policy

    def _stricter(self, values: Mapping[str, Any]) -> PatchPolicy:
        changes: dict[str, Any] = {}
        for name, value in values.items():
            current = getattr(self, name)
            if name in ("auto_merge", "review"):
                changes[name] = max(current, value)
            elif name in ("max_lines_changed", "max_files_changed"):
                changes[name] = min(current, value)
            elif name == "forbid_binary":
                changes[name] = current or value
            elif name == "allow_test_edits":
                changes[name] = current and value
            else:  # path lists add up
                changes[name] = tuple(dict.fromkeys((*current, *value)))
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "auto_merge": self.auto_merge,
            "review": self.review,
            "max_lines_changed": self.max_lines_changed,
            "max_files_changed": self.max_files_changed,
            "forbid_binary": self.forbid_binary,
            "forbid_paths": list(self.forbid_paths),
            "require_tests_for_paths": list(self.require_tests_for_paths),
            "allow_test_edits": self.allow_test_edits,
            "weights": dict(self.weights),
            "checks": [c.name for c in self.checks],
        }


_OVERRIDABLE = (
    "auto_merge",
    "review",
    "max_lines_changed",
    "max_files_changed",
    "forbid_binary",
    "forbid_paths",
    "require_tests_for_paths",
    "allow_test_edits",
)


def load_policy(settings: Settings) -> PatchPolicy:
    """The project's patch policy (ConfigError naming the key when a value is wrong)."""
    raw = settings.sections.get(SECTION, {})
    where = str(settings.config_file or "settings")
    policy = parse_policy(raw, where)
    return replace(policy, protected_paths=settings.all_protected_paths)


def parse_policy(raw: object, where: str = "settings") -> PatchPolicy:
    if not isinstance(raw, Mapping):
        raise ConfigError(where, SECTION, "should be a table")
    known = {*_OVERRIDABLE, "test_paths", "test_config", "weights", "checks", "overrides"}
    for key in raw:
        if key not in known:
            raise ConfigError(where, f"{SECTION}.{key}", f"unknown key (known: {sorted(known)})")
    values = _values(raw, where, SECTION)
    for name in ("test_paths", "test_config"):
        if name in raw:
            values[name] = _paths(raw[name], where, f"{SECTION}.{name}")
    if "weights" in raw:
        values["weights"] = _weights(raw["weights"], where)
    if "checks" in raw:
        values["checks"] = _checks(raw["checks"], where)
    if "overrides" in raw:
        values["overrides"] = _overrides(raw["overrides"], where)
    policy = PatchPolicy(**values)
    if policy.review > policy.auto_merge:
        raise ConfigError(where, f"{SECTION}.review", "should not be above auto_merge")
    return policy


def _values(raw: Mapping[str, Any], where: str, prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _OVERRIDABLE:
        if name not in raw:
            continue
        key = f"{prefix}.{name}"
        value = raw[name]
        if name in ("auto_merge", "review"):
            values[name] = _number(value, where, key, 0.0, 1.01)
        elif name in ("max_lines_changed", "max_files_changed"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(where, key, "should be a whole number of at least 1")
            values[name] = value
        elif name in ("forbid_binary", "allow_test_edits"):
            if not isinstance(value, bool):
                raise ConfigError(where, key, "should be true or false")
            values[name] = value
        else:
            values[name] = _paths(value, where, key)
    return values


def _number(value: object, where: str, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(where, key, "should be a number")
    if not low <= value <= high:
        raise ConfigError(where, key, f"should be between {low:g} and {high:g}")
    return float(value)


def _paths(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(where, key, "should be a list of path patterns")
    try:
        FileScope(value)
    except ValueError as exc:
        raise ConfigError(where, key, str(exc)) from None
    return tuple(value)


def _weights(value: object, where: str) -> dict[str, float]:
    key = f"{SECTION}.weights"
    if not isinstance(value, Mapping):
        raise ConfigError(where, key, "should be a table of kind = weight")
    weights = dict(DEFAULT_WEIGHTS)
    for kind, weight in value.items():
        if kind not in KINDS:
            raise ConfigError(where, f"{key}.{kind}", f"unknown kind (known: {', '.join(KINDS)})")
        weights[kind] = _number(weight, where, f"{key}.{kind}", 0.0, 1.0)
    if sum(weights.values()) <= 0:
        raise ConfigError(where, key, "at least one weight should be above 0")
    return weights


def _checks(value: object, where: str) -> tuple[CheckSpec, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(where, f"{SECTION}.checks", "should be a list of [[checks]] tables")
    checks: list[CheckSpec] = []
    for i, item in enumerate(value):
        key = f"{SECTION}.checks[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(where, key, "should be a table")
        unknown = set(item) - {"name", "kind", "command", "timeout", "files", "repeat"}
        if unknown:
            raise ConfigError(where, f"{key}.{sorted(unknown)[0]}", "unknown key")
        name, kind, command = item.get("name"), item.get("kind"), item.get("command")
        if not isinstance(name, str) or not name:
            raise ConfigError(where, f"{key}.name", "should be a name")
        if kind not in KINDS:
            raise ConfigError(where, f"{key}.kind", f"should be one of {', '.join(KINDS)}")
        if isinstance(command, str):
            import shlex  # noqa: PLC0415 - a string command is split as a shell would, no shell

            command = shlex.split(command)
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(p, str) for p in command)
        ):
            raise ConfigError(where, f"{key}.command", "should be argv: a list of strings")
        timeout = _number(
            item.get("timeout", DEFAULT_CHECK_TIMEOUT_S), where, f"{key}.timeout", 0.1, 86400
        )
        files = item.get("files")
        if files is not None and not isinstance(files, str):
            raise ConfigError(where, f"{key}.files", "should be a glob")
        repeat = item.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 10:
            raise ConfigError(where, f"{key}.repeat", "should be a whole number from 1 to 10")
        checks.append(CheckSpec(name, str(kind), tuple(command), timeout, files, repeat))
    return tuple(checks)


def _overrides(value: object, where: str) -> tuple[Override, ...]:
    if not isinstance(value, list):
        raise ConfigError(where, f"{SECTION}.overrides", "should be a list of tables")
    found: list[Override] = []
    for i, item in enumerate(value):
        key = f"{SECTION}.overrides[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(where, key, "should be a table")
        unknown = set(item) - {*_OVERRIDABLE, "paths", "categories"}
        if unknown:
            raise ConfigError(where, f"{key}.{sorted(unknown)[0]}", "unknown key")
        paths = _paths(item["paths"], where, f"{key}.paths") if "paths" in item else ()
        categories = item.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ConfigError(where, f"{key}.categories", "should be a list of categories")
        if not paths and not categories:
            raise ConfigError(where, key, "name the paths or categories it applies to")
        found.append(Override(paths, tuple(categories), _values(item, where, key)))
    return tuple(found)
