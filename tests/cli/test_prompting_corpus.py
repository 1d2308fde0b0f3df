"""A corpus of commands that prompt: under ``uet exec`` each ends quickly as ``needs_input``
and is never retried; under a real pseudo-terminal (pexpect) the same command shows its
prompt and stays alive, waiting. The pair proves that uet's setup (stdin /dev/null, a new
session without a controlling terminal, ``NON_INTERACTIVE_ENV``) is what makes the
difference, and that the classification sees it.

A second, shorter list holds commands that page or open an editor on a terminal but, under
uet, simply finish (PAGER=cat, GIT_EDITOR=true, npm_config_yes): no prompt, no hang.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest

from tests.cli.test_exec import uet

PY = sys.executable


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]  # {url}: a loopback git server answering 401; {folder}, {sshd}: below
    prompt: str  # what the terminal shows (a regex)
    needs: tuple[str, ...] = ()  # programs that must be installed
    timeout: float | None = None  # --timeout for commands that would wait forever
    uet_env: dict[str, str] = field(default_factory=dict)  # --env for uet exec
    pty_env: dict[str, str] = field(default_factory=dict)
    not_as_root: bool = False  # root is never asked (sudo)


CASES = [
    Case("git-clone-401", ["git", "clone", "{url}/repo.git", "out"],
         r"Username for 'http://127\.0\.0\.1", needs=("git",)),
    Case("git-clone-401-enxio", ["git", "clone", "{url}/repo.git", "out"],
         r"Username for 'http://127\.0\.0\.1", needs=("git",),
         uet_env={"GIT_TERMINAL_PROMPT": "1"}),  # the prompt itself fails: ENXIO
    Case("git-ls-remote-401", ["git", "ls-remote", "{url}/other.git"],
         r"Username for 'http://127\.0\.0\.1", needs=("git",)),
    Case("git-commit-without-m", ["git", "-C", "repo", "commit"],
         r"Please enter the commit message", needs=("git", "vi"), pty_env={"GIT_EDITOR": "vi"}),
    Case("python-input", [PY, "-c", "input('Name: ')"], r"Name: "),
    Case("python-getpass", [PY, "-c", "import getpass; getpass.getpass()"], r"Password: "),
    Case("python-breakpoint", [PY, "-c", "breakpoint()"], r"\(Pdb\)"),
    Case("python-m-pdb", [PY, "-m", "pdb", "script.py"], r"\(Pdb\)"),
    Case("click-confirm", [PY, "-c", "import click; click.confirm('Continue?', abort=True)"],
         r"Continue\? \[y/N\]"),
    Case("rich-confirm", [PY, "-c", "from rich.prompt import Confirm; Confirm.ask('Deploy?')"],
         r"Deploy\? "),
    Case("rm-i", ["rm", "-i", "a"], r"rm: remove"),
    Case("cp-i", ["cp", "-i", "a", "b"], r"cp: overwrite"),
    Case("mv-i", ["mv", "-i", "a", "b"], r"mv: overwrite"),
    Case("ln-i", ["ln", "-si", "a", "b"], r"ln: replace"),
    Case("bash-read", ["bash", "-c", "printf 'Continue? [y/N] '; read answer"],
         r"Continue\? \[y/N\]", needs=("bash",)),
    Case("vi", ["vi", "a"], r'"a" \d+L', needs=("vi",), timeout=1.0),
    Case("top", ["top"], r"load average", needs=("top",)),
    Case("gpg-gen-key", ["gpg", "--gen-key"], r"Real name:", needs=("gpg",)),
    Case("openssl-passwd", ["openssl", "passwd"], r"Password:", needs=("openssl",)),
    Case("psql-password", ["psql", "-h", "127.0.0.1", "-p", "1", "-W", "-c", "select 1"],
         r"Password", needs=("psql",)),
    Case("node-readline", ["node", "-e", "require('readline').createInterface({input: "
         "process.stdin, output: process.stdout}).question('Continue? [y/N] ', () => {})"],
         r"Continue\? \[y/N\]", needs=("node",)),
    # a read of stdin that prints nothing: seen reading its (closed) stdin, then failing
    Case("bash-read-silent", ["bash", "-c", "read x"], r"", needs=("bash",)),
    Case("pip-uninstall", ["{folder}/venv/bin/python", "-m", "pip", "uninstall", "fake-pkg"],
         r"Proceed \(Y/n\)\?"),
    Case("ssh-host-key", ["ssh", "-p", "{sshd}", "-o", "UserKnownHostsFile={folder}/known",
                          "-o", "StrictHostKeyChecking=ask", "127.0.0.1", "true"],
         r"continue connecting \(yes/no", needs=("ssh", "sshd", "ssh-keygen")),
    Case("sudo-password", ["sudo", "-k", "true"], r"[Pp]assword", needs=("sudo",),
         not_as_root=True),
]  # fmt: skip

NOT_A_PROMPT = [  # they read stdin to its end and succeed: never needs_input
    ["cat"],
    ["wc", "-l"],
    ["sort"],
    ["bash", "-c", "read x || true"],
    [PY, "-c", "import sys; sys.stdin.read()"],
]

NO_WAIT = [
    Case("less", ["less", "a"], r"\(END\)|a lines", needs=("less",)),
    Case("more", ["more", "long"], r"--More--", needs=("more",)),
    Case("git-log-pager", ["git", "-C", "repo", "log"], r"\(END\)|:\s*$", needs=("git", "less"),
         pty_env={"GIT_PAGER": "less", "LESS": "R"}),
    Case("git-rebase-i", ["git", "-C", "clean", "rebase", "-i", "HEAD~1"], r"pick ",
         needs=("git", "vi"), pty_env={"GIT_EDITOR": "vi", "GIT_SEQUENCE_EDITOR": "vi"}),
]  # fmt: skip


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="uet tests"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A project folder with the files the corpus works on: a, b, a long file, a script,
    a git repository with two commits and a staged change, and a clean clone of it."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "a").write_text("first file\n")
    (root / "b").write_text("second file\n")
    (root / "long").write_text("".join(f"line {n}\n" for n in range(500)))
    (root / "script.py").write_text("x = 1\nprint(x)\n")
    (root / "gnupg").mkdir(mode=0o700)
    repo = root / "repo"
    git = ["git", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for n in range(2):
        (repo / "f").write_text(f"{n}\n")
        subprocess.run([*git, "add", "f"], check=True)
        subprocess.run([*git, "commit", "-qm", f"commit {n}"], check=True)
    subprocess.run(["git", "clone", "-q", str(repo), str(root / "clean")], check=True)
    (repo / "f").write_text("staged\n")
    subprocess.run([*git, "add", "f"], check=True)
    return root


def _argv(case: Case, url: str) -> list[str]:
    folder, sshd = _PLACES.get("folder", ""), _PLACES.get("sshd", "")
    return [
        arg.replace("{url}", url).replace("{folder}", folder).replace("{sshd}", sshd)
        for arg in case.argv
    ]


_PLACES: dict[str, str] = {}  # {folder} and {sshd} of the test running now


def _skip_missing(case: Case) -> None:
    missing = [program for program in case.needs if _which(program) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    if case.not_as_root and os.geteuid() == 0:
        pytest.skip("running as root: sudo asks root no password")


def _which(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")


def _fake_pip_env(folder: Path) -> None:
    """``folder/venv``: a venv (pip from the base Python) holding a distribution
    ``fake-pkg``, for ``pip uninstall`` to ask about (it is never removed: nobody says y)."""
    base = getattr(sys, "_base_executable", sys.executable)
    venv = folder / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                   check=True)  # fmt: skip
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
         "['purelib'])"], check=True, capture_output=True, text=True)  # fmt: skip
    site = Path(found.stdout.strip())
    info = site / "fake_pkg-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pkg\nVersion: 1.0\n")
    (site / "fake_pkg.py").write_text("x = 1\n")
    (info / "RECORD").write_text("fake_pkg.py,,\nfake_pkg-1.0.dist-info/METADATA,,\n")
    check = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"],
                           capture_output=True, check=False)  # fmt: skip
    if check.returncode != 0:
        pytest.skip("the base Python has no pip to uninstall with")


@contextlib.contextmanager
def _loopback_sshd(folder: Path) -> Iterator[str]:
    """An sshd on 127.0.0.1 with a fresh host key (its port), not yet in known_hosts."""
    sshd, keygen = _which("sshd"), _which("ssh-keygen")
    assert sshd is not None and keygen is not None  # noqa: PT018 - skipped before
    key = folder / "host_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
                      f"PidFile {folder / 'sshd.pid'}\nUsePAM no\n")  # fmt: skip
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)
        yield str(port)
    finally:
        server.terminate()
        server.wait(timeout=10)


ENDS_BY_ITSELF_S = 120
"""uet exec's timeout for a command that must end by itself (far beyond any start-up)."""


