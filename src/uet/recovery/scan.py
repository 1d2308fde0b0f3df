"""``uet scan``: checkers run in parallel as the tasks of one recorded run, then read.

::

    result = scan(settings, lambda: store, ScanOptions(paths=("src",), diff_base="main"))
    write_jsonl(Path("findings.jsonl"), result.records())
    sys.exit(result.exit_code(Severity.ERROR))

1. **Files**: the paths' files (``git ls-files`` of tracked and untracked-not-ignored
   files where the root is in a git work tree, else a walk that skips hidden folders,
   virtualenvs and caches), each checker keeping those its ``patterns`` match.
2. **Cache** (:mod:`uet.recovery.cache`): a checker whose files are unchanged is not run; a
   per-file checker runs on its changed files only.
3. **Run**: every checker left is one task of a run (workstream ``scan``, visible in
   ``uet runs/status/logs``) through :mod:`uet.recovery.capture`, which keeps the tool's
   machine output in ``<home>/scans/<run>/<checker>.out``. No run is started when every
   checker's findings came from the cache or no checker applies.
4. **Read**: each output is parsed into findings; fingerprints are computed; ``--diff BASE``
   keeps those on lines changed since BASE (``git diff -U0``, plus untracked files whole);
   each finding is compared with the previous scan of the same scope (its *baseline*): new,
   unchanged, or absent.

A checker whose tool is missing is *skipped* (reported, not fatal). One whose tool failed
(an exit code outside its ``ok_exit``, output that cannot be read, a timeout) is *failed*:
the scan then exits 1 even without findings, since it could not check everything.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uet.config import Settings
from uet.errors import ExitCode, UsageError
from uet.isolation.git import Git, GitError
from uet.recovery.cache import CACHE_FOLDER, CheckerCache, file_hash, identity_of, set_hash
from uet.recovery.checkers import Checker, CheckerFailed, Invocation, load_checkers
from uet.recovery.findings import (
    BaselineState,
    Finding,
    Severity,
    at_or_above,
    with_fingerprints,
    write_jsonl,
)

if TYPE_CHECKING:
    from uet.state.store import Store

SCAN_WORKSTREAM = "scan"
"""The workstream id of a scan's run: its tasks are ``scan/<checker>``."""

SCANS_FOLDER = "scans"
"""Under uet's home: each scan's tool outputs (``<run>/``) and the baselines."""

_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".uet", ".venv", "venv", "node_modules",
                           "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                           ".tox", ".nox", "build", "dist"})  # fmt: skip
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class CheckerStatus(enum.StrEnum):
    """How a checker took part in a scan."""

    RAN = "ran"  # run now (a per-file checker: on its changed files; the rest from cache)
    CACHED = "cached"  # nothing it reads changed: its findings came from the cache
    NO_FILES = "no_files"  # none of the scanned files is one it applies to
    SKIPPED = "skipped"  # its tool is not installed
    FAILED = "failed"  # its tool failed or its output could not be read


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and how (``uet scan``'s options)."""

    paths: tuple[str, ...] = (".",)  # relative to ``cwd`` (or absolute), inside the root
    cwd: Path | None = None  # where relative paths start [the process's working directory]
    checkers: tuple[str, ...] = ()  # only these (names) [all enabled]
    diff_base: str | None = None  # keep findings on lines changed since this revision
    use_cache: bool = True
    baseline: Path | None = None  # a JSONL of an earlier scan [the last scan of this scope]
    concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class CheckerReport:
    """One checker's part in a scan."""

    name: str
    status: CheckerStatus
    files: int = 0  # files it applies to
    checked: int = 0  # files run through the tool now (the rest: from the cache)
    findings: int = 0
    reason: str | None = None  # why skipped or failed
    duration: float | None = None  # seconds of its task

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "files": self.files,
            "checked": self.checked,
            "findings": self.findings,
            "reason": self.reason,
            "duration": None if self.duration is None else round(self.duration, 3),
        }


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan found: findings (sorted), their baseline states, each checker's report."""

    root: Path
    run_id: str | None
    findings: tuple[Finding, ...]
    reports: tuple[CheckerReport, ...]
    states: Mapping[str, BaselineState] = field(default_factory=dict)  # by fingerprint
    absent: tuple[Finding, ...] = ()  # in the baseline, gone now
    interrupted: bool = False
    duration: float = 0.0

    def records(self) -> list[dict[str, Any]]:
        """The JSONL records: each finding with its ``baseline_state``."""
        return [{**f.to_dict(), "baseline_state": self.state_of(f).value} for f in self.findings]

    def state_of(self, finding: Finding) -> BaselineState:
        return self.states.get(finding.fingerprint, BaselineState.NEW)

    def exit_code(self, fail_on: Severity | None) -> int:
        """130 interrupted; 1 when a checker failed or a finding is at or above ``fail_on``
        (None: never for findings); else 0."""
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if any(r.status is CheckerStatus.FAILED for r in self.reports):
            return int(ExitCode.FAILED)
        if fail_on is not None and at_or_above(self.findings, fail_on):
            return int(ExitCode.FAILED)
        return int(ExitCode.OK)

    def counts(self) -> dict[str, int]:
        counts = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    def to_dict(self, fail_on: Severity | None) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "run_id": self.run_id,
            "exit_code": self.exit_code(fail_on),
            "duration": round(self.duration, 3),
            "counts": self.counts(),
            "checkers": [report.to_dict() for report in self.reports],
            "findings": self.records(),
            "absent": [f.to_dict() for f in self.absent],
        }


