"""train/: a training run. Building it from a config (:mod:`assembly`), one step (:mod:`step`), the loop
that locks the run directory, logs and checkpoints (:mod:`trainer`), writing checkpoints and what they
hold (:mod:`checkpointing`, :mod:`state`), training across processes (:mod:`distributed`), the
learning-rate schedule (:mod:`schedule`), the encoder average (:mod:`ema`), the diagnostics and grids
(:mod:`monitor`) and the validation probe that chooses checkpoints (:mod:`validation_probe`). The
networks, reading checkpoints back, devices and processes are ``model/``'s.

May import: ``config``, ``errors``, ``data/``, ``nets/``, ``losses/``, ``runs/``, ``model/`` and ``eval/``.
Never ``features/`` or ``report/``.
"""
