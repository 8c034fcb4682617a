"""train/: a training run. Building it from a config (:mod:`assembly`, :mod:`networks`), one step
(:mod:`step`), the loop that locks the run directory, logs and checkpoints (:mod:`trainer`), the
checkpoint file and what it holds (:mod:`checkpoint`, :mod:`state`), processes and devices
(:mod:`distributed`, :mod:`runtime`), the learning-rate schedule (:mod:`schedule`), the encoder
average (:mod:`ema`), the diagnostics and grids (:mod:`monitor`) and the validation probe that chooses
checkpoints (:mod:`validation_probe`).

May import: ``config``, ``errors``, ``data/``, ``nets/``, ``losses/``, ``runs/`` and ``eval/``.
Never ``features/`` or ``report/``.
"""
