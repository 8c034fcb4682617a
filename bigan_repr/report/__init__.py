"""report/: the evaluation of a trained run beside its baselines and the files that show it
(:mod:`run_report`, :mod:`pictures`, :mod:`outputs`), whether G and E do their job (coupling and
generation numbers, :mod:`generative_check`), the main job train → report (:mod:`pipeline`), and
several runs compared (:mod:`compare_runs`) from their checked report files (:mod:`report_file`).

The top of the package: may import everything in it and ``eval/``; nothing imports it but the CLI.
"""
