"""data/: where images come from. Named datasets and ``folder:`` / ``npz:`` files (:mod:`sources`, the one
place that says how a configured source is read; :mod:`folder`, :mod:`npz_source`), decoded into uint8
(N, C, H, W) with labels and ids, whole (:class:`image_set.ImageSet`) or a block of rows at a time
(:mod:`rows`), and served to training as batches (:mod:`batches`). Which files are images and how one is
decoded (:mod:`image_files`), the bounds every decoded image is held to: pixels declared in a header, and
float pixels finite (:mod:`pixel_bounds`); ``.npz`` archives read without trusting their headers
(:mod:`npz_archive`); a semi-supervised run's labelled images (:mod:`label_split`); the names ``--data``
accepts (:mod:`catalog`).

May import: ``errors``, ``eval`` (the one label rule and label-budget draw), ``config`` (the readers
take a ``DataConfig``) and ``runs.untrusted`` (``label_split`` reads a run's ``labelled.json`` through
it; it imports only ``errors``). ``catalog`` imports nothing: ``config`` reads its source names there.
"""
