"""The ``uet`` command: a thin adapter that parses, calls the library and prints.

``main`` maps every outcome to the exit codes of SPEC.md in one place: a
:class:`uet.errors.UetError` exits with its ``exit_code`` after one clear line on stderr,
usage errors exit 2, and an interrupt exits 130.
"""

from __future__ import annotations

import sys
import traceback

import click

from uet.cli.app import cli
from uet.errors import ExitCode, SpecError, UetError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    try:
        # Without standalone mode, click returns the code of an Exit instead of raising it.
        result = cli.main(args=argv, prog_name="uet", standalone_mode=False)
    except SpecError as exc:  # one `file: key: problem` line each, as compilers print them
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        return int(exc.exit_code)
    except UetError as exc:
        click.echo(f"uet: error: {exc}", err=True)
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("uet: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception:  # noqa: BLE001 - a bug: show it whole; exit 1 means "the work failed"
        traceback.print_exc()
        click.echo(
            "uet: internal error (a bug in uet: please report the traceback above)", err=True
        )
        return int(ExitCode.INFRA)
    return result if isinstance(result, int) else int(ExitCode.OK)


def run() -> None:  # pragma: no cover - the console script
    sys.exit(main())
