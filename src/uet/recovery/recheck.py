"""The scan side of validation: are a patch's findings gone, and no new ones as bad?

:class:`Recheck` is the :class:`~uet.recovery.validate.FindingsCheck` of ``uet fix``. Given
the validation clone (the target's tip with the patch applied) it runs the project's
checkers there — a per-file checker (ruff, bandit) on the patch's files, the others (mypy,
pytest) on every file of the fix's paths, each at most its timeout — and compares what
they report with the findings known before the patch:

* every finding the patch names (``origin.findings``) must be gone;
* no finding may be new (its fingerprint unknown before) at the severity of the least
  severe finding the patch fixes, or above (any severity, for a patch that names none).

One :class:`~uet.recovery.confidence.Signal` per checker that ran: kind ``lint`` (ruff and
command checkers), ``types`` (mypy), ``security`` (bandit) or ``tests`` (pytest); passed, or
failed with the findings left and the new ones in its detail (which ``uet fix`` puts in the
agent's prompt on a retry). The findings each checker reported are kept (:attr:`latest`),
so that once the patch has landed they are the project's findings without a new scan.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from uet.execution import Job, run_job
from uet.recovery.checkers import Checker, CheckerFailed, Invocation
from uet.recovery.confidence import Signal, SignalStatus
from uet.recovery.findings import Finding, Severity, with_fingerprints
from uet.recovery.patches import Patch
from uet.recovery.scan import discover

KINDS: Mapping[str, str] = {"ruff": "lint", "mypy": "types", "bandit": "security",
                            "pytest": "tests"}  # fmt: skip
"""The signal kind of each built-in checker; any other checker's is ``lint``."""

DETAIL_ITEMS = 10
"""Findings named in a failed signal's detail, at most."""


def describe(finding: Finding) -> str:
    """``path:line tool/rule message`` (one line)."""
    where = finding.path or "."
    if finding.line is not None:
        where += f":{finding.line}"
    message = finding.message.splitlines()[0] if finding.message else ""
    return f"{where} {finding.tool}/{finding.rule} {message}".rstrip()


@dataclass
class Recheck:
    """The findings check of ``uet fix`` (the module docstring)."""

    checkers: Mapping[str, Checker]
    known: list[Finding]  # every finding of the fix's paths before the patch (unfiltered)
    paths: tuple[str, ...]  # the fix's paths, relative to the root
    cache_dir: Path  # the checkers' own caches (mypy)
    env: Mapping[str, str]
    latest: dict[str, list[Finding]] = field(default_factory=dict)  # checker -> its findings
    rerun_files: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # None: all

    def __call__(self, checkout: Path, patch: Patch) -> Sequence[Signal]:
        self.latest, self.rerun_files = {}, {}
        changed = [p for p in patch.scope.files if (checkout / p).is_file()]
        every = discover(checkout, self.paths)
        plans: list[tuple[Checker, tuple[str, ...], bool]] = []
        for _name, checker in sorted(self.checkers.items()):
            touched = [p for p in patch.scope.files if checker.applies_to(p)]
            if not touched or checker.program() is None:
                continue
            if checker.per_file:
                plans.append((checker, checker.targets([p for p in changed if p in touched]), True))
            else:
                mine = [p for p in every if checker.applies_to(p)]
                plans.append((checker, checker.targets(mine), False))
        fixed = set(patch.origin.findings)
        known = {f.fingerprint: f for f in self.known}
        named = [known[fp] for fp in patch.origin.findings if fp in known]
        floor = min((f.severity.rank for f in named), default=Severity.INFO.rank)
        folder = checkout.parent / f"{checkout.name}.recheck"
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(3, len(plans)))) as pool:
                results = list(pool.map(lambda plan: self._run(checkout, folder, *plan), plans))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        signals = []
        for (checker, targets, per_file), (found, problem) in zip(plans, results, strict=True):
            kind = KINDS.get(checker.name, "lint")
            if problem is not None:
                signals.append(Signal(checker.name, kind, SignalStatus.ERROR, detail=problem))
                continue
            self.latest[checker.name] = found
            self.rerun_files[checker.name] = targets if per_file else None
            scope = set(targets) if per_file else None
            before = {f.fingerprint for f in self.known if f.tool == checker.name
                      and (scope is None or f.path in scope)}  # fmt: skip
            left = [f for f in found if f.fingerprint in fixed]
            new = [f for f in found if f.fingerprint not in before and f.severity.rank >= floor]
            signals.append(_signal(checker.name, kind, left, new))
        return signals

    def _run(
        self,
        checkout: Path,
        folder: Path,
        checker: Checker,
        targets: tuple[str, ...],
        _per_file: bool,
    ) -> tuple[list[Finding], str | None]:
        """The checker's findings in ``checkout`` (fingerprinted), or why it could not say."""
        if not targets:
            return [], None
        folder.mkdir(parents=True, exist_ok=True)
        out, status = folder / f"{checker.name}.out", folder / f"{checker.name}.status"
        inv = Invocation(checkout, targets, self.cache_dir, output=out)
        wrapper = [sys.executable, "-m", "uet.recovery.capture", "--out", str(out),
                   "--status", str(status),
                   "--ok", ",".join(str(code) for code in sorted(checker.ok_exit))]  # fmt: skip
        if getattr(checker, "merge_stderr", False):
            wrapper.append("--merge-stderr")
        if checker.writes_file:
            wrapper.append("--no-stdout")
        argv = [*wrapper, "--", *checker.command(checker.program() or [], inv)]
        started = time.monotonic()
        outcome = run_job(Job(attempt_id=1, key=f"recheck {checker.name}", argv=argv,
                              cwd=checkout, env=self.env, timeout=checker.timeout,
                              kill_grace=1.0))  # fmt: skip
        try:
            state = json.loads(status.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            took = time.monotonic() - started
            return [], f"{checker.name} did not finish ({outcome.state.value} after {took:.1f}s)"
        if state.get("error") or state.get("exit") not in checker.ok_exit:
            tail = str(state.get("stderr") or "").strip().splitlines()[-2:]
            return [], f"{checker.name} exited {state.get('exit')}: {' / '.join(tail)}"
        inv = Invocation(checkout, targets, self.cache_dir, out, state.get("exit"),
                         str(state.get("stderr") or ""))  # fmt: skip
        try:
            text = out.read_text(encoding="utf-8", errors="replace")
            return with_fingerprints(checker.parse(text, inv), checkout), None
        except (OSError, CheckerFailed) as exc:
            return [], f"{checker.name}: {exc}"

    def after_landing(self) -> list[Finding]:
        """The project's findings once the last patch checked has landed."""
        kept = []
        for finding in self.known:
            if finding.tool not in self.latest:
                kept.append(finding)
                continue
            files = self.rerun_files.get(finding.tool)
            if files is not None and finding.path not in files:
                kept.append(finding)
        return sorted([*kept, *(f for found in self.latest.values() for f in found)],
                      key=Finding.sort_key)  # fmt: skip


def _signal(name: str, kind: str, left: Sequence[Finding], new: Sequence[Finding]) -> Signal:
    if not left and not new:
        return Signal(name, kind, SignalStatus.PASSED, detail="its findings are gone, none new")
    parts = []
    if left:
        parts.append("still there: " + "; ".join(describe(f) for f in left[:DETAIL_ITEMS]))
    if new:
        parts.append("new: " + "; ".join(describe(f) for f in new[:DETAIL_ITEMS]))
    return Signal(name, kind, SignalStatus.FAILED, detail=" | ".join(parts))
