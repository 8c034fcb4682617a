"""The terms a config builds, and a step that sums whatever terms it is given."""

import pytest
import torch

from bigan_repr.config import Config
from bigan_repr.terms.registry import TERMS
from bigan_repr.terms.term import Batch, Pass, Term
from bigan_repr.train.assembly import assemble
from bigan_repr.train.step import train_step


def _run(data=None, **train):
    return assemble(Config().updated({"model": {"hidden": 32, "z_dim": 4}, "data": data or {},
                                      "train": {"batch_size": 32, "threads": 1} | train}))


@pytest.mark.parametrize(("data", "train", "names"), [
    ({}, {}, ["adversarial", "x_cycle", "invariance"]),
    ({}, {"invariance": "none", "recon_weight": 0.0}, ["adversarial"]),
    ({}, {"latent_recon_weight": 0.5, "feature_matching": 1.0},
     ["adversarial", "x_cycle", "z_cycle", "feature_matching", "invariance"]),
    ({}, {"adversarial": False}, ["invariance"]),
    ({"labels_per_class": 3}, {}, ["adversarial", "x_cycle", "real_or_generated", "invariance", "labelled"]),
    ({"labels_per_class": 3}, {"adversarial": False, "invariance": "none"}, ["labelled"]),
    ({"labels_per_class": 3}, {"adversarial": False, "invariance": "none", "consistency": 1.0, "augment": "strong"},
     ["labelled", "consistency"]),  # FixMatch: the non-GAN control
])
def test_the_config_decides_the_terms_in_registry_order(data, train, names):
    terms = _run(data, **train).ctx.terms
    assert [t.name for t in terms] == names
    assert len({t.log for t in TERMS.values()}) == len(TERMS)  # each logs under a name of its own


def test_consistency_needs_labels_and_a_strong_view():
    from bigan_repr.config import ConfigError

    with pytest.raises(ConfigError, match="needs data.labels_per_class"):
        Config().updated({"train": {"consistency": 1.0}})
    with pytest.raises(ConfigError, match="needs a strong view"):
        Config().updated({"data": {"labels_per_class": 3}, "train": {"consistency": 1.0, "augment": "none",
                                                                       "invariance": "none"}})


def test_the_weights_come_from_the_config():
    weights = {t.name: t.weight for t in _run(recon_weight=0.3, invariance_weight=2.0).ctx.terms}
    assert weights == {"adversarial": 1.0, "x_cycle": 0.3, "invariance": 2.0}


class _CodeNorm(Term):
    """A made-up term: the mean squared code E(x), read off the shared pass."""

    name, log, weight = "code_norm", "code_norm", 10.0

    def forward(self, p: Pass) -> dict[str, torch.Tensor]:
        return {"z": p.z_real}

    def loss(self, out, batch: Batch) -> torch.Tensor:
        return out["z"].pow(2).sum(1).mean()


def test_a_new_term_is_summed_and_logged_by_the_step_unchanged():
    # a term the step has never heard of: given to it, it is computed, weighted, logged and trained
    run, probe = _run(invariance="none", recon_weight=0.0), _run(invariance="none", recon_weight=0.0)
    run.ctx.terms.append(_CodeNorm())
    x = run.stream.next()
    probe.stream.next()
    with_term, without = train_step(run.ctx, [x]), train_step(probe.ctx, [x])
    assert set(with_term) - set(without) == {"code_norm"}
    assert with_term["d_loss"] == without["d_loss"]  # the same D update: the term only changes G/E's loss
    with torch.no_grad():  # weighted by 10, it shrinks E's codes well beyond what the game alone does
        codes, codes_without = run.model.encoder(x), probe.model.encoder(x)
    assert codes.pow(2).sum(1).mean() < codes_without.pow(2).sum(1).mean()


def test_without_gan_switches_off_every_term_that_needs_g_or_d():
    # every such term on (a mixed prior for the cluster code, labels for the (K+1)-th class), then the controls'
    # and the fine-tune's switch: E trains alone, with the invariance and label terms only
    from bigan_repr.config import WITHOUT_GAN

    every = {"recon_weight": 0.3, "latent_recon_weight": 0.5, "feature_matching": 1.0, "d_augment": "light",
             "generative_positives": 0.5, "fake_negatives": True, "invariance": "infonce"}
    cfg = Config().updated({"model": {"hidden": 32, "z_dim": 14, "prior": "mixed:4"},
                            "data": {"labels_per_class": 3}, "train": {"batch_size": 32, "threads": 1} | every})
    run = assemble(cfg)
    assert {t.name for t in run.ctx.terms} == {"adversarial", "x_cycle", "z_cycle", "cluster_code",
                                              "real_or_generated", "feature_matching", "invariance", "labelled"}
    alone = assemble(cfg.updated({"train": WITHOUT_GAN}))
    assert [t.name for t in alone.ctx.terms] == ["invariance", "labelled"]
    assert not alone.ctx.adversarial and alone.ctx.d_augment is None
