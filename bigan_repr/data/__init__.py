"""data/: where images come from. Named datasets and ``folder:`` / ``npz:`` files, decoded into uint8
(N, C, H, W) with labels and ids, whole (:class:`image_set.ImageSet`) or a block of rows at a time
(:mod:`rows`), and served to training as batches (:mod:`batches`).

May import: ``errors``, ``eval`` (the one label rule and label-budget draw), ``config`` (the readers
take a ``DataConfig``) and ``runs.untrusted`` (``label_split`` reads a run's ``labelled.json`` through
it; it imports only ``errors``). ``catalog`` imports nothing: ``config`` reads its source names there.
"""
