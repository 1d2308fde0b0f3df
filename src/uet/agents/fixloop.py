"""The fix loop of a tool task: when to give the tool another try after its gate failed.

A task with ``fix_loop`` (a legacy bundle's ``circuit_breaker``) may call its tool up to
``max_attempts`` times in the same clone within one engine attempt: after each failed
acceptance gate, the tool is called again with the failing command's output in its prompt.
The loop stops early when

* the same *error signature* has been seen ``max_error_repeats`` times (the tool is stuck), or
* the signatures oscillate: a signature comes back after a different one came between
  (``A, B, A`` is one return, ``A, B, A, B`` two), ``oscillation_threshold`` times.

The error signature is the originals' rule (``circuit_breakers.compute_error_signature``:
SHA-1 of ``error code | whitespace-collapsed message``, the first 2,000 characters), with
the failing command as part of the code and the parts that change from run to run without
the error changing — absolute paths, hexadecimal ids, numbers — normalised first, so that a
timing or a temporary folder does not make the same failure look new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from uet.spec.models import FixLoop

SIGNATURE_CHARS = 2000
"""Characters of the normalised message that make the signature (the originals' limit)."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PATH = re.compile(r"(?<![\w.])/[\w.+~-]+(?:/[\w.+~-]+)*/?")
_HEX = re.compile(r"\b(?:0x[0-9a-fA-F]+|[0-9a-fA-F]{7,})\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalise(message: str) -> str:
    """The message without what varies between runs of the same failure."""
    text = _ANSI.sub("", message)
    text = _PATH.sub("<path>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return " ".join(text.split())


def error_signature(command: str, exit_code: int | None, output: str) -> str:
    """A short stable id of one gate failure (see the module docstring)."""
    code = f"{command.strip()}:{exit_code}"
    base = f"{code}|{normalise(output)[:SIGNATURE_CHARS]}"
    return hashlib.sha1(base.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do after a failed gate: try again, or stop (and why)."""

    again: bool
    reason: str
    stopped_by: str | None = None  # max_attempts | max_error_repeats | oscillation


def returns(signatures: Sequence[str]) -> int:
    """How often a signature came back after a different one came between."""
    count = 0
    for i, signature in enumerate(signatures):
        if i >= 2 and signature != signatures[i - 1] and signature in signatures[: i - 1]:
            count += 1
    return count


def verdict(signatures: Sequence[str], loop: FixLoop | None) -> Verdict:
    """After the gate failed with ``signatures[-1]`` (earlier failures before it)."""
    loop = loop or FixLoop()
    tries = len(signatures)
    if tries >= loop.max_attempts:
        return Verdict(False, f"{tries} of {loop.max_attempts} attempt(s) used", "max_attempts")
    last = signatures[-1]
    seen = signatures.count(last)
    if loop.max_error_repeats is not None and seen >= loop.max_error_repeats:
        return Verdict(
            False,
            f"the same error ({last}) {seen} times (max_error_repeats {loop.max_error_repeats})",
            "max_error_repeats",
        )
    back = returns(signatures)
    if loop.oscillation_threshold is not None and back >= loop.oscillation_threshold:
        order = ", ".join(signatures[-4:])
        return Verdict(
            False,
            f"the errors oscillate ({order}: {back} return(s), "
            f"oscillation_threshold {loop.oscillation_threshold})",
            "oscillation",
        )
    return Verdict(True, f"the gate failed ({last}): try {tries + 1} of {loop.max_attempts}")
