"""Training a BiGAN: lock the run directory, resume or start, loop over steps, log, checkpoint.

What a run trains with is built by ``assembly.py``; what a checkpoint holds is ``state.py``'s.
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

from ..config import SECTIONS, Config
from ..data.label_split import LABELS_FILE, check_same_split
from ..errors import UserError
from ..model.checkpoint import best_checkpoint_path, checkpoint_path, latest_checkpoint, step_checkpoints
from ..model.processes import barrier, shutdown
from ..runs.atomic import atomic_write_text
from ..runs.curves import plot_curves
from ..runs.progress import StepProgress
from ..runs.run_dir import LOCK_FILE, RunDir
from ..runs.tensorboard import TENSORBOARD_DIR, TensorBoardSink
from ..runs.untrusted import read_mapping
from .assembly import Assembly, assemble
from .checkpointing import clean_partial_writes, prune_checkpoints, save_checkpoint
from .distributed import average, weights_digest
from .finetune import init_encoder
from .monitor import diagnostics, save_grids
from .state import capture, restore, resumable_checkpoint
from .step import train_step

SHOWN = ("d_loss", "g_loss", "invariance", "class_loss", "img_per_s")  # beside the progress bar or line


class TrainingDiverged(UserError):
    """A loss or parameter became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any]
    stopped: str  # "finished", "interrupted"


class Trainer:
    """One run directory and the training run in it; ``run()`` trains to the step budget."""

    def __init__(self, cfg: Config, out: str | Path, *, resume: bool = False, progress: bool = True):
        self.cfg, self.run_dir, self.progress = cfg, RunDir(out), progress
        # a resume's checkpoint is read and checked against the requested config before the networks are
        # built: an edited config.json is refused before it allocates anything
        self._resumed = resumable_checkpoint(cfg, self.run_dir.path) if resume else None
        self.parts: Assembly = assemble(cfg)
        if cfg.train.init_encoder and not resume:  # a resume reads E from its own checkpoint
            init_encoder(self.parts.model, cfg.train.init_encoder)
        self.dist = self.parts.dist
        if cfg.train.tensorboard and self.dist.is_main:  # refused here, before anything is written
            self.run_dir.sinks.append(TensorBoardSink(self.run_dir.path / TENSORBOARD_DIR))
        self.step = 0
        self.best: float | None = None  # the selection metric of the "best" checkpoint
        self._claim(resume)  # last: all input is validated before the run directory is touched

    # ---- checkpoints ----
    def save(self) -> None:
        self._check_finite_parameters()
        state = capture(self.parts, self.step, self.best)  # collective under DDP
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
                _refuse_foreign_folder(self.run_dir)
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
        ckpt = self._resumed
        if ckpt is None or latest_checkpoint(self.run_dir.path) != Path(ckpt["path"]):  # another one since: read it
            ckpt = resumable_checkpoint(self.cfg, self.run_dir.path)
        self._resumed = None
        if ckpt["step"] > self.parts.total:  # before anything is written: config.json keeps its budget
            raise UserError(f"cannot resume {self.run_dir.path} for {self.parts.total} steps: it is already at step "
                            f"{ckpt['step']}; give a larger budget (--steps or --epochs); nothing was changed")
        if self.parts.labels is not None:  # the same labelled images, bit for bit
            check_same_split(self.parts.labels, self.run_dir.path / LABELS_FILE)
        self.step, self.best = restore(self.parts, ckpt)

    def _start_writing(self) -> None:
        """The run directory's first changes, made under its lock once all input is validated."""
        if self.resuming:
            clean_partial_writes(self.run_dir.path)
            self.run_dir.truncate_metrics(self.step)  # rows after the checkpoint are logged again
        self.run_dir.write_config(self.parts.cfg.to_dict())  # with what "auto" resolved to
        if self.parts.labels is not None:
            atomic_write_text(self.run_dir.path / LABELS_FILE, self.parts.labels.to_json())
        if self.parts.skipped:
            self.run_dir.write_skipped(self.parts.skipped)

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
                print(f"rank {self.dist.rank}/{self.dist.world} weights sha256 {weights_digest(self.parts.model)}",
                      file=sys.stderr, flush=True)
        finally:
            for sink in self.run_dir.sinks:
                sink.close()
            if self.dist.is_main:
                self.run_dir.release_lock()
            shutdown(self.dist)
        return TrainResult(self.run_dir.path, self.step, self.last_metrics, stopped)

    def _loop(self, stopping: _StopFlag) -> str:
        t, run = self.cfg.train, self.parts
        self.last_metrics: dict[str, Any] = {}
        sums: dict[str, torch.Tensor] = {}
        count, tick = 0, time.perf_counter()
        bar = StepProgress(run.total, self.step, f"train {t.objective}", enabled=self.progress and self.dist.is_main)
        while self.step < run.total:
            if run.schedule is not None:
                run.schedule.apply(self.step)
            stats = train_step(run.ctx, [run.stream.next() for _ in range(run.n_critic)])
            if run.ema is not None:
                run.ema.update(run.model.encoder)
            self.step += 1
            count += 1
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v
            last, shown = self.step == run.total, None
            if self.step % t.log_every == 0 or last or stopping.requested:
                elapsed = time.perf_counter() - tick
                row = self._log(sums, count, elapsed)
                shown = {k: row[k] for k in SHOWN if k in row}
                sums, count, tick = {}, 0, time.perf_counter()
            bar.update(self.step, shown)
            if self.dist.is_main and (self.step % t.sample_every == 0 or last):
                save_grids(run.model, run.fixed_x[:16], run.fixed_z, self.run_dir.path)
                for sink in self.run_dir.sinks:
                    sink.write_grids(self.step, self.run_dir.path)
            if run.probe is not None and (self.step % t.eval_every == 0 or last):
                self._evaluate()
            if self.step % t.checkpoint_every == 0 or last or stopping.requested:
                self.save()
            if stopping.requested:
                bar.close()
                return "interrupted"
        bar.close()
        return "finished"

    def _log(self, sums: dict[str, torch.Tensor], count: int, elapsed: float) -> dict[str, Any]:
        run, names = self.parts, sorted(sums)
        values = average(torch.stack([sums[k] for k in names]) / count, self.dist).tolist()
        row = {"step": self.step, "epoch": round(run.stream.epoch + run.stream.pos / run.stream.per_epoch, 3)}
        row |= dict(zip(names, values, strict=True))
        row |= diagnostics(run.model, run.fixed_x)
        images = count * run.n_critic * self.cfg.train.batch_size * self.dist.world
        row["img_per_s"] = round(images / max(elapsed, 1e-9), 1)
        bad = [k for k in names if not math.isfinite(row[k])]
        if bad:
            row["stopped"] = f"non-finite {', '.join(bad)}"
            if self.dist.is_main:
                self.run_dir.append_metrics(row)
            raise self._diverged(', '.join(f'{k}={row[k]}' for k in bad))
        if self.dist.is_main:
            self.run_dir.append_metrics(row)
        self.last_metrics = row
        return row

    def _evaluate(self) -> None:
        """Validation probe on rank 0; with --select, keep the best checkpoint as best.pt."""
        select = self.cfg.train.select
        run = self.parts
        state = capture(run, self.step, self.best) if select else None  # collective under DDP
        if self.dist.is_main:
            scores = run.probe.evaluate(run.exported_encoder, run.model.discriminator, run.device)
            row = {"step": self.step, "kind": "eval"} | scores
            if select and (self.best is None or row[f"val_{select}"] > self.best):
                self._check_finite_parameters()
                self.best = row[f"val_{select}"]
                state["best_metric"] = self.best
                save_checkpoint(best_checkpoint_path(self.run_dir.path), state | {"best": row})
                row["best"] = True
            self.run_dir.append_metrics(row)
        barrier(self.dist)

    def _check_finite_parameters(self) -> None:
        for name, p in self.parts.model.named_parameters():
            if not torch.isfinite(p).all():
                raise self._diverged(f"parameter {name} is not finite")

    def _diverged(self, what: str) -> TrainingDiverged:
        """The one line a diverged run ends with: what went non-finite, and the checkpoint it leaves, if any."""
        kept = step_checkpoints(self.run_dir.path)
        left = (f"the last good checkpoint, {kept[-1]}, is kept" if kept else
                f"no checkpoint was written before it (the first is due at step "
                f"{min(self.cfg.train.checkpoint_every, self.parts.total)})")
        return TrainingDiverged(f"training diverged at step {self.step} (objective {self.cfg.train.objective}): "
                                f"{what}; {left}")


