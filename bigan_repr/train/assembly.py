"""Building a training run from its config: the processes, the data stream, the networks and their
optimizers, the fixed diagnostic inputs, the validation probe and the step context.

Nothing here reads or writes the run directory: ``trainer.py`` locks it and runs what this builds,
and ``state.py`` captures and restores its state. Device, precision and distribution are
decided here, once.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import partial

import torch

from ..config import Config, ConfigError
from ..data.batches import BatchStream, LoaderStream
from ..data.folder import FolderDataset
from ..data.image_set import ImageSet, to_model_range
from ..data.label_split import LabelSplit, draw_label_split
from ..data.sources import lazy_dataset, load_images
from ..losses.augment import POLICIES, augment
from ..losses.objectives import Objective, get_objective
from ..model.networks import check_fits_in_memory, networks_for
from ..model.processes import DistContext, init_distributed
from ..model.runtime import autocast_for, resolve_device, resolve_precision, set_threads
from ..nets.bigan import BiGAN
from ..nets.prior import parse_prior
from ..terms.registry import terms_for
from ..terms.term import Setup
from .distributed import gather_views, wrap
from .ema import EncoderEMA
from .labelled import LabelledBatches
from .schedule import LRSchedule, lr_schedule
from .step import CriticPair, GeneratorEncoderPass, StepContext
from .validation_probe import ValidationProbe

FIXED_IMAGES, FIXED_CODES = 256, 64  # the diagnostic batch and the codes of the sample grid (8 per row)


@dataclass
class Assembly:
    """Everything one process trains with."""

    cfg: Config
    device: torch.device
    dist: DistContext
    objective: Objective
    n_critic: int  # D updates (and batches drawn) per step
    stream: BatchStream | LoaderStream
    skipped: list[str]  # unreadable files the data source passed over (--skip-bad)
    model: BiGAN
    opt_d: torch.optim.Optimizer
    opt_ge: torch.optim.Optimizer
    ema: EncoderEMA | None
    rng: torch.Generator  # this process's z, augmentation and penalty draws
    fixed_x: torch.Tensor  # (FIXED_IMAGES, C, H, W) in [-1, 1]
    fixed_z: torch.Tensor  # (FIXED_CODES, z_dim)
    probe: ValidationProbe | None
    total: int  # the step budget
    ctx: StepContext
    schedule: LRSchedule | None = None  # None: constant learning rates, left as the optimizers hold them
    labels: LabelSplit | None = None  # a semi-supervised run's labelled part
    class_names: list[str] | None = None  # the source's class names by label value, where it has them

    @property
    def exported_encoder(self) -> torch.nn.Module:
        """The encoder the run hands out: the weight average with --ema, else the live one."""
        return self.ema.encoder if self.ema else self.model.encoder


def decay_groups(groups: list[dict], weight_decay: float) -> list[dict]:
    """Each group split in two: weight matrices and kernels decayed, biases and normalization weights (every
    parameter of at most one dimension) not; empty halves are left out."""
    split = []
    for group in groups:
        for decayed in (True, False):
            params = [p for p in group["params"] if (p.ndim > 1) == decayed]
            if params:
                split.append(group | {"params": params, "weight_decay": weight_decay if decayed else 0.0})
    return split


def make_optimizers(model: BiGAN, objective: Objective, cfg) -> tuple[torch.optim.Optimizer, ...]:
    lr = cfg.lr or objective.lr
    betas = cfg.betas or objective.betas
    on_d = model.cfg.classifier_on == "d"  # the classifier trains with the networks its body belongs to
    encoder = [p for net in (model.encoder, model.projector, None if on_d else model.classifier) if net is not None
               for p in net.parameters()]
    critic = [p for net in (model.discriminator, model.classifier if on_d else None) if net is not None
              for p in net.parameters()]
    d_groups = [{"params": critic, "lr": cfg.lr_d or lr}]
    ge_groups = [{"params": list(model.generator.parameters()), "lr": lr}, {"params": encoder, "lr": cfg.lr_e or lr}]
    if not cfg.decay_norms_biases:
        d_groups, ge_groups = decay_groups(d_groups, cfg.weight_decay), decay_groups(ge_groups, cfg.weight_decay)
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


def _data_stream(cfg: Config, dist: DistContext, device) -> tuple[ImageSet | FolderDataset, BatchStream | LoaderStream]:
    """The training split and the stream serving its batches (on the device, or lazily)."""
    t = cfg.train
    if cfg.data.lazy:
        data = lazy_dataset(cfg.data, "train")
        return data, LoaderStream(data, t.batch_size, t.seed, dist.rank, dist.world, device=device,
                                  workers=cfg.data.workers)
    data = load_images(cfg.data, "train")
    images = torch.from_numpy(data.images).to(device)
    return data, BatchStream(images, t.batch_size, t.seed, dist.rank, dist.world)


def _fixed_inputs(cfg: Config, data: ImageSet | FolderDataset, device) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch and fixed codes for diagnostics and grids, drawn off the training RNG."""
    g = torch.Generator().manual_seed(cfg.train.seed + 1)
    idx = torch.randperm(len(data), generator=g)[:FIXED_IMAGES]
    fixed_x = to_model_range(torch.from_numpy(data.images_at(idx)).to(device))
    return fixed_x, parse_prior(cfg.model.prior).grid_codes(FIXED_CODES, cfg.model.z_dim, g).to(device)


