"""The state schema as SQLAlchemy Core tables: the models Alembic migrations are checked against.

Times are seconds since the epoch (``Float``); JSON documents are ``Text`` that the store
encodes, so both dialects store the same bytes. ``events`` is an append-only log with no
foreign key to ``runs``: events outside any run (a breaker opening) have no run and no
sequence number, and the bus never fails a write because a run row is missing.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

RUN_ID_MAX = 128  # characters in a run id
TASK_ID_MAX = 256  # characters in a task id
EVENT_TYPE_MAX = 64  # characters in an event type

# SQLite makes an INTEGER PRIMARY KEY the rowid (cheap appends); PostgreSQL gets a bigint.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(RUN_ID_MAX), primary_key=True),
    sa.Column("name", sa.String(256)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("host", sa.String(256)),  # orchestrator's host name
    sa.Column("pid", sa.Integer),  # orchestrator's process id
    sa.Column("heartbeat_at", sa.Float),  # orchestrator's last sign of life
    sa.Column("deterministic", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("params", sa.Text),  # JSON: files, concurrency, executor…
    sa.Column("summary", sa.Text),  # JSON: counts and outcome when finished
    sa.Index(None, "status"),
    sa.Index(None, "created_at"),
)

workstreams = sa.Table(
    "workstreams",
    metadata,
    sa.Column("run_id", sa.String(RUN_ID_MAX), sa.ForeignKey("runs.id", ondelete="CASCADE")),
    sa.Column("id", sa.String(128)),
    sa.Column("name", sa.String(256)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("concurrency", sa.Integer),
    sa.Column("depends_on", sa.Text),  # JSON list of workstream ids
    sa.Column("source", sa.Text),  # the file it was loaded from
    sa.Column("spec", sa.Text),  # JSON of the validated model
    sa.PrimaryKeyConstraint("run_id", "id"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("run_id", sa.String(RUN_ID_MAX), sa.ForeignKey("runs.id", ondelete="CASCADE")),
    sa.Column("id", sa.String(TASK_ID_MAX)),
    sa.Column("workstream_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("depends_on", sa.Text),  # JSON list of task ids
    sa.Column("spec", sa.Text),  # JSON of the validated model
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("attempts_used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("outcome", sa.String(16)),  # the deciding attempt's state
    sa.Column("exit_code", sa.Integer),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.PrimaryKeyConstraint("run_id", "id"),
    sa.Index(None, "run_id", "status"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(RUN_ID_MAX), nullable=False),
    sa.Column("task_id", sa.String(TASK_ID_MAX), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),  # 1 for the first attempt of a task
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("tool", sa.String(128)),  # routing's choice, for tool tasks
    sa.Column("host", sa.String(256)),
    sa.Column("pid", sa.Integer),
    sa.Column("pgid", sa.Integer),  # process group: what a timeout, cancel or reconcile kills
    sa.Column("exit_code", sa.Integer),
    sa.Column("dispatched_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("output_tail", sa.Text),
    sa.Column("error", sa.Text),  # why it could not run (state error) or was lost
    sa.ForeignKeyConstraint(
        ["run_id", "task_id"], ["tasks.run_id", "tasks.id"], ondelete="CASCADE"
    ),
    sa.UniqueConstraint("run_id", "task_id", "number"),
    sa.Index(None, "run_id", "state"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(RUN_ID_MAX)),
    sa.Column("seq", sa.Integer),  # 1, 2, 3… within a run; NULL outside runs
    sa.Column("type", sa.String(EVENT_TYPE_MAX), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("task_id", sa.String(TASK_ID_MAX)),
    sa.Column("attempt_id", sa.BigInteger),
    sa.Column("payload", sa.Text),  # JSON object, NULL when empty
    sa.Index(None, "run_id", "seq", unique=True),
    sa.Index(None, "type"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),  # routing, retry, breaker, merge…
    sa.Column("run_id", sa.String(RUN_ID_MAX)),
    sa.Column("task_id", sa.String(TASK_ID_MAX)),
    sa.Column("chosen", sa.Text, nullable=False),
    sa.Column("alternatives", sa.Text),  # JSON list of the options considered
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("data", sa.Text),  # JSON: scores, counters, whatever explains the choice
    sa.Index(None, "run_id", "category"),
    sa.Index(None, "category", "ts"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | merged | removed
    sa.Column("repo", sa.Text, nullable=False),  # the base repository
    sa.Column("path", sa.Text, nullable=False),  # the clone
    sa.Column("branch", sa.String(128), nullable=False),
    sa.Column("base_ref", sa.String(256), nullable=False),
    sa.Column("base_commit", sa.String(64), nullable=False),
    sa.Column("target", sa.String(256), nullable=False),
    sa.Column("files_scope", sa.Text),  # JSON list of patterns
    sa.Column("depends_on", sa.Text),  # JSON list of agent ids
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("merged_commit", sa.String(64)),  # the target's tip after its last merge
    sa.Column("archive_ref", sa.String(256)),  # where its work was kept when removed
    sa.Index(None, "status"),
)

# -- routing (migration 0004) ---------------------------------------------------------------

TOOL_MAX = 128  # characters in a tool name

tool_state = sa.Table(
    "tool_state",
    metadata,
    sa.Column("tool", sa.String(TOOL_MAX), primary_key=True),
    sa.Column("breaker", sa.String(16), nullable=False),  # closed | open | half_open
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),  # consecutive
    sa.Column("opened_at", sa.Float),  # when the breaker last opened
    sa.Column("retry_at", sa.Float),  # when an open breaker lets a probe through
    sa.Column("reason", sa.Text),  # why it last changed state
    sa.Column("updated_at", sa.Float, nullable=False),
)

route_cursors = sa.Table(
    "route_cursors",
    metadata,
    sa.Column("rule", sa.String(TOOL_MAX), primary_key=True),  # the rule's stable key
    sa.Column("next_index", sa.Integer, nullable=False),  # round-robin: the next tool's index
    sa.Column("updated_at", sa.Float, nullable=False),
)

tool_leases = sa.Table(
    "tool_leases",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tool", sa.String(TOOL_MAX), nullable=False),
    sa.Column("holder", sa.String(256), nullable=False),  # host:pid:token of the router
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Index(None, "tool"),
)

run_leases = sa.Table(
    "run_leases",
    metadata,
    sa.Column("run_id", sa.String(RUN_ID_MAX), sa.ForeignKey("runs.id", ondelete="CASCADE")),
    sa.Column("host", sa.String(256), nullable=False),  # the owner orchestrator's host name
    sa.Column("pid", sa.Integer, nullable=False),  # and process id
    sa.Column("epoch", sa.BigInteger, nullable=False),  # +1 at every take: the fencing token
    sa.Column("expires_at", sa.Float, nullable=False),  # the database's clock; 0 once released
    sa.PrimaryKeyConstraint("run_id"),
)

# -- triggers (migration 0006) --------------------------------------------------------------

TRIGGER_ID_MAX = 128  # characters in a trigger id
FIRE_KEY_MAX = 256  # characters in a fire key

trigger_fires = sa.Table(
    "trigger_fires",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("trigger_id", sa.String(TRIGGER_ID_MAX), nullable=False),
    sa.Column("fire_key", sa.String(FIRE_KEY_MAX), nullable=False),  # cron:…, event:<id>…
    sa.Column("scheduled_for", sa.Float),  # the schedule's time (None: events, files, manual)
    sa.Column("fired_at", sa.Float, nullable=False),
    sa.Column("run_id", sa.String(RUN_ID_MAX)),  # the run it started (None: skipped)
    sa.Column("status", sa.String(16), nullable=False),  # fired | skipped | launched | failed
    sa.Column("reason", sa.Text),  # why (a skip's reason, a failure's message)
    sa.Column("daemon", sa.String(256)),  # host:pid of the daemon (or command) that fired it
    sa.UniqueConstraint("trigger_id", "fire_key"),
    sa.Index(None, "trigger_id", "fired_at"),
    sa.Index(None, "status"),
)

daemon_leases = sa.Table(
    "daemon_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # "daemon": one leader per store
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("epoch", sa.BigInteger, nullable=False),  # +1 at every take
    sa.Column("expires_at", sa.Float, nullable=False),  # the database's clock; 0 once released
)

trigger_cursors = sa.Table(
    "trigger_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # "events": the followed event log
    sa.Column("position", sa.BigInteger, nullable=False),  # every event id ≤ it was seen
    sa.Column("updated_at", sa.Float, nullable=False),
)

# -- patches (migration 0007) ---------------------------------------------------------------

PATCH_ID_MAX = 64  # characters in a patch id

patches = sa.Table(
    "patches",
    metadata,
    sa.Column("id", sa.String(PATCH_ID_MAX), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # created | validated | queued | …
    sa.Column("queue", sa.String(16)),  # auto_merge | review | manual (None: not decided)
    sa.Column("repo", sa.Text, nullable=False),  # the base repository
    sa.Column("target", sa.String(256), nullable=False),  # the branch it is for
    sa.Column("base_commit", sa.String(64), nullable=False),  # the commit it was made on
    sa.Column("diff", sa.Text, nullable=False),  # the unified diff
    sa.Column("origin", sa.Text),  # JSON: fixer, tool, run/task, finding fingerprints
    sa.Column("scope", sa.Text),  # JSON: files, insertions, deletions, hunks
    sa.Column("confidence", sa.Float),  # the last validation's score in [0, 1]
    sa.Column("signals", sa.Text),  # JSON: the last validation's signals
    sa.Column("reason", sa.Text),  # why it is in its state (the last transition's reason)
    sa.Column("branch", sa.String(256)),  # its review branch (uet/fix/<id>), once pushed
    sa.Column("commit", sa.String(64)),  # the validated commit; the target's tip once merged
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index(None, "state"),
    sa.Index(None, "created_at"),
)

patch_transitions = sa.Table(
    "patch_transitions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "patch_id",
        sa.String(PATCH_ID_MAX),
        sa.ForeignKey("patches.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("from_state", sa.String(16)),  # None: the patch was created
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("data", sa.Text),  # JSON: what explains the move (signals, tamper reasons…)
    sa.Index(None, "patch_id", "id"),
)