@dataclass
class _Pending:
    """A checker about to run: its task, its files, and what the cache gave already."""

    checker: Checker
    cache: CheckerCache
    hashes: dict[str, str]  # every file it applies to
    targets: tuple[str, ...]  # put on its command line now
    cached: list[Finding]
    key: str  # set hash (whole-set checkers)
    out: Path = Path()
    status: Path = Path()


def scan(
    settings: Settings,
    store: Callable[[], Store],
    options: ScanOptions,
    *,
    interrupted: threading.Event | None = None,
) -> ScanResult:
    """Scan (the module docstring). Raises UsageError (exit 2) for a path outside the
    project, an unknown checker or a bad ``diff_base``; ConfigError for a bad section."""
    started = time.monotonic()
    root = settings.root.resolve()
    checkers = _selected(load_checkers(settings), options.checkers)
    changed = None if options.diff_base is None else changed_lines(root, options.diff_base)
    scope = _relative_paths(root, options)
    files = discover(root, scope)
    if changed is not None:
        files = [f for f in files if f in changed]
    reports: dict[str, CheckerReport] = {}
    findings: list[Finding] = []
    pending: list[_Pending] = []
    cache_folder = settings.home / CACHE_FOLDER
    for name, checker in checkers.items():
        report, ready = _prepare(checker, files, root, cache_folder, options.use_cache)
        if report is not None:
            reports[name] = report
        if ready is not None and ready.targets:
            pending.append(ready)
        elif ready is not None:  # all from the cache
            findings += ready.cached
            reports[name] = CheckerReport(name, CheckerStatus.CACHED, len(ready.hashes), 0,
                                          len(ready.cached))  # fmt: skip
    run_id, was_interrupted = None, False
    if pending:
        run_id, was_interrupted, ran = _run(
            settings,
            store=store(),
            root=root,
            pending=pending,
            options=options,
            interrupted=interrupted,
        )
        for item in pending:
            report, found = ran[item.checker.name]
            reports[item.checker.name] = report
            findings += found
    if changed is not None:
        findings = [f for f in findings if on_changed_line(f, changed)]
    findings.sort(key=Finding.sort_key)
    ordered = tuple(reports[name] for name in sorted(reports))
    states, absent = _compare(settings, options, scope, findings, ordered)
    return ScanResult(root, run_id, tuple(findings), ordered, states, tuple(absent),
                      was_interrupted, time.monotonic() - started)  # fmt: skip


def _selected(checkers: dict[str, Checker], names: Sequence[str]) -> dict[str, Checker]:
    if not names:
        return checkers
    unknown = [name for name in names if name not in checkers]
    if unknown:
        raise UsageError(f"--checker {unknown[0]!r}: no such enabled checker "
                         f"(known: {', '.join(checkers) or 'none'})")  # fmt: skip
    return {name: checkers[name] for name in dict.fromkeys(names)}


