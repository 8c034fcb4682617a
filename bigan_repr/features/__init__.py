"""features/: a trained encoder put to use. Loading it from a run (:mod:`encoder`), the feature-file
formats (:mod:`files`), encoding datasets into them at any size and under torchrun
(:mod:`encode_job`), exporting the encoder to other programs (:mod:`export`) and retrieval of
nearest training images (:mod:`retrieval`).

May import: everything below it (``config``, ``errors``, ``data/``, ``nets/``, ``losses/``, ``runs/``,
``model/``) and ``eval/``. Never ``train/``: a trained model is read through ``model/``. Never ``report/``.
"""
