#!/usr/bin/python3
"""Times one training step of the reference NAS-Bench-201 network (AutoDL's TinyNetwork,
as shipped with the NASWOT reference in REFERENCE/ref-naswot/models) in a plain PyTorch
loop: the baseline `nasx bench --what train --space nb201 --baseline REFERENCE` runs
against nasx's own training step of the same cell.

The loop is NB-201's protocol without its data pipeline: SGD (lr 0.1, momentum 0.9,
Nesterov, weight decay 5e-4), cross-entropy, no gradient clipping, no drop path, on random
images of the given shape; the stem takes --in-ch channels. Prints median seconds per step;
--device cuda runs it on a GPU (cuDNN's algorithm search on).

    /usr/bin/python3 tools/ref_nb201_train_step.py --reference ../shared/bench \\
        --arch '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|' \\
        --C 16 --layers 5 --batch 256 --size 28 --in-ch 1 [--channels-last]

The reference's code is imported from --reference, not copied here.
"""
import argparse
import os
import statistics
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--reference", required=True, help="folder holding ref-naswot/models")
p.add_argument("--arch", required=True, help="NB-201 cell, |op~i|+|...|")
p.add_argument("--C", type=int, default=16)
p.add_argument("--layers", type=int, default=5, help="cells per stage (N)")
p.add_argument("--batch", type=int, default=256)
p.add_argument("--size", type=int, default=28)
p.add_argument("--in-ch", type=int, default=1)
p.add_argument("--classes", type=int, default=10)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--channels-last", action="store_true")
p.add_argument("--device", default="cpu", help="cpu, or cuda[:N] (cuDNN's algorithm search on)")
a = p.parse_args()

models = os.path.join(os.path.abspath(a.reference), "ref-naswot")
if not os.path.isdir(os.path.join(models, "models", "cell_infers")):
    sys.exit(f"ref_nb201_train_step.py: no ref-naswot/models/cell_infers under {a.reference}")
sys.path.insert(0, models)

import torch  # noqa: E402
from models.cell_infers.tiny_network import TinyNetwork  # noqa: E402
from models.cell_searchs.genotypes import Structure  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
if dev.type == "cuda":
    torch.backends.cudnn.benchmark = True
net = TinyNetwork(a.C, a.layers, Structure.str2structure(a.arch), a.classes)
net.stem[0] = torch.nn.Conv2d(a.in_ch, a.C, 3, padding=1, bias=False)
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
net = net.to(dev).to(memory_format=fmt)
net.train()
opt = torch.optim.SGD(net.parameters(), 0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
x = torch.randn(a.batch, a.in_ch, a.size, a.size).to(dev).to(memory_format=fmt)
y = torch.randint(0, a.classes, (a.batch,)).to(dev)
times = []
for i in range(a.warmup + a.steps):
    t = time.perf_counter()
    opt.zero_grad()
    logits = net(x)[1]
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    if i >= a.warmup:
        times.append(time.perf_counter() - t)
print(f"reference TinyNetwork C={a.C} N={a.layers} batch={a.batch} "
      f"input={a.in_ch}x{a.size}x{a.size} channels_last={a.channels_last} "
      f"params={sum(q.numel() for q in net.parameters())} "
      f"median_s={statistics.median(times):.4f} min_s={min(times):.4f} "
      f"img_per_s={a.batch / statistics.median(times):.1f}"
      + (f" peak_cuda_mib={torch.cuda.max_memory_allocated() / 2**20:.0f}"
         if dev.type == "cuda" else ""))
