#!/usr/bin/python3
"""Times a DARTS search step written the way the reference code computes it, for
comparison with `nasx bench` on the same machine in the same session.

The network follows the reference's model_search.py: every edge is a MixedOp
that runs all 8 operations (each with its own ReLU; `none` multiplies by zero),
pools followed by BatchNorm(affine=False); one step = architecture step (first
order: validation loss backward through everything, Adam) + weight step (SGD,
clip 5). Written from that description, not from the reference's source.

    python3 tools/reference_darts_step.py                  # the quickstart's supernet
    python3 tools/reference_darts_step.py --memory-format channels_last

Needs Debian's python3-torch (the same LibTorch as nasx).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
       "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]


def relu_conv_bn(c_in, c_out, k, stride, pad, dilation=1, groups=1):
    return [nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, pad, dilation, groups, bias=False)]


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.b = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=False)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.a(x), self.b(x[:, :, 1:, 1:])], 1))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


def make_op(name, c, stride):
    if name == "none":
        return Zero(stride)
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        pool = (nn.MaxPool2d(3, stride, 1) if name == "max_pool_3x3"
                else nn.AvgPool2d(3, stride, 1, count_include_pad=False))
        return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    k = int(name[-1])
    if name.startswith("sep"):
        p = k // 2
        return nn.Sequential(
            *relu_conv_bn(c, c, k, stride, p, groups=c), nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=False),
            *relu_conv_bn(c, c, k, 1, p, groups=c), nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=False))
    p = 2 * (k // 2)
    return nn.Sequential(*relu_conv_bn(c, c, k, stride, p, 2, groups=c),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, c, stride) for name in OPS)

    def forward(self, x, w):
        return sum(wi * op(x) for wi, op in zip(w, self.ops))


class Cell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.pre0 = (FactorizedReduce(c_pp, c) if reduction_prev else
                     nn.Sequential(*relu_conv_bn(c_pp, c, 1, 1, 0), nn.BatchNorm2d(c, affine=False)))
        self.pre1 = nn.Sequential(*relu_conv_bn(c_p, c, 1, 1, 0), nn.BatchNorm2d(c, affine=False))
        self.edges = nn.ModuleList(MixedOp(c, 2 if reduction and j < 2 else 1)
                                   for i in range(4) for j in range(i + 2))

    def forward(self, s0, s1, weights):
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for i in range(4):
            s = sum(self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-4:], 1)


class Network(nn.Module):
    def __init__(self, c, layers, in_channels, classes):
        super().__init__()
        c_cur = 3 * c
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_cur, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_cur))
        c_pp, c_p, c_cur = c_cur, c_cur, c
        cells, reduction_prev = [], False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_cur *= 2
            cells.append(Cell(c_pp, c_p, c_cur, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, 4 * c_cur
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, classes)
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(14, 8))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(14, 8))

    def forward(self, x):
        s0 = s1 = self.stem(x)
        wn, wr = F.softmax(self.alpha_normal, -1), F.softmax(self.alpha_reduce, -1)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, wr if cell.reduction else wn)
        return self.classifier(s1.mean((2, 3)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--memory-format", choices=["contiguous", "channels_last", "both"], default="both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    formats = ["contiguous", "channels_last"] if args.memory_format == "both" else [args.memory_format]
    print(f"reference-style DARTS step: C={args.channels}, {args.layers} cells, batch {args.batch}, "
          f"{args.in_channels}x{args.image_size}x{args.image_size}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    for fmt in formats:
        torch.manual_seed(0)
        mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        net = Network(args.channels, args.layers, args.in_channels, 10).to(memory_format=mf)
        alphas = [net.alpha_normal, net.alpha_reduce]
        weights = [p for n, p in net.named_parameters() if not n.startswith("alpha")]
        w_opt = torch.optim.SGD(weights, 0.025, momentum=0.9, weight_decay=3e-4)
        a_opt = torch.optim.Adam(alphas, 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        shape = (args.batch, args.in_channels, args.image_size, args.image_size)
        xt, xv = (torch.randn(shape).contiguous(memory_format=mf) for _ in range(2))
        yt, yv = (torch.randint(10, (args.batch,)) for _ in range(2))

        def step():
            a_opt.zero_grad()
            F.cross_entropy(net(xv), yv).backward()
            a_opt.step()
            w_opt.zero_grad()
            F.cross_entropy(net(xt), yt).backward()
            nn.utils.clip_grad_norm_(weights, 5.0)
            w_opt.step()

        for _ in range(args.warmup):
            step()
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(f"first  {fmt:15s} {sum(times) / len(times):8.3f} s/step  best {min(times):.3f}  "
              f"({sum(p.numel() for p in weights)} weights)")


if __name__ == "__main__":
    main()
