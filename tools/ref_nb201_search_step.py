#!/usr/bin/python3
"""Times one search step on the NAS-Bench-201 space the reference way: the baseline
`nasx bench --what step --space nb201 --baseline REFERENCE` runs against nasx's step.

The network is AutoDL's DARTS search network for NB-201 (TinyNetworkDarts with its
NAS201SearchCell): a 3x3 stem with BatchNorm, three stages of N search cells joined by
the reference's ResNetBasicblock, BatchNorm-ReLU, global pooling and a classifier. Each of
a cell's six edges sums all five operations weighted by the softmax of its alpha row, one
operation after another, as the reference does. The operations and the residual block are
the reference's own (REFERENCE/ref-naswot/models/cell_operations.py, imported, not copied);
the search cell and network are written here after the reference's structure, which that
folder does not hold. Its nor_conv has no bias (this copy of the operations); nasx's search
convolution has one, AutoDL's later versions' too (bias = not affine).

The step is DARTS's (REFERENCE/ref-darts, imported): the reference Architect's architecture
step (Adam on the alphas from a search batch; first order, or the unrolled second order)
then the weight step (SGD momentum 0.9, weight decay 3e-4, gradient clipping at 5) on a
train batch, as cnn/train_search.py does it. Random data of the requested shape. Prints
median seconds per step and peak memory. --device cuda runs it on a GPU (cuDNN's
algorithm search on, as the DARTS reference has it), peak memory then the GPU's.

    /usr/bin/python3 tools/ref_nb201_search_step.py --reference ../shared/bench \\
        --C 8 --layers 5 --batch 64 --size 28 --in-ch 1 --order 1 [--channels-last]
"""
import argparse
import os
import resource
import statistics
import sys
import time
import types

p = argparse.ArgumentParser()
p.add_argument("--reference", required=True, help="folder holding ref-naswot/ and ref-darts/")
p.add_argument("--C", type=int, default=8)
p.add_argument("--layers", type=int, default=5, help="cells per stage (N)")
p.add_argument("--batch", type=int, default=64)
p.add_argument("--size", type=int, default=28)
p.add_argument("--in-ch", type=int, default=1)
p.add_argument("--classes", type=int, default=10)
p.add_argument("--order", type=int, default=1, choices=(1, 2))
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--channels-last", action="store_true")
p.add_argument("--device", default="cpu", help="cpu, or cuda[:N] (cuDNN's algorithm search on)")
a = p.parse_args()

reference = os.path.abspath(a.reference)
for need in ("ref-naswot/models/cell_operations.py", "ref-darts/architect.py"):
    if not os.path.isfile(os.path.join(reference, need)):
        sys.exit(f"ref_nb201_search_step.py: no {need} under {a.reference}")
sys.path.insert(0, os.path.join(reference, "ref-naswot"))
sys.path.insert(0, os.path.join(reference, "ref-darts"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

dev = torch.device(a.device)
if dev.type == "cpu":
    # The reference architect calls .cuda(); a no-op on the CPU.
    torch.Tensor.cuda = lambda self, *x, **k: self
    nn.Module.cuda = lambda self, *x, **k: self
else:
    torch.backends.cudnn.benchmark = True

import architect  # noqa: E402
from architect import Architect  # noqa: E402
from models.cell_operations import NAS_BENCH_201, OPS, ResNetBasicblock  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
MAX_NODES = 4


class SearchCell(nn.Module):
    """Node i = sum over j < i of sum_k w[i<-j, k] * op_k(node j); the output is node 3."""

    def __init__(self, channels):
        super().__init__()
        self.edges = nn.ModuleDict()
        for i in range(1, MAX_NODES):
            for j in range(i):
                self.edges[f"{i}<-{j}"] = nn.ModuleList(
                    OPS[name](channels, channels, 1, False, True) for name in NAS_BENCH_201)
        self.edge_index = {key: k for k, key in enumerate(sorted(self.edges.keys()))}

    def forward(self, x, weights):
        nodes = [x]
        for i in range(1, MAX_NODES):
            terms = []
            for j in range(i):
                key = f"{i}<-{j}"
                w = weights[self.edge_index[key]]
                terms.append(sum(op(nodes[j]) * w[k] for k, op in enumerate(self.edges[key])))
            nodes.append(sum(terms))
        return nodes[-1]


class SearchNetwork(nn.Module):
    def __init__(self, C, N, classes, criterion):
        super().__init__()
        self._C, self._N, self._classes, self._criterion = C, N, classes, criterion
        self.stem = nn.Sequential(nn.Conv2d(a.in_ch, C, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(C))
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        self.cells = nn.ModuleList()
        c_prev = C
        for c, reduction in zip(channels, reductions):
            self.cells.append(ResNetBasicblock(c_prev, c, 2) if reduction else SearchCell(c))
            c_prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(c_prev, classes)
        # A plain tensor, not a parameter: the reference architect takes the weights from
        # parameters() and the alphas from arch_parameters().
        self.alphas = (1e-3 * torch.randn(6, len(NAS_BENCH_201))).to(dev)
        self.alphas.requires_grad_(True)

    def arch_parameters(self):
        return [self.alphas]

    def new(self):
        copy = SearchNetwork(self._C, self._N, self._classes, self._criterion)
        copy.alphas.data.copy_(self.alphas.data)
        return copy.to(dev).to(memory_format=fmt)

    def forward(self, x):
        weights = F.softmax(self.alphas, dim=-1)
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature, weights) if isinstance(cell, SearchCell) else cell(feature)
        out = self.lastact(feature)
        return self.classifier(out.mean((2, 3)))

    def _loss(self, x, y):
        return self._criterion(self(x), y)


# The reference architect flattens the weights with view(-1), which a channels-last 3x3
# kernel refuses (the DARTS space's kernels all view); reshape reads the same values in
# the same order, so the unrolled step is the reference's with channels-last weights too.
architect._concat = lambda xs: torch.cat([x.reshape(-1) for x in xs])
crit = nn.CrossEntropyLoss()
net = SearchNetwork(a.C, a.layers, a.classes, crit).to(dev).to(memory_format=fmt)
hp = types.SimpleNamespace(momentum=0.9, weight_decay=3e-4, arch_learning_rate=3e-4,
                           arch_weight_decay=1e-3)
wopt = torch.optim.SGD(net.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
arch_step = Architect(net, hp)


def batch():
    x = torch.randn(a.batch, a.in_ch, a.size, a.size).to(dev).contiguous(memory_format=fmt)
    return x, torch.randint(0, a.classes, (a.batch,)).to(dev)


def step():
    xt, yt = batch()
    xs, ys = batch()
    arch_step.step(xt, yt, xs, ys, 0.025, wopt, unrolled=(a.order == 2))
    wopt.zero_grad()
    loss = crit(net(xt), yt)
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 5)
    wopt.step()


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.steps):
    t = time.perf_counter()
    step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    times.append(time.perf_counter() - t)
weights = sum(q.numel() for q in net.parameters())
med = statistics.median(times)
print(f"reference nb201 search order={a.order} C={a.C} N={a.layers} batch={a.batch} "
      f"input={a.in_ch}x{a.size}x{a.size} threads={a.threads} channels_last={a.channels_last} "
      f"weights={weights} median_s={med:.4f} min_s={min(times):.4f} "
      + (f"peak_cuda_mib={torch.cuda.max_memory_allocated() / 2**20:.0f}" if dev.type == "cuda"
         else f"peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"))
