"""Overhead of landsim's training loop against a plain PyTorch loop doing the same work.

Three ways of training the example plug-in model ``resnet_bn`` (a small residual CNN with
batch norm, ``examples/plugin``) on the example plug-in dataset ``synthetic_images``
(seeded synthetic 3 x 32 x 32 images, 4 classes) are timed:

``landsim``
    :func:`landsim.real.train.train` with ``TrainConfig(optimizer="momentum")``: what a
    user of landsim runs. Besides the minibatch steps it records a trajectory: at the start
    and at every epoch end it evaluates the loss and accuracy on the whole training split
    (eval mode), the weight norm and the distance travelled, and at the end the test
    split. That recording is part of ``train`` and is timed with it.
``optimise``
    The generic loop :func:`landsim.real.train.optimise` alone, with the same minibatch
    loss as ``train`` (``net.train(); cross_entropy(net(x), y)``) and no ``on_record``:
    landsim's per-step cost (schedule look-up, ``lr`` written into the param groups,
    ``float(loss)`` every step) without the recording.
``plain``
    A hand-written loop: ``torch.optim.SGD(lr, momentum, weight_decay)``, and per step
    ``zero_grad(set_to_none=True)``, forward, ``cross_entropy``, ``backward``, ``step``;
    nothing recorded (the last minibatch loss is kept as a tensor).

Why the three do the same work:

* the same initial weights: the model is built once (``RESNET_BN.build`` under a torch
  RNG seeded with ``--seed``, as :func:`landsim.real.plugins.build_model` does) and every
  run trains a ``copy.deepcopy`` of it;
* the same minibatches in the same order: ``train``/``optimise`` draw batches with
  :meth:`landsim.real.data.Dataset.batches` from a CPU ``torch.Generator`` seeded with
  the seed (:func:`landsim.real._device.torch_generator`), one ``torch.randperm(n)`` per
  epoch, batches ``order[s:s + B]`` (the last one may be smaller) indexed out of the
  training tensors; the plain loop does exactly that with its own generator;
* the same optimiser: ``TrainConfig(optimizer="momentum")`` makes
  ``torch.optim.SGD(params, lr, momentum, weight_decay)`` over ``model.parameters()``
  (:func:`landsim.real.train.make_optimizer`), with a constant schedule, which the plain
  loop builds directly; same number of epochs and batch size;
* the same threads (``torch.set_num_threads``, ``--threads``, default what torch picks)
  and device; the dataset is moved to the device once, before any timing, so that
  ``train``'s ``dataset.to(device)`` is a no-op.

On the CPU the three therefore follow the same trajectory bit for bit; the script checks
it (max abs difference of the final weights and of the BN running statistics, final
training loss in eval mode and the last minibatch loss), which is what makes the timing
comparison fair.

Timing: one warm-up run of each, then ``--repeats`` rounds of plain, landsim, optimise
(interleaved, so a busy neighbour affects all three alike); the median wall time of each
is reported, with min-max, and the overhead = median(landsim) / median(plain) - 1 against
the target <= 5% (the loop alone: median(optimise) / median(plain) - 1). The time of the
recording evaluations is also measured, in two more ``train`` runs with
:meth:`landsim.real.flat.FlatModel.evaluate` timed in place, to say where ``train``'s
extra time goes. The CPU the rest of the machine used meanwhile is printed as a noise
indicator (with several torch threads a busy neighbour can slow single runs many-fold).

Usage (from the repository root)::

    python benchmarks/bench_train_overhead.py [--smoke] [--epochs 4] [--n-train 768]
        [--channels 16] [--blocks 2] [--batch-size 64] [--device cpu|cuda]
        [--repeats 5] [--threads N] [--seed 0]

Exit status 0 whether or not the target is met (this is a measurement), 2 on bad input
(or ``--device cuda`` without CUDA).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "plugin"))

from landsim_example_plugin import (  # noqa: E402
    RESNET_BN,
    SYNTHETIC_IMAGES,
    ResNetConfig,
    SyntheticImagesConfig,
)

from landsim.real.flat import FlatModel  # noqa: E402
from landsim.real.train import TrainConfig, optimise, train  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_description  # noqa: E402

TARGET = 0.05
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- machine, noise
def machine_line(device: torch.device) -> str:
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (f"machine: {cpu_description()}, "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"torch threads {torch.get_num_threads()}, device {device}{gpu}")


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, /proc/stat), or NaN."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(
                int, f.readline().split()[1:9])
    except (OSError, ValueError):
        return math.nan
    return (user + nice + system + irq + softirq + steal) / TICK


def own_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------------- the three loops
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_plain(model0: nn.Module, data, config: TrainConfig, seed: int,
              device: torch.device) -> tuple[float, nn.Module, torch.Tensor]:
    """The hand-written loop; returns (seconds, trained model, last minibatch loss)."""
    net = copy.deepcopy(model0)
    x, y = data.x_train, data.y_train
    n, bs = x.shape[0], config.batch_size
    sync(device)
    t0 = time.perf_counter()
    opt = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    net.train()
    loss = torch.zeros(())
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
    sync(device)
    return time.perf_counter() - t0, net, loss.detach()


def run_landsim(model0: nn.Module, data, config: TrainConfig, seed: int,
                device: torch.device):
    """:func:`landsim.real.train.train`; returns (seconds, trained model, TrainResult)."""
    net = copy.deepcopy(model0)
    sync(device)
    t0 = time.perf_counter()
    result = train(net, data, config, seed, device=device)
    sync(device)
    return time.perf_counter() - t0, net, result


def run_optimise(model0: nn.Module, data, config: TrainConfig, seed: int,
                 device: torch.device) -> tuple[float, nn.Module, torch.Tensor]:
    """:func:`landsim.real.train.optimise` with ``train``'s minibatch loss, no recording."""
    net = copy.deepcopy(model0)
    dtype = next(net.parameters()).dtype
    last: list[torch.Tensor] = [torch.zeros(())]

    def batch_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        net.train()
        loss = F.cross_entropy(net(xb.to(dtype)), yb)
        last[0] = loss
        return loss

    sync(device)
    t0 = time.perf_counter()
    optimise(list(net.parameters()), batch_loss, data, config, seed)
    sync(device)
    return time.perf_counter() - t0, net, last[0].detach()


