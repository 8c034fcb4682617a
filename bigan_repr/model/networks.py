"""The networks a config trains: the recipe's choices that shape them, resolved into ``nets/``'s terms, and
the spread of the prior G draws its codes from.

D's normalization depends on the objective (a gradient penalty rules batch norm out) and the
projector on the invariance term, both train-section choices; ``nets/`` is handed the answers and
never reads the train section. Training, checkpoint loading, export and the random-init baseline
all build through :func:`networks_for`, so the same config always gives the same networks.
"""

from __future__ import annotations

import torch

from ..config import Config, ConfigError, ModelConfig
from ..losses.objectives import get_objective
from ..nets.bigan import BiGAN

# the standard deviation of each coordinate of z under each prior (``nets.bigan.sample_prior``): what E's
# codes are held against


def resolve_d_norm(cfg: ModelConfig, gradient_penalty: bool) -> str:
    """D's normalization: batch norm by default, layer norm under a gradient penalty.

    Batch norm makes each sample's score depend on the batch, which breaks the per-sample
    gradient that a gradient penalty constrains.
    """
    if cfg.d_norm == "auto":
        return "layer" if gradient_penalty else "batch"
    if cfg.d_norm == "batch" and gradient_penalty:
        raise ConfigError("model.d_norm='batch' cannot be used with a gradient penalty; use layer, spectral or none")
    return cfg.d_norm


def networks_for(cfg: Config, image_shape: tuple[int, int, int], n_classes: int | None = None) -> BiGAN:
    """G, E and D (and the invariance head when E has the term, the classifier of a semi-supervised run
    over ``n_classes``) for ``cfg``, freshly initialized."""
    if cfg.semi_supervised != (n_classes is not None):
        raise ConfigError(f"a {'semi-supervised' if cfg.semi_supervised else 'unsupervised'} config needs "
                          f"{'the number of classes' if cfg.semi_supervised else 'no classes'} to build its networks")
    d_norm = resolve_d_norm(cfg.model, bool(get_objective(cfg.train.objective).gradient_penalty))
    return BiGAN(cfg.model, image_shape, d_norm, invariance=cfg.invariance_spec, n_classes=n_classes)


# weights, their gradients and Adam's two moments: the least memory a training run holds per parameter
_COPIES_IN_TRAINING = 4


def available_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (a CUDA device's, else the host's available RAM); None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def check_fits_in_memory(cfg: Config, image_shape: tuple[int, int, int], n_classes: int | None,
                         device: torch.device) -> None:
    """Refuse, before anything is allocated or written, networks whose parameters alone (with their gradients
    and optimizer state) exceed the device's free memory: widths within the limits can still be too wide here."""
    with torch.device("meta"):  # shapes only: no memory, no random draws
        params = list(networks_for(cfg, image_shape, n_classes).parameters())
    count = sum(p.numel() for p in params)
    need = sum(p.numel() * p.element_size() for p in params) * _COPIES_IN_TRAINING
    free = available_bytes(device)
    if free is not None and need > free:
        m = cfg.model
        sizes = f"--hidden {m.hidden}, --width {m.width}, --z-dim {m.z_dim}, --projector {m.projector}"
        raise ConfigError(f"the networks have {count:,} parameters: training them needs at least "
                          f"{need / 2**30:.1f} GiB, and {device.type} has {free / 2**30:.1f} GiB free; "
                          f"make them smaller ({sizes})")
