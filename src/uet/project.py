"""A new uet project: the files ``uet init`` writes."""

from __future__ import annotations

from pathlib import Path

from uet.contain.paths import write_text

HOME_GITIGNORE = "*\n"
"""uet's home never shows in the project's git status (state, logs, agent clones)."""

SCAFFOLD = {
    "uet.toml": '# uet settings: see docs/configuration.md\n# db = "sqlite:///.uet/state.db"\n',
    ".uet/.gitignore": HOME_GITIGNORE,
    "workstreams/example.yaml": """\
id: example
name: An example workstream
concurrency: 2
defaults: {timeout: 60, retries: 1}
tasks:
  - id: hello
    run: echo "hello from $UET_TASK_ID"
  - id: list
    argv: [ls, -la]
  - id: done
    run: echo "both finished"
    depends_on: [hello, list]
""",
}
"""Relative path -> contents of each file a new project starts with."""


def scaffold(root: Path) -> list[tuple[str, bool]]:
    """Write the project files that are missing under ``root``; existing files are kept.

    Returns each path with whether it was created.
    """
    done = []
    for path, text in SCAFFOLD.items():
        target = root / path
        if target.exists():
            done.append((path, False))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        done.append((path, True))
    return done


def ignore_home(home: Path) -> None:
    """Write ``home/.gitignore`` (ignore everything) when it is missing."""
    ignore = home / ".gitignore"
    if not ignore.exists() and not ignore.is_symlink():
        write_text(home.parent, ignore, HOME_GITIGNORE)  # never through a planted link
