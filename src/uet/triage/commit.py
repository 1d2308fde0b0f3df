"""The commit a report tested: ``HEAD``, with a digest of the changes when the tree is dirty.

Quarantine needs two outcomes *on the same commit*; a test fixed in the working tree and not
yet committed is not the same code, so a dirty tree is named ``SHA-dirty-DIGEST`` (the digest
of ``git diff HEAD`` and the untracked files' names).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from uet.isolation.git import Git, GitError


def current_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder`` (None: not a git repository, or no commit yet)."""
    git = Git(folder)
    head = git.run("rev-parse", "--verify", "-q", "HEAD", check=False)
    if not head.ok:
        return None
    sha = head.stdout.strip()
    try:
        changes = git.out("diff", "HEAD", "--no-ext-diff", "--binary")
        untracked = git.out("ls-files", "--others", "--exclude-standard")
    except GitError:
        return sha
    if not changes and not untracked:
        return sha
    digest = hashlib.sha256(f"{changes}\0{untracked}".encode()).hexdigest()[:12]
    return f"{sha}-dirty-{digest}"
