"""Exporting a run's encoder for programs that do not import this package.

The exported network takes what every data source gives, uint8 images (N, C, H, W) in the run's
channels and size, converts them to [-1, 1] inside, and returns float32 features (N, d) at one
layer of config.FEATURE_LAYERS (z = E(x), E's penultimate layer, d = D's image pathway, concat = ALI's
concatenation of E's last hidden layers and z); the batch size is free. Formats:
- ``torchscript``: ``torch.jit.load(FILE)(images)``, no Python source needed;
- ``onnx``: any ONNX runtime (input ``images``, output ``features``);
- ``safetensors``: the weights, with the config, image shape and layer as metadata; this package
  rebuilds the network from them (:func:`load_safetensors`).
onnx, onnxscript and safetensors are the optional ``export`` extra, imported only when used.
"""

from __future__ import annotations

import copy
import importlib
import json
import warnings
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..config import MAX_IMAGE_SIZE, Config, ConfigError, resolve_layer
from ..data.image_set import to_model_range
from ..errors import UserError
from ..losses.semisup import class_probabilities
from ..model.networks import networks_for
from ..nets.bigan import CLASSIFIER_LAYERS, layer_features
from ..runs.atomic import atomic_path, atomic_write
from ..runs.targets import check_target
from ..runs.untrusted import cut, kind_of, parse_json, shown
from .encoder import LoadedEncoder, load_encoder

EXPORT_FORMATS = ("torchscript", "onnx", "safetensors")
FORMAT = "bigan-repr-encoder/1"
_PACKAGES = {"torchscript": (), "onnx": ("onnx", "onnxscript"), "safetensors": ("safetensors",)}


CLASSIFIER = "classifier"  # exported instead of a layer: a semi-supervised run's class probabilities


class FeatureNet(nn.Module):
    """uint8 images (N, C, H, W) -> float32 features (N, d) at ``layer``, preprocessing included; or, with
    ``layer`` "classifier", the class probabilities (N, K) of a semi-supervised run's classifier."""

    def __init__(self, encoder: nn.Module, discriminator: nn.Module, layer: str, classifier: nn.Module | None = None,
                 classifier_on: str = "e"):
        super().__init__()
        self.layer = layer
        # the layer the output is computed from: ``layer``, or the classifier's body (model.classifier_on)
        self.reads = CLASSIFIER_LAYERS[classifier_on] if layer == CLASSIFIER else layer
        # only the networks the output reads, so an exported file holds no unused weights
        self.encoder = None if self.reads == "d" else encoder
        self.discriminator = _image_pathway(discriminator) if self.reads == "d" else None
        self.classifier = classifier if layer == CLASSIFIER else None

    def forward(self, images: Tensor) -> Tensor:
        features = layer_features(self.encoder, self.discriminator, to_model_range(images), self.reads)
        return class_probabilities(self.classifier(features)) if self.classifier is not None else features.float()


def _image_pathway(discriminator: nn.Module) -> nn.Module:
    """A copy of D without the parts that see z (D.x_features reads x_path and x_in only)."""
    d = copy.deepcopy(discriminator)
    d.z_in = d.joint = d.unary = None
    return d


