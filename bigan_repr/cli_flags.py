"""The training flags of ``bigan train`` and ``bigan pipeline``, derived from the config's fields.

Every field of the data, model and train sections is one flag, ``--key-with-dashes`` (booleans
``--key/--no-key``) unless its metadata names another; its help, choices and limits come from the
field's metadata (``bigan_repr.config.option``), its click type from the annotation. Every number flag
of the CLI is parsed by :func:`number_type`: integers, or finite floats, within their limits. Every flag defaults to
None, so only the flags given override the defaults, the preset and the config file
(:func:`build_config`). Every path a command writes is an :class:`OutputPath`, checked by the one
rule of ``runs/targets.py`` before the command starts.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import click

from .config import SECTIONS, Config, load_config_file
from .presets import PRESETS, dropped_refusal, preset


class FiniteFloat(click.FloatRange):
    """A number flag that refuses NaN and infinities where they are typed, and values outside its range."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        # click describes a range without either limit as "x<=None"; the help shows none
        return "" if self.min is None and self.max is None else super()._describe_range()


def number_type(kind: type, limits: tuple | None = None) -> click.ParamType:
    """The one parser of number flags: an integer, or a finite float, within ``limits`` (inclusive; the
    help shows them) when given."""
    low, high = limits or (None, None)
    return click.IntRange(low, high) if kind is int else FiniteFloat(low, high)


def field_limits(section: str, name: str) -> tuple | None:
    """The limits a config field declares (``config.option``), for flags of other commands that set it."""
    return next(f.metadata.get("limits") for f in dataclasses.fields(SECTIONS[section]) if f.name == name)


class OutputPath(click.ParamType):
    """A path the command writes: a ``file``; a ``folder`` (with the ``files`` it writes inside); or
    ``features``, a .npz file or, ending in "/" or naming a folder, a shard folder. Taken as typed (a
    trailing slash kept) and checked by :meth:`check` once every argument is parsed."""

    name = "path"

    def __init__(self, kind: str, files: tuple[str, ...] = (), example: str | None = None):
        assert kind in ("file", "folder", "features"), kind
        self.kind, self.files, self.example = kind, files, example  # example: a file name the refusals suggest

    def check(self, value: str, flag: str) -> None:
        """Refuse ``value`` (one line naming ``flag``) where the command may not write; see runs/targets.py."""
        from .features.files import is_shard_dir
        from .runs.targets import check_target

        folder = self.kind == "folder" or (self.kind == "features" and value != "" and is_shard_dir(value))
        check_target(value, folder=folder, what=flag, example=self.example)
        for name in self.files:
            check_target(Path(value) / name, what=flag)


def _choice(choices: tuple) -> dict[str, Any]:
    """A choice among ``choices`` typed as text and given back as the choice itself (1, not "1")."""
    by_text = {str(c): c for c in choices}
    return {"type": click.Choice(list(by_text)),
            "callback": lambda ctx, param, value: None if value is None else by_text[value]}


def _kind(name: str, hint: Any, choices: tuple | None, limits: tuple | None = None) -> dict[str, Any] | None:
    """click.option's type arguments for a field annotated ``hint``; None for an on/off flag."""
    if get_origin(hint) in (Union, UnionType):  # X | None: the flag is optional anyway
        args = [a for a in get_args(hint) if a is not NoneType]
        hint = args[0] if len(args) == 1 else hint
    if choices or get_origin(hint) is Literal:
        return _choice(choices or get_args(hint))
    if hint is bool:
        return None
    if hint in (int, float):
        return {"type": number_type(hint, limits)}
    if hint is str:
        return {"type": click.STRING}
    items = get_args(hint)
    same = bool(items) and Ellipsis not in items and len(set(items)) == 1
    if get_origin(hint) is tuple and same and items[0] in (int, float):
        return {"type": number_type(items[0], limits), "nargs": len(items)}  # e.g. --betas 0.5 0.999
    raise TypeError(f"{name}: no command-line type for the annotation {hint!r}; add one to cli_flags._kind")


def _field_options() -> list:
    options = []
    for section, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if "help" not in f.metadata:
                raise TypeError(f"config field {section}.{f.name} has no help text; declare it with config.option")
            flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
            kind = _kind(f"{section}.{f.name}", hints[f.name], f.metadata.get("choices"), f.metadata.get("limits"))
            if kind is None:
                flag, kind = f"{flag}/--no-{flag[2:]}", {}
            options.append(click.option(flag, f"{section}__{f.name}", default=None, help=f.metadata["help"], **kind))
    return options


TRAINING_OPTIONS = _field_options()


class PresetChoice(click.Choice):
    """The presets by name; a dropped one is refused with what replaced it, not only the valid list."""

    def convert(self, value, param, ctx):
        if refusal := dropped_refusal(value):
            self.fail(refusal, param, ctx)
        return super().convert(value, param, ctx)


def training_options(f):
    """Decorate a command with every training flag, then --config and --preset."""
    for option in reversed(TRAINING_OPTIONS):
        f = option(f)
    f = click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="JSON/YAML defaults; flags override them")(f)
    f = click.option("--preset", type=PresetChoice(list(PRESETS)),
                     help="a named recipe; --config and flags override it")(f)
    return f


def overrides_from_flags(kwargs: dict) -> dict[str, dict]:
    """{section: {key: value}} for the training flags the user actually gave (popped from ``kwargs``)."""
    out: dict[str, dict] = {}
    for name in [n for n in kwargs if "__" in n]:
        value = kwargs.pop(name)
        if value is not None:
            section, key = name.split("__", 1)
            out.setdefault(section, {})[key] = value
    return out


def build_config(config_file: str | None, flags: dict[str, dict], base: Config | None = None,
                 preset_name: str | None = None) -> Config:
    """Defaults (or a stored run's config), then the preset, the config file and the flags."""
    cfg = base or Config()
    if preset_name:
        cfg = cfg.updated(preset(preset_name), where=f"preset {preset_name}")
    if config_file:
        cfg = cfg.updated(load_config_file(config_file), where=f"config file {config_file}")
    return cfg.updated(flags, where="command-line flags")
