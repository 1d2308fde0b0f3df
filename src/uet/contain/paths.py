"""Paths uet itself reads and writes inside a folder it owns or works in (``.uet/``, an
agent's clone): never through a link that leads out of it.

An agent (or a malicious repository) can plant a symlink where uet will write next —
``.uet/logs -> ~``, ``.uet/prompts/<run> -> /etc``, a clone file pointing at
``~/.ssh/id_ed25519`` — and turn uet's own writes and reads against the user. Every such
place goes through :func:`inside` (resolve every component, then compare with the folder's
own resolved path), and files are opened with ``O_NOFOLLOW`` (:func:`write_text`,
:func:`read_text`), so a link as the last component is refused too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from uet.errors import UsageError

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


class LinkOutError(UsageError):
    """A path uet was about to use resolves outside the folder it belongs to (exit 2)."""

    def __init__(self, path: Path, root: Path, resolved: Path) -> None:
        self.path = path
        self.root = root
        self.resolved = resolved
        super().__init__(
            f"{path}: resolves to {resolved}, outside {root} (a symlink on the way?); "
            f"uet never follows a link out: remove the link and run again"
        )


def inside(root: Path, path: Path) -> Path:
    """``path`` (absolute, or relative to ``root``) when, every symlink on the way resolved,
    it stays inside ``root``; :class:`LinkOutError` otherwise. ``path`` need not exist."""
    root = Path(root)
    full = path if path.is_absolute() else root / path
    resolved = Path(os.path.realpath(full))
    top = Path(os.path.realpath(root))
    if resolved != top and not resolved.is_relative_to(top):
        raise LinkOutError(full, root, resolved)
    return full


def make_dirs(root: Path, folder: Path) -> Path:
    """Make ``folder`` (and its parents) inside ``root``; refused when it leads out."""
    inside(root, folder)
    folder.mkdir(parents=True, exist_ok=True)
    return inside(root, folder)


def write_text(root: Path, path: Path, text: str) -> Path:
    """Write ``path`` inside ``root``: its folder made, no link followed (the last
    component included)."""
    make_dirs(root, path.parent)
    try:
        fd = os.open(path, _WRITE_FLAGS, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise LinkOutError(path, root, Path(os.path.realpath(path))) from exc
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def read_text(root: Path, path: Path) -> str | None:
    """The text of the regular file ``path`` inside ``root``; None when it is absent, not a
    regular file, a symlink or leads out of ``root``."""
    try:
        inside(root, path.parent)
        fd = os.open(path, _READ_FLAGS)
    except (OSError, LinkOutError):
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # a FIFO, a device
            return None
        return handle.read().decode("utf-8", errors="replace")
