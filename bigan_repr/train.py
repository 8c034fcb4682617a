"""Training a BiGAN: set up from a config, loop over steps, log, checkpoint, resume.

The loop does not know which objective it runs; the objective's defaults (optimizer, learning
rate, n_critic, weight clipping, gradient penalty) come from the registry entry and are
overridable in the config.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from . import __version__
from .augment import POLICIES
from .batches import BatchStream, LoaderStream
from .checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    checkpoint_path,
    clean_partial_writes,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    step_checkpoints,
)
from .config import Config, ConfigError
from .curves import plot_curves
from .data import FolderDataset, ImageSet, load_images, to_model_range
from .distributed import (
    DistContext,
    average,
    barrier,
    gather_rng_states,
    init_distributed,
    shutdown,
    weights_digest,
    wrap,
)
from .ema import EncoderEMA
from .errors import UserError
from .invariance import INVARIANCE
from .models import BiGAN, build_bigan, sample_prior
from .monitor import diagnostics, save_grids
from .objectives import Objective, get_objective
from .probe import ValidationProbe
from .run_dir import RunDir
from .runtime import autocast_for, resolve_device, set_threads
from .step import CriticPair, GeneratorEncoderPair, StepContext, train_step
from .tensorboard_log import TENSORBOARD_DIR, TensorBoardSink

# what may change when a run is resumed: its length and its bookkeeping, not what it learns
RESUMABLE_CHANGES = {
    "train": {"epochs", "steps", "log_every", "checkpoint_every", "sample_every", "keep", "threads",
              "device", "eval_every", "select", "compile", "precision", "sync_bn", "tensorboard"},
}


class TrainingDiverged(UserError):
    """A loss or parameter became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any]
    stopped: str  # "finished", "interrupted"


def make_optimizers(model: BiGAN, objective: Objective, cfg) -> tuple[torch.optim.Optimizer, ...]:
    lr = cfg.lr or objective.lr
    betas = cfg.betas or objective.betas
    encoder = [*model.encoder.parameters(), *(model.projector.parameters() if model.projector else [])]
    d_groups = [{"params": list(model.discriminator.parameters()), "lr": cfg.lr_d or lr}]
    ge_groups = [{"params": list(model.generator.parameters()), "lr": lr}, {"params": encoder, "lr": cfg.lr_e or lr}]
    if objective.optimizer == "rmsprop":
        return (torch.optim.RMSprop(d_groups, weight_decay=cfg.weight_decay),
                torch.optim.RMSprop(ge_groups, weight_decay=cfg.weight_decay))
    fused = {"fused": True}  # one kernel per step on CUDA and CPU (torch >= 2.4)
    return (torch.optim.Adam(d_groups, betas=betas, weight_decay=cfg.weight_decay, **fused),
            torch.optim.Adam(ge_groups, betas=betas, weight_decay=cfg.weight_decay, **fused))


def _check_batch_norm_batch(model: torch.nn.Module, batch_size: int) -> None:
    if batch_size < 2 and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ConfigError(f"train.batch_size={batch_size}: the networks use batch norm, which needs at least "
                          f"2 images per batch (per process)")


def image_shape(data: ImageSet | FolderDataset) -> tuple[int, int, int]:
    return tuple(data.shape) if isinstance(data, FolderDataset) else tuple(data.images.shape[1:])


def total_steps(cfg: Config, stream: BatchStream | LoaderStream, n_critic: int) -> int:
    if cfg.train.steps is not None:
        return cfg.train.steps
    return max(1, math.ceil(cfg.train.epochs * stream.per_epoch / n_critic))


def check_resume_compatible(stored: Config, requested: Config, run_dir: Path) -> None:
    a, b = stored.to_dict(), requested.to_dict()
    for section in a:
        for key in a[section]:
            if a[section][key] != b[section][key] and key not in RESUMABLE_CHANGES.get(section, ()):
                raise ConfigError(
                    f"cannot resume {run_dir} with {section}.{key}={b[section][key]!r}: the run was "
                    f"trained with {a[section][key]!r}. Only these may change on resume: "
                    f"{', '.join(sorted(RESUMABLE_CHANGES['train']))}"
                )


