"""The event matcher: its index finds exactly what checking every trigger finds, and
`where` means what docs/automation.md says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uet.spec.triggers import TriggerSpec
from uet.triggers.globs import compile_event_glob
from uet.triggers.match import EventMatcher, compile_where, event_view


def trigger(tid: str, event: str, where: dict[str, Any] | None = None, **more: Any) -> TriggerSpec:
    data = {"id": tid, "event": event, "target": {"exec": ["true"]}, **more}
    if where is not None:
        data["where"] = where
    return TriggerSpec.model_validate(data)


def test_match_uses_globs_and_sorts_by_id() -> None:
    """Literal, head-indexed and wildcard-headed globs all match; results sorted by id."""
    matcher = EventMatcher(
        [
            trigger("z-any", "**"),
            trigger("a-failed", "*.failed"),
            trigger("m-task", "task.*"),
            trigger("b-exact", "task.failed"),
            trigger("off", "task.failed", enabled=False),
            TriggerSpec.model_validate(
                {"id": "cron", "cron": "* * * * *", "target": {"exec": ["x"]}}
            ),
        ]
    )
    assert len(matcher) == 4
    found = [t.id for t in matcher.match("task.failed", {})]
    assert found == ["a-failed", "b-exact", "m-task", "z-any"]
    assert [t.id for t in matcher.match("task.a.b", {})] == ["z-any"]
    assert [t.id for t in matcher.match("run.failed", {})] == ["a-failed", "z-any"]


def test_where_on_the_run_of_a_workstream() -> None:
    """Fire deploy when run.completed of ws-build succeeded (the issue's example)."""
    deploy = trigger("deploy", "run.completed", {"workstream": "ws-build", "status": "succeeded"})
    matcher = EventMatcher([deploy])
    ok = event_view({"status": "succeeded"}, run_id="r1", workstreams=["ws-build", "ws-lint"])
    other = event_view({"status": "succeeded"}, run_id="r2", workstreams=["ws-docs"])
    failed = event_view({"status": "failed"}, run_id="r3", workstreams=["ws-build"])
    assert matcher.match("run.completed", ok) == [deploy]
    assert matcher.match("run.completed", other) == []
    assert matcher.match("run.completed", failed) == []


def test_event_view_of_a_task_event() -> None:
    """A task event's workstream is its task key's; row fields and the raw payload are there."""
    view = event_view(
        {"outcome": "failed", "run_id": "spoofed"},
        event_type="task.failed",
        run_id="r1",
        task_id="ws-a/unit",
        attempt_id=7,
        workstreams=["ws-a", "ws-b"],
        trigger="nightly",
    )
    assert view["workstream"] == "ws-a"
    assert view["workstreams"] == ["ws-a", "ws-b"]
    assert view["run_id"] == "r1"
    assert view["payload"]["run_id"] == "spoofed"
    assert (view["type"], view["attempt_id"], view["trigger"]) == ("task.failed", 7, "nightly")


WHERE_CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({"status": "succeeded"}, {"status": "succeeded"}, True),
    ({"status": "succeeded"}, {"status": "failed"}, False),
    ({"status": "succeeded"}, {}, False),  # a missing field fails
    ({"status": ["failed", "canceled"]}, {"status": "canceled"}, True),  # any of
    ({"workstream": "ws-*"}, {"workstream": "ws-build"}, True),  # a glob
    ({"workstream": "ws-*"}, {"workstream": "other"}, False),
    ({"workstream": "ws-b"}, {"workstream": ["ws-a", "ws-b"]}, True),  # a list field: any item
    ({"workstream": "ws-c"}, {"workstream": ["ws-a", "ws-b"]}, False),
    ({"tasks.failed": 0}, {"tasks": {"failed": 0}}, True),  # dotted paths
    ({"tasks": {"failed": 0}}, {"tasks": {"failed": 2}}, False),  # nested = dotted
    ({"tasks.failed": 0}, {"tasks": 3}, False),
    ({"reconciled": True}, {"reconciled": 1}, False),  # true is not 1
    ({"exit_code": 1}, {"exit_code": True}, False),
    ({"exit_code": 1}, {"exit_code": 1.0}, True),
    ({"trigger": None}, {}, True),  # null: missing or null
    ({"trigger": None}, {"trigger": None}, True),
    ({"trigger": None}, {"trigger": "x"}, False),
    ({"a": 1, "b": 2}, {"a": 1, "b": 3}, False),  # and
    ({"a.b": 1}, {"a.b": 1}, True),  # a key holding a dot, found whole
    ({"status": "succ*"}, {"status": 5}, False),  # a glob needs text
]


@pytest.mark.parametrize(("where", "view", "expected"), WHERE_CASES)
def test_where_semantics(where: dict[str, Any], view: dict[str, Any], expected: bool) -> None:
    """Each documented rule of `where`, one row each."""
    assert compile_where(where)(view) is expected


TYPES = st.lists(st.sampled_from(["run", "task", "agent", "x"]), min_size=1, max_size=3).map(
    ".".join
)
GLOBS = st.lists(
    st.sampled_from(["run", "task", "*", "**", "t*", "?un", "agent"]), min_size=1, max_size=3
).map(".".join)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(GLOBS, st.sampled_from([None, "a", "b", ["a", "c"], "*"])), max_size=25),
    st.lists(st.tuples(TYPES, st.sampled_from([None, "a", "b", "c"])), min_size=1, max_size=30),
)
def test_the_index_finds_what_a_full_scan_finds(
    rules: list[tuple[str, Any]], events: list[tuple[str, str | None]]
) -> None:
    """For any triggers and events, the indexed, cached matcher returns exactly the
    triggers a scan of every glob and where returns, in id order."""
    specs = [
        trigger(f"t{i:02d}", glob, None if ws is None else {"workstream": ws})
        for i, (glob, ws) in enumerate(rules)
    ]
    matcher = EventMatcher(specs)
    for event_type, ws in events:
        view = event_view({}, workstreams=[] if ws is None else [ws])
        expected = [
            s.id
            for s in specs
            if compile_event_glob(s.event or "")(event_type) and compile_where(s.where)(view)
        ]
        assert [s.id for s in matcher.match(event_type, view)] == expected
