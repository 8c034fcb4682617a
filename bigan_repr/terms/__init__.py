"""terms/: the losses G and E train with, each one object (lightly's and solo-learn's pattern).

A term declares what it needs (prior draws, views, a labelled batch), computes its outputs with
gradients inside the one forward call of G and E (``term.Pass``), and turns them into its loss
after D's update; the step sums the terms it was given, each times its weight, and logs each
under the term's own name. ``registry.TERMS`` lists them: a new term is its own file plus one
line there.

May import: ``config``, ``errors``, ``losses/`` and ``nets/``. Imported by ``train/``.
"""
