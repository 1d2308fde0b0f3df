"""Documented defaults, each with its unit. Settings (``uet.config``) start from these."""

from __future__ import annotations

from typing import Final

HOME_DIR = ".uet"
"""uet's home in a project, relative to the project root."""

STATE_DB_NAME = "state.db"
"""File name of the embedded SQLite database inside the home directory."""

SQLITE_BUSY_TIMEOUT_S = 30.0
"""Seconds a SQLite writer waits for the write lock before giving up."""

SQLITE_SYNCHRONOUS: Final = "NORMAL"
"""``PRAGMA synchronous`` in WAL mode: NORMAL survives any process crash; FULL also power loss."""

EVENT_BATCH_SIZE = 1000
"""Events written per transaction, at most."""

EVENT_FLUSH_INTERVAL_S = 0.05
"""Seconds an emitted event may wait before its batch is written."""

EVENT_QUEUE_MAX = 100_000
"""Events waiting to be written before ``emit()`` blocks (backpressure; never a drop)."""

STORE_FAULT_TIMEOUT_S = 10.0
"""Seconds a write that keeps failing for a transient reason is retried before the run ends
(exit 3); a failure that cannot pass (disk full, read-only, the file gone) ends it at once."""

EVENT_CLOSE_TIMEOUT_S = 60.0
"""Seconds ``with EventBus(...)`` waits at exit for queued events before raising."""

LOGS_DIR_NAME = "logs"
"""Folder of task output inside the home directory: ``logs/<run>/<workstream>/<task>.log``."""

BACKUP_DIR_NAME = "backups"
"""Backups folder inside the home directory."""

BACKUP_RETENTION_DAYS = 30
"""Days ``uet db prune`` keeps backups."""

KILL_GRACE_S = 5.0
"""Seconds between SIGTERM and SIGKILL when a task's process group is stopped."""

HEARTBEAT_INTERVAL_S = 5.0
"""Seconds between an orchestrator's signs of life in its run's row."""

ORCHESTRATOR_STALE_S = 60.0
"""Seconds without a heartbeat after which a run is taken as orphaned, for runs that have no
lease to ask (recorded by a uet from before run leases)."""

RUN_LEASE_TTL_S = 30.0
"""Seconds a run's lease row lives without a renewal (the owner renews it at every tick, by
the database's clock). On PostgreSQL another orchestrator may take an expired lease over; on
SQLite the lock file decides (held while the owner lives, whatever the row says)."""

RUN_LEASE_WAIT_S = 1.0
"""Seconds ``uet resume`` tries to take a run's lock before it concludes that the owner lives
(a ``uet status`` holds it for a moment while it looks)."""

CANCEL_CHECK_INTERVAL_S = 0.25
"""Seconds between a running orchestrator's looks for a cancel request."""

OUTPUT_EVENT_LINES = 200
"""Output lines per ``task.output`` event, at most (the log file keeps every line)."""

TICK_GATHER_S = 0.005
"""Seconds the run loop waits for more outcomes once one arrived, to record them together."""

DISPATCH_AHEAD = 1
"""Jobs handed to the executor beyond ``-j``, in multiples of ``-j``: they wait in its queue,
already recorded as dispatched, and start the moment a process slot frees."""

