"""Which of a run's config values make the trained model (its recipe) and which only say how long and how
the run was carried out.

A resumed run may change the second kind and nothing else (``train/state.py``), and a comparison of runs
leaves it out of the recipes it lists (``report/compare_runs.py``).
"""

# a run's length and its bookkeeping (what it logs, which checkpoints it keeps, where and how it computes):
# not what it learns
BOOKKEEPING = {
    "train": {"epochs", "steps", "log_every", "checkpoint_every", "sample_every", "keep", "threads",
              "device", "eval_every", "select", "compile", "precision", "sync_bn", "tensorboard"},
}
