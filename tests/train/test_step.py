"""step.py on a tiny model: what each update changes, and in which direction."""

import copy

import pytest
import torch

from bigan_repr.config import Config
from bigan_repr.nets.bigan import sample_prior
from bigan_repr.terms.term import Batch
from bigan_repr.train.assembly import assemble
from bigan_repr.train.step import discriminator_update, generator_encoder_update, train_step


def _run(**train):
    return assemble(Config().updated({"model": {"hidden": 32, "z_dim": 4},
                                      "train": {"batch_size": 32, "threads": 1} | train}))


def _batch(run):
    """A fixed batch: x, E(x), G(z) and z, the last three without gradients."""
    x = run.stream.next()
    z = sample_prior(len(x), run.cfg.model.z_dim, run.cfg.model.prior, "cpu", run.rng)
    with torch.no_grad():
        return x, run.model.encoder(x), run.model.generator(z), z


def _weights(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(module, before) -> list[str]:
    return [name for name, p in module.named_parameters() if not torch.equal(p, before[name])]


@pytest.mark.parametrize("objective", ["gan", "kl", "wgan-gp"])
def test_d_updates_raise_ds_bound_on_a_fixed_batch(objective):
    # lr 1e-3: ten updates raise the bound by 0.09-0.12 (gan), 0.21-0.23 (kl) and 0.8-1.6 (wgan-gp)
    # over seeds 0-4, the same on the default CPU kernels
    run = _run(objective=objective, lr=1e-3)
    x, z_real, x_fake, z = _batch(run)
    D = run.model.discriminator

    def bound() -> float:
        with torch.no_grad():
            return run.objective.bound(D(x, z_real), D(x_fake, z)).item()

    before = bound()
    for _ in range(10):
        discriminator_update(run.ctx, x, z_real, x_fake, z)
    assert bound() > before + 0.05


def test_weight_clipping_holds_ds_parameters_in_the_clip_range():
    run = _run(objective="wgan-clip", lr=0.5)  # one step would carry weights far beyond the clip
    c = run.objective.weight_clip
    D = run.model.discriminator
    assert max(p.abs().max().item() for p in D.parameters()) > c  # initialized outside it
    discriminator_update(run.ctx, *_batch(run))
    assert all(p.abs().max().item() <= c for p in D.parameters())
    assert any((p.abs() == c).any() for p in D.parameters())  # clipped, not merely small
    assert max(p.abs().max().item() for p in run.model.encoder.parameters()) > c  # D alone is clipped


def _outputs(run, x, z):
    """The batch and every term's outputs with gradients, as train_step computes them."""
    batch = Batch(x, z)
    for term in run.ctx.terms:
        term.prepare(batch)
    return batch, run.ctx.gen_enc(batch)


def test_the_g_e_update_changes_g_and_e_but_not_d():
    run = _run()
    x, _, _, z = _batch(run)
    batch, outputs = _outputs(run, x, z)
    before = {name: _weights(getattr(run.model, name)) for name in ("generator", "encoder", "discriminator")}
    stats = generator_encoder_update(run.ctx, batch, outputs)
    assert _changed(run.model.generator, before["generator"]) and _changed(run.model.encoder, before["encoder"])
    assert _changed(run.model.discriminator, before["discriminator"]) == []
    assert torch.isfinite(stats["g_loss"])
    assert all(p.requires_grad for p in run.model.discriminator.parameters())  # D trainable again


def test_without_the_adversarial_game_only_e_and_the_projector_change():
    run = _run(adversarial=False, invariance="vicreg")
    nets = ("generator", "encoder", "discriminator", "projector")
    before = {name: _weights(getattr(run.model, name)) for name in nets}
    stats = train_step(run.ctx, [run.stream.next()])
    changed = {name for name in nets if _changed(getattr(run.model, name), before[name])}
    assert changed == {"encoder", "projector"}
    assert set(stats) == {"invariance"}  # no D update, no adversarial loss


def test_feature_matching_moves_g_alone_and_leaves_es_statistics():
    run = _run(feature_matching=1.0, invariance="none")  # E sees x and G(z) alone
    x, _, _, z = _batch(run)
    E = run.model.encoder
    before = copy.deepcopy(E)
    batch, outputs = _outputs(run, x, z)
    gap, x_fake = outputs["feature_matching"]["gap"], outputs["adversarial"]["x_fake"]
    with torch.no_grad():  # the squared gap between the batches' mean penultimate features, each batch-normed alone
        expected = (copy.deepcopy(before).features(x).mean(0) - copy.deepcopy(before).features(x_fake).mean(0))
        before.features(x)  # what E's statistics become from x alone
    torch.testing.assert_close(gap, expected.pow(2).sum())
    for (name, got), (_, want) in zip(E.named_buffers(), before.named_buffers(), strict=True):
        assert torch.equal(got, want), name  # G(z) left batch norm's running statistics as they were
    E_params, G_params = list(E.parameters()), list(run.model.generator.parameters())
    grads = torch.autograd.grad(gap, E_params + G_params, allow_unused=True, retain_graph=True)
    assert all(g is None or not g.any() for g in grads[: len(E_params)])  # E is held fixed for the term
    assert any(g is not None and g.abs().sum() > 0 for g in grads[len(E_params):])
    stats = generator_encoder_update(run.ctx, batch, outputs)
    assert torch.equal(stats["feature_gap"], gap.detach())


def test_feature_matching_is_off_unless_weighted():
    run = _run()
    x, _, _, z = _batch(run)
    assert "feature_matching" not in _outputs(run, x, z)[1]


@pytest.mark.parametrize(("recon", "latent"), [(0.05, 0.0), (0.0, 0.5), (0.05, 0.5), (0.0, 0.0)])
def test_each_cycle_is_computed_only_when_weighted(recon, latent):
    run = _run(recon_weight=recon, latent_recon_weight=latent, invariance="none")
    x, _, _, z = _batch(run)
    E = run.model.encoder
    before = copy.deepcopy(E)
    _, out = _outputs(run, x, z)
    assert ("x_cycle" in out, "z_cycle" in out) == (recon > 0, latent > 0)
    with torch.no_grad():  # E's batch-norm statistics: from x, and from G(z) only for the latent cycle
        before(x)
        if latent:
            before(out["adversarial"]["x_fake"])
    for (name, got), (_, want) in zip(E.named_buffers(), before.named_buffers(), strict=True):
        assert torch.equal(got, want), name
    stats = train_step(run.ctx, [x])  # the step trains with either cycle absent, and logs each one present
    assert torch.isfinite(stats["g_loss"])
    assert ("x_cycle" in stats, "z_cycle" in stats) == (recon > 0, latent > 0)
