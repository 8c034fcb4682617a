"""The report of a trained run: encode both splits, evaluate beside the baselines, write the files.

Baselines always sit beside the model, computed by the same functions on the same split:
raw pixels and a random-init encoder of the same architecture. The report is report.json,
report.md and a self-contained report.html with the run's grids and curves, an embedding
plot and a nearest-neighbour grid; each phase prints one line with its time on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bigan_repr.eval import evaluate, report_payload
from bigan_repr.eval.clustering import cluster_scores
from bigan_repr.eval.embedding import DEFAULT_EMBEDDING, check_method
from bigan_repr.eval.html import render_report_html
from bigan_repr.eval.linear_probe import check_budget_fits
from bigan_repr.eval.protocol import DEFAULT_PROTOCOL, EvalProtocol
from bigan_repr.eval.report import MODEL, Method

from ..config import DataConfig, resolve_layer
from ..data.image_set import ImageSet
from ..data.sources import open_rows
from ..errors import DataError
from ..features.clusters import cluster_count, head_clusters
from ..features.encoder import LoadedEncoder, dataset_for, load_encoder, random_encoder_like, raw_pixels
from ..runs.progress import phase
from ..runs.run_dir import RunDir
from ..runs.untrusted import cut, shown
from .generative_check import coupling_and_generation
from .outputs import write_report
from .pictures import embedding_picture, neighbors_picture, run_pictures

RANDOM_INIT = "random encoder"
RAW_PIXELS = Method("raw pixels")


def feature_sets(loaded: LoadedEncoder, train_images: np.ndarray, test_images: np.ndarray, *, seed: int = 0,
                 layers: tuple[str, ...] | None = None) -> dict[Method, tuple[np.ndarray, np.ndarray]]:
    """{method: (train features, test features)}: the model and the random-init networks at each layer
    (default: the config's report_layers), and raw pixels."""
    random_init = random_encoder_like(loaded, seed=seed)
    sets = {}
    for family, encoder in ((MODEL, loaded), (RANDOM_INIT, random_init)):
        for layer in layers or loaded.config.report_layers:
            method = Method(family, layer)
            with phase(f"encode {method.label}: {len(train_images)} train + {len(test_images)} test images"):
                sets[method] = (encoder.encode(train_images, layer=layer), encoder.encode(test_images, layer=layer))
    sets[RAW_PIXELS] = (raw_pixels(train_images), raw_pixels(test_images))
    return sets


def evaluate_sets(methods: dict[Method, tuple[np.ndarray, np.ndarray]], train_y: np.ndarray, test_y: np.ndarray,
                  protocol: EvalProtocol = DEFAULT_PROTOCOL) -> dict[str, dict]:
    """`eval.evaluate` on each feature set, one progress line per set; keyed by the report's labels."""
    results = {}
    for method, (train_x, test_x) in methods.items():
        with phase(f"eval {method.label}") as p:
            results[method.label] = r = evaluate(train_x, train_y, test_x, test_y, protocol)
            p.note = f"k-NN {100 * r['knn_acc']:.1f}, linear {100 * r['linear_acc']:.1f}"
    return results


def _meta_and_notes(loaded: LoadedEncoder, run_dir: Path, train_n: int, test_n: int,
                    classes: list[str] | None) -> tuple[dict, list[str]]:
    cfg, exported = loaded.config, resolve_layer(loaded.config, None)
    meta = {"run": str(run_dir), "step": loaded.step, "data": cfg.data.source, "layer": exported,
            "objective": cfg.train.objective, "arch": cfg.model.arch, "classes": classes, "config": cfg.to_dict()}
    notes = [
        f"{cfg.data.source}: {train_n} train / {test_n} test images; checkpoint step {loaded.step}; "
        f"(z) = E(x), (penultimate) = the encoder's layer below z, (d) = D's image pathway, (concat) = E's last "
        f"hidden layers and z concatenated; the run exports "
        f"{exported}.",
        f"objective {cfg.train.objective}, arch {cfg.model.arch}, z_dim {cfg.model.z_dim}, prior {cfg.model.prior}.",
        "k-means on the test features; linear probe C chosen on a held-out part of the training set.",
    ]
    return meta, notes


def classifier_result(loaded: LoadedEncoder, test_set: ImageSet) -> dict[str, Any] | None:
    """A semi-supervised run's classifier on the test split: report.json's "classifier" object."""
    if loaded.classifier is None:
        return None
    cfg = loaded.config.data
    with phase(f"classify {len(test_set)} test images") as p:
        outputs = loaded.class_probabilities(test_set.images).argmax(1)
        accuracy = round(100 * float(np.mean(predicted_right(loaded, outputs, test_set))), 2)
        p.note = f"accuracy {accuracy:.1f}%"
    labelled = cfg.labels_per_class * len(loaded.classes)
    return {"test_accuracy": accuracy, "labels_per_class": cfg.labels_per_class, "label_seed": cfg.label_seed,
            "labeled": labelled}


def clusters_result(loaded: LoadedEncoder, test_set: ImageSet) -> dict[str, Any] | None:
    """A mixed:K run's categorical head on the test split, scored as k-means is (Hungarian accuracy, NMI, ARI):
    report.json's "clusters" object (None for a run without the head)."""
    if not (k := cluster_count(loaded)):
        return None
    with phase(f"cluster {len(test_set)} test images by the categorical head") as p:
        assigned = head_clusters(loaded, test_set.images)[0]
        scores = cluster_scores(test_set.labels, assigned)
        p.note = f"ACC {100 * scores['acc']:.1f}%"
    return {"k": k, **{name: round(100 * value, 2) for name, value in scores.items()},
            "clusters_used": int(len(np.unique(assigned)))}


def predicted_right(loaded: LoadedEncoder, outputs: np.ndarray, test_set: ImageSet) -> np.ndarray:
    """bool (N,): whether the classifier's output for each test image is the image's class. Classes are
    matched by name where the run and the data both name them (a folder's label values shift when a class
    folder is added or removed), else by label value; a class the run learned that the data no longer
    names is refused, naming both lists."""
    if not (loaded.class_names and test_set.classes):
        return np.asarray(loaded.classes)[outputs] == test_set.labels
    if gone := [name for name in loaded.class_names if name not in test_set.classes]:
        listed = lambda names: "[" + cut(", ".join(map(str, names)), 160) + "]"  # noqa: E731
        raise DataError(f"the run's classes {listed(loaded.class_names)} are not all classes of its data "
                        f"{listed(test_set.classes)} (no {shown(gone[0])}): the data changed since training, and "
                        f"its classifier cannot be scored on it")
    names = np.asarray(loaded.class_names, dtype=object)[outputs]
    return names == np.asarray(test_set.classes, dtype=object)[test_set.labels]


def add_model_objects(loaded: LoadedEncoder, train_set: ImageSet, test_set: ImageSet, payload: dict) -> None:
    """Add what the run's networks do beyond features: a semi-supervised run's "classifier"; the "coupling"
    and "generation" objects, with the coupling verdict in the notes (a run without G and D: a note)."""
    if (classifier := classifier_result(loaded, test_set)) is not None:
        payload["classifier"] = classifier
    if (clusters := clusters_result(loaded, test_set)) is not None:
        payload["clusters"] = clusters
    with phase("coupling and generation: G, E and D on test images and prior draws") as p:
        judged = coupling_and_generation(loaded, train_set, test_set, seed=loaded.config.train.seed)
        if judged is None:
            payload["notes"].append("no coupling or generation numbers: the run trained E alone "
                                    "(train.adversarial false), without G or D")
            return
        payload |= judged
        payload["notes"].append(judged["coupling"]["verdict"])
        c, g = judged["coupling"], judged["generation"]
        p.note = f"recon ratio {c['recon_ratio']:.2f}, precision {g['precision']:.2f}, recall {g['recall']:.2f}"


def require_labels(source: str, *labels: np.ndarray | None) -> None:
    """The evaluation scores features against labels: refuse a source without them."""
    if any(split is None for split in labels):
        raise DataError(f"data source {source!r} has no labels; evaluation needs them")


def check_reportable(data: DataConfig, *, protocol: EvalProtocol = DEFAULT_PROTOCOL,
                     embedding: str | None = None) -> None:
    """Refuse, before a run is trained on ``data`` (`bigan pipeline`), what :func:`evaluate_run` would
    refuse after it: an unknown embedding, a source without labels, a label budget the labels cannot fill."""
    check_method(embedding or DEFAULT_EMBEDDING)
    labels = open_rows(data, "train").labels
    require_labels(data.source, labels)
    for budget in protocol.budgets:
        check_budget_fits(labels, budget)


def evaluate_run(run_dir: str | Path, *, protocol: EvalProtocol = DEFAULT_PROTOCOL,
                 checkpoint: str | Path | None = None, plot: bool = True,
                 embedding: str | None = None, skip_bad: bool | None = None) -> dict[str, Any]:
    """Encode the run's dataset (train and test splits), evaluate, and write report.json/.md/.html.

    Returns report.json's content: ``results`` (a row per method), ``meta``, ``notes``, for a run with
    G and D ``coupling`` and ``generation`` (report/generative_check.py) and, for a semi-supervised run,
    ``classifier``. ``embedding``: "tsne" (default, on a subsample) or "pca" (fast);
    ``plot=False`` leaves the embedding plot and the neighbour grid out.
    """
    embedding = check_method(embedding or DEFAULT_EMBEDDING)
    run_dir = Path(run_dir)
    loaded = load_encoder(run_dir, checkpoint=checkpoint)
    train_set, test_set = (dataset_for(loaded, None, split, skip_bad=skip_bad) for split in ("train", "test"))
    require_labels(loaded.config.data.source, train_set.labels, test_set.labels)
    # the report goes into the run directory: hold its writer lock (a run still training refuses)
    # from before the first minute of work until the last file is written
    run = RunDir(run_dir)
    run.acquire_lock()
    try:
        seed = loaded.config.train.seed
        methods = feature_sets(loaded, train_set.images, test_set.images, seed=seed)
        results = evaluate_sets(methods, train_set.labels, test_set.labels, protocol)
        meta, notes = _meta_and_notes(loaded, run_dir, len(train_set), len(test_set), test_set.classes)
        payload = report_payload(results, title=f"bigan-repr report: {run_dir.name}", meta=meta, notes=notes)
        add_model_objects(loaded, train_set, test_set, payload)
        pictures = run_pictures(run_dir)
        if plot:
            exported = Method(MODEL, resolve_layer(loaded.config, None))
            train_f, test_f = methods[exported]
            label = exported.label
            pictures["embedding"] = embedding_picture(test_f, test_set, label, embedding, seed)
            pictures["neighbors"] = neighbors_picture(train_f, test_f, train_set, test_set, label, seed)
        with phase("write report.json, report.md, report.html"):
            extra = {"embedding.png": pictures["embedding"].png} if plot else {}
            write_report(run_dir, payload, html=render_report_html(payload, pictures), extra=extra)
    finally:
        run.release_lock()
    return payload