def _refuse_foreign_folder(run_dir: RunDir) -> None:
    """Refuse, before anything is written, an --out folder holding files and no run: training would
    overwrite, prune or append to them. Empty, holding only a lock, or holding a run passes (a run
    is then refused under its lock, or resumed)."""
    try:
        entries = sorted(p.name for p in run_dir.path.iterdir() if p.name != LOCK_FILE)
    except OSError:  # missing, or not a folder: create() says what is wrong
        return
    if entries and not _holds_stored_config(run_dir.config_path):
        raise UserError(f"--out {run_dir.path} holds files that training did not write (e.g. {entries[0]}) and "
                        "is not a run directory; name a new or empty folder")


def _holds_stored_config(path: Path) -> bool:
    """Whether ``path`` is a config a run stored: every section, and valid."""
    try:
        stored = read_mapping(path, yaml=False)
        return set(SECTIONS) <= set(stored) and bool(Config.from_stored(stored, where=str(path)))
    except (OSError, ValueError):  # UserErrors (ConfigError, unreadable or malformed files) are ValueErrors
        return False


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


def train(cfg: Config, out: str | Path, *, resume: bool = False, progress: bool = True) -> TrainResult:
    return Trainer(cfg, out, resume=resume, progress=progress).run()


class TrainingStopped(UserError):
    """A run that had to reach its last step stopped before it (interrupted)."""


def train_to_end(cfg: Config, out: str | Path, *, progress: bool = False) -> TrainResult:
    """Train ``cfg`` into ``out`` to its last step, resuming from the run's checkpoints where it has some (a
    finished run resumes to its end at once). Raises TrainingStopped when interrupted first, so that a
    caller measuring runs never takes a half-trained one for a finished one."""
    out = Path(out)
    result = train(cfg, out, resume=bool(out.is_dir() and step_checkpoints(out)), progress=progress)
    if result.stopped != "finished":
        raise TrainingStopped(f"{out}: training {result.stopped} at step {result.step} of {cfg.train.steps}; "
                              "run the same command again to resume it")
    return result