def _maybe_compile(module: torch.nn.Module) -> torch.nn.Module:
    try:
        return torch.compile(module)
    except Exception as e:  # noqa: BLE001 - unsupported platforms fall back to eager
        print(f"torch.compile unavailable ({e}); running eagerly", file=sys.stderr)
        return module


def _labelled(cfg: Config, data: ImageSet | FolderDataset, device) -> tuple[LabelSplit | None, LabelledBatches | None]:
    """A semi-supervised run's labelled part, drawn from the training split, and its batches."""
    if not cfg.semi_supervised:
        return None, None
    split = draw_label_split(data.labels, data.ids, cfg.data.labels_per_class, cfg.data.label_seed, cfg.data.source,
                             class_names=getattr(data, "classes", None))
    return split, LabelledBatches.from_split(split, data.images_at(split.positions), cfg.train.batch_size,
                                             POLICIES[cfg.train.augment], device)


def _step_context(cfg: Config, model: BiGAN, objective: Objective, optimizers, rng, dist, device,
                  labelled: LabelledBatches | None) -> StepContext:
    t, spec = cfg.train, cfg.invariance_spec
    # under torchrun, every process's views (each of the spec's parts) in one loss
    gather = partial(gather_views, ctx=dist, parts=spec.n_views) if t.gather_invariance and dist.active and spec \
        else None
    autocast, policy = autocast_for(device, t.precision), POLICIES[t.d_augment]
    terms = terms_for(Setup(cfg=cfg, model=model, objective=objective, rng=rng, autocast=autocast,
                            for_d=partial(augment, policy=policy, rng=rng), gather=gather, labelled=labelled))
    critic, gen_enc = CriticPair(model, objective, terms), GeneratorEncoderPass(model, terms, t.adversarial)
    if t.compile:
        gen_enc = _maybe_compile(gen_enc)
        if objective.gradient_penalty:  # compiled graphs have no double backward
            print("--compile: the critic runs eagerly (gradient penalty)", file=sys.stderr)
        else:
            critic = _maybe_compile(critic)
    return StepContext(
        model=model, critic=wrap(critic, dist, device), gen_enc=wrap(gen_enc, dist, device),
        objective=objective, opt_d=optimizers[0], opt_ge=optimizers[1], rng=rng, autocast=autocast,
        terms=terms, d_augment=policy,
    )


def assemble(cfg: Config) -> Assembly:
    """Build everything a run of ``cfg`` trains with; raises on invalid input before any write."""
    device = resolve_device(cfg.train.device)
    # the precision this run computes in, recorded in its config (precision is bookkeeping: resumable)
    cfg = cfg.updated({"train": {"precision": resolve_precision(device, cfg.train.precision)}})
    dist = init_distributed(device)
    set_threads(cfg.train.threads)
    objective = get_objective(cfg.train.objective)
    n_critic = cfg.train.n_critic or objective.n_critic
    data, stream = _data_stream(cfg, dist, device)
    labels, labelled = _labelled(cfg, data, device)
    n_classes = None if labels is None else len(labels.classes)
    check_fits_in_memory(cfg, image_shape(data), n_classes, device)
    torch.manual_seed(cfg.train.seed)
    model = networks_for(cfg, image_shape(data), n_classes).to(device)
    _check_batch_norm_batch(model, cfg.train.batch_size)
    if cfg.train.sync_bn and dist.active:
        if device.type != "cuda":
            raise ConfigError("--sync-bn needs CUDA devices (SyncBatchNorm has no CPU kernel)")
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizers = make_optimizers(model, objective, cfg.train)
    # each rank draws its own z and penalty points; rank 0 of a 1-process run uses the seed itself
    rng = torch.Generator(device).manual_seed(cfg.train.seed + 7919 * dist.rank)
    probe = ValidationProbe.from_training_set(data, cfg.model.features, cfg.train.seed) if cfg.train.eval_every \
        else None
    if cfg.train.select and probe is None:
        raise ConfigError(f"--select needs labels, and data source {cfg.data.source!r} has none")
    fixed_x, fixed_z = _fixed_inputs(cfg, data, device)
    total = total_steps(cfg, stream, n_critic)
    return Assembly(
        cfg=cfg, device=device, dist=dist, objective=objective, n_critic=n_critic, stream=stream,
        skipped=list(getattr(data, "skipped", [])), model=model, opt_d=optimizers[0], opt_ge=optimizers[1],
        ema=EncoderEMA(model.encoder, cfg.train.ema) if cfg.train.ema else None, rng=rng,
        fixed_x=fixed_x, fixed_z=fixed_z, probe=probe, total=total,
        schedule=lr_schedule(optimizers, total, cfg.train.warmup_steps, cfg.train.lr_schedule),
        ctx=_step_context(cfg, model, objective, optimizers, rng, dist, device, labelled),
        labels=labels, class_names=getattr(data, "classes", None),
    )
