"""--precision auto: bf16 only where the device has bf16 units; a bf16 step's losses near fp32's."""

import pytest
import torch

from bigan_repr.config import Config
from bigan_repr.model import runtime
from bigan_repr.model.runtime import resolve_precision
from bigan_repr.train.assembly import assemble
from bigan_repr.train.step import train_step


@pytest.mark.parametrize(("avx512_bf16", "amx", "chosen"), [(False, False, "fp32"), (True, False, "bf16"),
                                                            (False, True, "bf16")])
def test_auto_picks_bf16_on_a_cpu_only_with_bf16_units(monkeypatch, avx512_bf16, amx, chosen):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert resolve_precision(torch.device("cpu"), "auto") == chosen
    assert resolve_precision(torch.device("cpu"), "fp32") == "fp32"  # an explicit choice stands
    assert resolve_precision(torch.device("cpu"), "bf16") == "bf16"
    assert resolve_precision(torch.device("cuda"), "auto") == "bf16"
    assert resolve_precision(torch.device("mps"), "auto") == "fp32"


def test_the_runs_config_records_what_auto_chose(monkeypatch):
    monkeypatch.setattr(runtime, "native_bf16", lambda device: False)
    run = assemble(Config().updated({"model": {"hidden": 32, "z_dim": 4}, "train": {"batch_size": 16, "threads": 1}}))
    assert run.cfg.train.precision == "fp32"


def test_a_bf16_step_gives_fp32s_losses_within_bf16s_rounding():
    # bf16 keeps 8 bits of mantissa (relative rounding 2^-8 = 0.4% per value); the losses of one step from the
    # same weights and batch, averaged over the batch, agree far closer (measured: at most 0.06% over seeds 0-2)
    losses = {}
    for precision in ("fp32", "bf16"):
        run = assemble(Config().updated({"model": {"hidden": 32, "z_dim": 4},
                                         "train": {"batch_size": 32, "threads": 1, "precision": precision}}))
        losses[precision] = train_step(run.ctx, [run.stream.next()])
    for name in ("d_loss", "g_loss", "x_cycle", "invariance"):
        fp32, bf16 = losses["fp32"][name].item(), losses["bf16"][name].item()
        assert abs(bf16 - fp32) <= 0.01 * abs(fp32), (name, fp32, bf16)
