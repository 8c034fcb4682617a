#!/usr/bin/env bash
# One prepared GPU check, under 10 minutes on one GPU:
#   images/s for the MLP BiGAN (28 px) and the conv BiGAN (32 px), fp32 and bf16, eager and
#   torch.compile; then a 2-epoch Fashion-MNIST training with its evaluation report.
# Run from the repository root: bash benchmarks/gpu_check.sh
set -euo pipefail
python -c "import torch, torchvision, faiss, sklearn, click" 2>/dev/null || python -m pip install -q -e .
nvidia-smi --query-gpu=name,memory.total --format=csv
python - <<'PY'
import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
PY
for arch in mlp conv; do
  size=""; [ "$arch" = conv ] && size="--image-size 32"
  for precision in fp32 bf16; do
    for compile in "" "--compile"; do
      timeout 120 python benchmarks/train_throughput.py --device cuda --arch "$arch" $size \
        --precision "$precision" $compile --steps 200 --threads 8 | grep -E "BiGAN|bigan-repr" || echo "failed: $arch $precision $compile"
    done
  done
done
# a full run on the device: 2 epochs of the paper MLP on Fashion-MNIST, then the report
time bigan pipeline --data fashion-mnist --epochs 2 --device cuda --threads 8 --seeds 2 --restarts 3 \
  --out "${OUT:-runs}/gpu-fmnist-mlp" --quiet
# the hybrids under bf16 autocast: G's images join the views in another dtype
timeout 120 bigan train --data digits --steps 20 --device cuda --threads 8 --invariance infonce --fake-negatives \
  --generative-positives 0.2 --out "${OUT:-runs}/gpu-hybrids" --quiet && echo "hybrids on cuda: ok" || echo "failed: hybrids"
