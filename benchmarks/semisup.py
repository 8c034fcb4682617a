"""Semi-supervised benchmark: recipes over several fixed label splits, test accuracy mean ± std.

    python benchmarks/semisup.py --preset fmnist-semisup --budgets 10,100 --splits 0,1,2 --threads 2
    python benchmarks/semisup.py --preset digits-semisup --budgets 5,20 --splits 0,1,2 --threads 2

For each labels-per-class budget N and label split S (``--labels-per-class N --label-seed S``: a
class-balanced draw of the training split, the evaluation's own label-budget rule) every row is trained at
the preset's budget and its classifier scored on the test set:

- (a) supervised only: E's body and the class head trained on the N x K labels alone, with the same
  augmentations (``--no-adversarial --invariance none``);
- (b) no adversarial part: the labels plus the invariance term on every training image (``--no-adversarial``),
  the strongest non-GAN control;
- (c) the full recipe: labels, invariance, the BiGAN, the (K+1)-class terms on E's classifier, and
  Salimans et al.'s feature matching for G where the preset has it (``fmnist-semisup`` does);
- (d) a linear probe on frozen features (its exported layer) of the unsupervised preset (``--unsupervised``;
  ``fmnist`` for ``fmnist-semisup``; trained once here), fitted on the same labelled images (the same draw:
  budget N, seed S).
- (e) the full recipe with feature matching switched: without it (``--feature-matching 0``) where the preset
  has it, with it (``--feature-matching 1``) where the preset has not; the row that tells what feature
  matching adds, run when asked (``--rows e``).
- (g) FixMatch (Sohn et al. 2020), the modern non-GAN control: the labels plus a consistency term, the class
  of a weakly augmented view (shift) where the classifier is confident (>= 0.95) being the target on a strongly
  augmented one; no G or D (``--rows g``).
- (h) the full recipe plus the same consistency term (``--rows h``).
- (f) SimCLR's fine-tune protocol: row (d)'s unsupervised run fine-tuned (``bigan finetune``: its E and a fresh
  head on the N x K labels alone, ``--finetune-steps``, 500 by default) (``--rows f``).
- (i) the full recipe with the classifier on D's image pathway, trained in D's update (``--classifier-on d``;
  ``--rows i``).

Every control row switches off every term that needs G or D (``WITHOUT_GAN``), so each derives a valid config from
today's preset.

Each row's run goes to OUT/runs/; results to OUT/semisup.json after every row, so an interrupted invocation
resumes where it stopped (a half-trained row resumes from its last checkpoint). OUT/semisup.md holds the table
of everything semisup.json holds, whichever budgets and rows this invocation ran.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bigan_repr.eval import EvalProtocol, label_budget_probe
from results_file import ResultsFile, parse_args, publish, same_clean_commit

from bigan_repr.config import WITHOUT_GAN, Config, resolve_layer
from bigan_repr.features.encoder import dataset_for, load_encoder
from bigan_repr.presets import PRESETS, preset
from bigan_repr.report.run_report import classifier_result
from bigan_repr.train.finetune import FINETUNE_STEPS, finetune_config
from bigan_repr.train.trainer import train_to_end

# a control switches off every term that needs G or D, whatever today's preset adds
ROWS = {
    "a": ("supervised only", WITHOUT_GAN | {"invariance": "none"}),
    "b": ("labels + invariance (no adversarial part)", WITHOUT_GAN),
    "c": ("full recipe (the preset: BiGAN + invariance + (K+1) classes, and G's feature matching if it has it)",
          {}),
    "d": ("linear probe on the unsupervised preset's features", None),
    # (e) switches feature matching: off where the preset has it (fmnist-semisup), on where it has not
    "e": ("full recipe with G's feature matching switched (off where the preset has it, on where not)",
          lambda train: {"feature_matching": 0.0 if train.feature_matching else 1.0}),
    # FixMatch (Sohn et al. 2020): labels and the consistency term on confident pseudo-labels, no G or D;
    # then the full recipe with the same term
    "g": ("labels + FixMatch consistency (no G or D)", WITHOUT_GAN | {"invariance": "none", "consistency": 1.0}),
    "h": ("full recipe + FixMatch consistency", {"consistency": 1.0}),
    # (f) fine-tunes row (d)'s unsupervised run (bigan finetune); (i) moves the classifier onto D
    "f": ("fine-tune the unsupervised preset's E with a fresh head (bigan finetune)", None),
    "i": ("full recipe with the classifier on D (--classifier-on d)", {}),
}
MODEL_CHANGES = {"i": {"classifier_on": "d"}}  # rows that change the networks, not only the training


def row_config(base: Config, row: str, budget: int, split: int, steps: int | None, threads: int) -> Config:
    spec = ROWS[row][1]
    changes = spec(base.train) if callable(spec) else spec
    changes = changes | {"threads": threads} | ({"steps": steps} if steps else {})
    return base.updated({"data": {"labels_per_class": budget, "label_seed": split}, "train": changes,
                         "model": MODEL_CHANGES.get(row, {})})


def unsupervised_preset(name: str) -> str:
    """Row (d)'s preset: 'fmnist' for 'fmnist-semisup'; the semi-supervised preset itself (its labels
    dropped) where no unsupervised twin exists."""
    twin = name.removesuffix("-semisup")
    return twin if twin in PRESETS else name


def trained(cfg: Config, run: Path) -> Path:
    """Train ``cfg`` into ``run`` to its end, resuming a row an earlier invocation left unfinished."""
    train_to_end(cfg, run)
    return run


def classifier_accuracy(run: Path) -> float:
    loaded = load_encoder(run)
    return classifier_result(loaded, dataset_for(loaded, None, "test"))["test_accuracy"]


def probe_accuracy(unsup_run: Path, budget: int, split: int, cache: dict) -> float:
    """Row (d): the evaluation's label-budget probe (its draw is the run's labelled part) on frozen features."""
    if "features" not in cache:
        loaded = load_encoder(unsup_run)
        layer = resolve_layer(loaded.config, None)
        train_set, test_set = dataset_for(loaded, None, "train"), dataset_for(loaded, None, "test")
        cache["features"] = (loaded.encode(train_set.images, layer=layer), train_set.labels,
                             loaded.encode(test_set.images, layer=layer), test_set.labels)
    train_x, train_y, test_x, test_y = cache["features"]
    p = EvalProtocol()
    result = label_budget_probe(train_x, train_y, test_x, test_y, budgets=(budget,), seeds=(split,),
                                c_grid=p.c_grid, max_iter=p.max_iter)
    return round(100 * next(iter(result.values()))["mean"], 2)


def key(row: str, budget: int, split: int) -> str:
    """The results file's key of one row at one budget and split."""
    return f"{row}/{budget}/{split}"


