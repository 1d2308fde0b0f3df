"""``uet exec``'s one-task plan without pydantic (uet.spec.planned.CommandTask) against the
plan ``TaskSpec`` makes of the same values: the same settings, the same stored documents,
and every value the light path does not take left to the model (which accepts it or says
what is wrong), never accepted differently."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uet.engine.model import planned_from_document, task_document
from uet.errors import SpecError
from uet.spec import oneshot
from uet.spec.models import TaskSpec
from uet.spec.planned import CommandTask, CommandWorkstream, PlannedTask


def _fields(**given: object) -> dict[str, object]:
    fields: dict[str, object] = {"id": "x", "name": None, "env": {}, "interactive": False}
    fields.update(given)
    return fields


def _compare(fields: dict[str, object]) -> None:
    """Light and model plans of ``fields``: equal where the light path takes them."""
    light = oneshot._light_plan(fields, "exec", "uet exec")
    try:
        model = oneshot._model_plan(fields, "exec", "uet exec")
    except SpecError:
        assert light is None, fields  # what the model refuses, the light path never takes
        return
    if light is None:
        return  # left to the model, which took it
    (fast,), (slow,) = light.tasks, model.tasks
    assert isinstance(fast.spec, CommandTask)
    assert isinstance(slow.spec, TaskSpec)
    for item in dataclasses.fields(PlannedTask):
        if item.name != "spec":
            assert getattr(fast, item.name) == getattr(slow, item.name), item.name
    assert task_document(fast) == task_document(slow)
    for name in TaskSpec.model_fields:
        assert getattr(fast.spec, name) == getattr(slow.spec, name), name
    (ws_fast,), (ws_slow,) = light.workstreams, model.workstreams
    assert isinstance(ws_fast, CommandWorkstream)
    dump = {"mode": "json", "exclude": {"tasks"}}
    assert ws_fast.model_dump(**dump) == ws_slow.model_dump(**dump)  # type: ignore[arg-type]
    assert light.sources == model.sources
    again = planned_from_document(fast.key, fast.workstream_id, [], task_document(fast))
    assert again.spec == slow.spec  # a resumed exec run is the run it was


def test_command_task_has_the_fields_and_defaults_of_task_spec() -> None:
    """Same names, same order, same defaults: a field added to TaskSpec must be added here."""
    names = [item.name for item in dataclasses.fields(CommandTask)]
    assert names == list(TaskSpec.model_fields)
    spec = TaskSpec(id="x", argv=["true"])
    light = CommandTask(id="x", argv=["true"])
    for name in names:
        assert getattr(light, name) == getattr(spec, name), name


@pytest.mark.parametrize(
    "given",
    [
        {"argv": ["true"]},
        {"run": "echo hi; exit 3", "name": "n", "timeout": 600, "retries": 2},
        {"argv": ["a", "b c", "é"], "timeout": 0.5, "retry_delay": 0, "retry_on": [1, 75]},
        {
            "argv": ["x"],
            "retry_on": "Connection (reset|refused)",
            "cwd": "/srv/x",
            "env": {"A": "1"},
        },
        {"argv": ["x"], "interactive": True, "retries": 100, "timeout": 604800},
        # left to the model: it refuses each
        {"argv": ["x"], "timeout": 0},
        {"argv": ["x"], "timeout": float("inf")},
        {"argv": ["x"], "timeout": True},
        {"argv": ["x"], "retries": 101},
        {"argv": ["x"], "retries": True},
        {"argv": ["x"], "retry_on": "("},
        {"argv": ["x"], "retry_on": [0]},
        {"argv": ["x"], "retry_on": []},
        {"argv": ["x"], "env": {"A=B": "1"}},
        {"argv": ["x\0y"]},
        {"argv": []},
        {"run": "x", "cwd": "a\0b"},
        # left to the model: it accepts these its own way
        {"argv": ["x"], "timeout": "5"},
        {"argv": ["x"], "retry_on": 3},
    ],
)
def test_the_light_plan_is_the_models_plan(given: dict[str, object]) -> None:
    _compare(_fields(**given))


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(min_value=-1, max_value=300), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    timeout=_values,
    retries=_values,
    retry_delay=_values,
    retry_on=_values,
    env=st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    argv=st.lists(st.text(max_size=4), max_size=2),
)
def test_no_value_is_taken_differently(
    timeout: object,
    retries: object,
    retry_delay: object,
    retry_on: object,
    env: dict[str, str],
    argv: list[str],
) -> None:
    given = {"timeout": timeout, "retries": retries, "retry_delay": retry_delay}
    given["retry_on"] = retry_on
    _compare(_fields(argv=argv, env=env, **{k: v for k, v in given.items() if v is not None}))


def test_uet_exec_imports_no_pydantic(tmp_path: Path) -> None:
    """`uet exec` of a plain command loads neither pydantic nor SQLAlchemy; a bad value
    still gets the model's message (exit 2)."""
    probe = (
        "import sys\nfrom uet.cli import main\ncode = main(sys.argv[1:])\n"
        "print([m for m in ('pydantic', 'sqlalchemy') if m in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )

    def uet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    done = uet("exec", "--timeout", "30", "--retries", "1", "--env", "A=1", "--", "true")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("[]"), done.stderr[-300:]
    bad = uet("exec", "--retry-on", "(", "--", "true")
    assert bad.returncode == 2, bad.stderr
    assert "retry_on: not a valid regular expression" in bad.stderr
