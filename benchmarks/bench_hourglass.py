"""Benchmark of the stacked hourglass / Zhou network (posecore.models.hourglass, posecore.models.zhou).

Reports, on CPU: forward throughput (images/s) of the Zhou network (hourglass + depth regressor) at the
``quick`` chapter configuration (64 px, 2 x 1 modules, width 64, 32 x 32 heatmaps) and at the ``full`` (paper)
configuration (256 px, 2 x 2, width 256), and training iterations/s (forward + backward + Adam) at the
quick configuration and batch size. With CUDA: the forward time of a batch of 24 images at 256 px
(paper: Zhou et al. 30 ms per image on a Titan X; Yang et al. 1.1 s per 24 images) for the Zhou and
Yang (4 x 1) networks, and training throughput with bf16 autocast + channels_last.

The shared 2D backbone (:mod:`posecore.recipes.backbone`, quick profile): the median time of one
training step (fresh rendered batch, flip, heatmap loss, Adam) in fp32 and with bf16 autocast,
interleaved in one run, and their ratio; and the lab-test PCKh@0.5 of the trained quick backbone (when
the package ships or chapter 05 has cached) evaluated in fp32 and under bf16 autocast, and
their difference -- the metric behind a "use bf16" decision. (On a CPU without avx512_bf16 / AMX bf16
is several times slower; there the recipe stays fp32.)

The image pipeline's targets (quick profile): the shipped backbone's lab PCKh@0.5 >= 90 % (MPII's
head-box convention), paired-joint distance ratio >= 0.8, a joint nearer its partner in <= 10 % of
pairs, wild PCKh@0.5 >= 75 % and training time <= 120 min (from the provenance inside
``posecore/weights/backbone.pt``), chapter 00's facing probe >= 95 % on lab-test and >= 90 % on
wild-test crops (renderer VERSION 2, from ``results/00_foundations.json``), and chapter 05's '3D+2D/w
geo' lab MPJPE <= 110 mm and wild PCK@150 >= 40 % (from ``results/05_zhou_weak_supervision.json`` when
the chapter has run at the quick profile), each with "met" or "NOT met".

Run: ``python benchmarks/bench_hourglass.py [--quick-only] [--json out.json]``.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from posecore.recipes import backbone as backbone_recipe
from posecore.recipes import zhou as zhou_recipe
from posecore.losses import depth_loss, heatmap_loss
from posecore.models.hourglass import HourglassConfig, count_parameters
from posecore.models.zhou import ZhouConfig, ZhouNet


def zhou_net(profile: str) -> ZhouNet:
    return ZhouNet(zhou_recipe.config(profile).train_config(backbone_recipe.config(profile)).model)


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
    h = net.config.hourglass.heatmap_resolution
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


def backbone_bf16(res: dict, d: dict, reps: int = 5) -> None:
    """Step time fp32 vs bf16 autocast of the quick backbone (interleaved) and, if a trained quick
    backbone is cached, its lab PCKh in both precisions. ``d``: the quick backbone's data
    (``recipes.backbone.load_data``)."""
    import statistics
    from posecore.losses import heatmap_loss as hm_loss
    from posecore.models.hourglass import StackedHourglass
    from posecore.recipes import backbone as bbr
    cfg = bbr.config("quick")
    batches = bbr.FreshBatches(d["lab"], d["wild"], cfg.batch_size, cfg.wild_fraction, cfg.flip, cfg.seed)
    torch.manual_seed(0)
    nets = {m: StackedHourglass(cfg.hourglass()).train() for m in ("fp32", "bf16")}
    opts = {m: torch.optim.Adam(n.parameters(), lr=cfg.lr) for m, n in nets.items()}
    batch = batches(1)

    def step(m):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=m == "bf16"):
            out = nets[m](batch["image"])
        loss = hm_loss([o.float() for o in out["heatmaps"]], batch["heatmaps"], batch["joints_visible"])
        opts[m].zero_grad(set_to_none=True)
        loss.backward()
        opts[m].step()
    times = {m: [] for m in nets}
    for m in nets:
        step(m)
    for _ in range(reps):
        for m in nets:
            t = time.perf_counter()
            step(m)
            times[m].append(time.perf_counter() - t)
    med = {m: statistics.median(v) for m, v in times.items()}
    res["backbone_quick_step_fp32_s"] = med["fp32"]
    res["backbone_quick_step_bf16_s"] = med["bf16"]
    res["backbone_quick_bf16_speedup"] = med["fp32"] / med["bf16"]
    blob = bbr.shipped(cfg, d["data_id"])
    path, _ = bbr.checkpoint(cfg, d["data_id"])
    if blob is not None:
        state = blob["state"]
    elif path.exists():
        state = torch.load(path, map_location="cpu", weights_only=False)["models"]["model"]   # our own cache
    else:
        res["backbone_quick_pckh_bf16_minus_fp32"] = (f"not measured: no shipped quick backbone and none trained at "
                                                      f"{path} (make checkpoints, or run chapter 05)")
        return
    net = StackedHourglass(cfg.hourglass())
    net.load_state_dict(state)
    b = d["eval"]["lab"]
    pck = {}
    for m in ("fp32", "bf16"):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=m == "bf16"):
            pck[m] = bbr.evaluate_2d(bbr.predict_2d(net, b["image"]), b["joints_2d"], b["joints_visible"])["pckh"]
    res["backbone_quick_lab_pckh_fp32"] = pck["fp32"]
    res["backbone_quick_lab_pckh_bf16"] = pck["bf16"]
    res["backbone_quick_pckh_bf16_minus_fp32"] = pck["bf16"] - pck["fp32"]


def targets(res: dict, data_id: str) -> None:
    """The quick image pipeline's targets, each as "value (target): met | NOT met". ``data_id``: the
    quick backbone's data (``recipes.backbone.load_data(...)["data_id"]``)."""
    from posecore import results
    from posecore.recipes import backbone as bbr
    verdict = lambda ok: "met" if ok else "NOT met"
    blob = bbr.shipped(bbr.config("quick"), data_id)
    if blob is None:
        res["target_backbone"] = "not measured: the package ships no quick backbone for this data (make checkpoints)"
    else:
        lab, wild, minutes = blob["eval"]["lab"], blob["eval"]["wild"], blob["train_seconds"] / 60
        res["target_backbone_lab_pckh"] = f"{lab['pckh']:.1f} % (>= 90, head box): {verdict(lab['pckh'] >= 90)}"
        res["target_backbone_pair_ratio"] = f"{lab['pair_ratio']:.2f} (>= 0.8): {verdict(lab['pair_ratio'] >= 0.8)}"
        res["target_backbone_partner_nearer"] = (f"{lab['partner_nearer']:.1f} % (<= 10): "
                                                 f"{verdict(lab['partner_nearer'] <= 10)}")
        res["target_backbone_wild_pckh"] = f"{wild['pckh']:.1f} % (>= 75, head box): {verdict(wild['pckh'] >= 75)}"
        res["target_backbone_train_min"] = (f"{minutes:.1f} min on {blob['threads']} thread(s) (<= 120): "
                                            f"{verdict(minutes <= 120)}")
    try:
        probe = [r for r in results.read("00_foundations") if r["metric"] == "facing_probe"
                 and r["profile"] == "quick" and r.get("renderer_version") == 2]
        for r in probe:
            goal = 95 if r["split"] == "lab_test" else 90
            res[f"target_facing_probe_{r['split']}"] = f"{r['value']:.1f} % (>= {goal}): {verdict(r['value'] >= goal)}"
        if not probe:
            res["target_facing_probe"] = "not measured: chapter 00 has no quick-profile facing probe results"
    except FileNotFoundError as e:
        res["target_facing_probe"] = f"not measured: {e}"
    try:
        recs = [r for r in results.read("05_zhou_weak_supervision")
                if r["profile"] == "quick" and r.get("variant") == "3D+2D/w geo" and "seeds" in r]
    except FileNotFoundError as e:
        res["target_zhou"] = f"not measured: {e}"
        return
    pick = lambda metric, split, **kw: [r for r in recs if r["metric"] == metric and r["split"] == split
                                        and all(r.get(k) == v for k, v in kw.items())]
    lab, wild = pick("mpjpe", "test", action="Average"), pick("pck@150", "wild_test", scene="ALL")
    if not lab or not wild:
        res["target_zhou"] = "not measured: chapter 05 has no quick-profile '3D+2D/w geo' results"
        return
    lab, wild = lab[0], wild[0]
    res["target_zhou_lab_mpjpe"] = (f"{lab['value']:.1f} mm, mean over actions, {lab['seeds']} seeds (<= 110): "
                                    f"{verdict(lab['value'] <= 110)}")
    res["target_zhou_wild_pck150"] = f"{wild['value']:.1f} %, {wild['seeds']} seeds (>= 40): {verdict(wild['value'] >= 40)}"


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
    bb_data = backbone_recipe.load_data(backbone_recipe.config("quick"))   # rendered once for both
    backbone_bf16(res, bb_data)
    targets(res, bb_data["data_id"])
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
