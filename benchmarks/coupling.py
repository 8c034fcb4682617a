"""Does G invert E? The digits coupling table: the default recipe against its controls, over seeds.

    python benchmarks/coupling.py --seeds 0,1,2 --threads 1 --out benchmarks/results/coupling-digits

Each row is `bigan pipeline` on the default data (digits) with the row's flags and `--seed S`: training,
then the report's evaluation (its "coupling" and "generation" objects, and the exported layer's k-NN and
linear probe). The flags change the recipe the table was measured at: the default of that release, 100
epochs (1,100 steps) at width 1024 (``seeded_rows.DEFAULT_1100_STEPS``; today's default trains 660 steps at
width 512, docs/quick-start.md). The rows:

- the old default: 10 epochs (110 steps), no x-cycle term (``--epochs 10 --recon-weight 0``);
- the 1,100 steps without the x-cycle term (``--recon-weight 0``): is it the term or the steps?
- the 1,100-step default (x-cycle weight 0.05);
- the same with layer norm in D (``--d-norm layer``).

Each run goes to OUT/runs/ROW-SEED; its numbers to OUT/coupling.json as it finishes, so an interrupted
invocation resumes (a half-trained run from its last checkpoint; a finished one is not trained again).
OUT/coupling.md holds the table: mean ± std over the seeds measured (the runner: seeded_rows.py).
"""

from __future__ import annotations

from seeded_rows import DEFAULT_1100_STEPS, Benchmark, Column, exported, main

ROWS: dict[str, tuple[str, dict]] = {
    "old-default": ("old default (`--epochs 10 --recon-weight 0`: 110 steps, no x-cycle term)",
                    {"train": {"epochs": 10.0, "recon_weight": 0.0}}),
    "no-xcycle": ("the 1,100-step default's steps, no x-cycle term (`--recon-weight 0`)",
                  {"train": {"recon_weight": 0.0}}),
    "default": ("**1,100-step default** (100 epochs at width 1024, `--recon-weight 0.05`)", {}),
    "d-layer-norm": ("1,100-step default + layer norm in D (`--d-norm layer`)", {"model": {"d_norm": "layer"}}),
}
GENERATIVE_COLUMNS = (
    Column("recon ratio", "recon_ratio", 2), Column("latent ratio", "latent_ratio", 2),
    Column("D %", "d_accuracy", 1, 100), Column("class kept / ceiling %", "class_kept_share"),
    Column("precision", "precision", 2), Column("recall", "recall", 2),
    Column("classes covered", "classes_covered"), Column("(realistic)", "classes_covered_realistic"))
COLUMNS = (*GENERATIVE_COLUMNS, Column("k-NN", "knn", 1, 100), Column("linear", "linear", 1, 100))


def generative_numbers(judged: dict) -> dict:
    """GENERATIVE_COLUMNS' numbers (and the verdict) from report.json's "coupling" and "generation" objects."""
    c, g = judged["coupling"], judged["generation"]
    return {"recon_ratio": c["recon_ratio"], "latent_ratio": c["latent_ratio"], "d_accuracy": c["d_accuracy"],
            "class_kept_share": 100 * c["class_kept"] / c["class_kept_ceiling"], "precision": g["precision"],
            "recall": g["recall"], "classes_covered": g["classes_covered"],
            "classes_covered_realistic": g["classes_covered_realistic"], "coupled": c["coupled"],
            "verdict": c["verdict"]}


def numbers(report: dict, layer: str) -> dict:
    """The table's numbers from a report.json payload."""
    features = exported(report, layer)
    return generative_numbers(report) | {"knn": features["knn_acc"], "linear": features["linear_acc"]}


BENCHMARK = Benchmark(
    name="coupling", title="Digits: G and E coupling, default recipe against its controls (mean ± std over seeds)",
    rows=ROWS, columns=COLUMNS, numbers=numbers, base=DEFAULT_1100_STEPS,
    summary=lambda r: f"recon ratio {r['recon_ratio']:.3f}, {r['verdict']}", threads=1)

if __name__ == "__main__":
    main(BENCHMARK, __doc__.splitlines()[0])
