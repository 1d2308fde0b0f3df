"""The example registry (examples/scripts/config/scripts.yaml): realistic entries that load,
list, render with their defaults, and make up a CI workstream of `script:` tasks."""

from __future__ import annotations

import json
from pathlib import Path

from tests.scripts.conftest import Uet
from uet.config import load_settings
from uet.spec.scripts import load_scripts, prepare


def test_the_corpus_has_at_least_ten_documented_scripts(corpus: Path, uet: Uet) -> None:
    listed = json.loads(uet("scripts", "list", "--json").out)
    assert len(listed) >= 10
    assert all(item["description"] for item in listed)
    assert all(item["timeout"] for item in listed if item["name"] != "generate-workstream")
    names = {item["name"] for item in listed}
    assert {"lint", "test", "format", "build", "migrate", "clean", "deploy-dry-run"} <= names
    confirmed = {item["name"] for item in listed if item["confirm"]}
    assert {"migrate", "clean", "safe-merge"} <= confirmed


def test_every_corpus_script_renders_with_its_defaults(corpus: Path) -> None:
    scripts = load_scripts(load_settings(cwd=corpus))
    for name, script in scripts.items():
        given = ["branch=feature/x"] if name == "safe-merge" else []
        invocation = prepare(script, given, environ={})
        assert "${" not in invocation.command_text.replace("$${", ""), name


def test_the_corpus_deploy_dry_run_types_its_params(corpus: Path, uet: Uet) -> None:
    record = json.loads(
        uet(
            "scripts", "run", "deploy-dry-run", "--dry-run", "--json",
            "-p", "env=production", "-p", "replicas=4", "-p", "canary=0.25",
        ).out
    )  # fmt: skip
    assert record["argv"] == [
        "python", "scripts/deploy.py", "--env=production", "--replicas=4",
        "--canary-ratio=0.25", "--dry-run",
    ]  # fmt: skip
    assert record["retry_on"] == [75]
    bad = uet("scripts", "run", "deploy-dry-run", "-p", "env=prod")
    assert bad.code == 2
    assert bad.err.strip() == (
        "uet: error: script 'deploy-dry-run': param 'env': expected one of staging, "
        "production, got 'prod'"
    )


def test_the_corpus_ci_workstream_resolves_every_script_task(corpus: Path, uet: Uet) -> None:
    result = uet("validate", "workstreams/ci.yaml")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "ci/format: script format: ruff format . $(test true = true && echo --check)",
        "ci/lint: script lint: ruff check src",
        "ci/test: script test: python -m pytest -q tests -m 'not slow' -x",
        "ci/typecheck: script typecheck: mypy --strict src",
        "ci/preview: script deploy-dry-run: python scripts/deploy.py --env=production "
        "--replicas=4 --canary-ratio=0.1 --dry-run",
        "ok: 1 workstreams, 5 tasks",
    ]


def test_the_corpus_clean_script_removes_build_outputs_with_yes(corpus: Path, uet: Uet) -> None:
    for folder in ("build", "dist", ".pytest_cache"):
        (corpus / folder).mkdir()
    assert uet("scripts", "run", "clean").code == 2  # no terminal here: --yes is needed
    assert (corpus / "build").is_dir()
    result = uet("scripts", "run", "clean", "--yes")
    assert result.code == 0, result.err
    assert not any((corpus / f).exists() for f in ("build", "dist", ".pytest_cache"))
