"""A labelled corpus of real pytest failures, one or more per triage class, and its scoring.

``generate(folder, seed)`` writes a pytest project (``pytest.ini`` and ``test_*.py``) whose
failures are real: modules that import a missing package or do not parse, fixtures that
raise, asserts that fail, sleeps past pytest-timeout, a closed loopback port, ``/dev/full``,
an allocation no machine has; and two kinds of non-deterministic tests:

* **flaky** (not order-dependent): the outcome of a test's k-th execution is drawn from a
  PRNG seeded with ``(seed, test, k)`` (the execution count kept in ``.state/``), failing
  with probability 1/2; the generator keeps the seeds whose first run fails and whose next
  three runs hold a pass and a failure, so that three reruns alone always see both (with
  truly independent draws, three reruns all fail 12.5 % of the time and the test looks
  broken: the number of reruns is the knob, ``docs/recovery.md``);
* **order-dependent** (59 % of the flaky tests, Gruber et al.'s share for Python; and the
  flaky tests are ~0.9 % of all tests, their 7,571 of 876,186): a victim
  asserts state that a polluter, collected earlier, leaves behind (a module global, an
  environment variable, a class attribute); the polluter sits among passing tests so that
  finding it takes bisection.

The labels map each failing node id to its class (and each victim to its polluter); a
deterministic failure never passes, so labelling one flaky is a false positive.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

STATIC = ("import", "syntax", "collection", "setup", "assertion", "timeout", "infra", "unknown")
CLASSES = (*STATIC, "flaky", "order_dependent")


@dataclass
class Corpus:
    folder: Path
    labels: dict[str, str] = field(default_factory=dict)  # node id -> class
    polluters: dict[str, str] = field(default_factory=dict)  # victim -> polluter
    passing: int = 0

    def write_labels(self) -> None:
        data = {"labels": self.labels, "polluters": self.polluters, "passing": self.passing}
        (self.folder / "labels.json").write_text(json.dumps(data, indent=2, sort_keys=True))


_HEADER = "import os, pathlib, random, socket, subprocess, time\n\nimport pytest\n\n"

_COUNTER = '''
def _execution(name):
    """How many times this test ran before (kept across pytest processes)."""
    state = pathlib.Path(__file__).parent / ".state" / name
    state.parent.mkdir(exist_ok=True)
    count = int(state.read_text()) if state.exists() else 0
    state.write_text(str(count + 1))
    return count
'''


def _flaky_seed(rng: random.Random, name: str) -> int:
    """A seed whose run 0 fails and whose runs 1-3 hold both a pass and a failure."""
    while True:
        seed = rng.randrange(1 << 30)
        draws = [random.Random(f"{seed}:{name}:{k}").random() < 0.5 for k in range(4)]
        if draws[0] and any(draws[1:]) and not all(draws[1:]):
            return seed


def _static_modules(corpus: Corpus, rng: random.Random, scale: int) -> None:
    files: dict[str, str] = {}
    for i in range(2 * scale):
        files[f"test_c{i}_import.py"] = f"import missing_package_{i}\n\ndef test_x():\n    pass\n"
        corpus.labels[f"test_c{i}_import.py"] = "import"
        bad = ["def broken(:\n    pass\n", "if True\n    x = 1\n", "def f():\nreturn 1\n"][i % 3]
        files[f"test_c{i}_syntax.py"] = bad
        corpus.labels[f"test_c{i}_syntax.py"] = "syntax"
        boom = [
            "raise ValueError('settings not loaded')",
            "CASES = UNDEFINED_CASES",
            "CONFIG = {}['missing']",
        ][i % 3]
        files[f"test_c{i}_collect.py"] = f"{boom}\n\ndef test_x():\n    pass\n"
        corpus.labels[f"test_c{i}_collect.py"] = "collection"
    for name, text in files.items():
        (corpus.folder / name).write_text(text)


def _failing_module(corpus: Corpus, index: int, scale: int) -> None:
    name = f"test_f{index}_fail.py"
    tests: list[tuple[str, str, str]] = []  # (test name, body, class)
    for i in range(scale):
        tests += [
            (f"test_setup_{i}", "def test_setup_{i}(broken_fixture):\n    pass\n", "setup"),
            (f"test_teardown_{i}", "def test_teardown_{i}(leaky_fixture):\n    pass\n", "setup"),
            (
                f"test_assert_eq_{i}",
                "def test_assert_eq_{i}():\n    assert sum([1, 2]) == 4\n",
                "assertion",
            ),
            (
                f"test_assert_in_{i}",
                "def test_assert_in_{i}():\n    assert 'x' in 'abc'\n",
                "assertion",
            ),
            (f"test_fail_{i}", "def test_fail_{i}():\n    pytest.fail('bad state')\n", "assertion"),
            (
                f"test_timeout_{i}",
                "@pytest.mark.timeout(0.3)\ndef test_timeout_{i}():\n    time.sleep(10)\n",
                "timeout",
            ),
            (
                f"test_subprocess_timeout_{i}",
                "def test_subprocess_timeout_{i}():\n"
                "    subprocess.run(['sleep', '5'], timeout=0.2)\n",
                "timeout",
            ),
            (
                f"test_refused_{i}",
                "def test_refused_{i}():\n    socket.create_connection("
                "('127.0.0.1', _closed_port()), timeout=2)\n",
                "infra",
            ),
            (
                f"test_disk_full_{i}",
                "def test_disk_full_{i}():\n    with open('/dev/full', 'w')"
                " as f:\n        f.write('x')\n        f.flush()\n",
                "infra",
            ),
            (f"test_oom_{i}", "def test_oom_{i}():\n    bytearray(1 << 60)\n", "infra"),
            (f"test_db_setup_{i}", "def test_db_setup_{i}(database):\n    pass\n", "infra"),
            (f"test_type_{i}", "def test_type_{i}():\n    None + 1\n", "unknown"),
            (f"test_key_{i}", "def test_key_{i}():\n    dict()['id']\n", "unknown"),
        ]
    lines = [
        _HEADER,
        "@pytest.fixture\ndef broken_fixture():\n    raise RuntimeError('fixture broke')\n\n",
        "@pytest.fixture\ndef leaky_fixture():\n    yield\n    raise OSError('left a lock')\n\n",
        "def _closed_port():\n    s = socket.socket()\n    s.bind(('127.0.0.1', 0))\n"
        "    port = s.getsockname()[1]\n    s.close()\n    return port\n\n",
        "@pytest.fixture\ndef database():\n    return socket.create_connection("
        "('127.0.0.1', _closed_port()), timeout=2)\n\n",
    ]
    for test, body, klass in tests[index::3]:
        lines.append(body.format(i=test.rsplit("_", 1)[1]) + "\n")
        corpus.labels[f"{name}::{test}"] = klass
    (corpus.folder / name).write_text("".join(lines))


def _flaky_module(corpus: Corpus, rng: random.Random, index: int, count: int) -> None:
    name = f"test_n{index}_flaky.py"
    lines = [_HEADER, _COUNTER]
    for i in range(count):
        test = f"test_flaky_{index}_{i}"
        seed = _flaky_seed(rng, test)
        fail = [
            "assert not failed, 'result differed this time'",
            "raise ConnectionResetError(104, 'Connection reset by peer')",
        ][i % 2]
        lines.append(
            f"\ndef {test}():\n    k = _execution({test!r})\n"
            f"    failed = random.Random(f'{seed}:{test}:{{k}}').random() < 0.5\n"
            f"    if failed:\n        {fail}\n"
        )
        corpus.labels[f"{name}::{test}"] = "flaky"
    (corpus.folder / name).write_text("".join(lines))


_POLLUTIONS = (
    # (polluter body, victim body): state left in the process, one key per pair
    ("    _CACHE['user{i}'] = 'alice'\n", "    assert 'user{i}' not in _CACHE\n"),
    (
        "    os.environ['APP_MODE_{i}'] = 'debug'\n",
        "    assert os.environ.get('APP_MODE_{i}', 'prod') == 'prod'\n",
    ),
    ("    Settings.retries_{i} = 0\n", "    assert getattr(Settings, 'retries_{i}', 3) == 3\n"),
)


def _order_dependent(corpus: Corpus, index: int, passing_before: int) -> None:
    polluter_body, victim_body = (
        body.format(i=index) for body in _POLLUTIONS[index % len(_POLLUTIONS)]
    )
    state = "import shared_state\n_CACHE = shared_state.CACHE\nSettings = shared_state.Settings\n"
    polluter_file = f"test_o{index}a_polluter.py"
    victim_file = f"test_o{index}z_victim.py"
    lines = [_HEADER, state]
    for i in range(passing_before):
        lines.append(f"\ndef test_before_{i}():\n    assert True\n")
    lines.append(f"\ndef test_polluter_{index}():\n{polluter_body}")
    (corpus.folder / polluter_file).write_text("".join(lines))
    corpus.passing += passing_before + 1
    victim = f"test_victim_{index}"
    (corpus.folder / victim_file).write_text(
        f"{_HEADER}{state}\ndef test_ok_{index}():\n    assert True\n\n"
        f"def {victim}():\n{victim_body}"
    )
    corpus.passing += 1
    corpus.labels[f"{victim_file}::{victim}"] = "order_dependent"
    corpus.polluters[f"{victim_file}::{victim}"] = f"{polluter_file}::test_polluter_{index}"


def _passing_modules(corpus: Corpus, count: int, per_module: int) -> None:
    """Passing tests, collected after every failing one (so reruns of the tests before a
    victim do not run them): they bring the flaky share to Gruber's ~0.9 % of tests."""
    for m in range(count):
        body = (
            f"import pytest\n\n@pytest.mark.parametrize('i', range({per_module}))\n"
            f"def test_ok_{m}(i):\n    assert i + 1 > i\n"
        )
        (corpus.folder / f"test_p{m}_pass.py").write_text(body)
        corpus.passing += per_module


