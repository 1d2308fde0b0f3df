"""Fixtures of the patch tests: the corpus project, a store, a ledger, the corpus policy.

Imported by the test modules (``from tests.recovery.patch_fixtures import *``-style, by name)
rather than kept in a conftest, so that the other recovery tests keep theirs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.recovery.patch_corpus import Case, diff_of, git, make_repo, policy_section
from uet import defaults
from uet.recovery.ledger import PatchLedger
from uet.recovery.patches import Origin
from uet.recovery.policy import PatchPolicy, parse_policy
from uet.recovery.validate import submit
from uet.state.patches import PatchRecord
from uet.state.store import Store


@dataclass
class Bench:
    """The corpus project and everything a validation needs."""

    repo: Path
    home: Path
    store: Store
    ledger: PatchLedger
    policy: PatchPolicy
    env: dict[str, str]

    def main(self) -> str:
        return git(self.repo, "rev-parse", "refs/heads/main").strip()

    def submit(self, case: Case) -> PatchRecord:
        diff = diff_of(self.repo, case.mutate)
        origin = Origin("corpus", findings=(f"fp-{case.name}",), files=case.files)
        record = submit(self.ledger, diff, repo=self.repo, origin=origin)
        if case.moves_main is not None:
            case.moves_main(self.repo)
            git(self.repo, "commit", "--quiet", "-am", f"main moves ({case.name})")
        return record


def check_env() -> dict[str, str]:
    """The checks' environment: pytest loads no plugin of uet's own virtualenv (hypothesis
    alone costs a test run seconds), as in a project that has none."""
    return dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")


@pytest.fixture(name="bench")
def bench_fixture(tmp_path: Path) -> Iterator[Bench]:
    repo = make_repo(tmp_path / "repo")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    policy = replace(parse_policy(policy_section()), protected_paths=defaults.PROTECTED_PATHS)
    try:
        yield Bench(repo, tmp_path / "home", store, PatchLedger(store), policy, check_env())
    finally:
        store.close()


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
