"""Property test of the loaders with numbers at the extremes (issue 9, finding 6).

Every number field of the three formats (native, plan, legacy bundle; YAML and JSON) gets
values from the edges: integers of any length, infinities and NaN in every spelling, 1e300,
negative numbers, booleans, strings where numbers go. Only two things may come out: models
whose numbers a run can use, or a SpecError of one-line problems. Anything else (an
OverflowError, a ValueError from Python's 4,300-digit limit, a pydantic ValidationError
escaping a format conversion) fails the test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uet import defaults
from uet.errors import Problem, SpecError
from uet.spec import Plan, load_files

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_RAW = [  # number tokens as a file may spell them (JSON and YAML alike)
    "9" * 5000,
    "-" + "9" * 5000,
    "1" * 23,
    "9223372036854775808",
    "-9223372036854775809",
    "1e300",
    "-1e300",
    "1e999",
    "1.0e+999",
    "-1.0e+999",
    "1e-320",
    "0",
    "-0.0",
    "604800",
    "604800.0000001",
    "86400",
    "100",
    "101",
    "10000",
    "10001",
    '"inf"',
    '"-Infinity"',
    '"nan"',
    '"1e400"',
    '"3"',
    '"-1"',
    '"' + "9" * 5000 + '"',
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '"ten"',
]
_JSON_ONLY = ["NaN", "Infinity", "-Infinity"]
_YAML_ONLY = [".inf", "-.inf", ".nan", ".NaN", "0x" + "f" * 300, "0o777", "1_000", "1:30", "~"]


def _json_token(value: Any) -> str:
    return json.dumps(value)  # floats nan/inf become NaN/Infinity, as JSON files may have them


def tokens(suffix: str) -> st.SearchStrategy[str]:
    own = _JSON_ONLY if suffix == ".json" else _YAML_ONLY
    return st.one_of(
        st.sampled_from(_RAW + own),
        st.integers().map(str),
        st.integers(min_value=-(10**400), max_value=10**400).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(_json_token),
        st.floats(min_value=-1e6, max_value=1e6).map(_json_token),
        st.booleans().map(_json_token),
    )


NATIVE_FIELDS = [
    "tasks.timeout",
    "tasks.retries",
    "tasks.retry_delay",
    "concurrency",
    "defaults.timeout",
    "defaults.retries",
    "defaults.retry_delay",
    "metadata.x",
]
PLAN_FIELDS = [
    "steps.timeout_sec",
    "steps.retries",
    "steps.retry_delay_sec",
    "globals.max_concurrency",
    "globals.default_timeout_sec",
    "globals.default_retries",
]
BUNDLE_FIELDS = ["ccpm_issue", "metadata.x", "circuit_breaker.max_attempts", "gate"]


def document(fmt: str, values: dict[str, str]) -> str:
    """A file of format ``fmt`` with the raw tokens ``values`` at their fields (flow style)."""
    groups: dict[str, list[str]] = {}
    top: list[str] = []
    for field, token in values.items():
        head, _, rest = field.partition(".")
        if rest:
            groups.setdefault(head, []).append(f'"{rest}": {token}')
        else:
            top.append(f'"{head}": {token}')
    item = ", ".join(groups.pop("tasks", []) + groups.pop("steps", []))
    item = f", {item}" if item else ""
    for head, fields in groups.items():
        top.append(f'"{head}": {{{", ".join(fields)}}}')
    extra = "".join(f", {entry}" for entry in top)
    if fmt == "native":
        return f'{{"id": "ws"{extra}, "tasks": [{{"id": "a", "run": "true"{item}}}]}}'
    if fmt == "plan":
        return f'{{"plan_id": "p"{extra}, "steps": [{{"id": "s", "command": "true"{item}}}]}}'
    return f'{{"id": "ws-b", "tasks": ["do it"]{extra}}}'


@st.composite
def files(draw: st.DrawFn) -> tuple[str, str]:
    """(suffix, text): a file of some format with extreme values in one to three fields."""
    suffix = draw(st.sampled_from([".json", ".yaml"]))
    fmt, fields = draw(
        st.sampled_from(
            [("native", NATIVE_FIELDS), ("plan", PLAN_FIELDS), ("bundle", BUNDLE_FIELDS)]
        )
    )
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True))
    return suffix, document(fmt, {field: draw(tokens(suffix)) for field in chosen})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bounds")


def assert_usable(plan: Plan) -> None:
    """Every number a run will use is finite and within its bound; metadata is strict JSON."""
    for task in plan.tasks:
        assert task.timeout is None or 0 < task.timeout <= defaults.MAX_TIMEOUT_S
        assert math.isfinite(task.retry_delay)
        assert 0 <= task.retry_delay <= defaults.MAX_RETRY_DELAY_S
        assert type(task.retries) is int
        assert 0 <= task.retries <= defaults.MAX_RETRIES
    for spec in plan.workstreams:
        assert spec.concurrency is None or type(spec.concurrency) is int
        assert spec.concurrency is None or 1 <= spec.concurrency <= defaults.MAX_CONCURRENCY
        json.dumps(spec.model_dump(mode="json"), allow_nan=False)  # storable as JSON


@pytest.mark.slow
@FUZZ
@given(file=files())
def test_extreme_numbers_give_models_or_spec_errors_never_tracebacks(
    folder: Path, file: tuple[str, str]
) -> None:
    suffix, text = file
    path = folder / f"ws{suffix}"
    path.write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    try:
        plan: Plan | None = load_files([path], env={})
    except SpecError as error:  # the only exception allowed out
        plan, problems = None, error.problems
    if plan is None:
        assert problems
        assert all("\n" not in str(problem) for problem in problems)
    else:
        assert_usable(plan)


def test_the_generator_reaches_every_outcome(folder: Path) -> None:
    """The documents the property test writes load when their values are good (so the
    property is not vacuous) and fail when they are not."""
    good = folder / "good.json"
    good.write_text(document("plan", {"steps.timeout_sec": "5", "globals.max_concurrency": "3"}))
    assert_usable(load_files([good], env={}))
    bad = folder / "bad.yaml"
    bad.write_text(document("native", {"tasks.timeout": ".inf", "concurrency": "1" * 23}))
    with pytest.raises(SpecError) as info:
        load_files([bad], env={})
    assert {p.path for p in info.value.problems} == {"tasks[0].timeout", "concurrency"}
