"""Encoder features: load a trained encoder and turn images into features.

The encoder is rebuilt from the config stored in the checkpoint; nobody passes architecture
flags again. Images are conformed to the run's channels and size exactly as in training.
Feature files (``files``) are written by ``encode_job``, which streams datasets through
:class:`LoadedEncoder` block by block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import Config, DataConfig, resolve_layer
from ..data.image_files import IMAGE_SUFFIXES, conform, image_files_in
from ..data.image_set import ImageSet
from ..data.rows import FileRows, ImageRows
from ..data.sources import load_images, open_rows
from ..errors import DataError, UserError
from ..losses.semisup import class_probabilities
from ..model.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    best_checkpoint_path,
    load_checkpoint,
    load_weights,
    model_from_checkpoint,
)
from ..model.networks import networks_for
from ..model.runtime import resolve_device
from ..nets.bigan import Encoder, JointDiscriminator, class_logits, layer_features
from ..nets.encoding import encode_in_batches


@dataclass
class LoadedEncoder:
    """A frozen encoder (and D, whose image pathway is the "d" layer; G, for the report's coupling and
    generation numbers; and a semi-supervised run's classifier) plus what is needed to feed them: the run's
    image shape and config."""

    encoder: Encoder
    discriminator: JointDiscriminator
    config: Config
    image_shape: tuple[int, int, int]
    step: int
    run: str
    device: torch.device
    classifier: nn.Module | None = None  # K class logits on E's penultimate layer or D's (model.classifier_on)
    classes: list[int] | None = None  # the label value of each of the K outputs
    class_names: list[str] | None = None  # the name of each of the K outputs, where the source names them
    generator: nn.Module | None = None  # G, where the run trained one (train.adversarial)

    def class_probabilities(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """float32 (N, K): p(class k | x) for uint8 images (N, C, H, W), by the run's classifier."""
        if self.classifier is None:
            raise UserError(f"run {self.run} has no classifier: train one with --labels-per-class N")
        images = self.conform(np.asarray(images))
        if len(images) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        on = self.config.model.classifier_on
        net = lambda x: class_probabilities(class_logits(self.encoder, self.discriminator, self.classifier, x, on))  # noqa: E731
        return encode_in_batches(net, images, self.device, batch_size)

    def class_name(self, k: int) -> str | int:
        """Output ``k``'s class: its name where the source has names, else its label value."""
        return self.class_names[k] if self.class_names else self.classes[k]

    def conform(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, C, H, W) of any size or channel count -> the run's channels and size."""
        c, h, _ = self.image_shape
        return conform(images, c, h)

    @torch.inference_mode()
    def encode(self, images: np.ndarray, *, layer: str | None = None, batch_size: int = 1024) -> np.ndarray:
        """Features of uint8 images (N, C, H, W), in batches so memory stays bounded."""
        layer = resolve_layer(self.config, layer)
        images = self.conform(np.asarray(images))
        if len(images) == 0:
            return np.zeros((0, self.dim(layer)), dtype=np.float32)
        return encode_in_batches(self.layer(layer), images, self.device, batch_size)

    def layer(self, layer: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """x (floats in [-1, 1]) -> its features at ``layer``."""
        return lambda x: layer_features(self.encoder, self.discriminator, x, layer)

    def dim(self, layer: str) -> int:
        """The width of ``layer``'s features."""
        return self.layer(layer)(torch.zeros(2, *self.image_shape, device=self.device)).shape[1]

    def encode_files(self, paths: Iterable[str | Path], *, layer: str | None = None, block: int = 1024) -> np.ndarray:
        """Features of image files, decoded and encoded ``block`` files at a time: only the features are held."""
        layer = resolve_layer(self.config, layer)
        rows = FileRows([Path(p) for p in paths], None, self.image_shape)
        parts = [self.encode(rows.read(i, min(i + block, len(rows))).images, layer=layer)
                 for i in range(0, len(rows), block)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim(layer)), dtype=np.float32)


def load_encoder(run: str | Path, *, device: str = "auto", checkpoint: str | Path | None = None) -> LoadedEncoder:
    """The encoder of a run: ``checkpoint`` if given, else the run's best.pt (kept by --select)
    when there is one, else its latest checkpoint."""
    dev = resolve_device(device)
    if checkpoint is not None and Path(checkpoint).resolve().parent != (Path(run) / CHECKPOINT_DIR).resolve():
        raise CheckpointError(f"checkpoint {checkpoint} is not one of {run}'s own (in {Path(run) / CHECKPOINT_DIR}/); "
                              f"its features would be reported as that run's")
    best = best_checkpoint_path(Path(run))
    ckpt = load_checkpoint(checkpoint or (best if best.is_file() else run), map_location="cpu")
    model, cfg = model_from_checkpoint(ckpt)
    if ckpt.get("ema_encoder"):  # trained with --ema: the averaged weights are the export
        load_weights(model.encoder, ckpt["ema_encoder"], ckpt["path"], "averaged encoder weights")
    model.to(dev).eval()
    return LoadedEncoder(model.encoder, model.discriminator, cfg, tuple(ckpt["image_shape"]), int(ckpt["step"]),
                         str(run), dev, model.classifier, ckpt.get("classes"), ckpt.get("class_names"),
                         generator=model.generator if cfg.train.adversarial else None)


def random_encoder_like(loaded: LoadedEncoder, seed: int = 0) -> LoadedEncoder:
    """Untrained networks of the same architecture: the random-features baseline."""
    torch.manual_seed(seed)
    # built the way training builds it, so the initialization is the trained model's starting point
    n_classes = None if loaded.classes is None else len(loaded.classes)
    model = networks_for(loaded.config, loaded.image_shape, n_classes).to(loaded.device).eval()
    return LoadedEncoder(model.encoder, model.discriminator, loaded.config, loaded.image_shape, 0,
                         "random-init", loaded.device)


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """The raw-pixel baseline: flattened pixels in [0, 1]."""
    return np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float32) / 255.0


def data_config_for(loaded: LoadedEncoder, source: str | None, data_dir: str | None = None,
                    download: bool = False, skip_bad: bool | None = None) -> DataConfig:
    """The run's data config pointed at ``source`` (default: the run's), in the run's image format;
    ``skip_bad`` None keeps the run's own setting."""
    stored = loaded.config.data
    return Config(data=stored).updated({"data": {
        "source": source or stored.source, "data_dir": data_dir or stored.data_dir,
        "download": download, "channels": loaded.image_shape[0], "image_size": loaded.image_shape[1],
        "skip_bad": stored.skip_bad if skip_bad is None else skip_bad, "stream": "memory",
    }}).data


def dataset_for(loaded: LoadedEncoder, source: str | None, split: str, data_dir: str | None = None,
                download: bool = False, skip_bad: bool | None = None) -> ImageSet:
    """A split of ``source`` (default: the run's training source), in the run's image format."""
    return load_images(data_config_for(loaded, source, data_dir, download, skip_bad), split)


def rows_for(loaded: LoadedEncoder, source: str | None, split: str, data_dir: str | None = None,
             download: bool = False, skip_bad: bool | None = None) -> ImageRows:
    """As :func:`dataset_for`, read a block of rows at a time (folders and npz: files are never loaded whole)."""
    return open_rows(data_config_for(loaded, source, data_dir, download, skip_bad), split)


def image_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, by the rule training uses) into image files."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += image_files_in(item)  # the files training would take from this folder
        elif item.is_file():  # named explicitly: read whatever it is
            files.append(item)
        else:
            raise DataError(f"{item} does not exist")
    if not files:
        raise DataError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    return files
