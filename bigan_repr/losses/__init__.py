"""losses/: what is minimized. The adversarial objectives (f-GAN family, Wasserstein, hinge) as pure
functions of D's scores in one registry (:mod:`objectives`), the invariance losses between two
views (:mod:`invariance`), the augmentation policies that make those views and DiffAugment's
(:mod:`augment`), and the check that each objective estimates its divergence (:mod:`divergence_check`).

May import: ``errors`` and torch. No networks, no config, no files.
"""
