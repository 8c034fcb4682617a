"""Is a BiGAN's G the inverse of its E? Coupling and inversion in numbers, from arrays.

Owns the metrics of report.json's "coupling" object and the one line that reads them:
- ``recon_ratio``: mean ||x - G(E(x))|| / mean ||x - G(E(x'))||, x' a shuffled partner of x: 0 when
  G inverts E exactly, about 1 when G ignores E's code (any reconstruction is as far as a stranger's);
- ``latent_ratio``: the same in code space, ||z - E(G(z))|| / ||z - E(G(z'))|| on prior draws;
- ``d_accuracy``: the share of all (real, fake) pairs, real = (x, E(x)) and fake = (G(z), z), that D
  scores real above fake (ties count half; the area under D's ROC curve). It needs no threshold, so it
  means the same under every objective: 0.5 when D cannot tell the joints apart, 1 when D wins;
- ``code_scale``: the standard deviation of E's codes over the prior's (1: E covers the prior);
- ``class_kept``: how often a fixed classifier gives G(E(x)) the label of x, beside the same classifier
  on x itself (the ceiling) and on shuffled reconstructions G(E(x')) (the floor), in percent.

The model-side passes that produce these arrays live in ``bigan_repr/report/generative_check.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from .validation import EvalInputError

# G and E count as coupled when the reconstruction error is at most this share of a shuffled
# pairing's. The runs the README calls coupled measured 0.43-0.82 (WGAN-GP and clipping MLPs, the
# fmnist preset, the layer-norm recipe at 1,000 steps); those it calls uncoupled 0.87-1.02
# (batch-norm D, the digits default, most f-divergence MLPs). 0.85 lies between the two groups.
COUPLED_RATIO = 0.85
D_WINS = 0.95  # d_accuracy from which D is said to win
CODE_DRIFT = 2.0  # code_scale above this, or below its inverse, is said to drift


def shuffled_partners(n: int, seed: int = 0) -> np.ndarray:
    """Indices p with p[i] != i for every i (n >= 2): a cyclic shift along a seeded random order, so a
    partner is a random other row whatever order the rows come in (a class-sorted split included)."""
    if n < 2:
        raise EvalInputError(f"a shuffled partner needs at least 2 rows, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    return partner


def _rows(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2 or len(a) < 2 or not np.isfinite(a).all():
        raise EvalInputError(f"{name}: expected at least 2 finite rows, got shape {a.shape}")
    return a.reshape(len(a), -1)


def distance_ratio(a, a_rec, partner: np.ndarray) -> float:
    """mean ||a_i - a_rec_i|| / mean ||a_i - a_rec_partner[i]||: 0 for an exact inverse, about 1 for none."""
    a, a_rec = _rows(a, "originals"), _rows(a_rec, "reconstructions")
    if a.shape != a_rec.shape:
        raise EvalInputError(f"originals {a.shape} and reconstructions {a_rec.shape} differ in shape")
    own = np.linalg.norm(a - a_rec, axis=1).mean()
    shuffled = np.linalg.norm(a - a_rec[partner], axis=1).mean()
    return float(own / shuffled) if shuffled > 0 else 1.0  # every reconstruction the same: no coupling


def ranking_accuracy(real_scores, fake_scores) -> float:
    """The share of (real, fake) pairs with real > fake over all pairs, ties counting half (the AUC)."""
    real, fake = np.asarray(real_scores, dtype=np.float64).ravel(), np.asarray(fake_scores, dtype=np.float64).ravel()
    if real.size == 0 or fake.size == 0 or not (np.isfinite(real).all() and np.isfinite(fake).all()):
        raise EvalInputError("D's scores must be non-empty and finite on both joints")
    ranks = rankdata(np.concatenate([real, fake]))[: real.size]  # average ranks: ties count half
    return float((ranks.sum() - real.size * (real.size + 1) / 2) / (real.size * fake.size))


def code_scale(codes, prior_std: float) -> float:
    """The standard deviation of E's codes (over all entries, as the training log's z_std) / the prior's."""
    return float(np.asarray(codes, dtype=np.float64).std(ddof=1) / prior_std)


def class_kept(labels, on_x, on_rec, on_shuffled) -> dict[str, float]:
    """Percent of images whose label the fixed classifier gives: to G(E(x)) (``class_kept``), to x itself
    (the ceiling) and to the shuffled reconstruction G(E(x')) (the floor)."""
    labels = np.asarray(labels)
    percent = lambda predicted: round(100 * float(np.mean(np.asarray(predicted) == labels)), 2)  # noqa: E731
    return {"class_kept": percent(on_rec), "class_kept_ceiling": percent(on_x),
            "class_kept_floor": percent(on_shuffled)}


def coupling_verdict(c: dict) -> tuple[bool, str]:
    """Whether G and E coupled (``recon_ratio`` <= COUPLED_RATIO) and one line saying so; when they did
    not, what the other numbers point to."""
    ratio = c["recon_ratio"]
    kept = (f"reconstructions keep the class {c['class_kept']:.0f}% of the time (x itself "
            f"{c['class_kept_ceiling']:.0f}%, shuffled {c['class_kept_floor']:.0f}%)")
    if ratio <= COUPLED_RATIO:
        return True, f"G and E coupled: reconstruction error {ratio:.2f} of a shuffled pairing's (<= " \
                     f"{COUPLED_RATIO}); {kept}."
    causes = []
    if c["d_accuracy"] >= D_WINS:
        causes.append(f"D wins (it ranks {100 * c['d_accuracy']:.1f}% of real/fake pairs correctly)")
    if not 1 / CODE_DRIFT <= c["code_scale"] <= CODE_DRIFT:
        causes.append(f"codes drift off the prior's scale (E's codes have {c['code_scale']:.3g}x its spread)")
    if not causes:
        causes.append(f"neither D winning ({100 * c['d_accuracy']:.1f}%) nor drifting codes "
                      f"({c['code_scale']:.2f}x the prior's spread): G does not use E's code (yet)")
    return False, (f"G and E did not couple: reconstruction error {ratio:.2f} of a shuffled pairing's "
                   f"(> {COUPLED_RATIO}); {'; '.join(causes)}; {kept}.")
