"""Agent clones side by side with git's other ways of giving an agent a tree, in one run.

    python bench/agents.py [--files 10000] [--commits 1000] [--agents 5] [--keep] [--json]

One test repository is built in a temporary folder with ``git fast-import``: ``--files`` text
files of 200-2,000 bytes in about a hundred directories, then ``--commits`` commits in all,
each after the first changing 10-30 files (a few files change often, most rarely), packed by
``git gc`` and checked out on ``main``. Then every variant makes ``--agents`` agents from it,
one after another, and each creation is timed:

* ``uet create_clone``: the clone ``uet agents create`` makes (a local clone with hard-linked
  objects, the checkout of branch ``agent/<id>``, config, hooks with the guard, the context
  file), into ``<repo>/.uet/agents/<id>``; the agent's row in uet's state store is not part
  of it;
* ``git clone``: a plain clone of the local path (objects hard-linked) with its checkout;
* ``git clone --no-hardlinks``: the same, objects copied;
* ``git clone --reference --dissociate``: a ``file://`` clone borrowing the repository's
  objects, then copying them in (``repack -a -d``) so it no longer depends on them;
* ``git worktree add``: a linked working tree on a new branch (one shared ``.git``);
* ``git clone --shared``: alternates, no object copied; shown for its size only (unsafe: a
  ``gc`` of the base can delete objects the clone needs);
* ``cp -r of the working tree``: the files alone, no git: what writing a checkout costs on
  this machine, the floor under every variant with a working tree.

The variants take turns: round ``i`` makes agent ``i`` with each variant, the order rotating
from round to round, and dirty pages are written out (``sync``, untimed) before each creation
so that none pays for another's writeback; the ``sync`` right after a creation is reported
apart (``sync s``).

Disk is counted like ``du``: every file and directory under the repository and the agents,
each inode once (``st_blocks * 512``), so objects hard-linked with the base count zero. The
extra disk of a variant is how much the repository and its agents together grew, divided by
the number of agents, and split into the checkout (working-tree files) and git metadata
(anything under a ``.git``, the base's ``.git/worktrees`` included). A checkout of every file
costs the same to every variant that has a working tree: it is the floor, even for
``git worktree add``. The uet variant's git commands are timed one by one (a wrapper around
``Git._once``), so the report says where its time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uet.isolation import git as uet_git
from uet.isolation.clones import create_clone

MB = 1024 * 1024
TARGET_SECONDS = 1.0
TARGET_SHARE = 0.10
ENV = {
    **os.environ,
    "LC_ALL": "C",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@uet.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@uet.invalid",
}
UET = "uet create_clone"
UET_SPARSE = "uet create_clone --sparse"


def git(*args: str, cwd: Path, stdin: bytes | None = None) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, input=stdin, check=True, stdout=subprocess.DEVNULL
    )


# -- the test repository --------------------------------------------------------------------


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    weights = [26 - i for i in range(26)]
    return ["".join(rng.choices(letters, weights, k=rng.randint(2, 10))) for _ in range(2000)]


def _line_pool(rng: random.Random, size: int = 40_000) -> list[bytes]:
    words = _vocabulary(rng)
    pool = []
    for _ in range(size):
        indent = "    " * rng.randint(0, 3)
        pool.append((indent + " ".join(rng.choices(words, k=rng.randint(3, 12))) + "\n").encode())
    return pool


def _new_file(rng: random.Random, pool: list[bytes]) -> list[bytes]:
    target = rng.randint(200, 2000)
    lines: list[bytes] = []
    size = 0
    while size < target:
        line = rng.choice(pool)
        lines.append(line)
        size += len(line)
    return lines


def _edit(rng: random.Random, pool: list[bytes], lines: list[bytes]) -> None:
    """Change a few lines in place: replace some, insert one, sometimes drop one."""
    for _ in range(rng.randint(1, 4)):
        lines[rng.randrange(len(lines))] = rng.choice(pool)
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(pool))
    if len(lines) > 4 and rng.random() < 0.3:
        del lines[rng.randrange(len(lines))]


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def fast_import_stream(files: int, commits: int, seed: int = 1) -> Iterator[bytes]:
    """A ``git fast-import`` stream: one commit adding every file, then small changes."""
    rng = random.Random(seed)
    pool = _line_pool(rng)
    directories = max(1, files // 100)
    paths = [
        f"pkg{n % directories:03d}/{'sub/' if n % 7 == 0 else ''}module_{n:05d}.txt"
        for n in range(files)
    ]
    contents = [_new_file(rng, pool) for _ in paths]
    # a few files change often, most rarely (weight 1/rank^0.8, ranks shuffled over paths)
    ranks = list(range(1, files + 1))
    rng.shuffle(ranks)
    cum: list[float] = []
    total = 0.0
    for rank in ranks:
        total += rank**-0.8
        cum.append(total)
    when = 1_600_000_000
    for number in range(1, commits + 1):
        when += rng.randint(60, 36_000)
        if number == 1:
            changed = range(files)
            message = b"initial import\n"
        else:
            changed = sorted(set(rng.choices(range(files), cum_weights=cum, k=rng.randint(10, 30))))
            message = b"change %d files (commit %d)\n" % (len(changed), number)
        out = [
            b"commit refs/heads/main\nmark :%d\n" % number,
            b"author bench <bench@uet.invalid> %d +0000\n" % when,
            b"committer bench <bench@uet.invalid> %d +0000\n" % when,
            _data(message),
        ]
        if number > 1:
            out.append(b"from :%d\n" % (number - 1))
        for index in changed:
            if number > 1:
                _edit(rng, pool, contents[index])
            out.append(b"M 100644 inline %s\n" % paths[index].encode())
            out.append(_data(b"".join(contents[index])))
        out.append(b"\n")
        yield b"".join(out)


def build_repository(path: Path, files: int, commits: int) -> dict[str, float]:
    """Make the test repository at ``path``; seconds per step."""
    steps: dict[str, float] = {}
    start = time.perf_counter()
    git("init", "--quiet", "--initial-branch=main", str(path), cwd=path.parent)
    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet"], cwd=path, env=ENV, stdin=subprocess.PIPE
    )
    assert importer.stdin is not None
    for chunk in fast_import_stream(files, commits):
        importer.stdin.write(chunk)
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    steps["fast-import"] = time.perf_counter() - start
    mark = time.perf_counter()
    git("gc", "--quiet", cwd=path)
    steps["gc"] = time.perf_counter() - mark
    mark = time.perf_counter()
    git("reset", "--quiet", "--hard", "main", cwd=path)
    steps["checkout"] = time.perf_counter() - mark
    steps["total"] = time.perf_counter() - start
    return steps


# -- disk, like du --------------------------------------------------------------------------


def disk_usage(roots: Sequence[Path], skip: Sequence[Path] = ()) -> dict[str, int]:
    """Bytes on disk under ``roots``, each inode once: {"checkout", "git", "total"}.

    Anything with a ``.git`` component in its path is git metadata, the rest is checkout.
    Directories in ``skip`` are not entered (they are counted as roots of their own).
    """
    seen: set[tuple[int, int]] = set()
    skipped = {str(p) for p in skip}
    usage = {"checkout": 0, "git": 0}

    def visit(path: str, kind: str) -> None:
        info = os.lstat(path)
        key = (info.st_dev, info.st_ino)
        if key not in seen:
            seen.add(key)
            usage[kind] += info.st_blocks * 512
        if not os.path.isdir(path) or os.path.islink(path):
            return
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.path in skipped:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    visit(entry.path, "git" if kind == "git" or entry.name == ".git" else kind)
                else:
                    info = entry.stat(follow_symlinks=False)
                    key = (info.st_dev, info.st_ino)
                    if key not in seen:
                        seen.add(key)
                        inner = "git" if kind == "git" or entry.name == ".git" else kind
                        usage[inner] += info.st_blocks * 512

    for root in roots:
        if root.exists():
            visit(str(root), "git" if ".git" in root.parts else "checkout")
    usage["total"] = usage["checkout"] + usage["git"]
    return usage


# -- the variants ---------------------------------------------------------------------------


class Variant:
    """Makes agent ``i`` of a repository somewhere under ``home``."""

    name = ""
    note = ""

    def __init__(self, repo: Path, home: Path) -> None:
        self.repo = repo
        self.home = home

    def path(self, i: int) -> Path:
        return self.home / f"agent-{i}"

    def create(self, i: int) -> None:
        raise NotImplementedError

    def agent_roots(self, count: int) -> list[Path]:
        return [self.path(i) for i in range(count)]


class UetClone(Variant):
    name = UET

    def path(self, i: int) -> Path:
        return self.repo / ".uet" / "agents" / f"a{i}"

    def create(self, i: int) -> None:
        create_clone(self.repo, self.path(i), f"a{i}")


class UetSparseClone(UetClone):
    """``uet agents create --sparse pkg000``: an agent whose work lives in one directory."""

    name = UET_SPARSE
    note = "cone mode: one directory + top-level files"

    def path(self, i: int) -> Path:
        return self.repo / ".uet" / "agents" / f"s{i}"

    def create(self, i: int) -> None:
        create_clone(self.repo, self.path(i), f"s{i}", sparse=["pkg000"])


class GitClone(Variant):
    def __init__(
        self, repo: Path, home: Path, name: str, *options: str, url: bool = False, pre: str = ""
    ) -> None:
        super().__init__(repo, home)
        self.name = name
        self.options = options
        self.source = f"file://{repo}" if url else str(repo)
        self.pre = ("-c", pre) if pre else ()

    def create(self, i: int) -> None:
        target = str(self.path(i))
        git(*self.pre, "clone", "--quiet", *self.options, "--", self.source, target, cwd=self.home)


class Worktree(Variant):
    name = "git worktree add"

    def create(self, i: int) -> None:
        git("worktree", "add", "--quiet", "-b", f"wt/{i}", str(self.path(i)), "main", cwd=self.repo)

    def agent_roots(self, count: int) -> list[Path]:
        metadata = self.repo / ".git" / "worktrees"
        refs = self.repo / ".git" / "refs" / "heads" / "wt"
        return [*super().agent_roots(count), *(metadata / f"agent-{i}" for i in range(count)), refs]


class CopyFiles(Variant):
    name = "cp -r of the working tree"
    note = "floor: the files, no git"

    def create(self, i: int) -> None:
        sources = sorted(str(p) for p in self.repo.iterdir() if p.name not in (".git", ".uet"))
        self.path(i).mkdir()
        subprocess.run(["cp", "-r", "--", *sources, str(self.path(i))], check=True)


def variants(repo: Path, top: Path) -> list[Variant]:
    def home(name: str) -> Path:
        folder = top / name
        folder.mkdir()
        return folder

    shared = GitClone(repo, home("shared"), "git clone --shared", "--shared")
    shared.note = "unsafe: base gc can corrupt it"
    return [
        UetClone(repo, home("uet")),
        UetSparseClone(repo, home("uet-sparse")),
        GitClone(repo, home("clone"), "git clone"),
        GitClone(repo, home("copy"), "git clone --no-hardlinks", "--no-hardlinks"),
        GitClone(
            repo,
            home("dissociate"),
            "git clone --reference --dissociate",
            "--reference",
            str(repo),
            "--dissociate",
            url=True,
            # git 2.39 keeps the reference's commit-graph after dissociating and its checkout
            # then fails with "unable to parse commit"; without the graph it works
            pre="core.commitGraph=false",
        ),
        Worktree(repo, home("worktree")),
        shared,
        CopyFiles(repo, home("files")),
    ]


@contextmanager
def git_calls(calls: list[tuple[str, float]]) -> Iterator[None]:
    """Record (git subcommand, seconds) of every git process uet's ``Git`` runs."""
    original = uet_git.Git._once

    def timed(self: uet_git.Git, argv: list[str], *rest: Any) -> uet_git.GitResult:
        start = time.perf_counter()
        try:
            return original(self, argv, *rest)
        finally:
            calls.append((" ".join(argv[1:3]), time.perf_counter() - start))

    uet_git.Git._once = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        uet_git.Git._once = original  # type: ignore[method-assign]


