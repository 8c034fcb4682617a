"""Training throughput: this project's step vs a plain DataLoader loop, same models, same run.

    python benchmarks/train_throughput.py --arch mlp --steps 100 --threads 2
    python benchmarks/train_throughput.py --arch conv --image-size 32 --steps 30
    python benchmarks/train_throughput.py --arch conv --batch-size 256 --steps 20 --recipes

With --recipes the same networks are also timed with each augmentation, invariance and cycle option
on, so the table shows what each costs beside the plain step (the plain loop's work: the BiGAN game
alone, without the default's invariance and x-cycle terms), measured in the same run.

"Ours" is the trainer's path: the dataset as one uint8 tensor on the device, batches as index
slices, fused Adam, E(x)/G(z) computed once per step, no host sync inside the step. The plain
loop is how public BiGAN ports are written: a torchvision-style dataset converting each sample
to float, a DataLoader, per-phase forward passes, foreach Adam, ``.item()`` every step.

On CPU it also prints the arithmetic of one step (torch's FLOP count) and the share of the machine's GEMM
rate, timed in the same run, that each path's training reaches: how far a step made of matmuls and
convolutions is from the bound it could approach.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from bigan_repr.config import ARCHS, Config
from bigan_repr.model.runtime import resolve_precision, set_threads
from bigan_repr.nets.bigan import sample_prior
from bigan_repr.train.step import train_step
from bigan_repr.train.trainer import Trainer


class PerSampleImages(Dataset):
    """uint8 images converted one sample at a time, as ToTensor + Normalize would."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]).float().div(127.5).sub(1.0)


