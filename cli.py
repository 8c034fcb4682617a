"""The ``bigan`` command line: parse, call the library, print. Nothing else lives here."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from bigan_repr.config import Config, load_config_file
from bigan_repr.errors import UserError
from bigan_repr.objectives import OBJECTIVES

# (section, key, flag, click type, help): every training flag maps onto one config field
TRAINING_FLAGS = [
    ("data", "source", "--data", str, "data source: digits, fashion-mnist, mnist, cifar10, svhn, stl10, folder:PATH, npz:PATH"),
    ("data", "data_dir", "--data-dir", str, "folder holding (or receiving) dataset files"),
    ("data", "download", "--download/--no-download", None, "allow downloading the dataset with torchvision"),
    ("data", "image_size", "--image-size", int, "resize images to this square size"),
    ("data", "channels", "--channels", click.Choice(["1", "3"]), "1 = grayscale, 3 = RGB"),
    ("data", "skip_bad", "--skip-bad/--no-skip-bad", None, "skip unreadable image files instead of failing"),
    ("model", "arch", "--arch", click.Choice(["mlp", "conv"]), "network family"),
    ("model", "z_dim", "--z-dim", int, "latent size"),
    ("model", "prior", "--prior", click.Choice(["uniform", "normal"]), "latent prior"),
    ("model", "hidden", "--hidden", int, "MLP width / D's hidden width"),
    ("model", "width", "--width", int, "conv: channels of the first layer"),
    ("model", "d_norm", "--d-norm", click.Choice(["auto", "batch", "layer", "spectral", "none"]), "D's normalization"),
    ("model", "unary", "--unary/--no-unary", None, "add BigBiGAN unary scores s_x, s_z to D"),
    ("model", "features", "--features", click.Choice(["z", "penultimate"]), "which encoder layer to export"),
    ("train", "objective", "--objective", click.Choice(list(OBJECTIVES)), "adversarial objective"),
    ("train", "gen_loss", "--gen-loss", click.Choice(["swapped", "minimax"]), "G/E loss mode"),
    ("train", "epochs", "--epochs", float, "passes over the training set"),
    ("train", "steps", "--steps", int, "G/E updates (overrides --epochs)"),
    ("train", "batch_size", "--batch-size", int, "batch size per process"),
    ("train", "lr", "--lr", float, "learning rate (default: the objective's)"),
    ("train", "lr_d", "--lr-d", float, "D's learning rate (default: --lr)"),
    ("train", "n_critic", "--n-critic", int, "D updates per G/E update (default: the objective's)"),
    ("train", "recon_weight", "--recon-weight", float, "weight of ||x - G(E(x))||^2 (ALICE; default 0)"),
    ("train", "latent_recon_weight", "--latent-recon-weight", float, "weight of ||z - E(G(z))||^2 (default 0)"),
    ("train", "seed", "--seed", int, "random seed"),
    ("train", "device", "--device", click.Choice(["auto", "cpu", "cuda", "mps"]), "where to train"),
    ("train", "threads", "--threads", int, "CPU threads for torch, faiss and BLAS together"),
    ("train", "compile", "--compile/--no-compile", None, "torch.compile the networks where supported"),
    ("train", "log_every", "--log-every", int, "steps between metric rows"),
    ("train", "checkpoint_every", "--checkpoint-every", int, "steps between checkpoints"),
    ("train", "sample_every", "--sample-every", int, "steps between sample grids"),
    ("train", "keep", "--keep", int, "checkpoints to keep"),
]


def training_options(f):
    for section, key, flag, kind, help_text in reversed(TRAINING_FLAGS):
        name = f"{section}__{key}"
        if kind is None:
            f = click.option(flag, name, default=None, help=help_text)(f)
        else:
            f = click.option(flag, name, type=kind, default=None, help=help_text)(f)
    f = click.option("--config", "config_file", type=click.Path(dir_okay=False), help="JSON/YAML defaults; flags override them")(f)
    return f


def overrides_from_flags(kwargs: dict) -> dict[str, dict]:
    """{section: {key: value}} for the training flags the user actually gave."""
    out: dict[str, dict] = {}
    for name in [n for n in kwargs if "__" in n]:
        value = kwargs.pop(name)
        if value is not None:
            section, key = name.split("__", 1)
            out.setdefault(section, {})[key] = int(value) if key == "channels" else value
    return out


def build_config(config_file: str | None, flags: dict[str, dict], base: Config | None = None) -> Config:
    cfg = base or Config()
    if config_file:
        cfg = cfg.updated(load_config_file(config_file), where=f"config file {config_file}")
    return cfg.updated(flags, where="command-line flags")


class Group(click.Group):
    """Turns user errors into one clear line and exit status 2, with no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


@click.group(cls=Group)
@click.version_option(package_name="bigan-repr")
def main():
    """Learn image representations with a BiGAN and measure how good they are."""


@main.command()
@training_options
@click.option("--out", type=click.Path(file_okay=False), help="run directory (default: runs/DATA-OBJECTIVE-TIME)")
@click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True), help="continue the run in this directory")
@click.option("--quiet", is_flag=True, help="no progress bar")
def train(config_file, out, resume, quiet, **kwargs):
    """Train a BiGAN (G, E and a joint D) on an image dataset."""
    from bigan_repr.run_dir import RunDir
    from bigan_repr.train import train as run_training

    flags = overrides_from_flags(kwargs)
    if resume:
        stored = Config.from_dict(RunDir(resume).read_config(), where=f"{resume}/config.json")
        cfg, out = build_config(config_file, flags, base=stored), resume
    else:
        cfg = build_config(config_file, flags)
        out = out or f"runs/{cfg.data.source.split(':')[0]}-{cfg.train.objective}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = run_training(cfg, out, resume=bool(resume), progress=not quiet)
    click.echo(f"{result.stopped} at step {result.step}; run directory: {result.run_dir}")
    if result.stopped == "interrupted":
        sys.exit(130)


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
def info(run):
    """Print a run's config and its last metrics."""
    from bigan_repr.checkpoint import step_checkpoints
    from bigan_repr.run_dir import RunDir

    rd = RunDir(run)
    click.echo(json.dumps(rd.read_config(), indent=2))
    rows = rd.read_metrics()
    click.echo(f"checkpoints: {', '.join(p.name for p in step_checkpoints(Path(run))) or 'none'}")
    if rows:
        click.echo("last metrics: " + json.dumps(rows[-1], indent=2))


if __name__ == "__main__":
    main()