def timed_rounds(chosen: list[Variant], count: int) -> dict[str, dict[str, Any]]:
    """Make agent ``i`` with every variant in turn (the order rotating), for every ``i``.

    Dirty pages are written out (``sync``, untimed) before each creation, so no creation
    pays for the writeback of an earlier one; the ``sync`` right after it is timed apart.
    """
    timings: dict[str, dict[str, Any]] = {
        v.name: {"seconds": [], "sync": [], "calls": []} for v in chosen
    }
    for i in range(count):
        shift = i % len(chosen)
        for variant in chosen[shift:] + chosen[:shift]:
            row = timings[variant.name]
            os.sync()
            calls: list[tuple[str, float]] = []
            with git_calls(calls):
                start = time.perf_counter()
                variant.create(i)
                made = time.perf_counter()
            os.sync()
            row["sync"].append(time.perf_counter() - made)
            row["seconds"].append(made - start)
            row["calls"].extend(calls)
    return timings


def summarise(
    variant: Variant,
    timing: dict[str, Any],
    count: int,
    before: dict[str, int],
    repo_size: int,
) -> dict[str, Any]:
    after = disk_usage([variant.repo, *variant.agent_roots(count)], inside_repo(variant.repo))
    extra = {kind: (after[kind] - before[kind]) / count for kind in ("total", "checkout", "git")}
    seconds: list[float] = timing["seconds"]
    row: dict[str, Any] = {
        "seconds_median": statistics.median(seconds),
        "seconds_max": max(seconds),
        "sync_median": statistics.median(timing["sync"]),
        "seconds": seconds,
        "extra_bytes": extra["total"],
        "extra_share": extra["total"] / repo_size,
        "checkout_bytes": extra["checkout"],
        "git_bytes": extra["git"],
        "git_share": extra["git"] / repo_size,
        "note": variant.note,
    }
    calls: list[tuple[str, float]] = timing["calls"]
    if calls:  # only uet's variant runs git through uet's Git
        per: dict[str, list[float]] = {}
        for name, took in calls:
            per.setdefault(name, []).append(took)
        in_git = sum(took for _, took in calls)
        row["git_calls_per_agent"] = len(calls) / count
        row["git_seconds_per_agent"] = in_git / count
        row["python_seconds_per_agent"] = (sum(seconds) - in_git) / count
        row["git_calls"] = {
            name: {"count": len(times) / count, "seconds": sum(times) / count}
            for name, times in sorted(per.items(), key=lambda item: -sum(item[1]))
        }
    return row


