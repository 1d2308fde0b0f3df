"""A tiny sample project for uet's first example: greetings, linted, tested and built."""

from __future__ import annotations


def greet(name: str, *, shout: bool = False) -> str:
    """Say hello to ``name``; ``shout`` for capitals."""
    message = f"Hello, {name.strip() or 'world'}!"
    return message.upper() if shout else message