def check_export_packages(fmt: str) -> None:
    """Refuse a format whose optional packages are missing, in one line, before anything is done."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"export format {fmt!r} is not valid; choose one of: {', '.join(EXPORT_FORMATS)}")
    missing = []
    for name in _PACKAGES[fmt]:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise UserError(f"--format {fmt} needs {', '.join(missing)}: pip install 'bigan-repr[export]'")


def feature_net(loaded: LoadedEncoder, layer: str | None, classifier: bool = False) -> FeatureNet:
    """The exported network of ``layer`` (None: the run's own), refused where the run did not learn it; with
    ``classifier``, the run's classifier instead (refused where it has none)."""
    if classifier:
        if loaded.classifier is None:
            raise UserError(f"--classifier: run {loaded.run} has no classifier (train one with --labels-per-class N)")
        return FeatureNet(loaded.encoder, loaded.discriminator, CLASSIFIER, loaded.classifier,
                          loaded.config.model.classifier_on).cpu().eval()
    return FeatureNet(loaded.encoder, loaded.discriminator, resolve_layer(loaded.config, layer)).cpu().eval()


def _folded(net: FeatureNet) -> FeatureNet:
    """A copy with spectral-norm parametrizations folded into plain weights (the same numbers in
    eval mode) and no gradients: a simpler graph to trace."""
    net = copy.deepcopy(net).eval()
    for module in net.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return net.requires_grad_(False)


def _example(loaded: LoadedEncoder) -> Tensor:
    # two images: a batch of one would let an exporter fix the batch size at 1
    return torch.zeros(2, *loaded.image_shape, dtype=torch.uint8)


CLASSES_KEY = "classes.json"  # a classifier export's index -> class mapping, in every format


def class_mapping(loaded: LoadedEncoder) -> str:
    """Strict JSON {"classes": label value per output, "class_names": name per output or null}."""
    return json.dumps({"classes": loaded.classes, "class_names": loaded.class_names}, allow_nan=False)


def _torchscript(net: FeatureNet, loaded: LoadedEncoder, out: Path) -> None:
    # a classifier's mapping rides in the archive: torch.jit.load(path, _extra_files={"classes.json": ""})
    extra = {CLASSES_KEY: class_mapping(loaded)} if net.layer == CLASSIFIER else {}
    with torch.no_grad(), warnings.catch_warnings():
        # torch marks TorchScript deprecated in favour of torch.export; it is still what torch.jit.load reads
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(_folded(net), _example(loaded))
        atomic_write(out, lambda f: torch.jit.save(traced, f, _extra_files=extra))


def _onnx(net: FeatureNet, loaded: LoadedEncoder, out: Path) -> None:
    batch = torch.export.Dim("batch")
    with atomic_path(out, suffix=".onnx") as tmp:
        output = "probabilities" if net.layer == CLASSIFIER else "features"
        torch.onnx.export(_folded(net), (_example(loaded),), tmp, input_names=["images"],
                          output_names=[output], dynamic_shapes={"images": {0: batch}},
                          external_data=False, verbose=False)
        if net.layer == CLASSIFIER:  # the mapping as model metadata (onnxruntime: get_modelmeta().custom_metadata_map)
            import onnx

            model = onnx.load(tmp)
            onnx.helper.set_model_props(model, {CLASSES_KEY: class_mapping(loaded)})
            onnx.save(model, tmp)


def _safetensors(net: FeatureNet, loaded: LoadedEncoder, out: Path) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    strict = partial(json.dumps, allow_nan=False)
    meta = {"format": FORMAT, "config": strict(loaded.config.to_dict()),
            "image_shape": strict(list(loaded.image_shape)), "layer": net.layer, "step": str(loaded.step),
            "classes": strict(loaded.classes), "class_names": strict(loaded.class_names),
            "input": "uint8 (N, C, H, W) in the run's channels and size; the network divides by 127.5 and "
                     "subtracts 1"}
    data = save(tensors, metadata=meta)
    atomic_write(out, lambda f: f.write(data))


_WRITERS = {"torchscript": _torchscript, "onnx": _onnx, "safetensors": _safetensors}
assert tuple(_WRITERS) == EXPORT_FORMATS


def export_encoder(run: str | Path, fmt: str, out: str | Path, *, layer: str | None = None,
                   checkpoint: str | Path | None = None, classifier: bool = False) -> Path:
    """Write the run's encoder (its exported layer, or ``layer``; or with ``classifier`` its classifier's
    class probabilities) to ``out`` in format ``fmt``. ``out`` is refused, before the run is read, where
    nothing may be written (:func:`runs.targets.check_target`: a device, a folder, a run's own file)."""
    out = check_target(out)
    check_export_packages(fmt)
    if classifier and layer is not None:
        raise UserError("--classifier exports class probabilities, not a layer: leave --layer out")
    loaded = load_encoder(run, device="cpu", checkpoint=checkpoint)
    net = feature_net(loaded, layer, classifier)
    _WRITERS[fmt](net, loaded, out)
    return out


def load_safetensors(path: str | Path) -> FeatureNet:
    """Rebuild the network an exported .safetensors file holds (CPU, eval mode)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise UserError(f"{path}: not a readable safetensors file ({e})") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: not an encoder exported by bigan-repr (expected format {FORMAT})")
    cfg, shape, classes = _stored_metadata(meta, path)
    model = networks_for(cfg, shape, None if classes is None else len(classes))
    layer = meta.get("layer")
    if not (layer == CLASSIFIER and model.classifier is not None):
        try:
            layer = resolve_layer(cfg, layer)  # a feature layer the stored run learned
        except ConfigError as e:
            raise UserError(f"{path}: metadata 'layer': {e}") from None
    net = FeatureNet(model.encoder, model.discriminator, layer, model.classifier, cfg.model.classifier_on)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as e:  # missing, unexpected or misshapen tensors: not what the metadata describes
        raise UserError(f"{path}: its tensors do not match the network its metadata describes "
                        f"({cut(str(e).splitlines()[-1].strip())})") from None
    return net.eval()


def _stored_metadata(meta: dict[str, str], path: str | Path) -> tuple[Config, tuple[int, int, int], list | None]:
    """The config, image shape and class label values in an exported file's metadata, read as untrusted JSON."""
    def field(key: str, default: str | None = None):
        if (text := meta.get(key, default)) is None:
            raise UserError(f"{path}: its metadata has no {key!r}; not an encoder exported by bigan-repr")
        return parse_json(text, f"{path} (metadata {key!r})")

    stored = field("config")
    if not isinstance(stored, dict):
        raise UserError(f"{path}: metadata 'config' must be an object, not {kind_of(stored)}")
    cfg = Config.from_stored(stored, where=f"config stored in {path}")
    shape = field("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(v) is int for v in shape)
            and shape[0] in (1, 3) and all(1 <= v <= MAX_IMAGE_SIZE for v in shape[1:])):
        raise UserError(f"{path}: metadata 'image_shape' must be [channels 1 or 3, height, width] of at most "
                        f"{MAX_IMAGE_SIZE} px, not {shown(shape)}")
    classes = field("classes", "null")  # absent from files exported before classifiers
    if classes is not None and not (isinstance(classes, list) and classes and all(type(c) is int for c in classes)):
        raise UserError(f"{path}: metadata 'classes' must be a list of label values (integers), not {shown(classes)}")
    return cfg, tuple(shape), classes
