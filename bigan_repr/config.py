"""The run configuration: nested dataclasses with every default in one place, validated on build.

A config is stored as plain JSON in every run directory and checkpoint; models, data and
training are rebuilt from it, so nobody passes architecture flags twice.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .architectures import ARCHITECTURES
from .augment import POLICIES
from .errors import ConfigError
from .invariance import INVARIANCE
from .objectives import GEN_LOSS_MODES, OBJECTIVES

ARCHS = tuple(ARCHITECTURES)
PRIORS = ("uniform", "normal")
D_NORMS = ("auto", "batch", "layer", "spectral", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
SELECT_METRICS = ("knn", "linear")  # validation metrics a run can keep its best checkpoint by
FEATURE_LAYERS = ("z", "penultimate", "d")  # E(x), the layer below it, D's image pathway


def _choice(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of: {', '.join(valid)}")


def _positive(name: str, value: float | int | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")


@dataclass
class DataConfig:
    source: str = "digits"  # registry name, "folder:PATH" or "npz:PATH"
    data_dir: str | None = None  # where dataset files live (or are downloaded to)
    download: bool = False  # allow torchvision downloads; never implicit
    image_size: int | None = None  # resize to this square size; None keeps the native size
    channels: int | None = None  # 1 (grayscale) or 3 (RGB); None keeps the native channels
    skip_bad: bool = False  # image folders: skip unreadable files (and count them) instead of failing
    stream: str = "auto"  # "memory": one uint8 tensor on the device; "loader": DataLoader decoding
    # files lazily (folders only); auto = loader for folders (memory with skip_bad), memory otherwise
    workers: int = 2  # DataLoader worker processes on the loader path

    @property
    def lazy(self) -> bool:
        """Whether training decodes files through a DataLoader instead of holding them."""
        if self.stream == "auto":
            return self.source.startswith("folder:") and not self.skip_bad
        return self.stream == "loader"

    def __post_init__(self) -> None:
        _positive("data.image_size", self.image_size, allow_none=True)
        _choice("data.stream", self.stream, ("auto", "memory", "loader"))
        if self.stream == "loader" and not self.source.startswith("folder:"):
            raise ConfigError("data.stream='loader' serves image folders only (folder:PATH)")
        if self.workers < 0:
            raise ConfigError(f"data.workers must be 0 or more, got {self.workers}")
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"data.channels={self.channels!r} is not valid; choose 1 or 3")


@dataclass
class ModelConfig:
    arch: str = "mlp"  # "mlp": the paper's 1024-unit nets; "conv": DCGAN-style, any size from 8 px
    z_dim: int = 50  # latent size (the paper's MNIST value)
    prior: str = "uniform"  # "uniform" on [-1,1]^d (E squashed into it) or "normal"
    hidden: int = 1024  # MLP width
    width: int = 64  # conv: channels of the first conv layer, doubled per stage
    d_norm: str = "auto"  # D's normalization; auto = batch, or layer when a gradient penalty is used
    unary: bool = False  # BigBiGAN unary heads s_x, s_z beside the joint score
    features: str = "z"  # what encode exports: "z" = E(x), the encoder's "penultimate" layer, or
    # "d": D's image pathway (its hidden layer before z joins)
    projector: int = 1024  # width of the invariance term's projector (3 layers, like VICReg's expander)

    def __post_init__(self) -> None:
        _choice("model.arch", self.arch, ARCHS)
        _choice("model.prior", self.prior, PRIORS)
        _choice("model.d_norm", self.d_norm, D_NORMS)
        _choice("model.features", self.features, FEATURE_LAYERS)
        _positive("model.z_dim", self.z_dim)
        _positive("model.hidden", self.hidden)
        _positive("model.width", self.width)
        _positive("model.projector", self.projector)


@dataclass
class TrainConfig:
    objective: str = "gan"  # a name from the objective registry
    gen_loss: str = "swapped"  # "swapped" (non-saturating) or "minimax"
    epochs: float = 10.0  # passes over the training set (used when steps is None)
    steps: int | None = None  # G/E updates; overrides epochs
    batch_size: int = 128
    lr: float | None = None  # None: the objective's default (Adam 2e-4 for f-GANs)
    lr_d: float | None = None  # D's learning rate when it should differ from lr
    betas: tuple[float, float] | None = None  # None: the objective's default
    weight_decay: float = 2.5e-5  # the paper's value
    n_critic: int | None = None  # D updates per G/E update; None: the objective's default
    ema: float | None = None  # decay of an encoder weight average that is exported instead (e.g. 0.999)
    recon_weight: float = 0.0  # ALICE-style ||x - G(E(x))||^2 term for G/E (off by default)
    latent_recon_weight: float = 0.0  # ALICE-style ||z - E(G(z))||^2 term (off by default)
    d_augment: str = "none"  # augmentation of real and generated x inside D's input (DiffAugment)
    invariance: str | None = None  # "vicreg" or "infonce": a loss between E's views of two augmentations
    augment: str = "strong"  # the augmentation policy making those two views
    invariance_weight: float = 1.0  # the invariance loss's weight beside E's adversarial loss
    adversarial: bool = True  # False: E learns from the invariance loss alone, no D or G (the control)
    lr_e: float | None = None  # learning rate of E (and the projector); None: lr
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch intra-op threads; None: all cores
    precision: str = "auto"  # "auto" (bf16 autocast on CUDA, fp32 elsewhere), "fp32" or "bf16"
    compile: bool = False  # torch.compile the models when supported
    sync_bn: bool = False  # under torchrun: batch-norm statistics over all ranks (SyncBatchNorm, CUDA)
    log_every: int = 20  # steps between metric rows (each one syncs with the device)
    checkpoint_every: int = 500  # steps between checkpoints (one is always written at the end)
    sample_every: int = 1000  # steps between sample/reconstruction grids
    keep: int = 3  # checkpoints kept (plus "best" when a selection metric is set)
    eval_every: int | None = None  # steps between quick evaluations; None: off
    select: str | None = None  # "knn" or "linear": keep the best checkpoint by that metric
    tensorboard: bool = False  # also log metrics rows and grids to TensorBoard (RUN/tensorboard/)

    def __post_init__(self) -> None:
        _choice("train.objective", self.objective, tuple(OBJECTIVES))
        _choice("train.gen_loss", self.gen_loss, GEN_LOSS_MODES)
        _choice("train.device", self.device, DEVICES)
        _choice("train.precision", self.precision, PRECISIONS)
        _positive("train.batch_size", self.batch_size)
        _positive("train.epochs", self.epochs)
        _positive("train.steps", self.steps, allow_none=True)
        _positive("train.lr", self.lr, allow_none=True)
        _positive("train.lr_d", self.lr_d, allow_none=True)
        _positive("train.lr_e", self.lr_e, allow_none=True)
        _choice("train.d_augment", self.d_augment, tuple(POLICIES))
        _choice("train.augment", self.augment, tuple(POLICIES))
        if self.invariance is not None:
            _choice("train.invariance", self.invariance, tuple(INVARIANCE))
            _positive("train.invariance_weight", self.invariance_weight)
            if POLICIES[self.augment] is None:
                raise ConfigError("train.invariance needs an augmentation policy (train.augment) to make two views")
        if not self.adversarial and self.invariance is None:
            raise ConfigError("train.adversarial=false leaves nothing to train: set train.invariance")
        _positive("train.n_critic", self.n_critic, allow_none=True)
        _positive("train.threads", self.threads, allow_none=True)
        _positive("train.log_every", self.log_every)
        _positive("train.checkpoint_every", self.checkpoint_every)
        _positive("train.sample_every", self.sample_every)
        _positive("train.keep", self.keep)
        _positive("train.eval_every", self.eval_every, allow_none=True)
        if not isinstance(self.tensorboard, bool):
            raise ConfigError(f"train.tensorboard must be true or false, got {self.tensorboard!r}")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ConfigError(f"train.ema must lie in (0, 1), got {self.ema}")
        if self.select is not None:
            _choice("train.select", self.select, SELECT_METRICS)
            if self.eval_every is None:
                raise ConfigError("train.select needs train.eval_every (how often to evaluate)")
        if self.betas is not None:
            self.betas = tuple(float(b) for b in self.betas)
            if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
                raise ConfigError(f"train.betas must be two numbers in [0, 1), got {self.betas}")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "config") -> Config:
        _no_extra(d, where)
        return cls(**{name: _section(name, d.get(name, {}), where) for name in SECTIONS})

    def updated(self, overrides: dict[str, dict[str, Any]], *, where: str = "overrides") -> Config:
        """A new config with ``{section: {key: value}}`` applied on top of this one."""
        merged = self.to_dict()
        _no_extra(overrides, where)
        for section, values in overrides.items():
            merged[section] = merged[section] | _known_keys(section, values, where)
        return Config.from_dict(merged, where=where)


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _no_extra(d: dict[str, Any], where: str) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(d).__name__}")
    unknown = set(d) - set(SECTIONS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(sorted(unknown))}; valid: {', '.join(SECTIONS)}"
        )


def _known_keys(section: str, values: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: section {section!r} must be a mapping")
    valid = [f.name for f in dataclasses.fields(SECTIONS[section])]
    unknown = set(values) - set(valid)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(f'{section}.{k}' for k in sorted(unknown))}; "
            f"valid keys in {section!r}: {', '.join(valid)}"
        )
    return values


def _section(name: str, values: dict[str, Any], where: str) -> Any:
    try:
        return SECTIONS[name](**_known_keys(name, values, where))
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    except TypeError as e:
        raise ConfigError(f"{where}: section {name!r}: {e}") from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML file of ``{section: {key: value}}`` overrides (not yet validated)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error becomes a clear message
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:] or 'JSON'}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections at the top level")
    return data
