"""The static class of a failure: from its phase, its message and its last exception.

Pure and cheap (10,000 testcases a second is the budget with room to spare): no I/O, each
rule one precompiled pattern, tried in this order, the first that matches wins:

1. collection phase: ``ModuleNotFoundError``/``ImportError`` → import; ``SyntaxError``,
   ``IndentationError``, ``TabError`` → syntax; anything else → collection;
2. pytest-timeout's ``Timeout (>Ns)``, ``subprocess.TimeoutExpired``, ``TimeoutError`` → timeout;
3. the environment's signatures (connection refused/reset, DNS failures, disk full, out of
   memory, a read-only file system, too many open files) → infra, in any phase;
4. setup or teardown phase → setup (a fixture failed, not the test);
5. ``AssertionError`` or pytest's ``Failed`` (``pytest.fail``) → assertion;
6. anything else → unknown.

flaky and order_dependent are not static: they take reruns or history (``uet.triage.session``).
"""

from __future__ import annotations

import re

from uet.triage.model import FailureClass, Phase, TestResult

# pytest's long traceback ends each section with "path:line: ExceptionType".
_LOCATION = re.compile(r"^\S[^\n]*:\d+: ([A-Za-z_][\w.]*)[ \t]*$", re.MULTILINE)
# ...and shows the exception on "E   Type: message" lines.
_E_LINE = re.compile(
    r"^E\s+([A-Za-z_][\w.]*(?:Error|Exception|Exit|Failed|Timeout|Expired))\b", re.MULTILINE
)
_MESSAGE_TYPE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failed|Expired))(?::|$)")
_SETUP_MESSAGE = re.compile(r'^failed on (setup|teardown) with "([A-Za-z_][\w.]*)')

_IMPORT_TYPES = frozenset({"ModuleNotFoundError", "ImportError"})
_SYNTAX_TYPES = frozenset({"SyntaxError", "IndentationError", "TabError"})
_ASSERTION_TYPES = frozenset({"AssertionError", "Failed", "pytest.fail.Exception"})
_TIMEOUT_TYPES = frozenset({"TimeoutExpired", "TimeoutError", "asyncio.TimeoutError"})
_TIMEOUT = re.compile(
    r"Timeout \(>[\d.]+s\) from pytest-timeout|TimeoutExpired: Command .* timed out"
)
_INFRA = re.compile(
    "|".join(
        (
            r"ConnectionRefusedError|ConnectionResetError|ConnectionAbortedError",
            r"Connection refused|Connection reset by peer|\[Errno 11[01]\]",
            r"gaierror|Name or service not known|Temporary failure in name resolution",
            r"nodename nor servname provided|getaddrinfo failed|\[Errno -[23]\]",
            r"No space left on device|\[Errno 28\]|Disk quota exceeded|\[Errno 122\]",
            r"\bMemoryError\b|Cannot allocate memory|\[Errno 12\]|Out of memory",
            r"Read-only file system|\[Errno 30\]|Too many open files|\[Errno 24\]",
            r"Network is unreachable|No route to host|\[Errno 11[03]\]",
        )
    )
)


def last_exception(result: TestResult) -> str | None:
    """The type of the exception the traceback ended with (``None``: none named)."""
    found = _LOCATION.findall(result.text)
    if found:
        return str(found[-1])
    named = _E_LINE.findall(result.text)
    if named:
        return str(named[-1])
    setup = _SETUP_MESSAGE.match(result.message)
    if setup:
        return setup.group(2)
    typed = _MESSAGE_TYPE.match(result.message)
    if typed:
        return typed.group(1)
    if result.message.startswith("assert "):
        return "AssertionError"
    return None


def _short(name: str | None) -> str:
    return "" if name is None else name.rsplit(".", 1)[-1]


def classify(result: TestResult, exception: str | None = None) -> FailureClass:
    """The static class of one failing result (the module docstring's rules)."""
    exc = exception if exception is not None else last_exception(result)
    short = _short(exc)
    if result.phase is Phase.COLLECTION:
        return _collection_class(result, short)
    tail = result.text[-4000:]
    if short in _TIMEOUT_TYPES or _TIMEOUT.search(result.message) or _TIMEOUT.search(tail):
        return FailureClass.TIMEOUT
    if _INFRA.search(result.message) or (short and _INFRA.search(short)) or _infra_tail(tail):
        return FailureClass.INFRA
    if result.phase in (Phase.SETUP, Phase.TEARDOWN):
        return FailureClass.SETUP
    if short in _ASSERTION_TYPES or result.message.startswith("assert "):
        return FailureClass.ASSERTION
    return FailureClass.UNKNOWN


def _collection_class(result: TestResult, short: str) -> FailureClass:
    text = result.text
    if short in _IMPORT_TYPES or "ModuleNotFoundError:" in text or "ImportError:" in text:
        # A syntax error inside an imported module is reported as the import's failure.
        return FailureClass.SYNTAX if _syntax_in(text) else FailureClass.IMPORT
    if short in _SYNTAX_TYPES or _syntax_in(text):
        return FailureClass.SYNTAX
    return FailureClass.COLLECTION


def _syntax_in(text: str) -> bool:
    last = [line for line in text.splitlines() if line.startswith("E ")][-1:]
    return bool(last) and any(f"{name}:" in last[0] for name in _SYNTAX_TYPES)


def _infra_tail(tail: str) -> bool:
    """Whether the traceback's last exception line carries an infra signature."""
    lines = [line for line in tail.splitlines() if line.startswith("E ")]
    return bool(lines) and _INFRA.search(lines[-1]) is not None
