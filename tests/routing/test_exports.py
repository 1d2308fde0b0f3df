"""uet.routing's public surface: every public class and function of its modules is exported."""

from __future__ import annotations

import importlib
import inspect

import uet.routing

MODULES = ["breaker", "metrics", "quota", "router", "rules", "state"]


def test_every_public_name_of_the_routing_modules_is_in_all() -> None:
    for name in MODULES:
        module = importlib.import_module(f"uet.routing.{name}")
        for attr, value in vars(module).items():
            if attr.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if value.__module__ == module.__name__:
                assert attr in uet.routing.__all__, f"{module.__name__}.{attr} is not exported"


def test_every_name_in_all_resolves() -> None:
    for name in uet.routing.__all__:
        assert getattr(uet.routing, name) is not None, name
