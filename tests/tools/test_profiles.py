"""Tool profiles: validation with key paths, argv rendering, output classification."""

from __future__ import annotations

import re

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from uet.errors import ConfigError
from uet.spec.tools import (
    BUILTIN_TOOLS,
    Outcome,
    ToolProfile,
    classify_output,
    placeholders_in,
    render_argv,
)


def _profile(**fields: object) -> ToolProfile:
    return ToolProfile.model_validate({"name": "t", "argv": ["tool", "{prompt}"], **fields})


def test_prompt_via_is_derived_from_the_template() -> None:
    """{prompt} means arg, {prompt_file} means file, neither means stdin."""
    assert _profile().prompt_via == "arg"
    assert _profile(argv=["tool", "-f", "{prompt_file}"]).prompt_via == "file"
    assert _profile(argv=["tool"]).prompt_via == "stdin"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"argv": ["tool", "{promt}"]}, "unknown placeholder {promt}"),
        ({"argv": []}, "at least 1"),
        ({"argv": ["{files}"]}, "argv[0] must name the program"),
        ({"max_parallel": 0}, "greater than or equal to 1"),
        ({"timeout": -1}, "greater than 0"),
        ({"rate_limit_patterns": ["(unclosed"]}, "not a valid regular expression"),
        ({"capabilities": ["Code Edit"]}, "is not a task kind"),
        ({"prompt_via": "file"}, "needs {prompt_file}"),
        ({"name": "auto"}, "reserved"),
        ({"check": {"min_version": "v1"}}, "should match pattern"),
        ({"colour": "red"}, "extra"),
    ],
)
def test_invalid_profiles_are_refused(fields: dict[str, object], message: str) -> None:
    """Each bad value is a validation error saying what is wrong."""
    with pytest.raises(pydantic.ValidationError, match=re.escape(message)):
        _profile(**fields)


def test_render_fills_every_placeholder() -> None:
    """Each placeholder becomes its value; {{ and }} become literal braces."""
    profile = _profile(
        argv=["tool", "--in={workdir}", "-f", "{prompt_file}", "--m={model}", "{{x}}", "{prompt}"]
    )
    argv = render_argv(
        profile, prompt="do it", prompt_file="/prompts/p.txt", workdir="/w", model="big"
    )
    assert argv == ["tool", "--in=/w", "-f", "/prompts/p.txt", "--m=big", "{x}", "do it"]


def test_whole_files_element_expands_to_one_argument_per_file() -> None:
    """`{files}` alone is one argv element per file, none for no files; inside text, joined."""
    profile = _profile(argv=["tool", "{files}", "--", "edit {files}"])
    assert render_argv(profile, files=["a.py", "b c.py"]) == [
        "tool",
        "a.py",
        "b c.py",
        "--",
        "edit a.py b c.py",
    ]
    assert render_argv(profile) == ["tool", "--", "edit "]


def test_model_elements_vanish_without_a_model_and_use_the_profile_default() -> None:
    """An element using {model} is left out when neither the call nor the profile has one."""
    profile = _profile(argv=["tool", "--model={model}", "{prompt}"])
    assert render_argv(profile, prompt="p") == ["tool", "p"]
    assert render_argv(profile.model_copy(update={"model": "m1"}), prompt="p")[1] == "--model=m1"
    assert render_argv(profile, prompt="p", model="m2")[1] == "--model=m2"


def test_an_unknown_placeholder_in_an_unvalidated_profile_is_a_config_error() -> None:
    """render_argv refuses what validation would have: ConfigError with the key path."""
    profile = ToolProfile.model_construct(
        name="odd", argv=["tool", "{nope}"], model=None, source="uet.toml"
    )
    with pytest.raises(ConfigError) as caught:
        render_argv(profile)
    assert caught.value.key == "tools.odd.argv[1]"
    assert "unknown placeholder {nope}" in caught.value.problem


def test_a_missing_prompt_file_is_a_clear_error() -> None:
    """The template needs a prompt file and none was given: ValueError naming it."""
    with pytest.raises(ValueError, match=r"needs \{prompt_file\}"):
        render_argv(_profile(argv=["tool", "{prompt_file}"]))


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@given(prompt=_text, files=st.lists(_text, max_size=5), workdir=_text)
def test_values_are_inserted_verbatim_and_never_rescanned(
    prompt: str, files: list[str], workdir: str
) -> None:
    """Whatever the prompt, files or folder contain (braces, placeholders), they arrive as-is."""
    profile = _profile(argv=["tool", "{prompt}", "{files}", "{workdir}", "x{prompt}y"])
    argv = render_argv(profile, prompt=prompt, files=files, workdir=workdir)
    assert argv == ["tool", prompt, *files, workdir, f"x{prompt}y"]


