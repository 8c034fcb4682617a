"""model/: a trained model on disk and where it runs. G, E and D built from a run's config (:mod:`networks`),
the checkpoint files of a run read back and the model rebuilt from one (:mod:`checkpoint`), which config
values are the model's recipe and which are bookkeeping (:mod:`recipe`), and where computation runs:
device, precision and thread pools (:mod:`runtime`) and the processes torchrun starts (:mod:`processes`).

May import: ``config``, ``errors``, ``nets/`` and ``losses/``. Never ``train/``, ``features/`` or
``report/``: training, encoding and reporting all import it.
"""
