"""Mechanical fixers: tools that fix findings without judgement, run in an agent clone.

=============  ===============================================  ==========================
fixer          command (in the clone, on the files it targets)  the findings it fixes
=============  ===============================================  ==========================
ruff-isort     ``ruff check --fix-only --select I``             ruff ``I`` rules (isort's)
ruff-fix       ``ruff check --fix-only --no-unsafe-fixes``      ruff findings whose fix is
                                                                ``safe``
ruff-format    ``ruff format``                                  none: the layout of the
                                                                Python files it runs on
=============  ===============================================  ==========================

They run in this order, each on the target's tip after the patches of the one before landed.
A fixer never runs git: :mod:`uet.recovery.fix` takes what it changed as a patch.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from uet.execution import Job, run_job
from uet.recovery.findings import Applicability, Finding
from uet.states import AttemptState

FIXER_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Fixer:
    """One mechanical fixer (the module docstring)."""

    name: str
    args: tuple[str, ...]  # after ``python -m ruff``
    category: str  # the patches' category (policy overrides may name it)

    def fixes(self, finding: Finding) -> bool:
        """Whether this fixer is the one for ``finding``."""
        if finding.tool != "ruff" or finding.applicability is not Applicability.SAFE:
            return False
        isort = finding.rule.startswith("I") and finding.rule[1:].isdigit()
        if self.name == "ruff-isort":
            return isort
        if self.name == "ruff-fix":
            return not isort
        return False

    def files(self, findings: Sequence[Finding], python_files: Sequence[str]) -> list[str]:
        """The files it runs on: those of its findings (every Python file for the formatter)."""
        if self.name == "ruff-format":
            return sorted(python_files)
        return sorted({f.path for f in findings if f.path and self.fixes(f)})

    def argv(self, files: Sequence[str]) -> list[str]:
        return [sys.executable, "-m", "ruff", *self.args, "--", *files]

    def run(self, checkout: Path, files: Sequence[str], env: Mapping[str, str]) -> str | None:
        """Run it in ``checkout``; why it failed, or None."""
        if not files:
            return None
        outcome = run_job(
            Job(
                attempt_id=1,
                key=f"fixer {self.name}",
                argv=self.argv(files),
                cwd=checkout,
                env=env,
                timeout=FIXER_TIMEOUT_S,
                kill_grace=1.0,
            )
        )
        # ruff check --fix-only exits 0 whatever is left; ruff format exits 2 on a file it
        # cannot parse (a syntax error: left to the agents) and still formats the others
        if outcome.state is AttemptState.SUCCEEDED or outcome.exit_code in (1, 2):
            return None
        tail = outcome.output_tail.strip().splitlines()[-3:]
        return f"{self.name} exited {outcome.exit_code}: {' / '.join(tail) or outcome.error}"


FIXERS = (
    Fixer(
        "ruff-isort", ("check", "--fix-only", "--no-cache", "--quiet", "--select", "I"), "format"
    ),
    Fixer(
        "ruff-fix",
        ("check", "--fix-only", "--no-unsafe-fixes", "--no-cache", "--quiet"),
        "lint",
    ),
    Fixer("ruff-format", ("format", "--no-cache", "--quiet"), "format"),
)
"""The mechanical fixers, in the order they run."""
