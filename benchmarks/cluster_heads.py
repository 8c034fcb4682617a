"""A mixed:K run's categorical head at every checkpoint it kept: test ACC, NMI, ARI and clusters used.

    python benchmarks/cluster_heads.py RUN --out benchmarks/results/NAME/heads.json

The report scores the head at the run's exported checkpoint (best.pt where the run chose one on
validation); this scores it at each kept step as well, so a longer budget can be read without choosing
on the test set: the chosen checkpoint is still the one to quote, the others say what the steps did.
Scored as the report scores the head (``eval.clustering.cluster_scores``: Hungarian-matched accuracy).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bigan_repr.eval.clustering import cluster_scores
from results_file import parse_args, publish

from bigan_repr.data.image_set import ImageSet
from bigan_repr.features.clusters import cluster_count, head_clusters
from bigan_repr.features.encoder import LoadedEncoder, dataset_for, load_encoder
from bigan_repr.model.checkpoint import CHECKPOINT_DIR


def head_scores(loaded: LoadedEncoder, test: ImageSet) -> dict:
    """The head's scores on ``test`` at the checkpoint ``loaded`` holds."""
    assigned = head_clusters(loaded, test.images)[0]
    scores = cluster_scores(test.labels, assigned)
    return {"step": loaded.step, **{k: round(100 * v, 2) for k, v in scores.items()},
            "clusters_used": int(len(np.unique(assigned)))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--out", type=Path, required=True)
    args = parse_args(p)
    loaded = {ckpt.name: load_encoder(args.run, device="cpu", checkpoint=ckpt)
              for ckpt in sorted((args.run / CHECKPOINT_DIR).glob("*.pt"))}
    if not loaded or not all(map(cluster_count, loaded.values())):
        raise SystemExit(f"{args.run}: not a mixed:K run with kept checkpoints (no categorical head)")
    test = dataset_for(next(iter(loaded.values())), None, "test")  # read once, scored at every checkpoint
    heads = {name: head_scores(encoder, test) for name, encoder in loaded.items()}
    publish(args.out, json.dumps(heads, indent=1) + "\n")


if __name__ == "__main__":
    main()
