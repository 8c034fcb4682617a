"""The run configuration: nested dataclasses with every default in one place, validated on build.

A config is stored as plain JSON in every run directory and checkpoint; models, data and
training are rebuilt from it, so nobody passes architecture flags twice. Each field also carries
what the command line shows for it (:func:`option`): the CLI derives its training flags from
these fields, so a new option is written once, here.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .data.catalog import decodes_lazily, lazy_sources, source_names, source_path
from .errors import ConfigError
from .losses.augment import POLICIES
from .losses.invariance import INVARIANCE, InvarianceSpec
from .losses.objectives import GEN_LOSS_MODES, OBJECTIVES
from .nets.architectures import ARCHITECTURES
from .nets.prior import PriorError, parse_prior
from .runs.untrusted import UntrustedFileError, cut, kind_of, read_data, shown

ARCHS = tuple(ARCHITECTURES)
D_NORMS = ("auto", "batch", "layer", "spectral", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
STREAMS = ("auto", "memory", "loader")
SELECT_METRICS = ("knn", "linear")  # validation metrics a run can keep its best checkpoint by
# E(x), the layer below it, D's image pathway, and ALI's concatenation of E's last hidden layers and z
FEATURE_LAYERS = ("z", "penultimate", "d", "concat")
INVARIANCE_CHOICES = ("none", *INVARIANCE)
LR_SCHEDULES = ("constant", "cosine")  # train/schedule.py
MAX_IMAGE_SIZE = 1024  # far beyond what the nets take (the MLP's input grows with its square)
# sane limits of the fields that size things: beyond them a value is a typo (1e11 threads), not a recipe
SEED_RANGE = (0, 2**32 - 1)  # numpy refuses negative seeds; derived ones (seed * 1_000_003) must fit int64
WIDTH_RANGE = (1, 65536)  # layer widths and the latent size: 65536 wide is already 17 GB of MLP weights
COUNT_RANGE = (1, 10**9)  # steps and step intervals: 10^9 steps is years of training


def option(default: Any, help: str, *, choices: tuple | None = None, flag: str | None = None,
           limits: tuple[int | float, int | float] | None = None) -> Any:
    """A config field with what the command line shows for it: its ``help``, the ``choices`` it must
    take (checked on build, offered by the CLI; None stays allowed where it is the default), the
    ``limits`` (lowest, highest, inclusive) a number must lie within (checked on build, and by the
    CLI's parser of its flag) and its ``flag`` where that is not ``--key-with-dashes``."""
    metadata = ({"help": help} | ({"choices": choices} if choices else {}) | ({"flag": flag} if flag else {})
                | ({"limits": limits} if limits else {}))
    return field(default=default, metadata=metadata)


def show_number(value: int | float) -> str:
    """1024 -> '1024', 1e6 -> '1e+06': how limits are written in messages and help."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _choice(name: str, value: Any, valid: tuple) -> None:
    if value not in valid:
        raise ConfigError(f"{name}={shown(value)} is not valid; choose one of: {', '.join(map(str, valid))}")


def _check_choices(section: str, values: Any) -> None:
    """Every field's declared ``choices`` and ``limits``."""
    for f in dataclasses.fields(values):
        value, choices, limits = getattr(values, f.name), f.metadata.get("choices"), f.metadata.get("limits")
        if choices and not (value is None and f.default is None):  # None: off, where off is the default
            _choice(f"{section}.{f.name}", value, choices)
        if limits and value is not None and not limits[0] <= value <= limits[1]:
            raise ConfigError(f"{section}.{f.name} must lie in [{show_number(limits[0])}, {show_number(limits[1])}], "
                              f"got {shown(value)}")


def _positive(name: str, value: float | int | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(f"{name} must be positive, got {shown(value)}")


def _not_negative(name: str, value: float | int) -> None:
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {shown(value)}")


@dataclass
class DataConfig:
    source: str = option("digits", f"data source: {', '.join(source_names())}", flag="--data")
    data_dir: str | None = option(None, "folder holding (or receiving) dataset files")
    download: bool = option(False, "allow downloading the dataset with torchvision")  # never implicit
    # None: the native size
    image_size: int | None = option(None, "resize images to this square size", limits=(1, MAX_IMAGE_SIZE))
    channels: int | None = option(None, "1 = grayscale, 3 = RGB", choices=(1, 3))  # None: the native channels
    skip_bad: bool = option(False, "skip unreadable image files instead of failing")  # and count them
    stream: str = option("auto", "memory: one uint8 tensor on the device; loader: a DataLoader decoding "
                         "files lazily (folders); auto: loader for folders unless --skip-bad", choices=STREAMS)
    workers: int = option(2, "DataLoader worker processes (loader stream)", limits=(0, 256))
    # semi-supervised: a class-balanced draw of the training split keeps its labels (data/label_split.py)
    labels_per_class: int | None = option(None, "semi-supervised: train a classifier on this many labelled "
                                          "images per class; every other training image is used without its label",
                                          limits=COUNT_RANGE)
    label_seed: int = option(0, "the seed of the labelled images' draw", limits=SEED_RANGE)

    @property
    def path(self) -> Path | None:
        """The file or folder of a ``NAME:PATH`` file source; None for a named dataset."""
        return source_path(self.source)

    @property
    def lazy(self) -> bool:
        """Whether training decodes files through a DataLoader instead of holding them."""
        if self.stream == "auto":
            return decodes_lazily(self.source) and not self.skip_bad
        return self.stream == "loader"

    def __post_init__(self) -> None:
        _check_choices("data", self)
        if self.stream == "loader" and not decodes_lazily(self.source):
            raise ConfigError(f"data.stream='loader' serves only sources decoded file by file: "
                              f"{', '.join(lazy_sources())}")
        if self.stream == "loader" and self.skip_bad:
            raise ConfigError("data.skip_bad needs data.stream 'memory' or 'auto': the loader reads files lazily")


@dataclass
class ModelConfig:
    # "mlp": the paper's 1024-unit nets; "conv": DCGAN-style, any size from 8 px
    arch: str = option("mlp", "network family", choices=ARCHS)
    z_dim: int = option(50, "latent size", limits=WIDTH_RANGE)  # the paper's MNIST value
    # "uniform" on [-1,1]^d (E squashed into it), "normal", or ClusterGAN's "mixed:K[:SIGMA]" (nets/prior.py)
    prior: str = option("uniform", "latent prior: uniform, normal, or mixed:K[:SIGMA] (a one-hot code over K "
                        "clusters, then z_dim - K dims of N(0, SIGMA^2), SIGMA 0.1 by default; E's first K outputs "
                        "are then its cluster logits)")
    # 512, not the paper's 1024 (--hidden 1024): with 60 epochs the quick start fits 90 s on 2 cores, coupled
    # (docs/quick-start.md); presets state their own width
    hidden: int = option(512, "MLP width / D's hidden width", limits=WIDTH_RANGE)
    width: int = option(64, "conv: channels of the first layer", limits=WIDTH_RANGE)  # doubled per stage
    # auto = batch, or layer when a gradient penalty is used
    d_norm: str = option("auto", "D's normalization", choices=D_NORMS)
    unary: bool = option(False, "add BigBiGAN unary scores s_x, s_z to D")  # beside the joint score
    # penultimate: the layer the invariance term shapes (README: digits and Fashion-MNIST results)
    features: str = option("penultimate", "which layer to export: z = E(x), E's penultimate layer, d = D's "
                           "image pathway, or concat = E's last three hidden layers and z, concatenated (ALI's)",
                           choices=FEATURE_LAYERS)  # d: D's hidden layer before z joins
    # 3 layers, like VICReg's expander
    projector: int = option(512, "width of the invariance term's projector head", limits=WIDTH_RANGE)
    # where a semi-supervised run's K class logits are read (nets/bigan.CLASSIFIER_LAYERS): e, on E's penultimate
    # layer, trained with G and E; d, on D's image pathway and trained in D's update (Salimans et al., ALI)
    classifier_on: str = option("e", "with labels: the classifier's body, e = E's penultimate layer, d = D's image "
                                "pathway (the (K+1)-class decision is then D's job)", choices=("e", "d"))

    def __post_init__(self) -> None:
        _check_choices("model", self)
        try:
            parse_prior(self.prior).check_width(self.z_dim)
        except PriorError as e:
            raise ConfigError(f"model.prior: {e}") from None


@dataclass
class TrainConfig:
    objective: str = option("gan", "adversarial objective", choices=tuple(OBJECTIVES))
    gen_loss: str = option("swapped", "G/E loss mode", choices=GEN_LOSS_MODES)  # swapped: non-saturating
    # 60 epochs of digits = 660 steps: 110 left the default's G and E uncoupled (docs/coupling.md); 660 at width 512
    # couple as 1,100 at 1024 did, in a third of the time (docs/quick-start.md)
    epochs: float = option(60.0, "passes over the training set", limits=(0.0, 1e6))  # used when steps is None
    steps: int | None = option(None, "G/E updates (overrides --epochs)", limits=COUNT_RANGE)
    batch_size: int = option(128, "batch size per process", limits=(1, 10**6))
    lr: float | None = option(None, "learning rate (default: the objective's)")  # Adam 2e-4 for f-GANs
    lr_d: float | None = option(None, "D's learning rate (default: --lr)")
    betas: tuple[float, float] | None = option(None, "Adam's two betas (default: the objective's)")
    weight_decay: float = option(2.5e-5, "weight decay of every optimizer")  # the paper's value
    # off: biases and normalization weights (every parameter of at most one dimension) are not decayed
    decay_norms_biases: bool = option(True, "weight decay on biases and normalization weights too "
                                      "(--no-decay-norms-biases: on weight matrices and kernels only)")
    lr_schedule: str = option("constant", "learning-rate schedule: constant, or cosine decay towards 0 at the "
                              "end of the run (both after --warmup-steps)", choices=LR_SCHEDULES)
    warmup_steps: int = option(0, "steps of linear learning-rate warmup from 0", limits=(0, COUNT_RANGE[1]))
    n_critic: int | None = option(None, "D updates per G/E update (default: the objective's)", limits=(1, 1000))
    ema: float | None = option(None, "decay of an encoder weight average exported instead (e.g. 0.999)")
    # the x-cycle term couples the digits default (README); every preset states its own weight
    recon_weight: float = option(0.05, "weight of ||x - G(E(x))||^2 (ALICE's x-cycle term; default 0.05)")
    latent_recon_weight: float = option(0.0, "weight of ||z - E(G(z))||^2 (default 0)")
    d_augment: str = option("none", "augment real and generated images inside D's input (DiffAugment)",
                            choices=tuple(POLICIES))
    # on by default: measured better on digits and Fashion-MNIST than the BiGAN objective alone (README)
    invariance: str = option("vicreg", "a loss between E's outputs on two augmented views of each image "
                             "(none: the BiGAN objective alone)", choices=INVARIANCE_CHOICES)
    # shift: translation only, which keeps the class of any data (a mirrored digit may be another digit)
    augment: str = option("shift", "the augmentation policy making those views", choices=tuple(POLICIES))
    invariance_weight: float = option(1.0, "weight of the invariance loss (default 1)")  # beside E's adversarial loss
    adversarial: bool = option(True, "--no-adversarial: train E by the invariance loss alone, without D or G "
                               "(the control)")
    lr_e: float | None = option(None, "E's learning rate (default: --lr)")  # and the projector's
    # hybrids: the adversarial part feeding the invariance term (README: hybrids against the control)
    generative_positives: float = option(0.0, "sigma > 0: G(E(x) + sigma * noise) as one more positive view of "
                                         "each image in the invariance term (needs D and G)")
    fake_negatives: bool = option(False, "generated images G(z) as extra negatives of the InfoNCE term "
                                  "(ContraD's; needs --invariance infonce and D and G)")
    # off: each process's invariance loss sees its own batch only (as before the option existed)
    gather_invariance: bool = option(False, "under torchrun: the invariance loss over every process's batch, "
                                     "gathered with gradients (VICReg's variance and covariance, InfoNCE's "
                                     "negatives), not each process's own")
    # with data.labels_per_class: the labelled cross-entropy and, with D and G, the (K+1)-class terms
    class_weight: float = option(1.0, "weight of the semi-supervised classifier's losses (default 1)")
    # Salimans et al. 2016's G loss, here beside G's adversarial loss; E is held fixed for it
    feature_matching: float = option(0.0, "weight of feature matching for G: the squared distance between the mean "
                                     "penultimate features E gives real and generated batches, E held fixed for "
                                     "it (needs D and G; default 0, off)")
    # FixMatch (Sohn et al. 2020): lambda = 1 and tau = 0.95 as published; 0 = off (terms/consistency.py)
    consistency: float = option(0.0, "with labels: weight of FixMatch's consistency between a weak (shift) and a "
                                "strong (train.augment) view of each unlabelled image, on the weak view's "
                                "confident pseudo-labels (default 0, off; FixMatch's is 1)")
    consistency_threshold: float = option(0.95, "the weak view's class probability a pseudo-label needs (FixMatch's "
                                          "0.95)")
    # ClusterGAN's beta_c = beta_n = 10: E recovers G's cluster and continuous code (terms/cluster_code.py)
    cluster_weight: float = option(10.0, "under a mixed:K prior, weight of E recovering the code of G(z): cluster "
                                   "cross-entropy plus continuous mean squared error (default 10, ClusterGAN's)")
    seed: int = option(0, "random seed", limits=SEED_RANGE)
    device: str = option("auto", "where to train", choices=DEVICES)
    # None: all cores
    threads: int | None = option(None, "CPU threads for torch, faiss and BLAS together", limits=(1, 1024))
    precision: str = option("auto", "auto = bf16 autocast where the device has bf16 units (CUDA; a CPU with "
                            "AVX512-BF16 or AMX), fp32 elsewhere; the run's config records the choice",
                            choices=PRECISIONS)
    compile: bool = option(False, "torch.compile the networks where supported")
    sync_bn: bool = option(False, "under torchrun: batch-norm statistics over all GPUs")  # SyncBatchNorm, CUDA
    log_every: int = option(20, "steps between metric rows", limits=COUNT_RANGE)  # each one syncs with the device
    # one is always written at the end
    checkpoint_every: int = option(500, "steps between checkpoints", limits=COUNT_RANGE)
    sample_every: int = option(1000, "steps between sample grids", limits=COUNT_RANGE)  # samples and reconstructions
    keep: int = option(3, "checkpoints to keep", limits=(1, 10**6))  # plus "best" when a selection metric is set
    eval_every: int | None = option(None, "steps between validation probes (k-NN, linear) logged to metrics",
                                    limits=COUNT_RANGE)
    select: str | None = option(None, "keep the best checkpoint by this validation metric", choices=SELECT_METRICS)
    # the fine-tune protocol (train/finetune.py, bigan finetune): E's first weights, read once at the start
    init_encoder: str | None = option(None, "start E from this run's exported checkpoint (what bigan finetune sets)")
    tensorboard: bool = option(False, "also log metrics, grids and the validation probe to TensorBoard "
                               "(RUN/tensorboard/; needs tensorboard)")

    def __post_init__(self) -> None:
        _check_choices("train", self)
        _positive("train.epochs", self.epochs)
        _positive("train.lr", self.lr, allow_none=True)
        _positive("train.lr_d", self.lr_d, allow_none=True)
        _positive("train.lr_e", self.lr_e, allow_none=True)
        _positive("train.class_weight", self.class_weight)
        if self.has_invariance:
            _positive("train.invariance_weight", self.invariance_weight)
            if POLICIES[self.augment] is None:
                raise ConfigError("train.invariance needs an augmentation policy (train.augment) to make two views")
        if not isinstance(self.tensorboard, bool):
            raise ConfigError(f"train.tensorboard must be true or false, got {self.tensorboard!r}")
        _not_negative("train.weight_decay", self.weight_decay)
        _not_negative("train.warmup_steps", self.warmup_steps)
        if self.steps is not None and self.warmup_steps >= self.steps:  # a budget in epochs: train/schedule.py
            raise ConfigError(warmup_refusal(self.warmup_steps, self.steps))
        _not_negative("train.recon_weight", self.recon_weight)
        _not_negative("train.latent_recon_weight", self.latent_recon_weight)
        _not_negative("train.generative_positives", self.generative_positives)
        _not_negative("train.feature_matching", self.feature_matching)
        _not_negative("train.cluster_weight", self.cluster_weight)
        _not_negative("train.consistency", self.consistency)
        if not 0 < self.consistency_threshold <= 1:
            raise ConfigError(f"train.consistency_threshold must be in (0, 1], not {self.consistency_threshold}")
        if self.consistency and POLICIES[self.augment] is None:
            raise ConfigError("train.consistency needs a strong view: set train.augment (e.g. 'strong')")
        if self.feature_matching and not self.adversarial:
            raise ConfigError("train.feature_matching trains G: it needs train.adversarial")
        if (self.generative_positives or self.fake_negatives) and not (self.adversarial and self.has_invariance):
            raise ConfigError("train.generative_positives and train.fake_negatives feed G's images to the invariance "
                              "term: they need train.invariance and train.adversarial")
        if self.fake_negatives and self.invariance != "infonce":
            raise ConfigError(f"train.fake_negatives needs a loss with negatives: train.invariance 'infonce', "
                              f"not {self.invariance!r}")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ConfigError(f"train.ema must lie in (0, 1), got {self.ema}")
        if self.select is not None and self.eval_every is None:
            raise ConfigError("train.select needs train.eval_every (how often to evaluate)")
        if self.betas is not None:
            self.betas = tuple(float(b) for b in self.betas)
            if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
                raise ConfigError(f"train.betas must be two numbers in [0, 1), got {self.betas}")


    @property
    def has_invariance(self) -> bool:
        """Whether E trains with an invariance term: the one place that reads "none" here."""
        return self.invariance != "none"


# every train option of a part that needs G or D, switched off: E (and a classifier) train alone. The
# semi-supervised benchmark's controls and the fine-tune protocol build on it.
WITHOUT_GAN: dict[str, Any] = {"adversarial": False, "feature_matching": 0.0, "recon_weight": 0.0,
                               "latent_recon_weight": 0.0, "d_augment": "none", "generative_positives": 0.0,
                               "fake_negatives": False}


def warmup_refusal(warmup: int, total: int) -> str:
    """The one line refusing a warmup as long as the run: every step would train below the learning rate."""
    return (f"train.warmup_steps={warmup} must be below the run's {total} step{'s' * (total != 1)}: the warmup "
            f"would take the whole run, every step below the learning rate; give fewer warmup steps or more steps")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if not (self.train.adversarial or self.train.has_invariance or self.semi_supervised):
            raise ConfigError("train.adversarial=false leaves nothing to train: set train.invariance or "
                              "data.labels_per_class")
        if self.train.consistency and not self.semi_supervised:
            raise ConfigError("train.consistency trains the semi-supervised classifier: it needs data.labels_per_class")
        if self.model.classifier_on == "d" and not (self.semi_supervised and self.train.adversarial):
            raise ConfigError("model.classifier_on d puts the classifier on D: it needs data.labels_per_class and "
                              "train.adversarial")
        if self.semi_supervised and self.train.ema is not None:
            raise ConfigError("train.ema averages E alone, and a semi-supervised run's classifier head was trained "
                              "beside the live E: leave train.ema unset with data.labels_per_class")
        if self.semi_supervised and self.train.select:
            raise ConfigError("train.select chooses checkpoints on labels beyond data.labels_per_class; a "
                              "semi-supervised run keeps its last checkpoint (leave train.select unset)")
        if self.model.features not in self.trained_layers:
            raise ConfigError(f"model.features={self.model.features!r} exports D's image pathway, and "
                              "train.adversarial=false trains no D; choose one of: " + ", ".join(self.trained_layers))

    @property
    def semi_supervised(self) -> bool:
        """Whether the run also trains a classifier on a labelled part of its training split."""
        return self.data.labels_per_class is not None

    @property
    def trained_layers(self) -> tuple[str, ...]:
        """The layers a run of this config learns (FEATURE_LAYERS): "d", D's image pathway, only where D
        is trained."""
        return tuple(layer for layer in FEATURE_LAYERS if layer != "d" or self.train.adversarial)

    @property
    def report_layers(self) -> tuple[str, ...]:
        """The layers a report evaluates: every layer the run learned, but "concat" (wide, and holding the
        penultimate layer and z again) only where it is the one exported."""
        return tuple(layer for layer in self.trained_layers if layer != "concat" or layer == self.model.features)

    @property
    def invariance_spec(self) -> InvarianceSpec | None:
        """E's invariance term as the networks need it; None when the run trains without one."""
        t = self.train
        if not t.has_invariance:
            return None
        return InvarianceSpec(t.invariance, t.augment, t.invariance_weight, self.model.projector,
                              t.generative_positives, t.fake_negatives)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "config") -> Config:
        _no_extra(d, where)
        return cls(**{name: _section(name, d.get(name, {}), where) for name in SECTIONS})

    @classmethod
    def from_stored(cls, d: dict[str, Any], *, where: str) -> Config:
        """A config a run stored (config.json, a checkpoint): every key it lacks is one added after
        it was written, and takes the value that reproduces what that run did, not today's default."""
        _no_extra(d, where)
        filled = {name: BEFORE_THE_FIELD.get(name, {}) | _mapping(name, d.get(name, {}), where) for name in SECTIONS}
        return cls.from_dict(filled, where=where)

    def updated(self, overrides: dict[str, dict[str, Any]], *, where: str = "overrides") -> Config:
        """A new config with ``{section: {key: value}}`` applied on top of this one."""
        merged = self.to_dict()
        _no_extra(overrides, where)
        for section, values in overrides.items():
            merged[section] = merged[section] | _known_keys(section, values, where)
        return Config.from_dict(merged, where=where)


def resolve_layer(cfg: Config, layer: str | None) -> str:
    """The feature layer a command exports: ``layer``, or the run's ``model.features`` when None; refused
    unless it is one of the layers the run learned. Every command and the Python API decide it here."""
    layer = cfg.model.features if layer is None else layer
    if layer not in cfg.trained_layers:
        why = " (the run trained no D: train.adversarial=false)" if layer in FEATURE_LAYERS else ""
        raise ConfigError(f"layer {layer!r} is not valid for this run{why}; choose one of: "
                          f"{', '.join(cfg.trained_layers)}")
    return layer


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# fields whose default is not what runs stored before the field existed did (a stored config holds
# every field of its day, so a missing key means the field is newer than the run)
BEFORE_THE_FIELD: dict[str, dict[str, Any]] = {"train": {"invariance": "none"}}


def _names(keys: set, prefix: str = "", shown_at_most: int = 5) -> str:
    """Unknown keys as written (YAML keys may be numbers or booleans: never sorted as mixed types),
    each cut short, the first few of many."""
    names = sorted(prefix + cut(str(k), 40) for k in keys)
    more = f" and {len(names) - shown_at_most} more" if len(names) > shown_at_most else ""
    return ", ".join(names[:shown_at_most]) + more


def _no_extra(d: dict[str, Any], where: str) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {kind_of(d)} ({shown(d)})")
    unknown = set(d) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {_names(unknown)}; valid: {', '.join(SECTIONS)}")


def _mapping(section: str, values: Any, where: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: section {section!r} must be a mapping, got {kind_of(values)} ({shown(values)})")
    return values


def _known_keys(section: str, values: dict[str, Any], where: str) -> dict[str, Any]:
    valid = [f.name for f in dataclasses.fields(SECTIONS[section])]
    unknown = set(_mapping(section, values, where)) - set(valid)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {_names(unknown, f'{section}.')}; valid keys in {section!r}: {', '.join(valid)}"
        )
    return values


def _section(name: str, values: dict[str, Any], where: str) -> Any:
    values, hints = _known_keys(name, values, where), get_type_hints(SECTIONS[name])
    try:
        values = {k: _typed(f"{name}.{k}", v, hints[k]) for k, v in values.items()}
        return SECTIONS[name](**values)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    except TypeError as e:
        raise ConfigError(f"{where}: section {name!r}: {e}") from None


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string",
               type(None): "null"}


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        return " or ".join(map(_describe, args))
    if origin is tuple and args[-1] is Ellipsis:
        return f"a list, each item {_describe(args[0])}"
    if origin is tuple:
        return f"a list of {len(args)} items ({', '.join(map(_describe, args))})"
    if origin is list:
        return f"a list, each item {_describe(args[0])}"
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    return _TYPE_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _typed(name: str, value: Any, hint: Any) -> Any:
    """``value`` checked against the field's declared type: a string is not a bool, 2.5 is not an
    int, NaN is not a rate. Integers given for floats become floats, lists for tuples tuples."""
    origin, args = get_origin(hint), get_args(hint)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (Union, UnionType):
        for arg in args:
            try:
                return _typed(name, value, arg)
            except ConfigError:
                pass
    elif origin in (tuple, list):
        if isinstance(value, (list, tuple)):
            hints = [args[0]] * len(value) if origin is list or args[-1] is Ellipsis else list(args)
            if len(hints) == len(value):
                items = [_typed(f"{name}[{i}]", v, h) for i, (v, h) in enumerate(zip(value, hints, strict=True))]
                return origin(items)
    elif origin is Literal:
        if value in args:
            return value
    elif hint is float:
        if is_number and abs(value) <= sys.float_info.max:  # False for NaN, inf and ints beyond floats
            return float(value)
    elif hint is int:
        if is_number and isinstance(value, int):
            return value
    elif hint in (bool, str, type(None)):
        if type(value) is hint:
            return value
    else:
        raise TypeError(f"{name}: no type check for the annotation {hint!r}; add one to config._typed")
    raise ConfigError(f"{name} must be {_describe(hint)}, got {shown(value)}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML (.yaml, .yml) file of ``{section: {key: value}}`` overrides, not yet validated,
    through the bounded reader of files from elsewhere (``runs.untrusted``); an empty YAML file is no
    overrides."""
    try:
        data = read_data(path)
    except UntrustedFileError as e:
        raise ConfigError(f"config file {e.path}: {e.reason}") from None
    if data is None and Path(path).suffix.lower() in (".yaml", ".yml"):
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections at the top level, not "
                          f"{kind_of(data)} ({shown(data)})")
    return data
