"""Loading triggers from uet.toml and config/triggers.yaml: every bad input names file, key
and problem (exit 2), nothing is half-loaded; good files give typed triggers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from uet.config import load_settings
from uet.errors import ConfigError, ExitCode
from uet.spec._trigger_cycles import RUN_EVENT_HEADS
from uet.spec.triggers import TriggerConfigError, Triggers, load_triggers

WORKSTREAM = "id: {id}\ntasks:\n  - {{id: t, run: 'true'}}\n"
TOOL_WORKSTREAM = "id: {id}\ntasks:\n  - {{id: t, tool: aider, prompt: hi}}\n"


def project(
    tmp_path: Path, toml: str = "", yaml: str | None = None, *, pyproject: bool = False
) -> Path:
    """A project with workstreams ws-a, ws-b (commands) and ws-ai (a tool task)."""
    (tmp_path / "workstreams").mkdir()
    for name in ("ws-a", "ws-b"):
        (tmp_path / "workstreams" / f"{name}.yaml").write_text(WORKSTREAM.format(id=name))
    (tmp_path / "workstreams" / "ws-ai.yaml").write_text(TOOL_WORKSTREAM.format(id="ws-ai"))
    config = "pyproject.toml" if pyproject else "uet.toml"
    (tmp_path / config).write_text(textwrap.dedent(toml))
    if yaml is not None:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "triggers.yaml").write_text(textwrap.dedent(yaml))
    return tmp_path


def load(root: Path, scripts: list[str] | None = None) -> Triggers:
    return load_triggers(load_settings(cwd=root), script_names=scripts)


def problems(root: Path, scripts: list[str] | None = None) -> list[str]:
    with pytest.raises(TriggerConfigError) as caught:
        load(root, scripts)
    assert caught.value.exit_code == ExitCode.USAGE
    assert isinstance(caught.value, ConfigError)
    return [str(p) for p in caught.value.problems]


GOOD_TOML = """
[triggers.nightly]
description = "the nightly build"
cron = "30 2 * * *"
timezone = "Europe/Berlin"
target = {workstreams = ["workstreams/ws-a.yaml"]}

[triggers.deploy]
event = "run.completed"
where = {workstream = "ws-a", status = "succeeded"}
target = {script = "deploy", vars = {ENV = "prod"}}

[triggers.review]
every = "1h"
catchup = "all"
target = {workstreams = ["workstreams/ws-ai.yaml"]}
"""

GOOD_YAML = """
triggers:
  docs:
    files: ["docs/", "*.md"]
    ignore: ["docs/_build/"]
    debounce: 200ms
    overlap: queue
    target: {exec: [make, docs]}
