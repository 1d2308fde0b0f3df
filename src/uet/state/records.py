"""What the store returns and takes: small frozen records, one per table row."""

from __future__ import annotations

import json
import json.encoder as json_encoder
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from uet.states import AttemptState, RunStatus, TaskStatus

JsonObject = dict[str, Any]

_fallback_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
_local = threading.local()


def _make_encoder() -> Callable[[object], str]:
    """A compact JSON encoder for this thread.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which is half its cost; the
    event writer encodes every payload, so it keeps one (per thread: the circular-reference
    markers it holds must not be shared). Falls back to the public API where the C
    accelerator is missing.
    """
    make: Any = getattr(json_encoder, "c_make_encoder", None)  # absent without the C module
    if make is None:
        return _fallback_encoder.encode
    markers: dict[int, object] = {}
    iterencode = make(
        markers, str, json_encoder.encode_basestring, None, ":", ",", False, False, True
    )

    def encode(value: object) -> str:
        try:
            return "".join(iterencode(value, 0))
        except BaseException:
            markers.clear()  # an aborted encoding leaves its markers behind
            raise

    return encode


def dump_json(value: object) -> str | None:
    """Compact JSON; None for None or an empty container.

    Never raises: values JSON cannot encode are written as their ``str()``, and a value that
    cannot be encoded at all (a circular structure, a NaN key…) becomes ``{"unencodable": repr}``
    so that one bad payload never stops a batch of events from being written.
    """
    if not value and (value is None or isinstance(value, Mapping | list | tuple)):
        return None
    encode = getattr(_local, "encode", None)
    if encode is None:
        encode = _local.encode = _make_encoder()
    try:
        return encode(value)
    except Exception:  # noqa: BLE001 - any failure of a caller's object is contained here
        return _fallback_encoder.encode({"unencodable": _safe_repr(value)})


def _safe_repr(value: object) -> str:
    try:
        return repr(value)[:2000]
    except Exception:  # noqa: BLE001 - a __repr__ that raises still leaves a trace
        return f"<unrepresentable {type(value).__name__}>"


def load_json(text: str | None, empty: Any = None) -> Any:
    return empty if text is None else json.loads(text)


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    status: RunStatus
    created_at: float
    name: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    host: str | None = None
    pid: int | None = None
    heartbeat_at: float | None = None
    deterministic: bool = False
    params: JsonObject = field(default_factory=dict)
    summary: JsonObject = field(default_factory=dict)

    def to_dict(self) -> JsonObject:
        """What commands show of a run (``--json``)."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class WorkstreamRecord:
    run_id: str
    id: str
    status: TaskStatus
    name: str | None = None
    concurrency: int | None = None
    depends_on: list[str] = field(default_factory=list)
    source: str | None = None
    spec: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    run_id: str
    id: str
    workstream_id: str
    status: TaskStatus
    depends_on: list[str] = field(default_factory=list)
    spec: JsonObject = field(default_factory=dict)
    max_attempts: int = 1
    attempts_used: int = 0
    outcome: AttemptState | None = None
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    run_id: str
    task_id: str
    number: int
    state: AttemptState
    dispatched_at: float
    tool: str | None = None
    host: str | None = None
    pid: int | None = None
    pgid: int | None = None
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    output_tail: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How an attempt ended; applied only while the attempt is still live (fencing)."""

    attempt_id: int
    state: AttemptState
    ended_at: float
    exit_code: int | None = None
    output_tail: str | None = None
    error: str | None = None
    pid: int | None = None  # given when the start was not recorded separately
    pgid: int | None = None
    started_at: float | None = None


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """A task's new status; the other fields are written only when given."""

    task_id: str
    status: TaskStatus
    outcome: AttemptState | None = None
    exit_code: int | None = None
    attempts_used: int | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A persisted event. ``id`` is None where the writer did not read it back (subscribers)."""

    type: str
    ts: float
    run_id: str | None = None
    seq: int | None = None
    task_id: str | None = None
    attempt_id: int | None = None
    payload: JsonObject = field(default_factory=dict)
    id: int | None = None

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "seq": self.seq,
            "type": self.type,
            "ts": self.ts,
            "task_id": self.task_id,
            "attempt_id": self.attempt_id,
            "payload": self.payload,
        }


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    category: str
    chosen: str
    reason: str
    ts: float
    run_id: str | None = None
    task_id: str | None = None
    alternatives: list[Any] = field(default_factory=list)
    data: JsonObject = field(default_factory=dict)
    id: int | None = None  # None until stored


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent clone as the store knows it (``uet agents list``)."""

    id: str
    status: str  # active | merged | removed
    repo: str
    path: str
    branch: str
    base_ref: str
    base_commit: str
    target: str
    created_at: float
    updated_at: float
    files_scope: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    merged_commit: str | None = None
    archive_ref: str | None = None

    def to_dict(self) -> JsonObject:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
