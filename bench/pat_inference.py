"""PAT encoder inference speed and memory, against baselines measured in the same run.

For each size (S/M/L/H) and batch (1, 64), on CPU (and CUDA when present), one fresh subprocess per configuration:
weeks per second, achieved GFLOP/s as a fraction of this run's fp32 matmul peak (a large square torch.mm), and peak
memory (the subprocess's max RSS from getrusage on CPU; torch.cuda.max_memory_allocated on CUDA). Two attention
paths: the model's fused path (F.scaled_dot_product_attention, flash kernel) and a reference path that materialises
every attention matrix (SDPA's math backend), skipped where its attention matrices alone would not fit in memory.
FLOPs per week come from big_mood.models.pat_infer.forward_flops (PAT-S 1.03, PAT-L 27.5 GFLOP).

    .venv/bin/python bench/pat_inference.py                 # everything (about 10 minutes on 2 cores)
    .venv/bin/python bench/pat_inference.py --sizes S L --batches 64 --paths fused
    .venv/bin/python bench/pat_inference.py --sizes S L --batches 64 --paths fused --precision fp32 bf16   # + bfloat16 autocast

Targets (issue 2): PAT-L batch 64 >= 75 % of the mm peak; PAT-S >= 100 weeks/s at batch 64; PAT-H batch 64 within 4 GiB.
A target counts as met on the median run; the best run (least disturbed) is printed beside it. Other processes share
the cores: the load average is printed with the figures. Like the library (big_mood.core), the measured
processes run with THP_MEM_ALLOC_ENABLE=1 (torch's CPU allocator asks for transparent huge pages); `--no-thp` measures
without it: at batch 64 the projections' fresh 80-600 MB outputs then spend much of their time in page faults.
"""
import argparse, json, os, resource, subprocess, sys, time

import torch

MM_N = 4096


def mm_peak(device: str, repeats: int = 5) -> tuple[float, float]:
    "Best fp32 GFLOP of a MM_N x MM_N torch.mm on `device` per wall second, and per CPU second of this process."
    a, b = torch.randn(MM_N, MM_N, device=device), torch.randn(MM_N, MM_N, device=device)
    best, best_cpu = float('inf'), float('inf')
    for i in range(repeats + 1):
        sync(device); t, c = time.perf_counter(), time.process_time()
        torch.mm(a, b)
        sync(device); dt, dc = time.perf_counter() - t, time.process_time() - c
        if i: best, best_cpu = min(best, dt), min(best_cpu, dc)   # the first call warms up
    return 2 * MM_N ** 3 / best / 1e9, 2 * MM_N ** 3 / best_cpu / 1e9


def sync(device: str):
    if device.startswith('cuda'): torch.cuda.synchronize()


def attention_bytes(cfg, batch: int) -> int:
    "Bytes of one block's attention scores and softmax, as the math backend holds them at once."
    return 2 * batch * cfg.num_heads * cfg.num_patches ** 2 * 4


