"""Table rows to records: what every read of the store returns, on any driver.

Kept apart from :mod:`uet.state.store` (and free of SQLAlchemy) so that the SQLite read path
of the reading commands (:mod:`uet.state.fastread`) builds the very same records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uet.state.records import (
    AgentRecord,
    AttemptRecord,
    DecisionRecord,
    EventRecord,
    RunRecord,
    TaskRecord,
    WorkstreamRecord,
    load_json,
)
from uet.states import AttemptState, RunStatus, TaskStatus


def run_record(row: Mapping[Any, Any]) -> RunRecord:
    values = dict(row)
    values["status"] = RunStatus(values["status"])
    values["deterministic"] = bool(values["deterministic"])
    values["params"] = load_json(values["params"], {})
    values["summary"] = load_json(values["summary"], {})
    return RunRecord(**values)


def workstream_record(row: Mapping[Any, Any]) -> WorkstreamRecord:
    values = dict(row)
    values["status"] = TaskStatus(values["status"])
    values["depends_on"] = load_json(values["depends_on"], [])
    values["spec"] = load_json(values["spec"], {})
    return WorkstreamRecord(**values)


def task_record(row: Mapping[Any, Any]) -> TaskRecord:
    values = dict(row)
    values["status"] = TaskStatus(values["status"])
    values["outcome"] = None if values["outcome"] is None else AttemptState(values["outcome"])
    values["depends_on"] = load_json(values["depends_on"], [])
    values["spec"] = load_json(values["spec"], {})
    return TaskRecord(**values)


def attempt_record(row: Mapping[Any, Any]) -> AttemptRecord:
    values = dict(row)
    values["state"] = AttemptState(values["state"])
    return AttemptRecord(**values)


def event_record(row: Mapping[Any, Any]) -> EventRecord:
    values = dict(row)
    values["payload"] = load_json(values["payload"], {})
    return EventRecord(**values)


def decision_record(row: Mapping[Any, Any]) -> DecisionRecord:
    values = dict(row)
    values["alternatives"] = load_json(values["alternatives"], [])
    values["data"] = load_json(values["data"], {})
    return DecisionRecord(**values)


def agent_record(row: Mapping[Any, Any]) -> AgentRecord:
    values = dict(row)
    values["files_scope"] = load_json(values["files_scope"]) or []
    values["depends_on"] = load_json(values["depends_on"]) or []
    return AgentRecord(**values)
