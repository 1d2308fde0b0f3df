"""Whether an attempt ended waiting for an answer: the ``needs_input`` classification.

A task runs without a person (stdin /dev/null, no controlling terminal, the flags of
``defaults.NON_INTERACTIVE_ENV``), so a program that asks something gets end-of-file, an
ENXIO from /dev/tty, or nothing at all and waits until its timeout. What it printed last
says which: the patterns below, the one list of them (docs/automation.md shows it; a test
pins each entry). An attempt is ``needs_input`` when

* it failed or timed out and one of its last :data:`WINDOW_LINES` lines of output matches a
  pattern, or
* it exited 0 but its last line is a question left unanswered (``rm -i`` takes end-of-file
  for "no", prints ``rm: remove regular file 'x'? `` and exits 0): only the patterns marked
  ``at_end`` count there, and only on the very last line.

Such an attempt is never retried: the answer will not come on the next attempt either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WINDOW_LINES = 12
"""Lines at the end of an attempt's output that are searched for a prompt."""

_WINDOW_CHARS = 2048  # characters at most of those lines (a prompt is short)


@dataclass(frozen=True, slots=True)
class Prompt:
    """One way a program shows it wanted an answer."""

    name: str
    pattern: re.Pattern[str]
    example: str  # a line it matches, as a program prints it (tested)
    at_end: bool = False  # also counts on the last line of a command that exited 0


def _p(regex: str, *, flags: int = 0) -> re.Pattern[str]:
    return re.compile(regex, flags | re.MULTILINE)


PROMPTS: tuple[Prompt, ...] = (
    Prompt("password", _p(r"(?:password|passphrase)(?: for [^:\n]*)?:\s*$", flags=re.I),
           "[sudo] password for ana: ", at_end=True),
    Prompt("username", _p(r"^Username for '[^'\n]*':\s*$"), "Username for 'https://x.org': ",
           at_end=True),
    Prompt("yes-no", _p(r"\[(?:y/n|Y/n|y/N|Y/N)\]|\((?:y/n|Y/n|y/N|yes/no)[^)\n]*\)"),
           "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
           at_end=True),
    Prompt("continue", _p(r"\b(?:Continue|Proceed|Ok to proceed)\?", flags=re.I),
           "Continue? ", at_end=True),
    Prompt("press-enter", _p(r"\bpress (?:enter|return|any key)\b", flags=re.I),
           "Press ENTER to continue", at_end=True),
    Prompt("coreutils-i", _p(r"^(?:rm|cp|mv|ln): [^\n]*\? ?$"), "rm: remove regular file 'x'? ",
           at_end=True),
    Prompt("pdb", _p(r"^\(Pdb\) ?$"), "(Pdb) ", at_end=True),
    Prompt("git-no-prompt", _p(r"terminal prompts disabled"),
           "fatal: could not read Username for 'https://x.org': terminal prompts disabled"),
    Prompt("git-credentials", _p(r"could not read (?:Username|Password) for"),
           "fatal: could not read Username for 'http://127.0.0.1': No such device or address"),
    Prompt("git-editor", _p(r"^Aborting commit due to empty commit message"),
           "Aborting commit due to empty commit message."),
    Prompt("ssh-batch", _p(r"Host key verification failed|Permission denied \(publickey"),
           "Host key verification failed."),
    Prompt("vim", _p(r"^Vim: Warning: Input is not from a terminal"),
           "Vim: Warning: Input is not from a terminal"),
    Prompt("pager", _p(r"Missing filename|\bnot a terminal\b|WARNING: terminal is not fully"),
           'Missing filename ("less --help" for help)'),
    Prompt("tty-required", _p(r"\ba (?:terminal|tty) is required\b", flags=re.I),
           "sudo: a terminal is required to read the password"),
    Prompt("python-eof", _p(r"^EOFError(?:: EOF when reading a line)?$"),
           "EOFError: EOF when reading a line"),
    Prompt("bdb-quit", _p(r"^bdb\.BdbQuit$"), "bdb.BdbQuit"),
    Prompt("no-tty-ioctl", _p(r"Inappropriate ioctl for device"),
           "stty: 'standard input': Inappropriate ioctl for device"),
    Prompt("no-tty-enxio", _p(r"No such device or address"),
           "gpg: cannot open '/dev/tty': No such device or address"),
    Prompt("no-tty", _p(r"\b(?:not a tty|failed tty get|the input device is not a TTY)\b",
                        flags=re.I), "top: failed tty get"),
)  # fmt: skip
"""Every pattern, the most specific first (they are tried in order); ``name`` is what
``uet status`` shows."""


def waited_for_input(output_tail: str, *, succeeded: bool) -> str | None:
    """The name of the prompt the output ends with, and the line: ``"password: Password:"``;
    None when nothing says the program wanted an answer. ``succeeded``: it exited 0."""
    if not output_tail:
        return None
    if succeeded:
        last = _last_line(output_tail)
        if last is None:
            return None
        return _first(last, [prompt for prompt in PROMPTS if prompt.at_end])
    window = "\n".join(output_tail[-_WINDOW_CHARS:].splitlines()[-WINDOW_LINES:])
    return _first(window, PROMPTS)


def _last_line(text: str) -> str | None:
    for line in reversed(text[-_WINDOW_CHARS:].splitlines()):
        if line.strip():
            return line
    return None


def _first(text: str, prompts: tuple[Prompt, ...] | list[Prompt]) -> str | None:
    for prompt in prompts:
        match = prompt.pattern.search(text)
        if match is not None:
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            line = text[start : len(text) if end < 0 else end].strip()
            return f"{prompt.name}: {line[:200]}"
    return None