"""


def test_both_sources_load_into_typed_triggers(tmp_path: Path) -> None:
    """uet.toml and config/triggers.yaml share one schema; ids are sorted; sources named."""
    triggers = load(project(tmp_path, GOOD_TOML, GOOD_YAML), scripts=["deploy"])
    assert list(triggers.by_id) == ["deploy", "docs", "nightly", "review"]
    assert triggers.sources["nightly"] == "uet.toml: triggers.nightly"
    assert triggers.sources["docs"] == "config/triggers.yaml: triggers.docs"
    assert triggers["nightly"].target.workstream_ids == ("ws-a",)
    assert not triggers["nightly"].target.tool
    assert triggers["review"].target.tool  # ws-ai has a tool task
    assert triggers["review"].catchup_limit == 1
    assert triggers["docs"].debounce == pytest.approx(0.2)
    assert triggers["deploy"].target.vars == {"ENV": "prod"}
    assert "docs" in triggers
    assert len(triggers) == 4


def test_list_form_and_pyproject(tmp_path: Path) -> None:
    """config/triggers.yaml may list triggers with ids; [tool.uet.triggers] in pyproject."""
    toml = """
    [tool.uet.triggers.hourly]
    every = 3600
    target = {exec = ["true"]}
    """
    yaml = """
    - id: push
      event: "deploy.*"
      target: {exec: ["true"]}
    """
    triggers = load(project(tmp_path, toml, yaml, pyproject=True))
    assert list(triggers.by_id) == ["hourly", "push"]
    assert triggers.sources["hourly"] == "pyproject.toml: tool.uet.triggers.hourly"
    assert triggers.sources["push"] == "config/triggers.yaml: [0]"


def test_no_triggers_at_all(tmp_path: Path) -> None:
    """A project without triggers loads an empty set; a comment-only file is empty too."""
    assert len(load(project(tmp_path, "", "# nothing yet\n"))) == 0


BAD = [
    (
        '[triggers.a]\ncron = "61 * * * *"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.cron: invalid cron expression '61 * * * *': Bad minute",
    ),
    (
        '[triggers.a]\ncron = "0 0 31 2 *"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.cron: invalid cron expression '0 0 31 2 *': Bad day-of-month",
    ),
    (
        '[triggers.a]\ncron = "0 3 * * *"\ntimezone = "Europe/Berln"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.timezone: unknown time zone 'Europe/Berln'"
        " (did you mean 'Europe/Berlin'?)",
    ),
    (
        '[triggers.a]\nevery = "5 minutes"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.every: '5 minutes' is not a duration",
    ),
    (
        '[triggers.a]\nevent = "Task.*"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.event: 'Task.*' has characters event types never have",
    ),
    (
        '[triggers.a]\nevent = ""\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.event: an empty event glob never matches",
    ),
    (
        '[triggers.a]\nfiles = ["src/**x"]\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.files[0]: 'src/**x': '**' must be a whole segment",
    ),
    (
        '[triggers.a]\nfiles = ["src/", "/etc/*"]\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.files[1]: '/etc/*' is outside the project",
    ),
    (
        '[triggers.a]\nfiles = ["../other/*"]\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.files[0]: '../other/*' leaves the project",
    ),
    (
        '[triggers.a]\nevery = "1h"\ntarget = {workstreams = ["workstreams/nope.yaml"]}\n',
        "uet.toml: triggers.a.target.workstreams[0]: workstream file"
        " 'workstreams/nope.yaml' does not exist",
    ),
    (
        '[triggers.a]\nevery = "1h"\ntarget = {script = "deploi"}\n',
        "uet.toml: triggers.a.target.script: unknown script 'deploi' (did you mean 'deploy'?)",
    ),
    (
        '[triggers.a]\nevery = "1h"\ntarget = {exec = ["x"], workstream_ids = ["ws-a"]}\n',
        "uet.toml: triggers.a.target.workstream_ids: 'workstream_ids' is set by uet",
    ),
    (
        '[triggers.a]\nevery = "1h"\n',
        "uet.toml: triggers.a.target: required key is missing",
    ),
    (
        '[triggers.a]\nevery = "1h"\ncatchup = "sometimes"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.catchup: must be 'skip', 'latest' or 'all', got 'sometimes'",
    ),
    (
        '[triggers.a]\nevery = "1h"\nmax_catchup = 0\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.max_catchup: must be at least 1, got 0",
    ),
    (
        '[triggers.a]\nevery = "1h"\nevent = "run.*"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a: a trigger needs exactly one of event, files, cron, every"
        " (found event, every)",
    ),
    (
        '[triggers.a]\nevery = "1h"\ntarget = {exec = ["x"]}\ncolor = 1\n',
        "uet.toml: triggers.a.color: unknown key 'color'",
    ),
    (
        '[triggers."Bad Id"]\nevery = "1h"\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers['Bad Id'].id: 'Bad Id' is not a valid id",
    ),
    (
        '[triggers.a]\nfiles = [".uet/logs/**"]\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.files[0]: '.uet/logs/**' never fires: changes under .uet/",
    ),
    (
        '[triggers.a]\nfiles = [".git/"]\ntarget = {exec = ["x"]}\n',
        "uet.toml: triggers.a.files[0]: '.git/' never fires: changes under .git/",
    ),
    (
        '[triggers.a]\nevery = "1h"\ntarget = {exec = [""]}\n',
        "uet.toml: triggers.a.target.exec[0]: must not be empty",
    ),
    ("triggers = 5\n", "uet.toml: triggers: expected a mapping of trigger ids to triggers"),
    ("[triggers]\na = 5\n", "uet.toml: triggers.a: expected a mapping of trigger keys"),
]


@pytest.mark.parametrize(("toml", "expected"), BAD)
def test_bad_input_names_file_key_and_problem(tmp_path: Path, toml: str, expected: str) -> None:
    """One line per problem: the file, the key path, what is wrong (exit 2)."""
    found = problems(project(tmp_path, toml), scripts=["deploy"])
    assert len(found) == 1, found
    assert found[0].startswith(str(tmp_path / expected.split(":", 1)[0]))
    assert expected.split(" ", 1)[1] in found[0] or expected in found[0].replace(
        str(tmp_path) + "/", ""
    ), found[0]


def test_a_workstream_file_that_does_not_load(tmp_path: Path) -> None:
    """A target whose file is invalid is refused with the file's own first problem."""
    root = project(tmp_path, '[triggers.a]\nevery = "1h"\ntarget = {workstreams = ["w.yaml"]}\n')
    (root / "w.yaml").write_text("id: Bad\ntasks: []\n")
    (found,) = problems(root)
    assert "triggers.a.target.workstreams[0]: workstream file 'w.yaml' does not load:" in found
    assert "w.yaml: id" in found


