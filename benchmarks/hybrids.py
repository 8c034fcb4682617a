"""Hybrids: can the adversarial part add to the invariance term's features? Each against its control.

    python benchmarks/hybrids.py --seeds 0,1,2 --threads 2 --out benchmarks/results/hybrids-digits

Every row is the 1,100-step default recipe on the default data (digits; 100 epochs at width 1024, the default
until the quick start was cut: ``seeded_rows.DEFAULT_1100_STEPS``) with the row's flags and
``--seed S``, evaluated as `bigan report` does, on the exported (penultimate) layer. Two pairs, each hybrid
beside the invariance-only control of its own loss, at the same steps (``--rows`` adds the same BiGAN without
the hybrid, ``bigan-vicreg`` and ``bigan-infonce``, to tell the hybrid's part from the BiGAN's):

- VICReg alone (``--no-adversarial``) against generative positives (``--generative-positives 0.2``:
  G(E(x) + 0.2 noise) as one more positive view of x, with the BiGAN and its x-cycle term);
- InfoNCE alone (``--no-adversarial --invariance infonce``) against fake negatives
  (``--invariance infonce --fake-negatives``: G(z) among every view's InfoNCE candidates, ContraD's).

Each run goes to OUT/runs/ROW-SEED and its numbers to OUT/hybrids.json as it finishes (an interrupted
invocation resumes); OUT/hybrids.md holds the table, mean ± std over the seeds (the runner: seeded_rows.py).
"""

from __future__ import annotations

from seeded_rows import DEFAULT_1100_STEPS, Benchmark, Column, exported, main

ROWS: dict[str, tuple[str, dict]] = {
    "vicreg-alone": ("VICReg alone (control: `--no-adversarial`)", {"train": {"adversarial": False}}),
    "bigan-vicreg": ("BiGAN + VICReg, no hybrid (the default)", {}),
    "generative-positives": ("BiGAN + VICReg + generative positives (`--generative-positives 0.2`)",
                             {"train": {"generative_positives": 0.2}}),
    "infonce-alone": ("InfoNCE alone (control: `--no-adversarial --invariance infonce`)",
                      {"train": {"adversarial": False, "invariance": "infonce"}}),
    "bigan-infonce": ("BiGAN + InfoNCE, no hybrid (`--invariance infonce`)", {"train": {"invariance": "infonce"}}),
    "fake-negatives": ("BiGAN + InfoNCE + fake negatives (`--invariance infonce --fake-negatives`)",
                       {"train": {"invariance": "infonce", "fake_negatives": True}}),
}
# the hybrids' own rows; the "bigan-" rows (same recipe without the hybrid) say whether a difference from the
# control is the hybrid's or the BiGAN's
DEFAULT_ROWS = ("vicreg-alone", "generative-positives", "infonce-alone", "fake-negatives")
COLUMNS = (Column("k-NN", "knn_acc"), Column("1-NN", "nn1_acc"), Column("linear", "linear_acc"),
           Column("10 labels/class", "10/class"), Column("k-means", "kmeans_acc"),
           Column("k-means L2", "kmeans_l2_acc"), Column("k-means PCA-w", "kmeans_pcaw_acc"),
           Column("NMI", "kmeans_nmi"))


def numbers(report: dict, layer: str) -> dict:
    """Test % of the exported layer's metrics from a report.json payload."""
    features = exported(report, layer)
    return {c.key: 100 * (features["budgets"][c.key]["mean"] if "/" in c.key else features[c.key]) for c in COLUMNS}


BENCHMARK = Benchmark(
    name="hybrids", title="Digits: hybrids against the invariance-only controls, exported layer, test % "
    "(mean ± std over seeds)", rows=ROWS, columns=COLUMNS, numbers=numbers, default_rows=DEFAULT_ROWS,
    base=DEFAULT_1100_STEPS, threads=2,
    summary=lambda r: f"k-NN {r['knn_acc']:.1f}, k-means {r['kmeans_acc']:.1f}")

if __name__ == "__main__":
    main(BENCHMARK, __doc__.splitlines()[0])
