"""The floor of a command's start: CPU seconds of a fresh Python importing one thing.

    python bench/imports.py [--repeat 5]

Each case is a whole process (``python -c "import X"``), interleaved round by round, with
bytecode caching on; it prints the median CPU seconds (user + system) of each, which say
more than wall time on a loaded machine. A command cannot start faster than what it imports.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

CASES = {
    "python -c pass": "pass",
    "import sqlalchemy": "import sqlalchemy",
    "import pydantic": "import pydantic",
    "import uet.spec (models, loaders, YAML)": "import uet.spec",
    "import uet.state.store (SQLAlchemy, tables)": "import uet.state.store",
    "import uet.engine.api (all of a run)": "import uet.engine.api",
    "uet exec (uet.cli.exec, uet.engine.oneshot)": "import uet.cli.exec, uet.engine.oneshot",
    "uet run (its command, the loader, the engine)": (
        "import uet.cli.running, uet.spec.loader, uet.engine.api"
    ),
    "the store without SQLAlchemy (sqlite_store)": "import uet.state.sqlite_store",
    "reading commands (uet.state.fastread)": "import uet.state.fastread, uet.cli.runs",
    "executor process (uet.execution.spawner)": "import uet.execution.spawner",
}


def cpu_seconds(code: str) -> float:
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds")
    args = parser.parse_args()
    for code in CASES.values():  # warm-up: page cache and __pycache__
        cpu_seconds(code)
    found: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeat):
        for name, code in CASES.items():
            found[name].append(cpu_seconds(code))
    print(f"median CPU seconds of {args.repeat} (load average {os.getloadavg()[0]:.2f}):")
    for name, values in found.items():
        print(f"  {name:45} {statistics.median(values):6.3f}")


if __name__ == "__main__":
    main()
