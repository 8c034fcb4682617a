"""Config validation: every field is checked against its declared type, then its range."""

import dataclasses
import json
import re
import time
import typing
from types import NoneType

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigan_repr.cli import main
from bigan_repr.config import SECTIONS, Config, ConfigError, TrainConfig, load_config_file
from bigan_repr.errors import UserError

NAN, INF = float("nan"), float("inf")
# values of the wrong type for each declared type (None is added for fields that cannot be null)
WRONG = {
    bool: ["false", "true", 0, 1, 1.0],
    int: [2.5, 3.0, "3", True, NAN, [1]],
    float: [NAN, INF, -INF, 10**400, "0.1", True, [0.1]],
    str: [1, True, 2.5, ["gan"], {"a": 1}],
    tuple[float, float]: [[0.5], [0.5, 0.9, 0.1], [0.5, "0.9"], [0.5, NAN], "0.5,0.9", [True, 0.9]],
}
FIELDS = [(section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _declared(section, name):
    """(the field's type without None, whether it may be null)."""
    hint = typing.get_type_hints(SECTIONS[section])[name]
    args = [a for a in typing.get_args(hint) if a is not NoneType] if typing.get_origin(hint) is not tuple else []
    return (args[0] if args and len(typing.get_args(hint)) == 2 else hint), NoneType in typing.get_args(hint)


@pytest.mark.parametrize("section, name", FIELDS)
def test_every_field_refuses_values_of_the_wrong_type(section, name):
    kind, nullable = _declared(section, name)
    assert kind in WRONG, f"{section}.{name}: add wrong values for {kind} to WRONG"
    for value in WRONG[kind] + ([] if nullable else [None]):
        with pytest.raises(ConfigError, match=rf"{section}\.{name} must be"):
            Config.from_dict({section: {name: value}})


def test_values_of_the_right_type_are_normalized():
    cfg = Config.from_dict({"train": {"epochs": 3, "betas": [0.5, 0.9], "steps": 7}, "model": {"unary": True}})
    assert cfg.train.epochs == 3.0 and isinstance(cfg.train.epochs, float)
    assert cfg.train.betas == (0.5, 0.9) and cfg.train.steps == 7 and cfg.model.unary is True
    assert Config.from_dict(json.loads(json.dumps(Config().to_dict()))) == Config()  # a stored config reloads


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()))
def test_a_fractional_count_is_never_an_integer(value):
    with pytest.raises(ConfigError, match="train.steps must be an integer"):
        Config.from_dict({"train": {"steps": value}})