def _uet_exec(folder: Path, case: Case, url: str, *extra: str) -> dict[str, object]:
    args = ["exec", "--json", *extra]
    if case.timeout is not None:
        args += ["--timeout", str(case.timeout)]
    for key, value in case.uet_env.items():
        args += ["--env", f"{key}={value}"]
    env = {"GNUPGHOME": str(folder / "gnupg")}
    proc = uet(folder, *args, "--", *_argv(case, url), env=env)
    assert proc.stdout, proc.stderr
    record: dict[str, object] = json.loads(proc.stdout)
    record["returncode"] = proc.returncode
    return record


def _on_a_terminal(folder: Path, case: Case, url: str) -> None:
    """The command under a real pseudo-terminal, with a person's environment: it shows its
    prompt and is still alive, waiting for the answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    for key in ("CI", "NON_INTERACTIVE", "GIT_TERMINAL_PROMPT", "GIT_EDITOR", "EDITOR",
                "VISUAL", "PAGER", "GIT_PAGER", "DEBIAN_FRONTEND", "npm_config_yes"):  # fmt: skip
        env.pop(key, None)
    env.update(TERM="xterm", GNUPGHOME=str(folder / "gnupg"), **case.pty_env)
    argv = _argv(case, url)
    child = pexpect.spawn(argv[0], argv[1:], cwd=str(folder), env=env, timeout=20,
                          dimensions=(24, 80))  # fmt: skip
    try:
        child.expect(case.prompt)
        assert child.isalive(), f"{case.id} ended instead of waiting"
    finally:
        child.terminate(force=True)
        child.close(force=True)
        if "gpg" in case.needs:
            subprocess.run(["gpgconf", "--homedir", str(folder / "gnupg"), "--kill", "all"],
                           check=False, capture_output=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_prompting_command_ends_as_needs_input_never_retried(
    case: Case, folder: Path, server_url: str
) -> None:
    _skip_missing(case)
    _PLACES["folder"] = str(folder)
    if case.id == "pip-uninstall":
        _fake_pip_env(folder)
    with contextlib.ExitStack() as stack:
        if "sshd" in case.needs:
            _PLACES["sshd"] = stack.enter_context(_loopback_sshd(folder))
        _prompts_under_uet_not_on_a_terminal(case, folder, server_url)


def _prompts_under_uet_not_on_a_terminal(case: Case, folder: Path, server_url: str) -> None:
    # A command with no timeout of its own gets a long one: ending before it, not killed
    # by it (exit 124), is what shows the command stopped waiting by itself.
    limit = () if case.timeout is not None else ("--timeout", str(ENDS_BY_ITSELF_S))
    record = _uet_exec(folder, case, server_url, "--retries", "3", *limit)
    assert record["outcome"] == "needs_input", record
    assert record["attempts"] == 1, record
    assert record["needs_input"], record
    assert record["returncode"] != 0
    if case.timeout is None:
        assert record["returncode"] != 124, record  # it did not wait: it ended by itself
    else:
        assert record["returncode"] == 124  # stopped at its timeout, then classified
    status = uet(folder, "status", str(record["run_id"]))
    assert b"needs input" in status.stdout
    _on_a_terminal(folder, case, server_url)


@pytest.mark.slow
@pytest.mark.parametrize("case", NO_WAIT, ids=[c.id for c in NO_WAIT])
def test_a_pager_or_editor_command_just_finishes_under_uet(
    case: Case, folder: Path, server_url: str
) -> None:
    _skip_missing(case)
    record = _uet_exec(folder, case, server_url)
    assert record["outcome"] == "succeeded", record
    assert record["attempts"] == 1
    _on_a_terminal(folder, case, server_url)


@pytest.mark.slow
@pytest.mark.parametrize("argv", NOT_A_PROMPT, ids=[" ".join(a[-2:]) for a in NOT_A_PROMPT])
def test_a_command_that_reads_stdin_to_its_end_and_succeeds_is_no_prompt(
    argv: list[str], tmp_path: Path
) -> None:
    """Reading the closed stdin is seen, but only a failure after it is needs_input."""
    proc = uet(tmp_path, "exec", "--json", "--", *argv)
    record = json.loads(proc.stdout)
    assert record["outcome"] == "succeeded", record
    assert record["needs_input"] is None


def test_the_corpus_has_at_least_20_prompting_commands() -> None:
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)
