"""Clustering by every protocol over training seeds: one table from the report.json of each seed's run.

    python benchmarks/cluster_seeds.py REPORT_0.json REPORT_1.json ... --out benchmarks/results/NAME/clustering.md

Each report scores every row's features by k-means (plain, L2-normalised, PCA-whitened) and, with
``--n2d``, N2D, each as a mean over its clustering seeds; this table gives, per row and protocol, the mean
± std over the training seeds of those means (what a target over training seeds is read from). A run with a
categorical head (``--prior mixed:K``) adds its row: the head itself, ACC and NMI, mean ± std over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from results_file import publish

# (column, the report's key) in the order the table shows them; a protocol no report ran is left out
COLUMNS = (("k-means", "kmeans_acc"), ("k-means L2", "kmeans_l2_acc"), ("k-means PCA-w", "kmeans_pcaw_acc"),
           ("N2D (ACC)", "n2d_acc"), ("N2D (NMI)", "n2d_nmi"))


def spread(values: list[float]) -> str:
    """Fractions as percent, mean ± std over seeds; one seed gives its value alone."""
    mean = f"{100 * statistics.mean(values):.1f}"
    return f"{mean} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else mean


def table(title: str, reports: list[dict]) -> str:
    rows = [name for name in reports[0]["results"] if all(name in r["results"] for r in reports)]
    columns = [(head, k) for head, k in COLUMNS if all(k in r["results"][row] for r in reports for row in rows)]
    lines = [f"# {title}: clustering ACC by protocol, test %, mean ± std over {len(reports)} training seeds", "",
             "| features | " + " | ".join(head for head, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(spread([r["results"][row][k] for r in reports]) for _, k in columns)
                     + " |")
    heads = [r["clusters"] for r in reports if r.get("clusters")]
    if heads:
        if len(heads) != len(reports):
            raise SystemExit("error: only some reports have a categorical head: not runs of one preset")
        lines += ["", f"Categorical head (argmax of E's {heads[0]['k']} logits): ACC "
                  + spread([h["acc"] / 100 for h in heads]) + ", NMI " + spread([h["nmi"] / 100 for h in heads])
                  + ", ARI " + spread([h["ari"] / 100 for h in heads]) + "."]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", type=Path, nargs="+", help="one report.json per training seed")
    p.add_argument("--title", required=True, help="what the runs are, for the table's heading")
    p.add_argument("--out", type=Path, required=True)
    return p


def main() -> None:
    args = parser().parse_args()
    publish(args.out, table(args.title, [json.loads(path.read_text()) for path in args.reports]))


if __name__ == "__main__":
    main()
