"""runs/: the files a run writes and how they are written. Atomic writes (:mod:`atomic`), the run
directory with its lock, config and metrics (:mod:`run_dir`), learning curves (:mod:`curves`), the
TensorBoard mirror (:mod:`tensorboard`), progress lines (:mod:`progress`) and the test suite's
fault-injection points (:mod:`fault_injection`).

May import: ``errors``, numpy, matplotlib and PIL. No networks and no training.
"""
