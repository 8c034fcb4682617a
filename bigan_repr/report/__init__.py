"""report/: the evaluation of a trained run beside its baselines and the files that show it
(:mod:`run_report`, :mod:`pictures`, :mod:`outputs`), whether G and E do their job (coupling and
generation numbers, :mod:`generative_check`), and several runs compared (:mod:`compare_runs`) from
their checked report files (:mod:`report_file`).

May import: everything in the package but ``train/``, and ``eval/``: a trained run is read through
``features/`` and ``model/``. Nothing imports it but the CLI, which runs the main job train → report
(`bigan pipeline`).
"""
