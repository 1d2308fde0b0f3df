"""uet: an execution framework for development automation.

The public surface, grouped; everything else is internal and may change::

    import uet
    result = uet.run(["workstreams/build.yaml"], concurrency=8)   # like `uet run`
    print(result.status, result.counts)

    settings = uet.load_settings()
    store = uet.Store.open(settings)
    with uet.EventBus(store) as bus:
        bus.subscribe("task.*", print)
        bus.emit("task.started", {"attempt": 1}, run_id="run-1", task_id="lint")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runtime imports are lazy (see __getattr__): `import uet` stays cheap
    from uet.agents import AgentManager
    from uet.clock import Clock, FixedClock, SystemClock
    from uet.config import Settings, load_settings
    from uet.engine.api import run
    from uet.engine.model import RunOptions, RunResult
    from uet.errors import (
        BackupError,
        BusClosedError,
        ConfigError,
        ExitCode,
        InvalidBackupError,
        LeaseHeldError,
        LeaseLostError,
        Problem,
        SchemaError,
        SpecError,
        StorageFault,
        StoreError,
        UetError,
        UsageError,
    )
    from uet.events.bus import EventBus, Subscription
    from uet.ids import IdFactory, RandomIds, SequentialIds
    from uet.spec import Plan, PlannedTask
    from uet.spec import TaskSpec as Task
    from uet.spec import WorkstreamSpec as Workstream
    from uet.spec import load_files as load
    from uet.state.records import (
        AgentRecord,
        AttemptRecord,
        AttemptResult,
        DecisionRecord,
        EventRecord,
        RunRecord,
        TaskRecord,
        TaskUpdate,
        WorkstreamRecord,
    )
    from uet.state.store import Store, Transaction
    from uet.states import AttemptState, RunStatus, TaskStatus

__version__ = "0.1.0"

_LAZY = {
    "Clock": "uet.clock",
    "FixedClock": "uet.clock",
    "SystemClock": "uet.clock",
    "Settings": "uet.config",
    "load_settings": "uet.config",
    "BackupError": "uet.errors",
    "BusClosedError": "uet.errors",
    "ConfigError": "uet.errors",
    "ExitCode": "uet.errors",
    "InvalidBackupError": "uet.errors",
    "LeaseHeldError": "uet.errors",
    "LeaseLostError": "uet.errors",
    "SchemaError": "uet.errors",
    "StorageFault": "uet.errors",
    "StoreError": "uet.errors",
    "UetError": "uet.errors",
    "UsageError": "uet.errors",
    "SpecError": "uet.errors",
    "Problem": "uet.errors",
    "run": "uet.engine.api",
    "RunOptions": "uet.engine.model",
    "RunResult": "uet.engine.model",
    "EventBus": "uet.events.bus",
    "Subscription": "uet.events.bus",
    "IdFactory": "uet.ids",
    "RandomIds": "uet.ids",
    "SequentialIds": "uet.ids",
    "AgentRecord": "uet.state.records",
    "AttemptRecord": "uet.state.records",
    "AgentManager": "uet.agents",
    "AttemptResult": "uet.state.records",
    "DecisionRecord": "uet.state.records",
    "EventRecord": "uet.state.records",
    "RunRecord": "uet.state.records",
    "TaskRecord": "uet.state.records",
    "TaskUpdate": "uet.state.records",
    "WorkstreamRecord": "uet.state.records",
    "Store": "uet.state.store",
    "Transaction": "uet.state.store",
    "AttemptState": "uet.states",
    "load": "uet.spec",
    "Workstream": "uet.spec",
    "Task": "uet.spec",
    "Plan": "uet.spec",
    "PlannedTask": "uet.spec",
    "RunStatus": "uet.states",
    "TaskStatus": "uet.states",
}

__all__ = [  # noqa: RUF022 - grouped by concern, not alphabetically
    # workstreams and runs
    "load",
    "run",
    "Workstream",
    "Task",
    "Plan",
    "PlannedTask",
    "RunOptions",
    "RunResult",
    # settings
    "Settings",
    "load_settings",
    # state
    "Store",
    "Transaction",
    "RunRecord",
    "WorkstreamRecord",
    "TaskRecord",
    "TaskUpdate",
    "AttemptRecord",
    "AttemptResult",
    "EventRecord",
    "DecisionRecord",
    "AgentRecord",
    "RunStatus",
    "TaskStatus",
    "AttemptState",
    # agents in isolated git clones
    "AgentManager",
    # events
    "EventBus",
    "Subscription",
    # time and ids
    "Clock",
    "SystemClock",
    "FixedClock",
    "IdFactory",
    "RandomIds",
    "SequentialIds",
    # errors
    "UetError",
    "ConfigError",
    "UsageError",
    "SpecError",
    "Problem",
    "StoreError",
    "StorageFault",
    "SchemaError",
    "BackupError",
    "InvalidBackupError",
    "LeaseHeldError",
    "LeaseLostError",
    "BusClosedError",
    "ExitCode",
    "__version__",
]


_RENAMED = {"load": "load_files", "Workstream": "WorkstreamSpec", "Task": "TaskSpec"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
