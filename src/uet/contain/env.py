"""The environment a tool process gets: an allow-list, never uet's whole environment.

A tool (an AI agent following instructions it read in the repository) gets:

* :data:`ALLOWED_NAMES` and the names starting with :data:`ALLOWED_PREFIXES` (``PATH``,
  ``HOME``, ``LANG``, ``LC_*``, ``TERM``, ``UET_*``…) from uet's environment;
* the non-interactive flags (:data:`NON_INTERACTIVE_FLAGS`);
* the names its profile lists in ``env_passthrough`` (``ANTHROPIC_API_KEY``…);
* its profile's ``env`` and the task's own ``env``.

Secrets uet knows (:func:`known_secrets`: channel URLs and tokens in the configuration, the
database password, variables named like a token) never reach it through the allow-list,
and :class:`Masker` replaces them in every line of output uet keeps (logs, events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from uet import defaults

ALLOWED_NAMES = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR"}
)
ALLOWED_PREFIXES = ("LC_", "UET_")

NON_INTERACTIVE_FLAGS: Mapping[str, str] = defaults.NON_INTERACTIVE_ENV
"""Variables that tell a program nobody is there to answer a prompt."""

SECRET_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|WEBHOOK"
    r"|CREDENTIALS?|AUTH)(?:$|_)",
    re.IGNORECASE,
)
"""A variable or configuration key named like this holds a secret (``GITHUB_TOKEN``,
``SLACK_WEBHOOK_URL``, ``AWS_SECRET_ACCESS_KEY``; not ``GIT_AUTHOR_NAME``)."""

SECRET_KEYS = re.compile(r"^(?:urls?|uri|dsn|webhook|webhook_url|api_url)$", re.IGNORECASE)
"""Keys of configuration sections (alerts, triggers, deploy…) whose values are secrets."""

MIN_SECRET_CHARS = 6
"""Shorter values are not masked (masking ``1`` or ``yes`` would garble every line)."""

MASK = "***"


def tool_environment(
    environ: Mapping[str, str],
    *,
    passthrough: Iterable[str] = (),
    profile_env: Mapping[str, str] | None = None,
    task_env: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> tuple[dict[str, str], list[str]]:
    """(the tool's environment, the names left out because they held a known secret).

    ``passthrough``, ``profile_env`` and ``task_env`` are the user's explicit choices and
    are kept as given; what the allow-list would take from ``environ`` is dropped when its
    value holds a secret (``UET_DB`` with a password…)."""
    known = [s for s in secrets if len(s) >= MIN_SECRET_CHARS]
    env: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in environ.items():
        if name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES):
            if any(secret in value for secret in known) or (
                name.startswith("UET_") and SECRET_NAME.search(name)
            ):
                dropped.append(name)
                continue
            env[name] = value
    env.update(NON_INTERACTIVE_FLAGS)
    for name in passthrough:
        if name in environ:
            env[name] = environ[name]
    env.update(profile_env or {})
    env.update(task_env or {})
    env.update(extra or {})
    return env, sorted(dropped)


def known_secrets(
    environ: Mapping[str, str], sections: Mapping[str, object], db_url: str | None = None
) -> list[str]:
    """Every secret value uet knows: variables named like a secret, string values under
    secret-like keys of the configuration ``sections``, and the password of ``db_url``;
    longest first (masking a longer one first never leaves half of it)."""
    found = {value for name, value in environ.items() if SECRET_NAME.search(name)}
    found.update(_section_secrets(sections, under_secret=False))
    if db_url:
        password = _password(db_url)
        if password:
            found.add(password)
    return sorted((s for s in found if len(s) >= MIN_SECRET_CHARS), key=lambda s: (-len(s), s))


def _section_secrets(value: object, *, under_secret: bool) -> set[str]:
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            secret = under_secret or bool(
                SECRET_KEYS.search(str(key)) or SECRET_NAME.search(str(key))
            )
            found |= _section_secrets(item, under_secret=secret)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= _section_secrets(item, under_secret=under_secret)
    elif isinstance(value, str) and under_secret:
        found.add(value)
        password = _password(value)
        if password:
            found.add(password)
    return found


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class Masker:
    """Replaces known secret values in text with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes = (
            re.compile(b"|".join(re.escape(s.encode("utf-8", "surrogateescape")) for s in ordered))
            if ordered
            else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def bytes(self, data: bytes) -> bytes:
        """``data`` (raw output) with every secret's UTF-8 bytes replaced."""
        if self._bytes is None:
            return data
        return self._bytes.sub(MASK.encode(), data)