# ---------------------------------------------------------------------- checks
def flat_params(net: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()]).cpu()


def max_diff(a: nn.Module, b: nn.Module) -> tuple[float, float]:
    """Max abs difference of the parameters and of the (float) buffers of two modules."""
    dw = float((flat_params(a) - flat_params(b)).abs().max())
    db = 0.0
    for (_, u), (_, v) in zip(a.named_buffers(), b.named_buffers()):
        if u.is_floating_point():
            db = max(db, float((u - v).abs().max()))
        else:
            db = max(db, float((u != v).any()))
    return dw, db


def recording_time(model0: nn.Module, data, config: TrainConfig, seed: int,
                   device: torch.device) -> tuple[float, float, int]:
    """One more ``train`` run with :meth:`FlatModel.evaluate` timed in place (the
    evaluations ``train`` makes to record its trajectory: the training split at the start
    and at each epoch end, the test split at the end); returns (train seconds, seconds
    inside ``evaluate``, number of calls)."""
    original = FlatModel.evaluate
    spent = [0.0, 0]

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            sync(device)
            spent[0] += time.perf_counter() - t0
            spent[1] += 1

    FlatModel.evaluate = timed
    try:
        dt, _, _ = run_landsim(model0, data, config, seed, device)
    finally:
        FlatModel.evaluate = original
    return dt, spent[0], spent[1]