@pytest.mark.parametrize("train, message", [
    ({"seed": -1}, "train.seed must lie in"),
    ({"seed": 2**32}, "train.seed must lie in"),
    ({"weight_decay": -1e-5}, "train.weight_decay must be 0 or more"),
    ({"recon_weight": -0.1}, "train.recon_weight must be 0 or more"),
    ({"epochs": 0}, "train.epochs must be positive"),
    ({"betas": [0.5, 1.0]}, "train.betas must be two numbers in"),
    ({"generative_positives": -0.1}, "train.generative_positives must be 0 or more"),
    ({"feature_matching": -1.0}, "train.feature_matching must be 0 or more"),
    ({"feature_matching": 1.0, "adversarial": False}, "train.feature_matching trains G: it needs train.adversarial"),
    ({"generative_positives": 0.1, "adversarial": False}, "they need train.invariance and train.adversarial"),
    ({"generative_positives": 0.1, "invariance": "none"}, "they need train.invariance and train.adversarial"),
    ({"fake_negatives": True, "invariance": "infonce", "adversarial": False}, "they need train.invariance"),
    ({"fake_negatives": True}, "fake_negatives needs a loss with negatives: train.invariance 'infonce', not 'vicreg'"),
])
def test_values_out_of_range_name_the_field(train, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict({"train": train})


def test_keys_that_are_not_strings_are_named(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("train: {}\n2: {}\n")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) 2"):
        Config().updated(load_config_file(path))
    path.write_text("train:\n  1: 2\n  null: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) train.1, train.None"):
        Config().updated(load_config_file(path))


@pytest.mark.parametrize("content, message", [
    (b'{"train": {"objective": "gan\xff"}}', "cfg.json: not UTF-8 text (byte 0xff at offset 28)"),
    (b'{"model": {"unary": "false"}}', "model.unary must be true or false, got 'false'"),
    (b'{"train": {"lr": NaN}}', "cfg.json: holds NaN at train.lr: every number must be finite"),
    (b'{"train": {"steps": 2.5}}', "train.steps must be an integer or null, got 2.5"),
    (b'{"model": {"hidden": "256"}}', "model.hidden must be an integer, got '256'"),
])
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "cfg.json"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_an_unsupported_annotation_is_a_bug_not_a_silent_pass():
    from bigan_repr import config

    with pytest.raises(TypeError, match="no type check"):
        config._typed("x", 1, complex)
    assert config._typed("x", 1, float) == 1.0 and type(config._typed("x", 1, float)) is float


def test_a_stored_config_from_before_a_field_keeps_what_its_run_did():
    """A run stored before the invariance term existed (and became the default) trained without it:
    rebuilding it must not add a projector its checkpoint never had."""
    stored = Config().to_dict()
    del stored["train"]["invariance"]
    assert Config.from_stored(stored, where="old run").train.invariance == "none"
    assert Config.from_dict(stored).train.invariance == "vicreg"  # a new config takes today's default
    kept = Config().updated({"train": {"invariance": "infonce"}}).to_dict()
    assert Config.from_stored(kept, where="new run").train.invariance == "infonce"


# nine anchors of nine aliases each: 342 bytes that stand for 9**9 (387 million) strings
ALIAS_BOMB = "train:\n  objective: [" + ", ".join(
    ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"&{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]) + "]\n"


@pytest.mark.parametrize("name, content, message", [
    ("bomb.yaml", ALIAS_BOMB, "its aliases expand to more than 100000 values (an alias bomb?)"),
    ("loop.yaml", "train: &t {objective: *t}\n", "an alias refers to the value that holds it"),
    ("deep.yaml", "train: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 32 deep"),
    ("deep.json", '{"train": ' + "[" * 100000 + "]" * 100000 + "}", "nested more than 32 deep"),
    ("wide.yaml", "train: [" + "1, " * 200000 + "1]\n", "holds more than 100000 values"),
    ("list.yaml", "- train\n- model\n", "expected a mapping of sections at the top level, not a list"),
    ("text.json", '"train"', "expected a mapping of sections at the top level, not a string ('train')"),
    ("latin1.yaml", "train:\n  objective: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 23)"),
    ("two.yaml", "train: {}\n---\nmodel: {}\n", "not readable YAML (but found another document at line 2"),
    ("huge.json", b"{" + b" " * (16 * 2**20) + b"}", "larger than 16 MiB"),
    ("train5.json", '{"train": 5}', "section 'train' must be a mapping, got a number (5)"),
    ("long.json", '{"train": {"objective": "' + "x" * 10**6 + '"}}', "train.objective='xxxxxxxxxxx"),
    ("many.json", '{"train": {' + ", ".join(f'"k{i}": 1' for i in range(10**4)) + "}}", "and 9995 more"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None)
def test_config_files_are_read_within_bounds_one_line_each(tmp_path, name, content, message):
    """Every config file is read by the one reader of files from elsewhere (runs.untrusted): bounded in
    size, depth and alias expansion before any object is built, UTF-8, a mapping at the top; no message
    formats an unbounded value."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    start = time.perf_counter()
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output[-2000:]
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], lines[0][:500]
    valid_keys = len(", ".join(f.name for f in dataclasses.fields(TrainConfig)))  # listed for an unknown key
    assert len(lines[0]) < 300 + len(str(path)) + valid_keys and not (tmp_path / "run").exists()
    assert time.perf_counter() - start < 10  # the bomb took 27 s and 650 MB when its value was formatted


def test_yaml_anchors_within_bounds_and_empty_files_still_work(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("model: &m {hidden: 256}\ntrain: {objective: wgan-gp, betas: [0.5, 0.9]}\n")
    assert Config().updated(load_config_file(path)).model.hidden == 256
    path.write_text("")
    assert load_config_file(path) == {}


@pytest.mark.parametrize("stored, message", [
    ({"train": 5}, "run/config.json: section 'train' must be a mapping, got a number (5)"),
    ({"model": ["hidden"]}, "section 'model' must be a mapping, got a list (['hidden'])"),
    ([1, 2], "expected a mapping of sections, got a list ([1, 2])"),
])
def test_a_stored_config_whose_sections_are_not_mappings_is_a_config_error(stored, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.from_stored(stored, where="run/config.json")


# ---- fuzzing: whatever a config file holds, reading and applying it raises a UserError or nothing ----

_KEYS = st.sampled_from([*SECTIONS, *(name for _, name in FIELDS), "<<", "", "0"]) | st.text(max_size=8)
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
            | st.sampled_from(["gan", "vicreg", "conv", "digits", "auto", "1e308", "nan"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
                       max_leaves=20)
_CONFIGS = st.dictionaries(st.sampled_from(list(SECTIONS)) | _KEYS, st.dictionaries(_KEYS, _VALUES, max_size=5)
                           | _VALUES, max_size=4) | _VALUES
_YAML_TEXT = st.lists(st.sampled_from(list("trainmodel:{}[],&*!<>-?|'\"#% \n\t0123456789.eE+") + [
    "&a ", "*a", "!!binary ", "!!set ", "!!python/object:os.system ", "<<: ", "---\n", "train:\n  ", "\xff"]),
    max_size=40).map("".join)


def _apply(path) -> None:
    try:
        Config().updated(load_config_file(path))
    except UserError:
        pass  # every other exception fails the test


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_CONFIGS, as_yaml=st.booleans())
def test_fuzzed_config_values_raise_only_user_errors(tmp_path, data, as_yaml):
    path = tmp_path / ("c.yaml" if as_yaml else "c.json")
    path.write_text(yaml.safe_dump(data) if as_yaml else json.dumps(data))
    _apply(path)
    try:
        Config.from_stored(data, where="stored config")
    except UserError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_YAML_TEXT | st.text(max_size=60), raw=st.binary(max_size=60), suffix=st.sampled_from([".yaml", ".json"]))
def test_fuzzed_config_text_and_bytes_raise_only_user_errors(tmp_path, text, raw, suffix):
    path = tmp_path / f"c{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _apply(path)
    path.write_bytes(raw)
    _apply(path)