def _relative_paths(root: Path, options: ScanOptions) -> list[str]:
    cwd = (options.cwd or Path.cwd()).resolve()
    out = []
    for given in options.paths or (".",):
        path = (cwd / given).resolve()
        if not path.exists():
            raise UsageError(f"{given}: no such file or folder")
        try:
            out.append(path.relative_to(root).as_posix())
        except ValueError:
            raise UsageError(f"{given}: outside the project ({root})") from None
    return out


def discover(root: Path, paths: Sequence[str]) -> list[str]:
    """The files under ``paths`` (relative to ``root``), sorted, '/'-separated."""
    listed = _git_files(root, paths)
    if listed is None:
        listed = [f for path in paths for f in _walk(root, path)]
    return sorted({f for f in listed if (root / f).is_file()})


def _git_files(root: Path, paths: Sequence[str]) -> list[str] | None:
    git = Git(root)
    try:
        if git.out("rev-parse", "--is-inside-work-tree") != "true":
            return None
        output = git.out("ls-files", "-z", "--cached", "--others", "--exclude-standard",
                         "--", *paths)  # fmt: skip
    except GitError:
        return None
    return [name for name in output.split("\0") if name and not _skipped(name)]


def _skipped(relative: str) -> bool:
    return any(part in _SKIPPED_DIRS for part in relative.split("/")[:-1])


def _walk(root: Path, path: str) -> Iterable[str]:
    start = root / path
    if start.is_file():
        yield path
        return
    for folder, dirs, names in os.walk(start):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        base = Path(folder).relative_to(root)
        for name in names:
            yield (base / name).as_posix()


