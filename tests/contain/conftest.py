"""Fixtures of the CLI tests, shared: a project folder and `uet` through the real entry point."""

from tests.cli.conftest import Uet, project, uet  # noqa: F401 - fixtures, found by name