@given(literal=st.text(alphabet="ab{}", max_size=12))
def test_a_template_without_placeholders_renders_to_its_unescaped_self(literal: str) -> None:
    """Text with only escaped braces renders as itself with {{ and }} halved."""
    escaped = literal.replace("{", "{{").replace("}", "}}")
    assert placeholders_in(escaped) == set()
    assert render_argv(_profile(argv=["tool", escaped])) == ["tool", literal]


# -- output classification ------------------------------------------------------------------

_RATE = Outcome.RATE_LIMITED
_SAMPLES: dict[str, list[tuple[str, Outcome | None]]] = {
    "aider": [
        ("litellm.RateLimitError: AnthropicException - rate_limit_error", Outcome.RATE_LIMITED),
        ("Error code: 429 - Too Many Requests", Outcome.RATE_LIMITED),
        ("You exceeded your current quota, please check your plan", Outcome.QUOTA),
        ("insufficient_quota", Outcome.QUOTA),
        ("Applied edit to src/app/io.py", None),
    ],
    "claude": [
        ("API Error: Rate limit reached", Outcome.RATE_LIMITED),
        ('{"type":"error","error":{"type":"overloaded_error"}}', Outcome.RATE_LIMITED),
        ("Claude AI usage limit reached|1767225600", Outcome.QUOTA),
        ("You've hit your limit · resets 1pm (Europe/Lisbon)", Outcome.QUOTA),
        ("Credit balance is too low", Outcome.QUOTA),
        ("I added input validation to io.py.", None),
    ],
    "codex": [
        ("stream error: exceeded retry limit, last status: 429 Too Many Requests", _RATE),
        ("Rate limit reached for gpt-5 in organization org-x", Outcome.RATE_LIMITED),
        ("You've hit your usage limit. Upgrade to Pro or try again later.", Outcome.QUOTA),
        ('{"error":{"type":"usage_limit_reached"}}', Outcome.QUOTA),
        ("Updated 2 files", None),
    ],
    "gemini": [
        ("[API Error: got status: 429 Too Many Requests]", Outcome.RATE_LIMITED),
        ("status: RESOURCE_EXHAUSTED", Outcome.RATE_LIMITED),
        ("Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'", _RATE),
        ("You have exhausted your daily quota on this model.", Outcome.QUOTA),
        ("Quota exceeded for quota metric 'Requests' and limit 'Requests per day'", Outcome.QUOTA),
        ("Done.", None),
    ],
    "shell": [("429 rate limit", None), ("", None)],
}


@pytest.mark.parametrize(
    ("tool", "text", "expected"),
    [(tool, text, expected) for tool, cases in _SAMPLES.items() for text, expected in cases],
)
def test_builtin_patterns_classify_real_messages(
    tool: str, text: str, expected: Outcome | None
) -> None:
    """Messages the real tools print are recognised as rate limits or used-up quotas."""
    assert classify_output(BUILTIN_TOOLS[tool], f"some output\n{text}\nmore") == expected


def test_every_builtin_ai_profile_has_patterns_and_stops_its_own_commits() -> None:
    """Agent profiles carry both kinds of patterns; aider's auto-commits are switched off."""
    for name in ("aider", "claude", "codex", "gemini"):
        profile = BUILTIN_TOOLS[name]
        assert profile.rate_limit_patterns, name
        assert profile.quota_patterns, name
        assert "review" in profile.capabilities or name == "aider"
    assert {"--no-auto-commits", "--no-dirty-commits"} <= set(BUILTIN_TOOLS["aider"].argv)
    assert BUILTIN_TOOLS["shell"].capabilities == ["shell"]


def test_quota_wins_over_rate_limit_and_matching_ignores_case() -> None:
    """Text matching both kinds is a quota; patterns are case-insensitive."""
    profile = _profile(rate_limit_patterns=["429"], quota_patterns=["QUOTA"])
    assert classify_output(profile, "429: quota gone") is Outcome.QUOTA
    assert classify_output(profile, "HTTP 429") is Outcome.RATE_LIMITED
    assert classify_output(profile, "fine") is None