def test_duplicate_ids_across_files_and_within_a_list(tmp_path: Path) -> None:
    """An id given twice is an error at the second place, naming the first."""
    toml = '[triggers.a]\nevery = "1h"\ntarget = {exec = ["x"]}\n'
    yaml = """
    triggers:
      - {id: a, every: 1h, target: {exec: [x]}}
      - {id: b, every: 1h, target: {exec: [x]}}
      - {id: b, every: 2h, target: {exec: [x]}}
    """
    found = problems(project(tmp_path, toml, yaml))
    assert found == [
        f"{tmp_path}/config/triggers.yaml: triggers[0]: duplicate trigger id 'a':"
        " also defined at uet.toml: triggers.a",
        f"{tmp_path}/config/triggers.yaml: triggers[2]: duplicate trigger id 'b':"
        " also defined at config/triggers.yaml: triggers[1]",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Three broken triggers give three lines, in file order; none of them loads."""
    toml = """
    [triggers.a]
    cron = "x"
    target = {exec = ["x"]}
    [triggers.b]
    every = "1h"
    target = {script = "nope"}
    [triggers.c]
    event = "run.*"
    timezone = "UTC"
    target = {exec = ["x"]}
    """
    found = problems(project(tmp_path, toml), scripts=[])
    assert [line.split(": ")[1] for line in found] == [
        "triggers.a.cron",
        "triggers.b.target.script",
        "triggers.c",
    ]
    assert "no scripts are defined" in found[1]


def test_bad_yaml_is_a_problem_with_the_file(tmp_path: Path) -> None:
    """A YAML syntax error names the file."""
    found = problems(project(tmp_path, "", "triggers: {a: [\n"))
    assert found[0].startswith(f"{tmp_path}/config/triggers.yaml")


def test_id_key_and_id_field_must_agree(tmp_path: Path) -> None:
    """In the mapping form the key is the id; a different id field is refused."""
    found = problems(project(tmp_path, "", "a: {id: b, every: 1h, target: {exec: [x]}}\n"))
    assert found == [f"{tmp_path}/config/triggers.yaml: a.id: the id is the key ('a'); got id 'b'"]


# -- cycles of event triggers -------------------------------------------------------------

CYCLES = [
    (  # its own run completes: it fires again, forever
        """
        [triggers.again]
        event = "run.completed"
        target = {workstreams = ["workstreams/ws-a.yaml"]}
        """,
        "again -> again",
    ),
    (  # A's completion starts B, B's completion starts A
        """
        [triggers.a-done]
        event = "run.completed"
        where = {workstream = "ws-a"}
        target = {workstreams = ["workstreams/ws-b.yaml"]}
        [triggers.b-done]
        event = "run.*"
        where = {workstream = ["ws-b", "ws-x"]}
        target = {workstreams = ["workstreams/ws-a.yaml"]}
        """,
        "a-done -> b-done -> a-done",
    ),
    (  # a status filter cannot be known before the run: ws-a failing forever loops
        """
        [triggers.retry]
        event = "run.failed"
        where = {workstream = "ws-*", status = "failed"}
        target = {workstreams = ["workstreams/ws-a.yaml"]}
        """,
        "retry -> retry",
    ),
    (  # every fire emits trigger.fired
        """
        [triggers.echo]
        event = "trigger.*"
        target = {exec = ["true"]}
        """,
        "echo -> echo",
    ),
    (  # an exec run's own events match a where without a workstream key
        """
        [triggers.noisy]
        event = "task.*"
        where = {outcome = "failed"}
        target = {exec = ["true"]}
        """,
        "noisy -> noisy",
    ),
]


@pytest.mark.parametrize(("toml", "cycle"), CYCLES)
def test_cycles_of_event_triggers_are_refused(tmp_path: Path, toml: str, cycle: str) -> None:
    """A loop of triggers firing each other is refused at load time, its path printed."""
    (found,) = problems(project(tmp_path, toml))
    assert f"event triggers would fire each other forever: {cycle}" in found
    assert found.startswith(f"{tmp_path}/uet.toml: triggers.{cycle.split(' ', maxsplit=1)[0]}")


NOT_CYCLES = [
    """
    [triggers.deploy]
    event = "run.completed"
    where = {workstream = "ws-a"}
    target = {workstreams = ["workstreams/ws-b.yaml"]}
    """,
    """
    [triggers.after-build]
    event = "run.completed"
    where = {workstream = "ws-a"}
    target = {exec = ["./deploy.sh"]}
    """,
    """
    [triggers.watch-others]
    event = "trigger.fired"
    where = {trigger = "nightly"}
    target = {exec = ["true"]}
    [triggers.nightly]
    cron = "0 3 * * *"
    target = {exec = ["true"]}
    """,
    """
    [triggers.alerts-to-chat]
    event = "alert.sent"
    target = {script = "notify"}
    """,
    """
    [triggers.off]
    enabled = false
    event = "run.completed"
    target = {workstreams = ["workstreams/ws-a.yaml"]}
    """,
]


def test_run_event_heads_follow_the_catalog() -> None:
    """Every event a run emits (the run, task, attempt and agent scopes) has a head the cycle
    check knows, else it would miss loops. The daemon's own (``trigger``) are checked by
    name; ``patch.*`` and ``triage``'s come from `uet patch|fix|triage`, not from a run's
    ids, so a chain through them is capped at run time, not refused at load."""
    from uet.events.catalog import CATALOG  # noqa: PLC0415 - only this test needs it

    run_scopes = {"run", "task", "attempt", "agent"}
    heads = {event.name.split(".")[0] for event in CATALOG if event.scope in run_scopes}
    assert heads == RUN_EVENT_HEADS
    others = {event.scope for event in CATALOG} - run_scopes
    assert others == {"trigger", "patch", "triage"}  # a new scope: decide which side it is on


@pytest.mark.parametrize("toml", NOT_CYCLES)
def test_chains_that_end_are_not_cycles(tmp_path: Path, toml: str) -> None:
    """A chain that cannot come back (or a disabled trigger) loads."""
    assert len(load(project(tmp_path, toml))) >= 1


def test_a_target_that_is_a_folder(tmp_path: Path) -> None:
    """A workstreams entry naming a folder is refused, saying so."""
    root = project(
        tmp_path, '[triggers.a]\nevery = "1h"\ntarget = {workstreams = ["workstreams"]}\n'
    )
    (found,) = problems(root)
    assert "triggers.a.target.workstreams[0]: 'workstreams' is not a workstream file" in found


def test_a_triggers_file_that_is_a_folder(tmp_path: Path) -> None:
    """config/triggers.yaml as a folder is a problem with that path, not a traceback."""
    root = project(tmp_path)
    (root / "config" / "triggers.yaml").mkdir(parents=True)
    (found,) = problems(root)
    assert found.startswith(f"{root}/config/triggers.yaml")


def test_a_triggers_file_of_the_wrong_shape(tmp_path: Path) -> None:
    """A YAML scalar where triggers go is refused with the file and what was found."""
    (found,) = problems(project(tmp_path, "", "triggers: 42\n"))
    assert found == (
        f"{tmp_path}/config/triggers.yaml: triggers: expected a mapping of trigger ids to"
        " triggers, got a whole number"
    )


def test_targets_load_once_and_ids_are_collected(tmp_path: Path) -> None:
    """Two triggers on the same files share one load; ids come in file order, once each."""
    toml = """
    [triggers.a]
    every = "1h"
    target = {workstreams = ["workstreams/ws-b.yaml", "workstreams/ws-a.yaml"]}
    [triggers.b]
    cron = "0 * * * *"
    target = {workstreams = ["workstreams/ws-a.yaml", "./workstreams/ws-a.yaml"]}
    """
    triggers = load(project(tmp_path, toml))
    assert triggers["a"].target.workstream_ids == ("ws-b", "ws-a")
    assert triggers["b"].target.workstream_ids == ("ws-a",)