def changed_lines(root: Path, base: str) -> dict[str, set[int] | None]:
    """Lines added or changed since ``base`` by path (None: the whole file, untracked)."""
    git = Git(root)
    try:
        git.out("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    except GitError:
        raise UsageError(f"--diff {base!r}: not a commit of the repository at {root}") from None
    diff = git.out("diff", "-U0", "--no-color", "--no-ext-diff", "-M", "--relative", base, "--")
    changed: dict[str, set[int] | None] = {}
    current: set[int] | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = None
            if name != "/dev/null":
                current = changed.setdefault(_unquote(name)[2:], set())  # "b/" prefix
        elif current is not None and (match := _HUNK.match(line)):
            start, count = int(match.group(1)), int(match.group(2) or "1")
            current.update(range(start, start + count))
    others = git.out("ls-files", "-z", "--others", "--exclude-standard")
    for name in others.split("\0"):
        if name:
            changed[name] = None
    return changed


def _unquote(name: str) -> str:
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return name


def on_changed_line(finding: Finding, changed: Mapping[str, set[int] | None]) -> bool:
    """Whether ``finding`` is on a line of ``changed`` (any line of a wholly new file)."""
    if finding.path not in changed:
        return False
    lines = changed[finding.path]
    if lines is None:
        return True
    if finding.line is None:
        return False
    last = max(finding.end_line or finding.line, finding.line)
    return any(number in lines for number in range(finding.line, last + 1))


def _prepare(
    checker: Checker, files: Sequence[str], root: Path, cache_folder: Path, use_cache: bool
) -> tuple[CheckerReport | None, _Pending | None]:
    """A checker's report when it takes no part (no files, missing tool), else its plan."""
    mine = [f for f in files if checker.applies_to(f)]
    if not checker.targets(mine):
        return CheckerReport(checker.name, CheckerStatus.NO_FILES), None
    if checker.program() is None:
        reason = f"{checker.tool} is not installed (not on PATH)"
        return CheckerReport(checker.name, CheckerStatus.SKIPPED, len(mine), reason=reason), None
    identity = identity_of(checker.identity(), root, checker.config_files)
    cache = CheckerCache.load(cache_folder, checker.name, identity)
    if not use_cache:
        cache = CheckerCache(cache.path, identity)
    hashes = {f: file_hash(root / f) for f in mine}
    key = set_hash(hashes)
    if checker.per_file:
        cached, stale = cache.per_file(hashes)
        return None, _Pending(checker, cache, hashes, checker.targets(stale), cached, key)
    whole = cache.whole(key)
    if whole is not None:
        return None, _Pending(checker, cache, hashes, (), whole, key)
    return None, _Pending(checker, cache, hashes, checker.targets(mine), [], key)


def _run(
    settings: Settings,
    *,
    store: Store,
    root: Path,
    pending: list[_Pending],
    options: ScanOptions,
    interrupted: threading.Event | None,
) -> tuple[str, bool, dict[str, tuple[CheckerReport, list[Finding]]]]:
    from uet.engine.api import start_run  # noqa: PLC0415 - only when a checker must run
    from uet.engine.model import RunOptions, default_concurrency  # noqa: PLC0415
    from uet.ids import RandomIds  # noqa: PLC0415
    from uet.states import RunStatus  # noqa: PLC0415

    run_id = RandomIds().new("run")
    folder = settings.home / SCANS_FOLDER / run_id
    folder.mkdir(parents=True, exist_ok=True)
    plan = _plan(root, settings, pending, folder)
    concurrency = options.concurrency or min(len(pending), default_concurrency())
    run_options = RunOptions.make(concurrency=concurrency, deterministic=False, run_id=run_id)
    run_options = dataclasses.replace(run_options, name="uet scan")
    result = start_run(plan, settings=settings, store=store, options=run_options,
                       interrupted=interrupted)  # fmt: skip
    stopped = result.status is RunStatus.INTERRUPTED
    durations = _durations(store, run_id)
    if stopped:  # what did not finish says so, whatever state its attempt was left in
        for item in pending:
            if not item.status.is_file():
                took = durations.get(item.checker.name, (None, None))[0]
                durations[item.checker.name] = (took, "interrupted before it finished")
    ran = {item.checker.name: _read(item, root, settings, durations) for item in pending}
    return run_id, stopped, ran


def _plan(root: Path, settings: Settings, pending: list[_Pending], folder: Path) -> Any:
    from uet.spec._resolve import plan_task  # noqa: PLC0415
    from uet.spec.models import Plan, TaskSpec, WorkstreamSpec  # noqa: PLC0415

    tasks = []
    for item in pending:
        checker = item.checker
        item.out, item.status = folder / f"{checker.name}.out", folder / f"{checker.name}.status"
        inv = Invocation(root, item.targets, settings.home / "cache", output=item.out)
        wrapper = [sys.executable, "-m", "uet.recovery.capture", "--out", str(item.out),
                   "--status", str(item.status),
                   "--ok", ",".join(str(code) for code in sorted(checker.ok_exit))]  # fmt: skip
        if getattr(checker, "merge_stderr", False):
            wrapper.append("--merge-stderr")
        if checker.writes_file:
            wrapper.append("--no-stdout")
        argv = [*wrapper, "--", *checker.command(checker.program() or [], inv)]
        tasks.append(TaskSpec(id=checker.name, argv=argv, cwd=str(root),
                              timeout=checker.timeout, retries=0))  # fmt: skip
    workstream = WorkstreamSpec(id=SCAN_WORKSTREAM, name="uet scan", tasks=tasks)
    planned = tuple(plan_task(workstream, task, []) for task in tasks)
    return Plan(workstreams=(workstream,), tasks=planned,
                sources={SCAN_WORKSTREAM: Path("uet scan")})  # fmt: skip


def _durations(store: Store, run_id: str) -> dict[str, tuple[float | None, str | None]]:
    from uet.state.reasons import attempt_reason  # noqa: PLC0415
    from uet.states import AttemptState  # noqa: PLC0415

    out: dict[str, tuple[float | None, str | None]] = {}
    with store.reader() as tx:
        for attempt in tx.get_attempts(run_id):
            name = attempt.task_id.rpartition("/")[2]
            took = None
            if attempt.started_at is not None and attempt.ended_at is not None:
                took = attempt.ended_at - attempt.started_at
            reason = None if attempt.state is AttemptState.SUCCEEDED else attempt_reason(attempt)
            out[name] = (took, reason)
    return out


def _read(
    item: _Pending,
    root: Path,
    settings: Settings,
    durations: Mapping[str, tuple[float | None, str | None]],
) -> tuple[CheckerReport, list[Finding]]:
    """A checker's findings from its output (and the cache), or its failure."""
    checker = item.checker
    took, reason = durations.get(checker.name, (None, "its task did not run"))
    status = _status(item.status)
    files, checked = len(item.hashes), len(item.targets)
    if status is None or status.get("error") or status.get("exit") not in checker.ok_exit:
        why = (status or {}).get("error") or _failure(status, item.out) or reason or (
            "it did not finish")  # fmt: skip
        return CheckerReport(checker.name, CheckerStatus.FAILED, files, checked, 0, why,
                             took), list(item.cached)  # fmt: skip
    inv = Invocation(root, item.targets, settings.home / "cache", item.out,
                     status.get("exit"), str(status.get("stderr") or ""))  # fmt: skip
    try:
        output = item.out.read_text(encoding="utf-8", errors="replace")
        found = with_fingerprints(checker.parse(output, inv), root)
    except (OSError, CheckerFailed) as exc:
        return CheckerReport(checker.name, CheckerStatus.FAILED, files, checked, 0, str(exc),
                             took), list(item.cached)  # fmt: skip
    if checker.per_file:
        item.cache.store_files({f: item.hashes[f] for f in item.targets}, found)
    else:
        item.cache.store_whole(item.key, found)
    item.cache.save()
    allfound = [*item.cached, *found]
    return CheckerReport(checker.name, CheckerStatus.RAN, files, checked, len(allfound), None,
                         took), allfound  # fmt: skip


def _status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _failure(status: Mapping[str, Any] | None, out: Path) -> str | None:
    """The tool's exit code and the last lines of its stderr (or of its merged output)."""
    if status is None:
        return None
    text = str(status.get("stderr") or "")
    if not text.strip():
        try:
            text = out.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            text = ""
    tail = text.strip().splitlines()[-3:]
    detail = f": {' / '.join(tail)}" if tail else ""
    return f"the tool exited {status.get('exit')}{detail}"


def _compare(
    settings: Settings,
    options: ScanOptions,
    scope: Sequence[str],
    findings: Sequence[Finding],
    reports: Sequence[CheckerReport],
) -> tuple[dict[str, BaselineState], list[Finding]]:
    """Baseline states against ``options.baseline`` or the last scan of this scope; the
    scan becomes the scope's next baseline when every checker it asked for could say."""
    given = options.baseline
    path = given or _baseline_path(settings, options, scope)
    before: list[dict[str, Any]] = []  # records: a Finding is made only for what is absent
    if given is not None or path.is_file():
        try:
            before = _records(path)
        except (OSError, ValueError) as exc:
            if given is not None:
                raise UsageError(f"--baseline {given}: {exc}") from None
    complete = {r.name for r in reports if r.status in (CheckerStatus.RAN, CheckerStatus.CACHED,
                                                        CheckerStatus.NO_FILES)}  # fmt: skip
    now = {f.fingerprint for f in findings}
    earlier = {record.get("fingerprint") for record in before}
    states = {fp: BaselineState.UNCHANGED if fp in earlier else BaselineState.NEW for fp in now}
    try:
        absent = [Finding.from_dict(r) for r in before
                  if r.get("fingerprint") not in now and r.get("tool") in complete]  # fmt: skip
    except (KeyError, ValueError, TypeError) as exc:
        if given is not None:
            raise UsageError(f"--baseline {given}: not a finding record ({exc})") from None
        absent = []
    if given is None and len(complete) == len(reports):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(path, (f.to_dict() for f in findings))
    return states, absent


def _records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; ValueError naming the line that is not one."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:
                    raise ValueError(f"{path}:{number}: not JSON") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}:{number}: not a finding record")
                records.append(record)
    return records


def _baseline_path(settings: Settings, options: ScanOptions, scope: Sequence[str]) -> Path:
    """The baseline of a scope: the same paths (from the root) and checkers, the same --diff."""
    key = json.dumps([sorted(set(scope)), sorted(options.checkers), options.diff_base])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return settings.home / SCANS_FOLDER / f"baseline-{digest}.jsonl"