def inside_repo(repo: Path) -> list[Path]:
    """What agents add inside the base repository: counted with the agents, not the base."""
    return [repo / ".uet", repo / ".git" / "worktrees", repo / ".git" / "refs" / "heads" / "wt"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="files in the repository")
    parser.add_argument("--commits", type=int, default=1_000, help="commits in its history")
    parser.add_argument("--agents", type=int, default=5, help="agents made by each variant")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    top = Path(tempfile.mkdtemp(prefix="uet-bench-agents-")).resolve()
    chosen: list[Variant] = []
    try:
        repo = top / "repo"
        repo.mkdir()
        setup = build_repository(repo, args.files, args.commits)
        size = disk_usage([repo])
        # one clone nobody counts, so the first variant does not pay for a cold cache
        warm = top / "warm"
        git("clone", "--quiet", "--", str(repo), str(warm), cwd=top)
        shutil.rmtree(warm)
        before = disk_usage([repo], inside_repo(repo))
        chosen = variants(repo, top)
        timings = timed_rounds(chosen, args.agents)
        results = {
            v.name: summarise(v, timings[v.name], args.agents, before, size["total"])
            for v in chosen
        }
    finally:
        if args.keep:
            print(f"kept {top}", file=sys.stderr)
        else:
            shutil.rmtree(top, ignore_errors=True)
    uet = results[UET]
    plain = results["git clone"]
    verdict = {
        "seconds_target": TARGET_SECONDS,
        "share_target": TARGET_SHARE,
        "seconds_met": uet["seconds_median"] < TARGET_SECONDS,
        "max_seconds_met": uet["seconds_max"] < TARGET_SECONDS,
        "share_met": uet["extra_share"] < TARGET_SHARE,
        "git_share_met": uet["git_share"] < TARGET_SHARE,
        "sparse_seconds_met": results[UET_SPARSE]["seconds_median"] < TARGET_SECONDS,
        "sparse_share_met": results[UET_SPARSE]["extra_share"] < TARGET_SHARE,
        "uet_vs_git_clone": uet["seconds_median"] / plain["seconds_median"],
    }
    repo_info = {
        "load_average": os.getloadavg()[0],
        "files": args.files,
        "commits": args.commits,
        "agents": args.agents,
        "checkout_bytes": size["checkout"],
        "git_bytes": size["git"],
        "total_bytes": size["total"],
    }
    if args.json:
        print(
            json.dumps({"repo": repo_info, "setup_seconds": setup, "results": results, **verdict})
        )
        return 0
    report(repo_info, setup, results, verdict)
    return 0


