"""Benchmark of the stacked hourglass / Zhou network (posecore.models.hourglass, posecore.models.zhou).

Reports, on CPU: forward throughput (images/s) of the Zhou network (hourglass + depth regressor) at the
``quick`` chapter configuration (64 px, 2 x 2 modules, width 64) and at the ``full`` (paper)
configuration (256 px, 2 x 2, width 256), and training iterations/s (forward + backward + Adam) at the
quick configuration and batch size. With CUDA: the forward time of a batch of 24 images at 256 px
(paper: Zhou et al. 30 ms per image on a Titan X; Yang et al. 1.1 s per 24 images) for the Zhou and
Yang (4 x 1) networks, and training throughput with bf16 autocast + channels_last.

Run: ``python benchmarks/bench_hourglass.py [--quick-only] [--json out.json]``.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from posecore.recipes import zhou as zhou_recipe
from posecore.losses import depth_loss, heatmap_loss
from posecore.models.hourglass import HourglassConfig, count_parameters
from posecore.models.zhou import ZhouConfig, ZhouNet


def zhou_net(profile: str) -> ZhouNet:
    return ZhouNet(zhou_recipe.config(profile).train_config().model)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def forward_throughput(net, batch: int, reps: int, device, autocast=False, channels_last=False) -> float:
    """Images per second of the forward pass (after one warm-up batch)."""
    R = net.config.hourglass.resolution
    net = net.to(device).eval()
    x = torch.rand(batch, 3, R, R, device=device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if autocast else torch.autocast(device.type, enabled=False)
    with ctx:
        net(x)
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            net(x)
        _sync(device)
    return batch * reps / (time.perf_counter() - t)


def train_throughput(net, batch: int, reps: int, device, autocast=False, channels_last=False) -> float:
    """Training iterations per second (forward, heatmap + depth loss, backward, Adam step)."""
    R = net.config.hourglass.resolution
    h = R // 4
    net = net.to(device).train()
    x = torch.rand(batch, 3, R, R, device=device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    hm = torch.rand(batch, 17, h, h, device=device)
    d = torch.randn(batch, 17, device=device)
    has = torch.ones(batch, dtype=torch.bool, device=device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = net(x)
            loss = heatmap_loss([o.float() for o in out["heatmaps"]], hm) + 0.1 * depth_loss(out["depth"].float(), d, has)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        step()
    _sync(device)
    return reps / (time.perf_counter() - t)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick-only", action="store_true", help="skip the slow 256-px CPU forward")
    ap.add_argument("--json", help="write the numbers to this file")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    res = {"torch": torch.__version__, "cpu_threads": torch.get_num_threads()}
    quick = zhou_recipe.config("quick")
    net_q = zhou_net("quick")
    res["quick_params"] = count_parameters(net_q)
    res["cpu_forward_quick_img_s"] = forward_throughput(net_q, 64, 3, cpu)
    res["cpu_train_quick_it_s"] = train_throughput(zhou_net("quick"), quick.batch_size, 5, cpu)
    res["cpu_train_quick_img_s"] = res["cpu_train_quick_it_s"] * quick.batch_size
    if not args.quick_only:
        net_f = zhou_net("full")
        res["full_params"] = count_parameters(net_f)
        res["cpu_forward_full_img_s"] = forward_throughput(net_f, 4, 2, cpu)
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        res["gpu"] = torch.cuda.get_device_name(0)
        zhou = ZhouNet(ZhouConfig.paper(256))
        yang = ZhouNet(ZhouConfig(hourglass=HourglassConfig.yang_final(256)))
        for name, net in (("zhou", zhou), ("yang_4x1", yang)):
            ips = forward_throughput(net, 24, 20, gpu)
            res[f"gpu_{name}_forward_batch24_s"] = 24 / ips
            res[f"gpu_{name}_forward_ms_per_image"] = 1000 / ips
            res[f"gpu_{name}_forward_bf16_ms_per_image"] = 1000 / forward_throughput(
                net, 24, 20, gpu, autocast=True, channels_last=True)
        res["gpu_train_fp32_it_s_batch6"] = train_throughput(ZhouNet(ZhouConfig.paper(256)), 6, 20, gpu)
        res["gpu_train_bf16_cl_it_s_batch6"] = train_throughput(ZhouNet(ZhouConfig.paper(256)), 6, 20, gpu,
                                                                autocast=True, channels_last=True)
        res["gpu_train_bf16_cl_it_s_batch24"] = train_throughput(ZhouNet(ZhouConfig.paper(256)), 24, 10, gpu,
                                                                 autocast=True, channels_last=True)
    else:
        res["gpu"] = None
    for k, v in res.items():
        print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
