"""Parameters: typed values from `--param NAME=VALUE`, substitution, quoting in shell strings."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uet.spec.scripts import ScriptSpec, ScriptUsageError, bind, parse_param_options, prepare

SCRIPT = ScriptSpec.model_validate(
    {
        "name": "deploy",
        "argv": ["deploy", "--env=${params.env}", "-n", "${replicas}", "${ratio}", "${dry}"],
        "env": {"TARGET": "${params.env}", "HOME_SEEN": "${HOME:-none}"},
        "cwd": "${params.where}",
        "params": {
            "env": {"type": "choice", "choices": ["staging", "prod"], "default": "staging"},
            "replicas": {"type": "int", "default": 2},
            "ratio": {"type": "float", "default": 0.5},
            "dry": {"type": "bool", "default": True},
            "where": {"type": "path", "default": "."},
            "note": {"type": "str", "required": False},
            "ticket": {"type": "str", "required": False},
        },
    }
)
SHELL = ScriptSpec.model_validate(
    {
        "name": "greet",
        "run": "printf '%s\\n' ${params.who} ${who:-nobody} $${LITERAL} ${SHELL_VAR:-x}",
        "params": {"who": {"type": "str"}},
    }
)


def test_defaults_fill_what_is_not_given_and_values_are_typed() -> None:
    values = bind(SCRIPT, parse_param_options(SCRIPT, ["replicas=5", "dry=no", "ratio=1e-1"]))
    assert values == {
        "env": "staging",
        "replicas": 5,
        "ratio": 0.1,
        "dry": False,
        "where": ".",
        "note": "",
        "ticket": "",
    }


def test_values_are_substituted_in_argv_env_and_cwd_as_they_are() -> None:
    invocation = prepare(SCRIPT, ["env=prod", "replicas=3"], ["--", "a b"], environ={})
    assert invocation.argv == (
        "deploy", "--env=prod", "-n", "3", "0.5", "true", "--", "a b",
    )  # fmt: skip
    assert invocation.env == {"TARGET": "prod", "HOME_SEEN": "none"}
    assert invocation.cwd == "."


def test_an_unset_environment_variable_in_argv_is_a_clear_error() -> None:
    script = ScriptSpec.model_validate({"name": "x", "argv": ["echo", "${NOPE_UNSET}"]})
    with pytest.raises(ScriptUsageError) as caught:
        prepare(script, environ={})
    assert str(caught.value) == (
        "script 'x': argv: environment variable NOPE_UNSET is not set (export it, or write "
        "${NOPE_UNSET:-default}; $${NOPE_UNSET} is a literal ${NOPE_UNSET})"
    )


def test_in_a_shell_string_a_value_is_one_word_whatever_it_holds(tmp_path: object) -> None:
    """`'; rm -rf x'` reaches the command as one argument: quoted, never run. Other `${VAR}`
    are left for the shell; `$${` is a literal `${`."""
    hostile = '\'; rm -rf x; echo "$(id)" `id` ${HOME}'
    invocation = prepare(SHELL, [f"who={hostile}"], ["extra arg", "$(id)"])
    assert invocation.run is not None
    out = subprocess.run(
        ["/bin/sh", "-c", invocation.run],
        capture_output=True,
        text=True,
        check=True,
        env={"SHELL_VAR": "from-shell", "LITERAL": "lit"},
    ).stdout
    assert out.splitlines() == [hostile, hostile, "lit", "from-shell", "extra arg", "$(id)"]


def test_an_empty_value_takes_the_inline_default() -> None:
    invocation = prepare(SHELL, ["who="])
    assert invocation.run == "printf '%s\\n' '' nobody ${LITERAL} ${SHELL_VAR:-x}"


BAD = [
    (["replicas=three"], "param 'replicas': expected a whole number, got 'three'"),
    (["replicas=1.5"], "param 'replicas': expected a whole number, got '1.5'"),
    (["ratio=nan"], "param 'ratio': expected a finite number, got 'nan'"),
    (["ratio= 1"], "param 'ratio': expected a finite number, got ' 1'"),
    (["dry=maybe"], "param 'dry': expected true or false (yes/no, on/off, 1/0), got 'maybe'"),
    (["env=dev"], "param 'env': expected one of staging, prod, got 'dev'"),
    (["where="], "param 'where': expected a path, got an empty value"),
    (["colour=red"], "--param 'colour': no such parameter (params: env, replicas, ratio, "
                     "dry, where, note, ticket)"),
    (["replicas"], "--param 'replicas': expected NAME=VALUE (e.g. --param env=staging)"),
    (["=3"], "--param '=3': expected NAME=VALUE (e.g. --param env=staging)"),
    (["dry=1", "dry=0"], "--param dry is given twice"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_a_bad_value_names_the_script_the_param_and_the_problem(
    options: list[str], message: str
) -> None:
    with pytest.raises(ScriptUsageError) as caught:
        prepare(SCRIPT, options)
    assert str(caught.value) == f"script 'deploy': {message}"
    assert caught.value.exit_code == 2


def test_a_required_param_not_given_says_how_to_give_it() -> None:
    script = ScriptSpec.model_validate(
        {"name": "merge", "run": "merge ${branch}", "params": {"branch": {"description": "what"}}}
    )
    with pytest.raises(ScriptUsageError) as caught:
        prepare(script)
    assert str(caught.value) == (
        "script 'merge': param 'branch' is required (str (required): what): give branch=VALUE"
    )


NAMES = st.sampled_from([*SCRIPT.params, "", "x", "env ", "ENV"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(),
            st.builds(lambda n, v: f"{n}={v}", NAMES, st.text()),
            st.builds(
                lambda n, v: f"{n}={v}",
                NAMES,
                st.one_of(
                    st.integers().map(str),
                    st.floats().map(str),
                    st.sampled_from(["true", "no", "staging", "prod", "1e400", "-0", "+7", "٣"]),
                ),
            ),
        ),
        max_size=4,
    ),
    st.lists(st.text(), max_size=3),
)
def test_any_param_strings_either_bind_or_raise_the_exit_2_error(
    options: list[str], args: list[str]
) -> None:
    """Property: whatever a user types after --param (and after --), preparing the script
    gives an invocation or a ScriptUsageError (exit 2), nothing else; and every value that
    binds has its param's type."""
    failure: ScriptUsageError | None = None
    try:
        invocation = prepare(SCRIPT, options, args, environ={})
        shell = prepare(SHELL, [f"who={options[0] if options else ''}"], args)
    except ScriptUsageError as error:
        failure = error
    if failure is not None:
        assert failure.exit_code == 2
        assert str(failure).startswith("script ")
        return
    values = invocation.params
    assert type(values["replicas"]) is int
    assert isinstance(values["ratio"], float)
    assert isinstance(values["dry"], bool)
    assert values["env"] in ("staging", "prod")
    assert invocation.argv is not None
    assert invocation.argv[len(invocation.argv) - len(args) :] == tuple(args)
    assert shell.run is not None
    words = shlex.split(shell.run)
    assert words[2] == (options[0] if options else "")  # one word, exactly the value