def run_one(size: str, batch: int, path: str, device: str, min_time: float, precision: str = 'fp32') -> dict:
    "Time one configuration in this process (called in a fresh subprocess)."
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from big_mood.models.pat import PAT_SIZES, PATEncoder
    from big_mood.models.pat_infer import forward_flops
    torch.manual_seed(0)
    cfg = PAT_SIZES[size]()
    model = PATEncoder(cfg).to(device).eval()
    x = torch.randn(batch, cfg.input_size, device=device)
    backend = SDPBackend.MATH if path == 'reference' else [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    load = os.getloadavg()[0]
    if device.startswith('cuda'): torch.cuda.reset_peak_memory_stats()
    times, cpu_times = [], []
    autocast = torch.autocast(device.split(':')[0], torch.bfloat16, enabled=precision == 'bf16')
    with torch.inference_mode(), sdpa_kernel(backend), autocast:
        model(x[:4]); sync(device)   # warm-up (a full batch of PAT-H would take minutes)
        while not times or (sum(times) < min_time and len(times) < 20):
            t, c = time.perf_counter(), time.process_time()
            model(x); sync(device)
            times.append(time.perf_counter() - t); cpu_times.append(time.process_time() - c)
    sec, best = sorted(times)[len(times) // 2], min(times)   # median, and the least disturbed run
    peak = (torch.cuda.max_memory_allocated() / 2 ** 30 if device.startswith('cuda')
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20)
    mm, mm_cpu = mm_peak(device)   # measured after the model (its 200 MB must not count in the peak memory above)
    gflops = forward_flops(cfg) * batch / sec / 1e9
    # under contention wall time also counts the time other processes held the cores; per CPU second of this
    # process (model vs mm, with the same threads) it does not (spin-waits in parallel regions still count)
    cpu_fraction = forward_flops(cfg) * batch / min(cpu_times) / 1e9 / mm_cpu
    return {'size': size, 'batch': batch, 'path': path, 'precision': precision, 'device': device, 'runs': len(times), 's_per_batch': sec,
            'weeks_per_s': batch / sec, 'best_weeks_per_s': batch / best, 'gflops': gflops,
            'best_fraction_of_peak': forward_flops(cfg) * batch / best / 1e9 / mm, 'cpu_time_fraction_of_peak': cpu_fraction, 'mm_peak_gflops': mm, 'fraction_of_peak': gflops / mm,
            'peak_gib': peak, 'rss_before_gib': rss_before, 'load': load, 'threads': torch.get_num_threads()}


def in_subprocess(size, batch, path, device, min_time, thp, threads, precision='fp32') -> dict:
    cmd = [sys.executable, __file__, '--one', size, str(batch), path, device, str(min_time), precision]
    env = {**os.environ, 'THP_MEM_ALLOC_ENABLE': '1' if thp else '0', **({'OMP_NUM_THREADS': str(threads)} if threads else {})}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode: return {'size': size, 'batch': batch, 'path': path, 'precision': precision, 'device': device, 'error': out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', nargs='+', default=['S', 'M', 'L', 'H'])
    p.add_argument('--batches', nargs='+', type=int, default=[1, 64])
    p.add_argument('--paths', nargs='+', default=['fused', 'reference'], choices=['fused', 'reference'])
    p.add_argument('--min-time', type=float, default=3.0, help='seconds of timed runs per configuration (at least one run)')
    p.add_argument('--no-thp', dest='thp', action='store_false', help="THP_MEM_ALLOC_ENABLE=0: no transparent huge pages for torch's CPU allocations (the library turns them on)")
    p.add_argument('--threads', type=int, help='OMP_NUM_THREADS for the measured processes (default: torch\'s, one per core)')
    p.add_argument('--precision', nargs='+', default=['fp32'], choices=['fp32', 'bf16'],
                   help='bf16: the fused path again under torch.autocast(bfloat16) (the targets are judged on fp32)')
    p.add_argument('--one', nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        size, batch, path, device, min_time, precision = args.one
        print(json.dumps(run_one(size, int(batch), path, device, float(min_time), precision)))
        return

    from big_mood.core import atomic_write, project_root
    from big_mood.models.pat import PAT_SIZES
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads, {os.cpu_count()} cpus, THP allocations {'on' if args.thp else 'off'}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    peaks = {d: [mm_peak(d)] for d in devices}
    print('fp32 mm peak before: ' + ', '.join(f'{d} {v[0][0]:.1f} GFLOP/s' for d, v in peaks.items()), flush=True)
    rows = []
    for device in devices:
        for size in args.sizes:
            for batch in args.batches:
                for path, precision in [(p, 'fp32') for p in args.paths] + [('fused', 'bf16')] * ('bf16' in args.precision):
                    if path == 'fused' and precision == 'fp32' and 'fp32' not in args.precision: continue
                    need, free = attention_bytes(PAT_SIZES[size](), batch), available_bytes(device)
                    if path == 'reference' and need > 0.6 * free:
                        r = {'size': size, 'batch': batch, 'path': path, 'precision': precision, 'device': device,
                             'error': f'skipped: one block\'s attention matrices need {need / 2**30:.1f} GiB of {free / 2**30:.1f} free'}
                    else: r = in_subprocess(size, batch, path, device, args.min_time, args.thp, args.threads, precision)
                    rows.append(r)
                    print(json.dumps(r), flush=True)
    for d in devices: peaks[d].append(mm_peak(d))
    load = os.getloadavg()
    print(f"fp32 mm peak after: " + ', '.join(f'{d} {v[1][0]:.1f} GFLOP/s' for d, v in peaks.items()) +
          f"; load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print(table(rows))
    print(targets(rows))
    out = project_root()/'bench'/'results'/f"pat_inference{'' if args.thp else '_no_thp'}{f'_{args.threads}t' if args.threads else ''}.json"
    with atomic_write(out) as tmp: tmp.write_text(json.dumps({'mm_peak_gflops': peaks, 'load': load, 'rows': rows}, indent=1))
    print(f"\nresults: {out}")


def available_bytes(device: str) -> int:
    if device.startswith('cuda'): return torch.cuda.mem_get_info()[0]
    with open('/proc/meminfo') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith('MemAvailable'))


def table(rows) -> str:
    "Markdown table of every configuration, with the fused/reference speed-up."
    ref = {(r['device'], r['size'], r['batch']): r for r in rows if r['path'] == 'reference' and 'error' not in r}
    lines = ['| device | size | batch | attention | precision | runs | weeks/s (median / best) | s/batch | GFLOP/s | mm peak GFLOP/s | % of mm peak (median / best) | % of mm per CPU second | peak memory GiB | fused / reference | load |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        if 'error' in r:
            lines.append(f"| {r['device']} | {r['size']} | {r['batch']} | {r['path']} | {r.get('precision', 'fp32')} | | {r['error']} | | | | | | | | |"); continue
        base = ref.get((r['device'], r['size'], r['batch']))
        speedup = f"{base['s_per_batch'] / r['s_per_batch']:.2f}x" if base and r['path'] == 'fused' else ''
        lines.append(f"| {r['device']} | {r['size']} | {r['batch']} | {r['path']} | {r.get('precision', 'fp32')} | {r['runs']} | {r['weeks_per_s']:.2f} / {r['best_weeks_per_s']:.2f} | "
                     f"{r['s_per_batch']:.3f} | {r['gflops']:.1f} | {r['mm_peak_gflops']:.0f} | {100 * r['fraction_of_peak']:.0f} / "
                     f"{100 * r['best_fraction_of_peak']:.0f} % | {100 * r['cpu_time_fraction_of_peak']:.0f} % | {r['peak_gib']:.2f} | {speedup} | {r['load']:.1f} |")
    return '\n'.join(lines)


def targets(rows) -> str:
    "The issue's three targets on CPU, each with the measured value."
    get = lambda size: next((r for r in rows if (r['device'], r['size'], r['batch'], r['path'], r.get('precision')) == ('cpu', size, 64, 'fused', 'fp32') and 'error' not in r), None)
    out = []
    for size, what, ok in (('L', lambda r: f"{100 * r['fraction_of_peak']:.0f} % of the mm peak, best run {100 * r['best_fraction_of_peak']:.0f} % (target >= 75 %)",
                            lambda r: r['fraction_of_peak'] >= 0.75),
                           ('S', lambda r: f"{r['weeks_per_s']:.0f} weeks/s, best run {r['best_weeks_per_s']:.0f} (target >= 100)", lambda r: r['weeks_per_s'] >= 100),
                           ('H', lambda r: f"peak memory {r['peak_gib']:.2f} GiB (target <= 4)", lambda r: r['peak_gib'] <= 4)):
        r = get(size)
        out.append(f"PAT-{size} batch 64 fused: " + ('not measured' if r is None else f"{what(r)}: {'met' if ok(r) else 'NOT met'}"))
    for r in rows:
        if r.get('precision') == 'bf16' and r['batch'] == 64 and 'error' not in r:
            out.append(f"(bf16 autocast, not the targets' fp32) PAT-{r['size']} batch 64: {r['weeks_per_s']:.0f} weeks/s, "
                       f"{100 * r['fraction_of_peak']:.0f} % of the fp32 mm peak")
    return '\n'.join(out)


if __name__ == '__main__':
    main()
