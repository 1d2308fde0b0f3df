"""What a command loads decides how fast it starts (issue 9: `uet run` of one task took
1.4 s, `status` 0.85 s). These pin the modules a command must not import, in a fresh
interpreter, without any timing claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE = """
import sys
from uet.cli import main
code = main(sys.argv[1:])
heavy = ("sqlalchemy", "pydantic", "alembic", "rich", "yaml")
print("loaded:", ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def _uet(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_a_run_off_a_terminal_prints_its_lines_without_rich(tmp_path: Path) -> None:
    """Off a terminal `uet run` prints the start line, failures (every task with -v) and the
    summary as before, but does not load rich (it drew the live line only on a terminal)."""
    (tmp_path / "w.json").write_text(
        '{"id": "ws-a", "tasks": [{"id": "ok", "run": "true"}, {"id": "bad", "run": "exit 3"}]}'
    )
    done = _uet(tmp_path, "run", "w.json", "-v")
    assert done.returncode == 1, done.stderr
    assert "      ok ws-a/ok" in done.stderr
    assert "  FAILED ws-a/bad" in done.stderr
    assert ": 2 tasks" in done.stderr
    assert "failed (1 failed, 1 succeeded)" in done.stdout
    loaded = done.stderr.rsplit("loaded:", 1)[1].split()
    assert "rich" not in (loaded[0].split(",") if loaded else [])
    quiet = _uet(tmp_path, "run", "w.json")
    assert "ws-a/ok" not in quiet.stderr  # only failures without -v
    assert "  FAILED ws-a/bad" in quiet.stderr


def test_reading_commands_load_no_orm_no_models_no_rich(tmp_path: Path) -> None:
    """`uet status` and `uet runs` on a SQLite project read through the stdlib: none of
    SQLAlchemy, pydantic, Alembic, rich or YAML is imported."""
    (tmp_path / "w.json").write_text('{"id": "ws-a", "tasks": [{"id": "ok", "run": "true"}]}')
    assert _uet(tmp_path, "run", "w.json").returncode == 0
    for args in (["status"], ["runs"], ["status", "--json"]):
        done = _uet(tmp_path, *args)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().endswith("loaded:"), (args, done.stderr[-300:])