def plain_loop(trainer: Trainer, images: np.ndarray, steps: int, batch_size: int) -> float:
    """Images/s of a conventional loop over the same networks."""
    m = trainer.parts.model
    opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_ge = torch.optim.Adam([*m.generator.parameters(), *m.encoder.parameters()], lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(PerSampleImages(images), batch_size=batch_size, shuffle=True, drop_last=True)
    bce = F.binary_cross_entropy_with_logits
    cfg = m.cfg
    done, start = 0, None
    while done < steps + 5:
        for x in loader:
            if done == 5:
                start = time.perf_counter()  # after warm-up
            z = sample_prior(len(x), cfg.z_dim, cfg.prior, "cpu", None)
            d_real, d_fake = m.discriminator(x, m.encoder(x).detach()), m.discriminator(m.generator(z).detach(), z)
            d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            d_real, d_fake = m.discriminator(x, m.encoder(x)), m.discriminator(m.generator(z), z)
            g_loss = bce(d_fake, torch.ones_like(d_fake)) + bce(d_real, torch.zeros_like(d_real))
            opt_ge.zero_grad()
            g_loss.backward()
            opt_ge.step()
            d_loss.item(), g_loss.item()
            done += 1
            if done == steps + 5:
                break
    return steps * batch_size / (time.perf_counter() - start)


def ours(trainer: Trainer, steps: int) -> float:
    ctx, stream = trainer.parts.ctx, trainer.parts.stream
    for _ in range(5):
        stats = train_step(ctx, [stream.next()])
    float(next(iter(stats.values())))  # warm-up work finished (a device sync)
    start = time.perf_counter()
    for _ in range(steps):
        stats = train_step(ctx, [stream.next()])
    float(next(iter(stats.values())))  # one sync at the end, as the trainer does at log steps
    return steps * trainer.cfg.train.batch_size / (time.perf_counter() - start)


def step_flops(trainer: Trainer) -> int:
    """The arithmetic of one step of ours, counted by torch: every matmul and convolution, forward and
    backward, at 2 FLOPs a multiply-add (the step runs once more to be counted, outside the timings)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        train_step(trainer.parts.ctx, [trainer.parts.stream.next()])
    return counter.get_total_flops()


def gemm_rate(dtype: torch.dtype, n: int = 1024, reps: int = 20) -> float:
    """The machine's GEMM rate in FLOP/s at this many threads: an n x n matmul, the best of 5 timings of
    ``reps`` each (the bound a step made of matmuls can approach)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 * reps / best


def bound_lines(flops_per_image: float, rates: dict[str, float], precision: str) -> list[str]:
    """What share of the GEMM bound at the step's precision each path's training reaches, counting the
    arithmetic of our step for both (the plain loop does more to train as far: it runs E and G twice)."""
    bound = gemm_rate(torch.bfloat16 if precision == "bf16" else torch.float32)
    return [f"arithmetic: {flops_per_image / 1e6:.1f} MFLOP per image (torch's count of one step of ours)",
            f"{precision} GEMM bound (1024 x 1024 matmul, this run): {bound / 1e9:.1f} GFLOP/s",
            *(f"{path}: {flops_per_image * ips / 1e9:.1f} GFLOP/s = {100 * flops_per_image * ips / bound:.0f}% of "
              f"the bound" for path, ips in rates.items())]


# what --recipes times, each on top of the plain BiGAN step
X_CYCLE = Config().train.recon_weight  # the default's x-cycle weight
RECIPES = {
    f"the default (vicreg, shift views, x-cycle {X_CYCLE})": {"invariance": "vicreg", "augment": "shift",
                                                             "recon_weight": X_CYCLE},
    "D augmentation (light)": {"d_augment": "light"},
    "D augmentation (strong)": {"d_augment": "strong"},
    "invariance (vicreg, strong views)": {"invariance": "vicreg", "augment": "strong"},
    "the fmnist recipe's options": {"invariance": "vicreg", "augment": "strong", "d_augment": "light",
                                    "recon_weight": 0.01},
    "invariance alone (no D, no G)": {"invariance": "vicreg", "augment": "strong", "adversarial": False},
    f"x-cycle term ({X_CYCLE})": {"recon_weight": X_CYCLE},
    f"x-cycle and latent cycle ({X_CYCLE} each)": {"recon_weight": X_CYCLE, "latent_recon_weight": X_CYCLE},
}


def recipe_costs(cfg: Config, out: str, steps: int, plain_ips: float) -> None:
    print(f"{'recipe':<48}{'images/s':>10}{'vs plain':>10}")
    print(f"{'plain BiGAN step':<48}{plain_ips:>10.0f}{1:>10.2f}")
    for name, train in RECIPES.items():
        trainer = Trainer(cfg.updated({"train": train}), f"{out}/{len(name)}-{hash(name) % 1000}", progress=False)
        ips = ours(trainer, steps)
        print(f"{name:<48}{ips:>10.0f}{ips / plain_ips:>10.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--arch", choices=ARCHS, default="mlp")
    p.add_argument("--width", type=int, default=64, help="conv: channels of the first layer")
    p.add_argument("--hidden", type=int, default=1024, help="MLP width / D's hidden width")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--recipes", action="store_true", help="also time each augmentation/invariance/cycle option")
    args = p.parse_args()
    set_threads(args.threads)
    out = tempfile.mkdtemp()
    cfg = Config().updated({
        "data": {"source": args.data, "image_size": args.image_size},
        "model": {"arch": args.arch, "hidden": args.hidden, "width": args.width, "z_dim": 50,
                  "projector": 512},
        # the plain BiGAN step (the plain loop's work: no invariance term, no cycle term); --recipes adds them
        "train": {"batch_size": args.batch_size, "threads": args.threads, "device": args.device, "steps": 1,
                  "precision": args.precision, "compile": args.compile, "invariance": "none", "recon_weight": 0.0},
    })
    try:
        trainer = Trainer(cfg, f"{out}/run", progress=False)
        n = len(trainer.parts.stream.images)
        ours_ips = ours(trainer, args.steps)
        plain_ips = plain_loop(trainer, trainer.parts.stream.images.cpu().numpy(), args.steps, args.batch_size) \
            if args.device == "cpu" else float("nan")
        shape = tuple(trainer.parts.stream.images.shape[1:])
        print(f"{args.arch} BiGAN, {args.data} {shape}, batch {args.batch_size}, {args.threads} threads, "
              f"{args.steps} steps, device {args.device}, precision {args.precision}, compile {args.compile}")
        print(f"{'path':<28}{'images/s':>10}{'s/epoch':>10}")
        print(f"{'bigan-repr step':<28}{ours_ips:>10.0f}{n / ours_ips:>10.1f}")
        print(f"{'plain DataLoader loop':<28}{plain_ips:>10.0f}{n / plain_ips:>10.1f}")
        print(f"speed-up: {ours_ips / plain_ips:.2f}x", flush=True)
        precision = resolve_precision(torch.device(args.device), args.precision)
        if args.device == "cpu":
            flops = step_flops(trainer) / args.batch_size
            print(*bound_lines(flops, {"bigan-repr step": ours_ips, "plain DataLoader loop": plain_ips}, precision),
                  sep="\n", flush=True)
        if args.recipes:
            recipe_costs(cfg, out, args.steps, ours_ips)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
