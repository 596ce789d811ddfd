"""Speed and memory of the landsim kernels, in one process and one sitting.

Measures, on this machine:

1. a STREAM-like triad (a = b + s c, parallel over both cores): memory bandwidth;
2. NumPy's GEMM rate (square 2048 and the benchmark's own skinny shape);
3. axis-aligned, hard union, float64, D=1e5, K=64, s=1e4, B=16: landsim vs the NumPy
   reference (``landsim.reference.loss_and_gradient``) vs a PyTorch CPU version;
4. the same at D=1e6, K=64, s=1e5, B=16: effective bandwidth against the triad, with
   effective bytes = 8 (2 B D + B K s) + 8 K s;
5. rotated frames, D=1e4, K=8, s=1000, B=16: flop rate against the GEMM rate, with
   useful flops = 2 B D S (projection, S = K s) + 2 B D s (hard-union back projection)
   for loss and gradient, and 2 B D S for the loss alone (the projection);
6. the peak extra memory (resident set) of one call against its inputs plus outputs;
7. first-call compile time, with an empty Numba cache and with a warm one.

Every figure is a median over repeats after a warm-up call. Run:

    python benchmarks/bench_kernels.py [--quick] [--json out.json]

``--quick`` shrinks every size (a smoke run for CI; its ratios mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time

import numba
import numpy as np

from landsim import geometry, reference
from landsim.spec import random_landscape


def median_time(fn, repeats: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


@numba.njit(parallel=True, cache=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(n: int) -> float:
    """Bytes per second of a = b + s c (3 * 8 * n bytes per call, STREAM convention)."""
    rng = np.random.default_rng(0)
    a, b, c = np.zeros(n), rng.random(n), rng.random(n)
    t = median_time(lambda: _triad(a, b, c, 3.0), repeats=9)
    return 24.0 * n / t


def gemm_rate(m: int, k: int, n: int) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k)), rng.random((k, n))
    t = median_time(lambda: a @ b, repeats=5)
    return 2.0 * m * k * n / t


def torch_loss_and_grad(torch, spec, X):
    """The same hard-union loss and gradient written with torch tensors (CPU)."""
    Xt = torch.from_numpy(X)
    idx = [torch.tensor(np.array(w.short_axes)) for w in spec.wedges]
    e0 = [w.eps0 for w in spec.wedges]
    e1 = [w.eps1 for w in spec.wedges]
    ysq = (Xt * Xt).sum(1)
    losses, parts = [], []
    for k in range(len(idx)):
        U = Xt[:, idx[k]]
        r = torch.sqrt(torch.clamp(ysq - (U * U).sum(1), min=0.0))
        w = e0[k] + e1[k] * r
        h = torch.relu(U.abs() - w[:, None])
        losses.append((h * h).sum(1))
        parts.append((U, r, h))
    L = torch.stack(losses, 1)
    total, arg = L.min(1)
    G = torch.zeros_like(Xt)
    for k in torch.unique(arg).tolist():
        rows = torch.nonzero(arg == k)[:, 0]
        U, r, h = (p[rows] for p in parts[k])
        c = torch.where(r > 0, -2.0 * e1[k] * h.sum(1) / torch.where(r > 0, r, 1.0), 0.0)
        g = c[:, None] * Xt[rows]
        g[:, idx[k]] = 2.0 * h * torch.sign(U)
        G[rows] = g
    return total.numpy(), G.numpy()


MEMORY_SNIPPET = textwrap.dedent("""
    import sys, numpy as np
    from landsim import geometry
    from landsim.spec import random_landscape
    D, K, s, B = map(int, sys.argv[1:5])
    def status(field):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field + ":"))
    spec = random_landscape(D, K, s, eps0=0.05, eps1=0.001, seed=2)
    X = np.random.default_rng(0).normal(size=(B, D))
    geometry.loss_and_grad(spec, X[:1])  # loads the kernels and packs the spec
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set to the current one
    before = status("VmRSS")
    out = geometry.loss_and_grad(spec, X)
    print(status("VmHWM") - before)
