"""runs/: the files a run writes and how they are written and read back. Atomic writes (:mod:`atomic`)
and their leftovers (:mod:`leftovers`), the one bounded reader of JSON/YAML files from elsewhere
(:mod:`untrusted`), the run directory with its lock, config and metrics (:mod:`run_dir`), its
metrics.jsonl read back a row at a time (:mod:`metrics_log`), learning curves (:mod:`curves`), the
TensorBoard mirror (:mod:`tensorboard`), progress lines (:mod:`progress`), what may be written where
(:mod:`targets`) and the test suite's fault-injection points (:mod:`fault_injection`).

May import: ``errors``, numpy, matplotlib, PIL and PyYAML. No networks and no training. ``untrusted``
imports only ``errors``, so ``config`` reads its files through it.
"""
