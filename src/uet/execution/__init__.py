"""Running jobs: the ``Executor`` protocol, the local executor, process-group helpers.

The engine builds a :class:`Job` per attempt, hands it to an :class:`Executor` and reads back
:class:`Started` and :class:`Finished` reports; output lines go to an :class:`OutputSink`.
:class:`ProcessExecutor` (the default of ``uet run``) serves them from a per-run executor
process that journals every outcome; :class:`LocalExecutor` from a thread of the caller.
"""

from __future__ import annotations

from uet.execution.api import (
    OUTPUT_BATCH_MAX_BYTES,
    OUTPUT_FLUSH_INTERVAL_S,
    OUTPUT_LINE_MAX_BYTES,
    OUTPUT_TAIL_BYTES,
    Executor,
    Finished,
    Job,
    Outcome,
    OutputSink,
    Report,
    ReportQueue,
    Started,
    Stdio,
)
from uet.execution.executor_process import ProcessExecutor
from uet.execution.journal import journal_path, read_journal
from uet.execution.local import LocalExecutor, run_job
from uet.execution.process import group_alive, kill_process_group, live_members

__all__ = [  # noqa: RUF022 - grouped by concern, not alphabetically
    # the contract
    "Executor",
    "Finished",
    "Job",
    "Outcome",
    "OutputSink",
    "Report",
    "Started",
    "Stdio",
    "ReportQueue",
    # implementations
    "LocalExecutor",
    "ProcessExecutor",
    "run_job",
    # a run's journal (outcomes that survive the orchestrator)
    "journal_path",
    "read_journal",
    # process groups (reconciliation after a crash)
    "group_alive",
    "kill_process_group",
    "live_members",
    # limits
    "OUTPUT_BATCH_MAX_BYTES",
    "OUTPUT_FLUSH_INTERVAL_S",
    "OUTPUT_LINE_MAX_BYTES",
    "OUTPUT_TAIL_BYTES",
]