# ---------------------------------------------------------------------- main
def int_at_least(low: int):
    """An argparse type: an integer >= ``low``, else a message naming the bad value."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}"
                                             ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    return parse


positive, non_negative = int_at_least(1), int_at_least(0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--epochs", type=positive, default=None, help="epochs (default 4)")
    p.add_argument("--n-train", type=positive, default=None,
                   help="training images (default 768; the test split has half as many)")
    p.add_argument("--channels", type=positive, default=None,
                   help="channels of resnet_bn (default 16)")
    p.add_argument("--blocks", type=non_negative, default=None,
                   help="residual blocks of resnet_bn (default 2)")
    p.add_argument("--batch-size", type=positive, default=None, help="minibatch (default 64)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--repeats", type=positive, default=None,
                   help="timed rounds after the warm-up (default 5)")
    p.add_argument("--threads", type=positive, default=None,
                   help="torch.set_num_threads (default: what torch picks)")
    p.add_argument("--seed", type=non_negative, default=0,
                   help="seeds the data, the initial weights and the batch order")
    p.add_argument("--smoke", action="store_true",
                   help="a run of a few seconds (small sizes; its ratio means little)")
    args = p.parse_args(argv)
    small = dict(epochs=1, n_train=64, channels=4, blocks=1, batch_size=32, repeats=2)
    full = dict(epochs=4, n_train=768, channels=16, blocks=2, batch_size=64, repeats=5)
    for key, value in (small if args.smoke else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: torch.cuda.is_available() is False on this machine "
              f"(torch {torch.__version__}); use --device cpu", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    try:
        ds_cfg = SyntheticImagesConfig(n_train=args.n_train,
                                       n_test=max(1, args.n_train // 2))
        net_cfg = ResNetConfig(channels=args.channels, blocks=args.blocks)
        config = TrainConfig(optimizer="momentum", epochs=args.epochs,
                             batch_size=args.batch_size)
    except ValueError as err:
        print(f"bad input: {err}", file=sys.stderr)
        return 2
    data = SYNTHETIC_IMAGES.build(ds_cfg, args.seed).to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        model0 = RESNET_BN.build(net_cfg, tuple(data.x_train.shape[1:]), data.n_classes,
                                 args.seed)
    model0 = model0.to(device)
    n_params = sum(p.numel() for p in model0.parameters())
    steps = math.ceil(args.n_train / args.batch_size)

    print(machine_line(device))
    print(f"work: resnet_bn(channels={args.channels}, blocks={args.blocks}, "
          f"{n_params} params) on synthetic_images(n_train={args.n_train}, "
          f"n_test={ds_cfg.n_test}, 3x32x32, 4 classes); momentum SGD lr={config.lr} "
          f"momentum={config.momentum}, {args.epochs} epochs x {steps} batches of "
          f"{args.batch_size}; seed {args.seed}; {args.repeats} rounds after a warm-up")

    sides = {"plain": run_plain, "landsim": run_landsim, "optimise": run_optimise}
    times: dict[str, list[float]] = {k: [] for k in sides}
    out: dict = {}
    for fn in sides.values():  # warm-up
        fn(model0, data, config, args.seed, device)
    busy0, own0, wall0 = machine_busy_s(), own_cpu_s(), time.perf_counter()
    for _ in range(args.repeats):
        for name, fn in sides.items():
            dt, *rest = fn(model0, data, config, args.seed, device)
            times[name].append(dt)
            out[name] = rest
    wall = time.perf_counter() - wall0
    other = max(0.0, (machine_busy_s() - busy0) - (own_cpu_s() - own0))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        spread = (max(v) - min(v)) / med[k]
        print(f"{k:>9}: median {med[k]:.3f} s  (min {min(v):.3f}, max {max(v):.3f}, "
              f"spread {100 * spread:.1f}%)  " + " ".join(f"{t:.3f}" for t in v))
    paired = statistics.median(a / b for a, b in zip(times["landsim"], times["plain"]))
    paired_opt = statistics.median(a / b for a, b in zip(times["optimise"], times["plain"]))
    ratio = med["landsim"] / med["plain"]
    ratio_opt = med["optimise"] / med["plain"]
    print(f"ratio landsim/plain {ratio:.3f} (median of paired ratios {paired:.3f}); "
          f"optimise/plain {ratio_opt:.3f} (paired {paired_opt:.3f})")

    net_p, last_p = out["plain"]
    net_l, res_l = out["landsim"]
    net_o, last_o = out["optimise"]
    recs = [recording_time(model0, data, config, args.seed, device) for _ in range(2)]
    rec = statistics.median(r[1] for r in recs)
    print(f"where train's extra time goes (2 more train runs, FlatModel.evaluate timed in "
          f"place): {recs[0][2]} evaluate calls (recording) take {rec:.3f} s = "
          f"{100 * rec / med['plain']:.1f}% of plain; landsim - plain - recording = "
          f"{med['landsim'] - med['plain'] - rec:+.3f} s")
    fm_p = FlatModel(net_p, device)
    loss_p, _ = fm_p.evaluate(fm_p.get_flat(), data.x_train, data.y_train)
    dw_l, db_l = max_diff(net_p, net_l)
    dw_o, db_o = max_diff(net_p, net_o)
    dw_r = float((res_l.flat - flat_params(net_p)).abs().max())
    print(f"agreement: final train loss (eval mode) landsim {res_l.train_loss:.9g} vs plain "
          f"{loss_p:.9g} (|diff| {abs(res_l.train_loss - loss_p):.3g}); last batch loss "
          f"optimise {float(last_o):.9g} vs plain {float(last_p):.9g}; max |dw| "
          f"landsim-plain {dw_l:.3g} (TrainResult.flat {dw_r:.3g}), optimise-plain "
          f"{dw_o:.3g}; max |d BN buffers| {db_l:.3g}, {db_o:.3g}")
    same = max(dw_l, dw_o, dw_r, db_l, db_o) == 0.0
    print("work identical: " + ("yes, bit for bit" if same else
                                "NO - the trajectories differ (see above)"))
    print(f"noise: the rest of the machine used {other:.1f} CPU s during the "
          f"{wall:.1f} s timed rounds ({100 * other / (wall * cores):.0f}% of {cores} cores)")
    spread = max((max(v) - min(v)) / med[k] for k, v in times.items())
    if spread > 0.2 or other > 0.25 * wall * cores:
        print(f"warning: noisy run (largest spread {100 * spread:.0f}%); with several torch "
              "threads a busy neighbour can slow single runs many-fold (threads waiting on "
              "each other): rerun on a quiet machine, or compare with --threads 1")
    print(f"overhead {100 * (ratio - 1):.1f}% (target <= {100 * TARGET:.0f}%: "
          f"{'met' if ratio - 1 <= TARGET else 'NOT met'}); loop alone (optimise) "
          f"{100 * (ratio_opt - 1):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