class Trainer:
    """Holds one run's state; ``run()`` trains it to its step budget."""

    def __init__(self, cfg: Config, out: str | Path, *, resume: bool = False, progress: bool = True):
        self.cfg, self.run_dir, self.progress = cfg, RunDir(out), progress
        self.device = resolve_device(cfg.train.device)
        self.dist: DistContext = init_distributed(self.device)
        set_threads(cfg.train.threads)
        if cfg.train.tensorboard and self.dist.is_main:  # refused here, before anything is written
            self.run_dir.sinks.append(TensorBoardSink(self.run_dir.path / TENSORBOARD_DIR))
        self.objective = get_objective(cfg.train.objective)
        self.n_critic = cfg.train.n_critic or self.objective.n_critic
        data, self.stream = self._data_stream()
        self.skipped = list(getattr(data, "skipped", []))  # unreadable files passed over (--skip-bad)
        torch.manual_seed(cfg.train.seed)
        self.model = build_bigan(cfg, image_shape(data)).to(self.device)
        _check_batch_norm_batch(self.model, cfg.train.batch_size)
        if cfg.train.sync_bn and self.dist.active:
            if self.device.type != "cuda":
                raise ConfigError("--sync-bn needs CUDA devices (SyncBatchNorm has no CPU kernel)")
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.opt_d, self.opt_ge = make_optimizers(self.model, self.objective, cfg.train)
        self.ema = EncoderEMA(self.model.encoder, cfg.train.ema) if cfg.train.ema else None
        # each rank draws its own z and penalty points; rank 0 of a 1-process run uses the seed itself
        self.rng = torch.Generator(self.device).manual_seed(cfg.train.seed + 7919 * self.dist.rank)
        self.step = 0
        self.best: float | None = None  # the selection metric of the "best" checkpoint
        self._fixed_inputs(data)
        self.probe = (ValidationProbe.from_training_set(data, cfg.model.features, cfg.train.seed)
                      if cfg.train.eval_every else None)
        if cfg.train.select and self.probe is None:
            raise ConfigError(f"--select needs labels, and data source {cfg.data.source!r} has none")
        self.total = total_steps(cfg, self.stream, self.n_critic)
        self.ctx = self._step_context()
        self._claim(resume)  # last: all input is validated before the run directory is touched

    def _data_stream(self) -> tuple[ImageSet | FolderDataset, BatchStream | LoaderStream]:
        """The training split and the stream serving its batches (on the device, or lazily)."""
        cfg, rank, world = self.cfg, self.dist.rank, self.dist.world
        t = cfg.train
        if cfg.data.lazy:
            data = FolderDataset(cfg.data, "train")
            return data, LoaderStream(data, t.batch_size, t.seed, rank, world, device=self.device,
                                      workers=cfg.data.workers)
        data = load_images(cfg.data, "train")
        images = torch.from_numpy(data.images).to(self.device)
        return data, BatchStream(images, t.batch_size, t.seed, rank, world)

    def _fixed_inputs(self, data: ImageSet | FolderDataset) -> None:
        """A fixed batch and fixed codes for diagnostics and grids, drawn off the training RNG."""
        g = torch.Generator().manual_seed(self.cfg.train.seed + 1)
        idx = torch.randperm(len(data), generator=g)[:256]
        self.fixed_x = to_model_range(torch.from_numpy(data.images_at(idx)).to(self.device))
        self.fixed_z = sample_prior(64, self.cfg.model.z_dim, self.cfg.model.prior, "cpu", g).to(self.device)

    def _step_context(self) -> StepContext:
        t, m = self.cfg.train, self.model
        critic = CriticPair(m.discriminator, self.objective)
        gen_enc = GeneratorEncoderPair(m.generator if t.adversarial else None, m.encoder, m.projector)
        if t.compile:
            gen_enc = _maybe_compile(gen_enc)
            if self.objective.gradient_penalty:  # compiled graphs have no double backward
                print("--compile: the critic runs eagerly (gradient penalty)", file=sys.stderr)
            else:
                critic = _maybe_compile(critic)
        return StepContext(
            model=m, critic=wrap(critic, self.dist, self.device), gen_enc=wrap(gen_enc, self.dist, self.device),
            objective=self.objective, opt_d=self.opt_d, opt_ge=self.opt_ge, gen_loss=t.gen_loss,
            recon_weight=t.recon_weight, latent_recon_weight=t.latent_recon_weight,
            rng=self.rng, autocast=autocast_for(self.device, t.precision),
            d_augment=POLICIES[t.d_augment], invariance=INVARIANCE.get(t.invariance), views=POLICIES[t.augment],
            invariance_weight=t.invariance_weight, adversarial=t.adversarial,
        )

    # ---- checkpoints ----
    def state(self) -> dict[str, Any]:
        return {
            "version": __version__, "config": self.cfg.to_dict(), "step": self.step,
            "image_shape": list(self.model.image_shape),
            "model": self.model.state_dict(), "opt_d": self.opt_d.state_dict(),
            "opt_ge": self.opt_ge.state_dict(), "stream": self.stream.state_dict(),
            "rng": {"z": gather_rng_states(self.rng, self.dist), "torch": torch.get_rng_state()},
            "best_metric": self.best,
            "ema_encoder": self.ema.state_dict() if self.ema else None,
        }

    def save(self) -> None:
        self._check_finite_parameters()
        state = self.state()  # collective under DDP: every rank contributes its RNG state
        if self.dist.is_main:
            save_checkpoint(checkpoint_path(self.run_dir.path, self.step), state)
            prune_checkpoints(self.run_dir.path, self.cfg.train.keep)
        barrier(self.dist)

    def _claim(self, resume: bool) -> None:
        """Lock the run directory, then read the run to resume or check that there is none.

        Only the directory and its lock are created here; ``run`` makes the first write, locked.
        """
        self.resuming = resume
        if self.dist.is_main:
            if not resume:
                self.run_dir.create()
            self.run_dir.acquire_lock()
        try:
            if resume:
                self._resume()
            elif self.dist.is_main and self.run_dir.config_path.exists():
                raise UserError(f"{self.run_dir.path} already holds a run; use --resume or another --out")
        except BaseException:
            self.run_dir.release_lock()
            raise

    def _resume(self) -> None:
        if not step_checkpoints(self.run_dir.path):
            raise CheckpointError(
                f"cannot resume {self.run_dir.path}: it has no checkpoints in {CHECKPOINT_DIR}/ (it stopped "
                f"before its first one, or they were moved); nothing was changed. To start over, train "
                f"into a new --out, or delete {self.run_dir.path}"
            )
        ckpt = load_checkpoint(self.run_dir.path, map_location=self.device)
        check_resume_compatible(Config.from_dict(ckpt["config"]), self.cfg, self.run_dir.path)
        self.model.load_state_dict(ckpt["model"])
        self.opt_d.load_state_dict(ckpt["opt_d"])
        self.opt_ge.load_state_dict(ckpt["opt_ge"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt["ema_encoder"])
        self.stream.load_state_dict(ckpt["stream"])
        states = ckpt["rng"]["z"]
        if len(states) == self.dist.world:  # generator states are CPU byte tensors
            self.rng.set_state(states[self.dist.rank].cpu())
        else:  # resumed on another number of processes: fresh, distinct streams per rank
            self.rng.manual_seed(self.cfg.train.seed + 7919 * self.dist.rank + 104729 * int(ckpt["step"]))
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        self.step = int(ckpt["step"])
        self.best = ckpt.get("best_metric")

    def _start_writing(self) -> None:
        """The run directory's first changes, made under its lock once all input is validated."""
        if self.resuming:
            clean_partial_writes(self.run_dir.path)
            self.run_dir.truncate_metrics(self.step)  # rows after the checkpoint are logged again
        self.run_dir.write_config(self.cfg.to_dict())
        if self.skipped:
            self.run_dir.write_skipped(self.skipped)

    # ---- the loop ----
    def run(self) -> TrainResult:
        stopping = _StopFlag()
        try:
            if self.dist.is_main:
                self._start_writing()
            with stopping:
                stopped = self._loop(stopping)
            if self.dist.is_main:
                plot_curves(self.run_dir.path)
            if self.dist.active:  # replicas must agree; the log line lets anyone check
                print(f"rank {self.dist.rank}/{self.dist.world} weights sha256 {weights_digest(self.model)}",
                      file=sys.stderr, flush=True)
        finally:
            for sink in self.run_dir.sinks:
                sink.close()
            if self.dist.is_main:
                self.run_dir.release_lock()
            shutdown(self.dist)
        return TrainResult(self.run_dir.path, self.step, self.last_metrics, stopped)

    def _loop(self, stopping: _StopFlag) -> str:
        t = self.cfg.train
        self.last_metrics: dict[str, Any] = {}
        sums: dict[str, torch.Tensor] = {}
        count, tick = 0, time.perf_counter()
        bar = tqdm(total=self.total, initial=self.step, disable=not (self.progress and self.dist.is_main),
                   desc=f"train {t.objective}", file=sys.stderr, dynamic_ncols=True)
        while self.step < self.total:
            stats = train_step(self.ctx, [self.stream.next() for _ in range(self.n_critic)])
            if self.ema is not None:
                self.ema.update(self.model.encoder)
            self.step += 1
            count += 1
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v
            bar.update(1)
            last = self.step == self.total
            if self.step % t.log_every == 0 or last or stopping.requested:
                elapsed = time.perf_counter() - tick
                row = self._log(sums, count, elapsed)
                bar.set_postfix({k: f"{row[k]:.3g}" for k in ("d_loss", "g_loss", "invariance", "recon") if k in row})
                sums, count, tick = {}, 0, time.perf_counter()
            if self.dist.is_main and (self.step % t.sample_every == 0 or last):
                save_grids(self.model, self.fixed_x[:16], self.fixed_z, self.run_dir.path)
                for sink in self.run_dir.sinks:
                    sink.write_grids(self.step, self.run_dir.path)
            if self.probe is not None and (self.step % t.eval_every == 0 or last):
                self._evaluate()
            if self.step % t.checkpoint_every == 0 or last or stopping.requested:
                self.save()
            if stopping.requested:
                bar.close()
                return "interrupted"
        bar.close()
        return "finished"

    def _log(self, sums: dict[str, torch.Tensor], count: int, elapsed: float) -> dict[str, Any]:
        names = sorted(sums)
        values = average(torch.stack([sums[k] for k in names]) / count, self.dist).tolist()
        row = {"step": self.step, "epoch": round(self.stream.epoch + self.stream.pos / self.stream.per_epoch, 3)}
        row |= dict(zip(names, values, strict=True))
        row |= diagnostics(self.model, self.fixed_x)
        images = count * self.n_critic * self.cfg.train.batch_size * self.dist.world
        row["img_per_s"] = round(images / max(elapsed, 1e-9), 1)
        bad = [k for k in names if not math.isfinite(row[k])]
        if bad:
            row["stopped"] = f"non-finite {', '.join(bad)}"
            if self.dist.is_main:
                self.run_dir.append_metrics(row)
            raise TrainingDiverged(
                f"training diverged at step {self.step} (objective {self.cfg.train.objective}): "
                f"{', '.join(f'{k}={row[k]}' for k in bad)}; the last good checkpoint is kept in "
                f"{self.run_dir.path / 'checkpoints'}"
            )
        if self.dist.is_main:
            self.run_dir.append_metrics(row)
        self.last_metrics = row
        return row

    def _evaluate(self) -> None:
        """Validation probe on rank 0; with --select, keep the best checkpoint as best.pt."""
        select = self.cfg.train.select
        state = self.state() if select else None  # collective under DDP, so every rank builds it
        if self.dist.is_main:
            encoder = self.ema.encoder if self.ema else self.model.encoder  # what the run exports
            row = {"step": self.step, "kind": "eval"} | self.probe.evaluate(encoder, self.model.discriminator,
                                                                            self.device)
            if select and (self.best is None or row[f"val_{select}"] > self.best):
                self._check_finite_parameters()
                self.best = row[f"val_{select}"]
                state["best_metric"] = self.best
                save_checkpoint(self.run_dir.path / CHECKPOINT_DIR / "best.pt", state | {"best": row})
                row["best"] = True
            self.run_dir.append_metrics(row)
        barrier(self.dist)

    def _check_finite_parameters(self) -> None:
        for name, p in self.model.named_parameters():
            if not torch.isfinite(p).all():
                raise TrainingDiverged(
                    f"training diverged at step {self.step} (objective {self.cfg.train.objective}): "
                    f"parameter {name} is not finite; the last good checkpoint is kept"
                )


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop after the current step."""

    def __init__(self):
        self.requested = False

    def _handle(self, signum, frame) -> None:
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def _maybe_compile(module: torch.nn.Module) -> torch.nn.Module:
    try:
        return torch.compile(module)
    except Exception as e:  # noqa: BLE001 - unsupported platforms fall back to eager
        print(f"torch.compile unavailable ({e}); running eagerly", file=sys.stderr)
        return module


def train(cfg: Config, out: str | Path, *, resume: bool = False, progress: bool = True) -> TrainResult:
    return Trainer(cfg, out, resume=resume, progress=progress).run()