PROTECTED_PATHS = (
    ".git/**",
    ".gitmodules",
    "**/.gitmodules",  # git's own files, wherever they are (what the change can hide)
    "**/.gitattributes",  # filters and diff drivers run commands on checkout and diff
    ".mailmap",
    ".lfsconfig",
    "**/.git/**",  # a nested repository's config and hooks
    ".githooks/**",
    ".github/**",
    ".gitlab-ci.yml",
    ".circleci/**",
    ".buildkite/**",
    ".travis.yml",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    "Jenkinsfile",
    ".pre-commit-config.yaml",
    ".husky/**",
    ".uet/**",
    "uet.toml",
    "config/*.yaml",
    "config/*.yml",
    "pyproject.toml[tool.uet]",
)
"""Paths an agent may never change unless its task's ``files_scope`` names them explicitly
(``uet.scope.ProtectedPaths``); ``[agents] protected_paths`` in uet.toml adds more.
``FILE[a.b]`` protects only that TOML table of the file."""

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Bytes a file an agent changes may hold, at most (a task's ``max_file_bytes`` says more)."""

# Bounds on what workstream files and flags may ask for (larger values are errors, exit 2).

MAX_TIMEOUT_S = 7 * 24 * 3600.0
"""Seconds a task's (or a step's) timeout may be at most: 7 days."""

MAX_RETRY_DELAY_S = 24 * 3600.0
"""Seconds before a retry, at most: 1 day."""

MAX_RETRIES = 100
"""Retries (attempts after the first) a task may ask for, at most."""

MAX_CONCURRENCY = 10_000
"""Tasks at once, at most: a workstream's ``concurrency`` and ``uet run -j``."""

MAX_SPEC_BYTES = 16 * 1024 * 1024
"""Bytes a workstream file may have, at most (16 MiB); the setting ``max_spec_bytes``."""

MAX_INT_DIGITS = 100
"""Digits an integer in a workstream file may have, anywhere in it (no number uet reads needs
more; Python itself refuses to parse more than 4,300)."""

MAX_YAML_VALUES = 10_000_000
"""Values a YAML workstream file may hold once its aliases are expanded: more than a 16 MiB
file can spell without aliases, far fewer than an alias bomb (``&a [*b, *b, …]``) makes."""

EXECUTOR = "local"
"""How ``uet run`` runs tasks: ``local`` (a per-run executor process that journals every
outcome, so outcomes survive the orchestrator) or ``local-inproc`` (a thread of uet itself)."""

LOST_REDISPATCH_MAX = 3
"""Times a task is run again, without using up its retries, because uet (not the task) died
while its attempt ran; past that, such an attempt counts against the task's retries."""

EXECUTOR_WAIT_REPORT_S = 2.0
"""Seconds between ``uet resume``'s notes that it waits for the previous executor process."""

NON_INTERACTIVE_ENV: dict[str, str] = {
    # generic: "nobody is there to answer"
    "CI": "true",
    "UET_NON_INTERACTIVE": "1",
    "NON_INTERACTIVE": "1",
    # apt, dpkg
    "DEBIAN_FRONTEND": "noninteractive",
    # git: no credential prompt, ssh in batch mode, no editor, no pager
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    "GIT_EDITOR": "true",
    "GIT_MERGE_AUTOEDIT": "no",
    "GIT_PAGER": "cat",
    # editors and pagers of every other program
    "EDITOR": "true",
    "VISUAL": "true",
    "PAGER": "cat",
    # Python tooling
    "PIP_NO_INPUT": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PYTHONUNBUFFERED": "1",
    "POETRY_NO_INTERACTION": "1",
    # other package managers and CLIs
    "npm_config_yes": "true",
    "GH_PROMPT_DISABLED": "1",
    "HOMEBREW_NO_AUTO_UPDATE": "1",
    "CONDA_ALWAYS_YES": "true",
    "COMPOSER_NO_INTERACTION": "1",
    # no terminal: programs must not draw one
    "TERM": "dumb",
}
"""The environment every task process gets so that nothing waits for an answer (docs/
automation.md has the table with each variable's reason). Applied over uet's own
environment and *under* the workstream's and the task's ``env:`` (a task that sets
``TERM`` keeps its value); not applied to ``interactive: true`` tasks nor ``uet exec --tty``.
The process setup (stdin /dev/null, a new session without a controlling terminal) is what
makes a prompt fail for certain; these flags make it fail fast and say why."""
# -- triggers and the daemon -----------------------------------------------------------------

DAEMON_TICK_S = 0.25
"""Longest sleep of ``uet daemon`` between two looks at schedules, events and the ledger
(file changes wake it at once)."""

DAEMON_STOP_S = 1.0
"""How long a stopping daemon (SIGTERM) waits for the runs it interrupts, at most: it
exits within 2 s."""

TRIGGER_RESUMES_MAX = 3
"""Times at most ``uet daemon`` resumes one interrupted run of a trigger at its start."""

TRIGGER_CYCLE_MAX = 3
"""How many times one trigger may appear in the chain of fires that led to a run before an
event it would fire on is skipped (reason ``cycle``)."""

MANUAL_FIRE_PREFIX = "manual:"
"""The fire key prefix of ``uet triggers fire ID`` (then a uuid)."""
