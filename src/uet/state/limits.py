"""Lengths of the state's text columns, for code that checks values before writing them
(the event bus) without loading the SQLAlchemy tables of :mod:`uet.state.tables`."""

from __future__ import annotations

RUN_ID_MAX = 128  # characters in a run id
TASK_ID_MAX = 256  # characters in a task id
EVENT_TYPE_MAX = 64  # characters in an event type