def report(
    repo: dict[str, Any],
    setup: dict[str, float],
    results: dict[str, dict[str, Any]],
    verdict: dict[str, Any],
) -> None:
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in setup.items() if k != "total")
    print(
        f"repository: {repo['files']:,} files, {repo['commits']:,} commits, built in "
        f"{setup['total']:.1f} s ({steps}); {os.cpu_count()} cores, load average "
        f"{repo['load_average']:.2f} at the end (the machine may be shared: compare rows)"
    )
    print(
        f"size: working tree {repo['checkout_bytes'] / MB:.1f} MB + .git "
        f"{repo['git_bytes'] / MB:.1f} MB = {repo['total_bytes'] / MB:.1f} MB"
    )
    print(
        f"{repo['agents']} agents per variant, one per variant and round (order rotating), "
        f"dirty pages synced before each; 'sync s': writing the new agent out after it\n"
    )
    print(
        f"{'variant':36} {'s/agent':>8} {'max s':>7} {'sync s':>7} {'extra MB':>9} "
        f"{'% repo':>7} {'checkout MB':>12} {'git MB':>7}"
    )
    for name, row in results.items():
        print(
            f"{name:36} {row['seconds_median']:>8.3f} {row['seconds_max']:>7.3f} "
            f"{row['sync_median']:>7.3f} {row['extra_bytes'] / MB:>9.2f} "
            f"{row['extra_share'] * 100:>6.1f}% {row['checkout_bytes'] / MB:>12.2f} "
            f"{row['git_bytes'] / MB:>7.2f}" + (f"  ({row['note']})" if row["note"] else "")
        )
    uet = results[UET]
    print(
        f"\n{UET}: {uet['git_calls_per_agent']:.0f} git processes per agent, "
        f"{uet['git_seconds_per_agent']:.3f} s in git, "
        f"{uet['python_seconds_per_agent']:.3f} s in Python; per git command and agent:"
    )
    for name, call in uet["git_calls"].items():
        print(f"    git {name:40} x{call['count']:<4g} {call['seconds']:>7.3f} s")
    print(f"{UET} vs git clone: {verdict['uet_vs_git_clone']:.2f}x the time per agent\n")
    seconds = "met" if verdict["seconds_met"] else "NOT met"
    worst = "under" if verdict["max_seconds_met"] else "over"
    print(
        f"target < {TARGET_SECONDS:g} s per agent: {seconds} for the median "
        f"({uet['seconds_median']:.3f} s; the slowest, {uet['seconds_max']:.3f} s, is {worst})"
    )
    share = "met" if verdict["share_met"] else "NOT met"
    git_share = "met" if verdict["git_share_met"] else "NOT met"
    print(
        f"target < {TARGET_SHARE:.0%} of the repository in extra disk per agent: {share} for "
        f"the total ({uet['extra_share']:.1%}, {uet['extra_bytes'] / MB:.2f} MB), {git_share} "
        f"for the git metadata ({uet['git_share']:.1%}, {uet['git_bytes'] / MB:.2f} MB); the "
        f"checkout ({uet['checkout_bytes'] / MB:.2f} MB) is a floor that git worktree add pays too"
    )
    sparse = results[UET_SPARSE]
    print(
        f"{UET_SPARSE} (an agent scoped to one directory): "
        f"{sparse['seconds_median']:.3f} s per agent "
        f"({'met' if verdict['sparse_seconds_met'] else 'NOT met'}), "
        f"{sparse['extra_share']:.1%} of the repository in extra disk "
        f"({'met' if verdict['sparse_share_met'] else 'NOT met'})"
    )


if __name__ == "__main__":
    sys.exit(main())