def budgets_and_splits(results: dict) -> tuple[list[int], list[int]]:
    """The budgets and the splits the results' keys name, each sorted."""
    parts = [k.split("/") for k in results]
    return sorted({int(p[1]) for p in parts}), sorted({int(p[2]) for p in parts})


def table(results: dict) -> str:
    """Every row, budget and split the results hold, whichever invocation measured them."""
    budgets, splits = budgets_and_splits(results)
    lines = ["| row | " + " | ".join(f"{b} labels/class" for b in budgets) + " |",
             "|---" * (len(budgets) + 1) + "|"]
    for row, (name, _) in ROWS.items():
        cells = []
        for b in budgets:
            accs = [results[k]["test_accuracy"] for s in splits if (k := key(row, b, s)) in results]
            spread = f" ± {statistics.stdev(accs):.1f}" if len(accs) > 1 else ""
            cells.append(f"{statistics.mean(accs):.1f}{spread} (n={len(accs)})" if accs else "-")
        if any(cell != "-" for cell in cells):  # rows never run (a pilot, elsewhere) are left out
            lines.append(f"| ({row}) {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(results: dict, reference: str = "c") -> str:
    """(c) minus every other row, paired by split at each budget: the lead over a control with its paired
    spread, and whether each pair's two rows were trained at one commit (a paired claim needs that)."""
    lines = [f"| ({reference}) minus | budget | per split | paired mean ± std | one commit |", "|---" * 5 + "|"]
    budgets, splits = budgets_and_splits(results)
    for budget in budgets:
        for row in ROWS:
            pairs = {s: (results[key(reference, budget, s)], results[key(row, budget, s)]) for s in splits
                     if row != reference and {key(reference, budget, s), key(row, budget, s)} <= results.keys()}
            if not pairs:
                continue
            diffs = {s: ours["test_accuracy"] - theirs["test_accuracy"] for s, (ours, theirs) in pairs.items()}
            spread = f" ± {statistics.stdev(diffs.values()):.1f}" if len(diffs) > 1 else " (one split)"
            one = all(same_clean_commit(ours, theirs) for ours, theirs in pairs.values())
            lines.append(f"| ({row}) | {budget} | " + ", ".join(f"split {s}: {d:+.1f}" for s, d in diffs.items())
                         + f" | {statistics.mean(diffs.values()):+.1f}{spread} | {'yes' if one else 'no'} |")
    return "\n".join(lines)


def markdown(preset_name: str, results: dict) -> str:
    """OUT/semisup.md: the table of every row, then (c)'s paired differences."""
    return (f"# Semi-supervised benchmark: preset {preset_name}, test accuracy (%), mean ± std over label splits\n\n"
            + table(results) + "\n\n(c) paired with every other row, by split:\n\n" + paired(results) + "\n")


def unsupervised_config(args) -> Config:
    """Row (d)'s config: the unsupervised preset, without labels, at this invocation's steps and threads."""
    return Config().updated(preset(args.unsupervised or unsupervised_preset(args.preset))).updated(
        {"data": {"labels_per_class": None}, "train": {"threads": args.threads}
         | ({"steps": args.steps} if args.steps else {})})


def measure(row: str, budget: int, split: int, base: Config, args, cache: dict) -> tuple[float, Config]:
    """One row's test accuracy at one budget and split, and the config of the run it comes from."""
    if row in ("d", "f"):
        unsup, unsup_run = unsupervised_config(args), args.out / "runs" / "unsupervised"
        if "trained" not in cache:
            cache["trained"] = trained(unsup, unsup_run)  # once; a finished run resumes to its end at once
        if row == "d":
            return probe_accuracy(unsup_run, budget, split, cache), unsup
        cfg = finetune_config(unsup_run, budget, split, args.finetune_steps, args.threads)
        return classifier_accuracy(trained(cfg, args.out / "runs" / f"f-{budget}-{split}")), cfg
    cfg = row_config(base, row, budget, split, args.steps, args.threads)
    return classifier_accuracy(trained(cfg, args.out / "runs" / f"{row}-{budget}-{split}")), cfg


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="fmnist-semisup")
    p.add_argument("--unsupervised", default=None, help="the preset of row (d) (default: --preset's name without "
                   "'-semisup' where that preset exists, e.g. fmnist; else --preset without labels)")
    p.add_argument("--budgets", default="10,100")
    p.add_argument("--splits", default="0,1,2")
    p.add_argument("--rows", default="a,b,c,d")
    p.add_argument("--steps", type=int, default=None, help="steps per row (default: the preset's)")
    p.add_argument("--finetune-steps", type=int, default=FINETUNE_STEPS, help="row (f)'s fine-tuning steps")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/semisup"))
    args = parse_args(p)
    budgets, splits = [int(b) for b in args.budgets.split(",")], [int(s) for s in args.splits.split(",")]
    base = Config().updated(preset(args.preset))
    args.out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(args.out / "semisup.json", rows_key="results")
    results.document |= {"preset": args.preset, "steps": args.steps or base.train.steps}
    cache: dict = {}
    for budget in budgets:
        for split in splits:
            for row in args.rows.split(","):
                name = key(row, budget, split)
                if name in results:
                    continue
                start = time.perf_counter()
                accuracy, cfg = measure(row, budget, split, base, args, cache)
                kept = results.add(name, {"test_accuracy": accuracy}, cfg, start)
                print(f"{name}: {accuracy:.2f}% ({kept['seconds']} s)", flush=True)
    publish(args.out / "semisup.md", markdown(args.preset, results.rows))


if __name__ == "__main__":
    main()
