"""``uet fix`` on the seeded corpus (tests/recovery/checkers/corpus.py), every checker on:
the ruff-safe findings are fixed by the mechanical fixers with no agent call, the rest by
the fake agent (counted), and main passes the full scan afterwards; a second ``uet fix``
changes nothing.

The fake agent plays a competent one with an answer key: each file as it should be (the
corpus with its mypy, bandit and test problems mended by hand below, then ruff's unsafe
fixes and ruff format), copied over the file it is asked about (``{files}``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recovery.checkers import corpus
from tests.recovery.checkers.scanning import git, run_uet
from uet.testing import script_calls, write_script

MENDS = (
    (r"-> str:\n    return value\n", "-> str:\n    return str(value)\n"),  # return-value
    (r'\("seven"\)', "(7)"),  # arg-type
    (r'= "zero"', "= 0"),  # assignment
    (r"return undefined_\d+", "return 0"),  # F821 + name-defined
    (r"subprocess\.call\(command, shell=True\)", "len(command)"),  # B602
    (r"hashlib\.md5\(", "hashlib.sha256("),  # B324
    (r"assert helper_(\d+)\(1\) == 0", r"assert helper_\1(1) == 1 + \1"),  # failing tests
    (r'raise RuntimeError\("database down"\)', "return 1"),  # the failing fixture
    (r'"%d items" % count', 'f"{count} items"'),  # UP031: ruff offers no fix
)
CONFIG = """\
[tools.fake]
argv = {argv}
capabilities = ["fix"]

[patch_policy]
allow_test_edits = true  # the corpus's failing tests are wrong tests: fixing them edits them
"""


def _answer_key(dest: Path, files: dict[str, str]) -> None:
    """Every file of the corpus mended, written under ``dest`` (ruff-clean, checked)."""
    for path, original in files.items():
        text = original
        for pattern, replacement in MENDS:
            text = re.sub(pattern, replacement, text)
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_text(text, encoding="utf-8")
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "--fix", "--unsafe-fixes", "--no-cache", "-q", "."],
                   cwd=dest, check=False)  # fmt: skip
    subprocess.run([*ruff, "format", "--no-cache", "-q", "."], cwd=dest, check=True)
    subprocess.run([*ruff, "check", "--no-cache", "-q", "."], cwd=dest, check=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # minutes on a loaded machine: every validation runs mypy, pytest
def test_uet_fix_resolves_the_seeded_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(corpus.FIXTURE.read_text(encoding="utf-8"))
    key = tmp_path / "key"
    _answer_key(key, data["files"])
    step = {"action": "copy", "from": f"{key}/{{files}}", "path": "{files}"}
    script = write_script(tmp_path / "agent.json", [step])
    argv = ["python", "-m", "uet.testing.fake_agent", "--script", str(script),
            "--prompt-file", "{prompt_file}", "{files}"]  # fmt: skip
    root = tmp_path / "seeded"
    toml = data["files"].get("uet.toml", "") + CONFIG.format(argv=json.dumps(argv))
    corpus.write(root, {**data["files"], "uet.toml": toml})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "seeded")
    monkeypatch.chdir(root)

    scanned = run_uet(capsys, "scan", "--output", str(tmp_path / "before.jsonl"))
    assert scanned.code == 1
    before = [json.loads(line) for line in (tmp_path / "before.jsonl").read_text().splitlines()]
    safe = {r["fingerprint"] for r in before if r["tool"] == "ruff"
            and r["applicability"] == "safe"}  # fmt: skip
    rest = {r["fingerprint"] for r in before} - safe

    result = run_uet(capsys, "fix", "--json")
    fixed = result.json()
    assert result.code == 0, (result.err, fixed["stopped"], fixed["notes"])
    assert fixed["remaining"] == []
    mechanical = [p for p in fixed["patches"] if p["fixer"].startswith("ruff-")]
    by_fixers = {fp for p in mechanical if p["landed"] for fp in p["findings"]}
    assert safe <= by_fixers  # every ruff-safe finding: a mechanical patch that landed
    calls = script_calls(script)
    assert fixed["agent_calls"] == len(calls)
    asked = "\n".join(call["prompt"] for call in calls)
    safe_rules = {r["rule"] for r in before if r["fingerprint"] in safe} - {
        r["rule"] for r in before if r["fingerprint"] in rest
    }
    assert not any(f"ruff/{rule} " in asked for rule in safe_rules)  # 0 agent calls for them
    agents = [p for p in fixed["patches"] if p["fixer"].startswith("agent")]
    with capsys.disabled():
        print(f"\nseeded corpus: {len(before)} findings, {len(safe)} ruff-safe fixed by "
              f"{len(mechanical)} mechanical patches with 0 agent calls; {len(rest)} others "
              f"by {len(calls)} fake-agent calls ({sum(p['landed'] for p in agents)} patches "
              f"landed); {fixed['fixed']} fixed, {len(fixed['remaining'])} left, "
              f"{fixed['duration']:.0f}s")  # fmt: skip

    after = run_uet(capsys, "scan", "--no-cache", "--json")
    assert after.code == 0, after.out
    assert after.json()["findings"] == []  # main passes the full check
    tip = git(root, "rev-parse", "main")
    again = run_uet(capsys, "fix", "--json")
    assert again.code == 0
    assert again.json()["patches"] == []
    assert len(script_calls(script)) == len(calls)
    assert git(root, "rev-parse", "main") == tip
