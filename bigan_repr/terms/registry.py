"""The training terms, in the order a step computes them, and the one function that builds a run's.

The order is the order of each step's draws (views before the labelled batch) and of E's
batch-norm updates within the forward call, so it is part of what makes a run reproducible.
"""

from __future__ import annotations

from .adversarial import Adversarial
from .classes import Labelled, RealOrGenerated
from .cluster_code import ClusterCode
from .consistency import Consistency
from .cycles import XCycle, ZCycle
from .feature_matching import FeatureMatching
from .term import Setup, Term
from .views import Invariance

TERMS: dict[str, type[Term]] = {
    "adversarial": Adversarial,
    "x_cycle": XCycle,
    "z_cycle": ZCycle,
    "cluster_code": ClusterCode,
    "real_or_generated": RealOrGenerated,
    "feature_matching": FeatureMatching,
    "invariance": Invariance,
    "labelled": Labelled,
    "consistency": Consistency,
}
assert all(name == term.name for name, term in TERMS.items())


def terms_for(setup: Setup) -> list[Term]:
    """The terms ``setup.cfg`` trains with, in registry order."""
    return [term for cls in TERMS.values() if (term := cls.build(setup)) is not None]