def generate(folder: Path, seed: int = 7, *, scale: int = 1, flaky: int = 10) -> Corpus:
    """Write the corpus in ``folder``: ``flaky`` non-deterministic tests, ~59 % of them
    order-dependent, and ``scale`` sets of the deterministic classes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\ntimeout = 30\n")
    (folder / "shared_state.py").write_text("CACHE = {}\n\nclass Settings:\n    retries = 3\n")
    corpus = Corpus(folder)
    _static_modules(corpus, rng, scale)
    for index in range(3):
        _failing_module(corpus, index, scale)
    order_dependent = round(flaky * 0.59)
    for index in range(order_dependent):
        _order_dependent(corpus, index, passing_before=rng.randrange(3, 12))
    _flaky_module(corpus, rng, 0, flaky - order_dependent)
    _passing_modules(corpus, count=6, per_module=170)
    corpus.write_labels()
    return corpus


# -- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    macro_f1: float
    per_class: Mapping[str, tuple[float, float, float]]  # precision, recall, f1
    flaky_false_positive_rate: float  # deterministic failures labelled flaky / deterministic
    unknown_share: float


def score(labels: Mapping[str, str], predicted: Mapping[str, str]) -> Score:
    """Macro-F1 over the classes the labels hold; a missing prediction counts as wrong."""
    classes = sorted(set(labels.values()))
    per_class: dict[str, tuple[float, float, float]] = {}
    for klass in classes:
        tp = sum(1 for t, c in labels.items() if c == klass and predicted.get(t) == klass)
        fp = sum(1 for t, c in predicted.items() if c == klass and labels.get(t) != klass)
        fn = sum(1 for t, c in labels.items() if c == klass and predicted.get(t) != klass)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[klass] = (precision, recall, f1)
    deterministic = [t for t, c in labels.items() if c in STATIC]
    flagged = [t for t in deterministic if predicted.get(t) in ("flaky", "order_dependent")]
    unknown = sum(1 for c in predicted.values() if c == "unknown")
    return Score(
        macro_f1=sum(f for _, _, f in per_class.values()) / len(per_class),
        per_class=per_class,
        flaky_false_positive_rate=len(flagged) / len(deterministic) if deterministic else 0.0,
        unknown_share=unknown / len(predicted) if predicted else 0.0,
    )


def write_fixture(target: Path, seed: int = 7) -> None:
    """Regenerate the kept fixture (``python -m tests.triage.corpus tests/triage/fixtures``):
    the corpus's first pytest run as JUnit, and its labels."""
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as scratch:
        corpus = generate(Path(scratch) / "corpus", seed)
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "pytest_timeout",
            "-p",
            "no:cacheprovider",
            "-q",
            "--continue-on-collection-errors",
            "--junitxml=report.xml",
        ]
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        subprocess.run(argv, cwd=corpus.folder, env=env, capture_output=True, check=False)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus.folder / "report.xml", target / "corpus-report.xml")
        shutil.copy(corpus.folder / "labels.json", target / "corpus-labels.json")


if __name__ == "__main__":
    import sys

    write_fixture(Path(sys.argv[1]))
