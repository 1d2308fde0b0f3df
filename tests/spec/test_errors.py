"""Bad input: every problem of every file, each naming the file, the key path and the problem."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.spec.helpers import find, problems_of, triples, write
from uet.errors import ExitCode, Problem, SpecError, UetError
from uet.spec import load_file, load_files

ID_RULE = "use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"


def test_spec_error_prints_one_problem_per_line_and_exits_2() -> None:
    error = SpecError([Problem("a.yaml", "tasks[0].id", "bad"), Problem("b.json", "", "empty")])
    assert str(error) == "a.yaml: tasks[0].id: bad\nb.json: empty"
    assert isinstance(error, UetError)
    assert error.exit_code is ExitCode.USAGE


def test_spec_error_pickles_with_its_problems() -> None:
    """Errors cross process boundaries (process pools, Ray) whole."""
    error = SpecError([Problem("a.yaml", "id", "bad")])
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.problems, str(copy)) == (error.problems, str(error))


def test_unknown_keys_are_named_with_a_guess_or_the_known_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "keys.yaml",
        """
        id: w
        concurency: 2
        defaults: {timeout: 5, retry: 1}
        tasks:
          - {id: t, run: x, depend_on: []}
        """,
    )
    assert sorted(triples(problems_of(load_file, path, env={}))) == [
        ("keys.yaml", "concurency", "unknown key 'concurency' (did you mean 'concurrency'?)"),
        (
            "keys.yaml",
            "defaults.retry",
            "unknown key 'retry' (known: abort_running, on_failure, retries, retry_backoff, "
            "retry_delay, timeout)",
        ),
        ("keys.yaml", "tasks[0].depend_on", "unknown key 'depend_on' (did you mean 'depends_on'?)"),
    ]


def test_an_unrecognisable_key_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "k.yaml", "id: w\nzzz: 1\ntasks: [{id: t, run: x}]")
    (problem,) = problems_of(load_file, path, env={})
    assert problem.path == "zzz"
    assert problem.message == (
        "unknown key 'zzz' (known: concurrency, defaults, depends_on, env, id, metadata, name, "
        "tasks)"
    )


def test_wrong_types_and_values_say_what_was_expected_and_found(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "types.yaml",
        """
        id: Build_1
        concurrency: 0
        env: {N: 5, "my key": [1]}
        tasks:
          - {id: a, run: [ls], timeout: -1, retries: many, on_failure: stop, isolation: vm}
          - {id: b, argv: [], retry_delay: "soon"}
          - just a string
        """,
    )
    problems = problems_of(load_file, path, env={})
    expected = {
        "id": f"'Build_1' is not a valid id: {ID_RULE}",
        "concurrency": "must be at least 1, got 0",
        "env.N": "expected a string, got a whole number 5",
        "env['my key']": "expected a string, got a list [1]",
        "tasks[0].run": "expected a string, got a list ['ls']",
        "tasks[0].timeout": "must be greater than 0, got -1",
        "tasks[0].retries": "expected a whole number, got a string 'many'",
        "tasks[0].on_failure": "must be 'abort', 'continue' or 'skip_dependents', got 'stop'",
        "tasks[0].isolation": "must be 'none' or 'clone', got 'vm'",
        "tasks[1].argv": "must not be empty",
        "tasks[1].retry_delay": "expected a number, got a string 'soon'",
        "tasks[2]": "expected a mapping, got a string 'just a string'",
    }
    assert {problem.path: problem.message for problem in problems} == expected
    assert all(problem.file == str(path) for problem in problems)


def test_required_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "req.yaml", "name: nameless\ntasks: []\n")
    assert triples(problems_of(load_file, path, env={})) == [
        ("req.yaml", "id", "required key is missing"),
        ("req.yaml", "tasks", "must not be empty"),
    ]


def test_duplicate_task_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.yaml", "id: w\ntasks: [{id: a, run: x}, {id: a, run: y}]")
    assert triples(problems_of(load_file, path, env={})) == [
        ("dup.yaml", "tasks[1].id", "duplicate task id 'a' (first defined at tasks[0])"),
    ]


def test_a_task_needs_exactly_one_action(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "act.yaml",
        """
        id: w
        tasks:
          - {id: none}
          - {id: two, run: x, argv: [y]}
          - {id: three, run: x, argv: [y], tool: auto}
        """,
    )
    assert triples(problems_of(load_file, path, env={})) == [
        ("act.yaml", "tasks[0]", "a task needs exactly one of run, argv, tool, script (has none)"),
        (
            "act.yaml",
            "tasks[1]",
            "a task needs exactly one of run, argv, tool, script (has run and argv)",
        ),
        (
            "act.yaml",
            "tasks[2]",
            "a task needs exactly one of run, argv, tool, script (has run and argv and tool)",
        ),
    ]


def test_unknown_task_dependencies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deps.yaml",
        """
        id: w
        tasks:
          - {id: build, run: x}
          - {id: test, run: y, depends_on: [build, biuld, ws-other/lint]}
        """,
    )
    problems = problems_of(load_file, path, env={})
    assert triples(problems) == [
        ("deps.yaml", "tasks[1].depends_on[1]", "unknown task 'biuld' (did you mean 'build'?)"),
        (
            "deps.yaml",
            "tasks[1].depends_on[2]",
            "unknown task 'ws-other/lint'; tasks depend on tasks of their own workstream "
            "(use the workstream's depends_on)",
        ),
    ]


def test_a_task_cycle_is_printed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cycle.yaml",
        """
        id: w
        tasks:
          - {id: start, run: x}
          - {id: c, run: x, depends_on: [a]}
          - {id: a, run: x, depends_on: [start, b]}
          - {id: b, run: x, depends_on: [c]}
          - {id: me, run: x, depends_on: [me]}
        """,
    )
    assert triples(problems_of(load_file, path, env={})) == [
        ("cycle.yaml", "tasks[2].depends_on", "dependency cycle: a -> b -> c -> a"),
        ("cycle.yaml", "tasks[4].depends_on", "dependency cycle: me -> me"),
    ]


def test_type_errors_and_graph_errors_are_reported_together(tmp_path: Path) -> None:
    """A file that fails validation still has its dependencies and ids checked."""
    path = write(
        tmp_path,
        "both.yaml",
        """
        id: w
        tasks:
          - {id: a, run: x, timeout: never, depends_on: [b]}
          - {id: b, run: x, depends_on: [a, 7]}
          - {id: b, tool: auto, argv: [z]}
        """,
    )
    assert sorted(triples(problems_of(load_file, path, env={}))) == [
        ("both.yaml", "tasks[0].depends_on", "dependency cycle: a -> b -> a"),
        ("both.yaml", "tasks[0].timeout", "expected a number, got a string 'never'"),
        ("both.yaml", "tasks[1].depends_on[1]", "expected a string, got a whole number 7"),
        (
            "both.yaml",
            "tasks[2]",
            "a task needs exactly one of run, argv, tool, script (has argv and tool)",
        ),
        ("both.yaml", "tasks[2].id", "duplicate task id 'b' (first defined at tasks[1])"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "id: w\ntasks: [{id: a\n", "not valid YAML: "),  # wording: libyaml's
        ("tab.yaml", "id: w\n\ttasks: []\n", "not valid YAML: "),
        ("dup.yaml", "id: w\nid: v\ntasks: []\n", "not valid YAML: found the key 'id' twice"),
        ("bad.json", '{"id": "w",\n "tasks": [}', "not valid JSON: Expecting value"),
        ("dup.json", '{"id": "w", "id": "v"}', "not valid JSON: key 'id' given twice"),
        ("typed.yaml", "id: !!int abc\n", "not valid YAML: invalid literal for int()"),
        ("empty.yaml", "# nothing\n", "the file is empty"),
        ("scalar.yaml", "just text\n", "expected a workstream, a legacy bundle or a plan"),
        ("list.json", "[]", "the file holds an empty list"),
    ],
)
def test_files_that_are_not_workstreams_are_one_clear_problem(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    (problem,) = problems_of(load_file, write(tmp_path, name, text), env={})
    assert (problem.file, problem.path) == (str(tmp_path / name), "")
    assert problem.message.startswith(message)


def test_syntax_errors_give_line_and_column(tmp_path: Path) -> None:
    yaml_path = write(tmp_path, "w.yaml", "id: w\ntasks:\n  - id: a\n    run: [x\n")
    assert problems_of(load_file, yaml_path)[0].message.endswith("(line 5, column 1)")
    json_path = write(tmp_path, "w.json", '{\n  "id": "w",\n  "tasks": [,]\n}')
    (problem,) = problems_of(load_file, json_path)
    assert problem.message == "not valid JSON: Expecting value (line 3, column 13)"


def test_missing_unreadable_and_binary_files(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"id: \xff\xfe\n")
    problems = problems_of(load_files, [tmp_path / "missing.yaml", tmp_path, binary], env={})
    assert triples(problems) == [
        ("missing.yaml", "", "file not found"),
        (tmp_path.name, "", "is a directory, not a workstream file"),
        ("bin.yaml", "", "not UTF-8 text (bad byte at offset 4)"),
    ]


def test_every_problem_of_every_file_is_reported_in_file_order(tmp_path: Path) -> None:
    first = write(tmp_path, "first.yaml", "id: w1\ntasks: [{id: a, run: x, depends_on: [z]}]")
    second = write(tmp_path, "second.yaml", "id: w2\nbogus: 1\ntasks: [{id: a}]")
    problems = problems_of(load_files, [first, second], env={})
    assert [(Path(p.file).name, p.path) for p in problems] == [
        ("first.yaml", "tasks[0].depends_on[0]"),
        ("second.yaml", "bogus"),
        ("second.yaml", "tasks[0]"),
    ]


def test_duplicate_workstream_ids_name_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, "one.yaml", "id: w\ntasks: [{id: a, run: x}]")
    second = write(tmp_path, "two.json", '{"plan_id": "w", "steps": [{"id": "a", "command": "x"}]}')
    (problem,) = problems_of(load_files, [first, second], env={})
    assert (problem.file, problem.path) == (str(second), "plan_id")
    assert problem.message == f"duplicate workstream id 'w' (also defined in {first})"


def test_duplicate_workstream_ids_in_one_file_name_the_first_place(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "l.yaml",
        "- {id: w, tasks: [{id: a, run: x}]}\n- {id: w, tasks: [{id: b, run: x}]}",
    )
    assert triples(problems_of(load_files, [path], env={})) == [
        ("l.yaml", "[1].id", "duplicate workstream id 'w' (also defined at [0].id)"),
    ]


def test_the_same_file_given_twice_is_said_so(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", "id: w\ntasks: [{id: a, run: x}]")
    assert triples(problems_of(load_files, [path, path], env={})) == [
        ("w.yaml", "id", "duplicate workstream id 'w' (the file is given twice)"),
    ]


def test_unknown_workstream_dependencies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ws.yaml",
        """
        - {id: ws-setup, tasks: [{id: a, run: x}]}
        - {id: ws-build, depends_on: [ws-setpu, ws-nowhere], tasks: [{id: a, run: x}]}
        """,
    )
    assert triples(problems_of(load_files, [path], env={})) == [
        (
            "ws.yaml",
            "[1].depends_on[0]",
            "unknown workstream 'ws-setpu' (did you mean 'ws-setup'?)",
        ),
        ("ws.yaml", "[1].depends_on[1]", "unknown workstream 'ws-nowhere'"),
    ]


def test_depending_on_an_invalid_workstream_is_not_a_second_problem(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "id: ws-a\ntasks: [{id: a, run: 5}]")
    fine = write(tmp_path, "fine.yaml", "id: ws-b\ndepends_on: [ws-a]\ntasks: [{id: b, run: x}]")
    assert triples(problems_of(load_files, [broken, fine], env={})) == [
        ("broken.yaml", "tasks[0].run", "expected a string, got a whole number 5"),
    ]


def test_a_workstream_cycle_across_files_is_printed(tmp_path: Path) -> None:
    files = [
        write(
            tmp_path, f"{name}.yaml", f"id: {name}\ndepends_on: [{dep}]\ntasks: [{{id: t, run: x}}]"
        )
        for name, dep in (("ws-c", "ws-a"), ("ws-a", "ws-b"), ("ws-b", "ws-c"))
    ]
    (problem,) = problems_of(load_files, files, env={})
    assert (Path(problem.file).name, problem.path) == ("ws-a.yaml", "depends_on")
    assert problem.message == "workstream dependency cycle: ws-a -> ws-b -> ws-c -> ws-a"


def test_load_file_leaves_workstream_level_checks_to_load_files(tmp_path: Path) -> None:
    """One file alone cannot know the other files' workstreams."""
    path = write(tmp_path, "b.yaml", "id: ws-b\ndepends_on: [ws-a]\ntasks: [{id: b, run: x}]")
    assert load_file(path, env={})[0].depends_on == ["ws-a"]
    assert problems_of(load_files, [path], env={})[0].message == "unknown workstream 'ws-a'"


def test_problems_are_positioned_inside_a_list_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, "l.yaml", "- {id: w, tasks: [{id: a, run: x}]}\n- 42\n- {id: v, tasks: [{id: a}]}"
    )
    problems = problems_of(load_file, path, env={})
    assert find(problems, "[1]").message == (
        "expected a workstream, a legacy bundle or a plan (a mapping), got a whole number 42"
    )
    assert find(problems, "[2].tasks[0]").message.endswith("(has none)")
