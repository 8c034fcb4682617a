"""cli_flags.py: every config field is a training flag, typed by its annotation and offering the
config's own choices; only the flags given override."""

import dataclasses
import typing
from types import NoneType

import click
import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.cli_flags import _kind, build_config, overrides_from_flags, training_options
from bigan_repr.config import SECTIONS

FIELDS = [(section, f) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _given(kwargs_seen: dict):
    @click.command()
    @training_options
    def command(config_file, preset, **kwargs):
        kwargs_seen.update(overrides_from_flags(kwargs))

    return command


def _flag_and_value(section, f):
    """Command-line words that set the field to a value other than its default, and that value."""
    flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
    hint = typing.get_type_hints(SECTIONS[section])[f.name]
    kind = next((a for a in typing.get_args(hint) if a is not NoneType), hint) if typing.get_origin(hint) \
        is not tuple else hint
    if f.metadata.get("choices"):
        value = [c for c in f.metadata["choices"] if c != f.default][-1]
        return [flag, str(value)], value
    if kind is bool:
        return ([f"--no-{flag[2:]}"] if f.default else [flag]), not f.default
    if typing.get_origin(kind) is tuple:
        return [flag, "0.25", "0.75"], (0.25, 0.75)
    return {int: ([flag, "7"], 7), float: ([flag, "0.25"], 0.25), str: ([flag, "npz:x.npz"], "npz:x.npz")}[kind]


@pytest.mark.parametrize("section, f", FIELDS, ids=[f"{s}.{f.name}" for s, f in FIELDS])
def test_every_config_field_is_a_typed_flag_that_sets_only_itself(section, f):
    words, value = _flag_and_value(section, f)
    seen = {}
    result = CliRunner().invoke(_given(seen), words)
    assert result.exit_code == 0, result.output
    assert seen == {section: {f.name: value}} and type(seen[section][f.name]) is type(value)


def test_no_flag_given_overrides_nothing():
    seen = {}
    assert CliRunner().invoke(_given(seen), []).exit_code == 0 and seen == {}


@pytest.mark.parametrize("section, f", [(s, f) for s, f in FIELDS if f.metadata.get("choices")],
                         ids=[f"{s}.{f.name}" for s, f in FIELDS if f.metadata.get("choices")])
def test_flags_offer_exactly_the_choices_the_config_accepts(section, f):
    flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
    for command in ("train", "pipeline"):
        param = next(p for p in main.commands[command].params if p.name == f"{section}__{f.name}")
        assert list(param.type.choices) == [str(c) for c in f.metadata["choices"]]
    result = CliRunner().invoke(main, ["train", flag, "no-such-choice"])
    assert result.exit_code == 2 and f"Invalid value for '{flag}'" in result.output, result.output


def test_help_names_every_field_with_its_help():
    text = " ".join(CliRunner().invoke(main, ["train", "--help"], terminal_width=400).output.split())
    for _, f in FIELDS:
        assert f.metadata["help"] in text, f.name


@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_shows_no_empty_limit(command):
    # a number flag without limits shows none, not click's "x<=None"
    text = CliRunner().invoke(main, [command, "--help"], terminal_width=400).output
    assert "None]" not in text and "None " not in text.replace("(default: None", ""), text


def test_parsed_flags_build_a_valid_config_over_a_config_file(tmp_path):
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text('{"train": {"seed": 3, "lr": 0.001}}')
    seen = {}
    words = ["--channels", "1", "--betas", "0.5", "0.9", "--lr", "0.002", "--no-adversarial", "--invariance", "vicreg"]
    assert CliRunner().invoke(_given(seen), words).exit_code == 0
    cfg = build_config(str(cfg_file), seen)
    assert cfg.data.channels == 1 and cfg.train.betas == (0.5, 0.9) and cfg.train.lr == 0.002
    assert cfg.train.seed == 3 and cfg.train.adversarial is False and cfg.train.invariance == "vicreg"


def test_an_annotation_without_a_flag_type_is_a_bug_not_a_silent_string():
    with pytest.raises(TypeError, match="train.x: no command-line type"):
        _kind("train.x", dict[str, int], None)
