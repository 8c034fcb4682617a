"""nets/: the networks. G, E and the joint D built from a model config (:mod:`bigan`), the
architecture registry they are built from (:mod:`architectures`), the invariance projector
(:mod:`invariance_head`), and running a network over images in batches (:mod:`encoding`).

May import: ``config``, ``errors``, ``data/`` and ``losses/``. Never ``train/`` or anything above it.
"""