""")


def peak_extra_memory(D: int, K: int, s: int, B: int) -> int | None:
    """Peak resident-set growth of one loss-and-gradient call, in a fresh process.

    glibc is told to map every block over 128 KiB afresh and unmap it on free, so the
    growth counts every byte the call allocates (outputs included), not heap reuse.
    """
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, "-c", MEMORY_SNIPPET, str(D), str(K), str(s),
                          str(B)], env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


COMPILE_SNIPPET = textwrap.dedent("""
    import time, numpy as np
    t0 = time.perf_counter()
    from landsim import geometry
    from landsim.spec import random_landscape
    spec = random_landscape(200, 4, 20, seed=0)
    geometry.evaluate(spec, np.ones((3, 200)))
    print(time.perf_counter() - t0)
""")


def first_call_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    q = args.quick
    res: dict = {"machine": machine(), "quick": q}
    log = print

    res["triad_GBps"] = triad_bandwidth(2_000_000 if q else 20_000_000) / 1e9
    res["gemm_square_GFLOPs"] = gemm_rate(*(3 * [512 if q else 2048])) / 1e9
    log(f"triad {res['triad_GBps']:.1f} GB/s; GEMM 2048^2 {res['gemm_square_GFLOPs']:.1f} "
        "GFLOP/s")

    # 3. D=1e5 vs NumPy reference and PyTorch
    D, K, s, B = (10_000, 16, 1_000, 16) if q else (100_000, 64, 10_000, 16)
    spec = random_landscape(D, K, s, eps0=0.05, eps1=0.001, seed=1)
    X = np.random.default_rng(0).normal(size=(B, D))
    t_ls = median_time(lambda: geometry.loss_and_grad(spec, X))  # fresh G, like NumPy
    t_ref = median_time(lambda: reference.loss_and_gradient(spec, X), repeats=3)
    l1, g1 = geometry.loss_and_grad(spec, X)
    l2, g2 = reference.loss_and_gradient(spec, X)
    assert np.allclose(l1, l2, rtol=1e-10) and np.allclose(g1, g2, rtol=1e-9, atol=1e-9)
    row = {"D": D, "K": K, "s": s, "B": B, "landsim_s": t_ls, "numpy_s": t_ref,
           "speedup_vs_numpy": t_ref / t_ls}
    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        t_torch = median_time(lambda: torch_loss_and_grad(torch, spec, X), repeats=3)
        l3, g3 = torch_loss_and_grad(torch, spec, X)
        assert np.allclose(l1, l3, rtol=1e-10) and np.allclose(g1, g3, rtol=1e-9, atol=1e-9)
        row.update(torch_s=t_torch, speedup_vs_torch=t_torch / t_ls)
    except ImportError:
        row["torch_s"] = None
    res["axis_vs_numpy"] = row
    log(f"axis D={D} K={K} s={s} B={B}: landsim {t_ls * 1e3:.1f} ms, NumPy "
        f"{t_ref * 1e3:.1f} ms ({row['speedup_vs_numpy']:.1f}x), torch "
        f"{(row['torch_s'] or float('nan')) * 1e3:.1f} ms")

    # 4. D=1e6 bandwidth
    D, K, s, B = (100_000, 16, 10_000, 16) if q else (1_000_000, 64, 100_000, 16)
    spec = random_landscape(D, K, s, eps0=0.05, eps1=0.001, seed=2)
    X = np.random.default_rng(0).normal(size=(B, D))
    G = np.empty_like(X)
    t = median_time(lambda: geometry.loss_and_grad(spec, X, out=G))
    t_fresh = median_time(lambda: geometry.loss_and_grad(spec, X))
    x1, g1 = X[:1].copy(), np.empty((1, D))
    t_b1 = median_time(lambda: geometry.loss_and_grad(spec, x1, out=g1))
    eff = 8.0 * (2 * B * D + B * K * s) + 8.0 * K * s
    eff_b1 = 8.0 * (2 * D + K * s) + 8.0 * K * s
    res["axis_bandwidth"] = {"D": D, "K": K, "s": s, "B": B, "seconds": t,
                             "effective_GBps": eff / t / 1e9,
                             "fraction_of_triad": eff / t / 1e9 / res["triad_GBps"],
                             "seconds_fresh_output": t_fresh,
                             "fraction_of_triad_fresh_output":
                                 eff / t_fresh / 1e9 / res["triad_GBps"],
                             "B1_seconds": t_b1,
                             "B1_fraction_of_triad": eff_b1 / t_b1 / 1e9 / res["triad_GBps"]}
    inputs = X.nbytes + sum(w.short_axes.nbytes for w in spec.wedges)  # X and the spec
    outputs = X.nbytes + 8 * B * (K + 2)  # G, the losses and the arg-min
    extra = peak_extra_memory(D, K, s, B)
    res["axis_memory"] = {"peak_extra_bytes": extra, "inputs_plus_outputs": inputs + outputs,
                          "ratio": None if extra is None else extra / (inputs + outputs)}
    bw = res["axis_bandwidth"]
    log(f"axis D={D} K={K} s={s} B={B}: {t * 1e3:.1f} ms into a given G, effective "
        f"{eff / t / 1e9:.1f} GB/s = {bw['fraction_of_triad']:.0%} of triad "
        f"({t_fresh * 1e3:.1f} ms = {bw['fraction_of_triad_fresh_output']:.0%} with a fresh "
        f"G); B=1 {t_b1 * 1e3:.1f} ms = {bw['B1_fraction_of_triad']:.0%}; peak extra memory "
        f"{(extra or 0) / 2**20:.0f} MiB vs in+out {(inputs + outputs) / 2**20:.0f} MiB")

    # 5. rotated GEMM rate
    D, K, s, B = (2_000, 4, 200, 16) if q else (10_000, 8, 1_000, 16)
    spec = random_landscape(D, K, s, kind="rotated", eps0=0.05, eps1=0.001, seed=3)
    X = np.random.default_rng(0).normal(size=(B, D))
    G = np.empty_like(X)
    t = median_time(lambda: geometry.loss_and_grad(spec, X, out=G))
    t_loss = median_time(lambda: geometry.loss(spec, X))
    flops = 2.0 * B * D * K * s + 2.0 * B * D * s
    flops_loss = 2.0 * B * D * K * s
    same_shape = gemm_rate(B, D, K * s) / 1e9
    square = res["gemm_square_GFLOPs"]
    res["rotated"] = {"D": D, "K": K, "s": s, "B": B, "seconds": t,
                      "GFLOPs": flops / t / 1e9, "gemm_same_shape_GFLOPs": same_shape,
                      "fraction_of_square_gemm": flops / t / 1e9 / square,
                      "fraction_of_same_shape_gemm": flops / t / 1e9 / same_shape,
                      "loss_only_seconds": t_loss,
                      "loss_only_fraction_of_square_gemm": flops_loss / t_loss / 1e9 / square}
    log(f"rotated D={D} K={K} s={s} B={B}: loss and gradient {t * 1e3:.1f} ms, "
        f"{flops / t / 1e9:.1f} GFLOP/s = {res['rotated']['fraction_of_square_gemm']:.0%} of "
        f"square GEMM, {res['rotated']['fraction_of_same_shape_gemm']:.0%} of a "
        f"(B x D)(D x S) GEMM; loss only {t_loss * 1e3:.1f} ms = "
        f"{res['rotated']['loss_only_fraction_of_square_gemm']:.0%} of square GEMM")

    # 7. compile time
    with tempfile.TemporaryDirectory() as cache:
        cold = first_call_seconds(cache)
        warm = first_call_seconds(cache)
    res["compile"] = {"first_call_empty_cache_s": cold, "first_call_warm_cache_s": warm}
    log(f"first call: {cold:.1f} s with an empty Numba cache, {warm:.1f} s with a warm one")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
