"""PAT in PyTorch against the same architecture in Keras (TensorFlow with oneDNN on and off), side by side.

What a user would otherwise run is the official Keras model, whose TensorFlow uses oneDNN by default; this bench
times that (bench/keras_pat.py: this project's own tf_keras model of the published architecture, checked against
the official code's outputs in ../shared/fixtures/pat_keras before anything is timed) beside big_mood's PyTorch
model (its fast paths checked against the same fixtures first). Tasks, for each size and batch:

- `infer`: the encoder on a batch of weeks, outputs back as numpy arrays. PyTorch: `big_mood.models.pat_infer.embed`,
  the per-person path; Keras: the model called in a warm `tf.function` (faster than `model.predict` at batch 1).
- `mae`: one masked-autoencoder pretraining step at mask ratio 0.90 (forward, MSE over all minutes, backward, Adam
  with the paper's learning rate and eps 1e-7). PyTorch: the step of `big_mood.pretrain` (model, zero_grad,
  backward, `torch.optim.Adam`, the loss read back); Keras: `train_on_batch` of the official-style model (add_loss).

Variants, each in its own worker process: `torch-fp32` (the default path), `torch-bf16` (torch.autocast
bfloat16: faster, outside the parity tolerances), `keras-onednn` and `keras-eigen` (TF_ENABLE_ONEDNN_OPTS=1 / 0);
optional `torch-textbook` (the attention computed as before the folded path: four projections, the flash kernel
also under autograd: "today's" speed and memory) and, where CUDA is present, `cuda-fp32` and `cuda-bf16` (flash
attention kernels); on CPU the CUDA variants are skipped with a line saying so. Each round measures the machine's
fp32 and bf16 `torch.mm` peak (4096 x 4096) at its start and end, then runs every configuration on every variant
back to back (variant order rotated each round), so a change of load hits all variants alike. Other processes
share the cores: the ratio is quoted from the quietest round (highest mm peak) with the range over all rounds.

Per call: wall time (median of the calls in a round; best beside it) and this process's CPU time; effective
GFLOP/s count the textbook FLOPs (`forward_flops`; for the MAE step 3 x the forward of encoder on the visible
patches and decoder on all) as a fraction of the round's fp32 mm peak; peak memory is the worker's peak resident
set during the task (VmHWM, reset before each task), with the framework itself included. Inputs are synthetic
N(0, 1) weeks (speed does not depend on the values).

    .venv/bin/python bench/pat_vs_keras.py --quick          # S and M, batch 1 and 64, 2 rounds (about 5 min)
    .venv/bin/python bench/pat_vs_keras.py                  # S, M, L, H, batch 1 and 64, 3 rounds (about an hour)
    .venv/bin/python bench/pat_vs_keras.py --sizes L --batches 64 --tasks infer --variants torch-fp32 torch-textbook

`make bench-keras` builds .venv-keras (requirements-keras.txt) and runs this. Results: bench/results/pat_vs_keras.json.
"""
import argparse, ctypes, gc, json, math, os, subprocess, sys, time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MINUTES, EMBED, FF = 10080, 96, 256
SIZES = {'S': (18, 6, 1), 'M': (18, 12, 2), 'L': (9, 12, 4), 'H': (5, 12, 8)}   # patch, heads, layers (PAT.md section 1)
LR = {'S': 1e-3, 'M': 1e-3, 'L': 1e-4, 'H': 1e-5}                                  # the paper's pretraining rates
VARIANTS = {'torch-fp32': ('torch', 'cpu', 'fp32', {}), 'torch-bf16': ('torch', 'cpu', 'bf16', {}),
            'keras-onednn': ('keras', 'cpu', '', {'TF_ENABLE_ONEDNN_OPTS': '1'}), 'keras-eigen': ('keras', 'cpu', '', {'TF_ENABLE_ONEDNN_OPTS': '0'}),
            'torch-textbook': ('torch', 'cpu', 'textbook', {}),
            'torch-fp32-spin': ('torch', 'cpu', 'fp32', {'OMP_WAIT_POLICY': None}),
            'cuda-fp32': ('torch', 'cuda', 'fp32', {}), 'cuda-bf16': ('torch', 'cuda', 'bf16', {})}
DEFAULT_VARIANTS = ['torch-fp32', 'torch-bf16', 'keras-onednn', 'keras-eigen']
BASELINE = 'keras-onednn'


# ---------- FLOPs and memory estimates (textbook counts: what the model is, not what a fast path executes)
def block_flops(n: int, heads: int) -> int:
    "One TransformerBlock forward on n tokens: Q/K/V/output projections, scores and weighted sum, feed-forward."
    return 8 * n * EMBED * heads * EMBED + 4 * heads * n * n * EMBED + 4 * n * EMBED * FF


def flops(task: str, size: str) -> int:
    "Textbook FLOPs per week: the encoder forward (`infer`), or 3 x the MAE forward (`mae`: backward ~ 2 x forward)."
    patch, heads, layers = SIZES[size]
    n = MINUTES // patch
    if task == 'infer': return 2 * n * patch * EMBED + layers * block_flops(n, heads)
    visible = n - round(0.9 * n)
    return 3 * (2 * visible * patch * EMBED + layers * block_flops(visible, heads) + block_flops(n, heads) + 2 * n * EMBED * patch)


def keras_bytes(task: str, size: str, batch: int) -> int:
    "Memory Keras needs at once: its attention holds [batch, heads, N, N] scores and softmax (and their gradients)."
    patch, heads, _ = SIZES[size]
    return (3 if task == 'infer' else 4) * batch * heads * (MINUTES // patch) ** 2 * 4


def available_bytes() -> int:
    with open('/proc/meminfo') as f: return next(int(l.split()[1]) * 1024 for l in f if l.startswith('MemAvailable'))


# ---------- worker side (runs under either environment: only the standard library at module level)
def status_gib(field: str) -> float:
    with open('/proc/self/status') as f: return next(int(l.split()[1]) for l in f if l.startswith(field)) / 2 ** 20


def reset_peak():
    "Give freed heap back to the system and restart the kernel's peak-RSS counter (VmHWM)."
    gc.collect()
    try: ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError: pass
    with open('/proc/self/clear_refs', 'w') as f: f.write('5')


def shared_fixtures() -> Path:
    return Path(os.environ.get('BIG_MOOD_SHARED', ROOT.parent/'shared'))/'fixtures'/'pat_keras'


class TorchRunner:
    "big_mood's PyTorch PAT: `embed` for inference, the pretraining step for `mae`."
    def __init__(self, device: str, mode: str):
        import numpy as np, torch
        from big_mood.models import pat
        from big_mood.models.pat_infer import embed
        self.np, self.torch, self.pat, self.embed = np, torch, pat, embed
        self.device, self.precision = device, 'bf16' if mode == 'bf16' else 'fp32'
        if mode == 'textbook':   # the attention as it was computed before the folded path
            pat.MultiHeadAttention.forward = lambda self, x, return_attention=False, shared_from=None: self.reference(x, return_attention)
        self.models = {}

    def check(self) -> dict:
        "Largest differences from the official outputs (fixtures), on this variant's path."
        from big_mood.models.pat_keras import convert_keras_h5, keras_mae_parity
        np, torch, F, out = self.np, self.torch, shared_fixtures(), {}
        for name, cfg in (('pat_s', self.pat.pat_s()), ('pat_m', self.pat.pat_m())):
            model, _ = convert_keras_h5(F/name/'classifier.h5', cfg)
            io = np.load(F/name/'io.npz')
            got = self.embed(model.to(self.device), io['X'], precision=self.precision)
            out[f'{name} sequence'] = float(np.abs(got['sequence'] - io['enc_out']).max())
            out[f'{name} pooled'] = float(np.abs(got['pooled'] - io['pooled']).max())
        mae, _ = convert_keras_h5(F/'pat_s'/'mae.h5', self.pat.pat_s())
        with torch.autocast(self.device, torch.bfloat16, enabled=self.precision == 'bf16'):
            d = keras_mae_parity(mae.to(self.device), dict(np.load(F/'pat_s'/'mae_io.npz')), fixture_pos=False)
        out['pat_s mae recon'], out['pat_s mae loss'] = d['recon'], d['loss']
        return out

    def ok(self, diffs: dict) -> bool:
        "The parity tolerances (fixture README, exact position table): sequence 2e-4, pooled and loss 1e-5."
        if self.precision == 'bf16': return True   # reported, not held to fp32 tolerances
        return all(v <= (2e-4 if k.endswith(('sequence', 'recon')) else 1e-5) for k, v in diffs.items())

    def call(self, task: str, size: str, batch: int):
        "A function running one call of `task` (built once per task and size)."
        torch, pat = self.torch, self.pat
        cfg = pat.PAT_SIZES[size]()
        x = torch.randn(batch, MINUTES, generator=torch.Generator().manual_seed(0))
        if task == 'infer':
            model = self.models.setdefault((task, size), pat.PATEncoder(cfg).to(self.device).eval())
            xn = x.numpy()
            return lambda: self.embed(model, xn, batch_size=batch, precision=self.precision)
        if (task, size) not in self.models:
            model = pat.PATMAE(cfg).to(self.device).train()
            self.models[task, size] = (model, torch.optim.Adam(model.parameters(), lr=LR[size], betas=(0.9, 0.999), eps=1e-7),
                                       torch.Generator().manual_seed(0))
        model, opt, gen = self.models[task, size]
        x = x.to(self.device)
        def step():
            with torch.autocast(self.device, torch.bfloat16, enabled=self.precision == 'bf16'):
                loss = model(x, 0.9, generator=gen)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(loss)   # the training loop reads every loss back (finiteness check); on CUDA this also syncs
        return step


class KerasRunner:
    "bench/keras_pat.py: a warm tf.function for inference, train_on_batch for `mae`."
    def __init__(self, device: str, mode: str):
        os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
        sys.path.insert(0, str(BENCH))
        import numpy as np, tensorflow as tf, keras_pat
        self.np, self.tf, self.kp, self.models = np, tf, keras_pat, {}

    def check(self) -> dict: return self.kp.check_fixtures(shared_fixtures())
    def ok(self, diffs: dict) -> bool: return all(v <= self.kp.TOLERANCE for v in diffs.values())

    def call(self, task: str, size: str, batch: int):
        np, tf = self.np, self.tf
        x = np.random.default_rng(0).standard_normal((batch, MINUTES)).astype(np.float32)
        if task == 'infer':
            if (task, size) not in self.models:
                model = self.kp.encoder(size)
                self.models[task, size] = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, MINUTES], tf.float32)])
            f = self.models[task, size]
            return lambda: f(x).numpy()
        model = self.models.setdefault((task, size), self.kp.mae(size))
        return lambda: model.train_on_batch(x)


def serve(variant: str):
    "Worker loop: check the outputs once, then answer one timing request per line on stdin."
    def reply(obj): print(json.dumps(obj), flush=True)
    if variant == 'peak':   # the machine's matrix-product peak, with the PyTorch workers' settings
        reply({'ok': True})
        for _ in sys.stdin: reply(mm_peak())
        return
    framework, device, mode, _ = VARIANTS[variant]
    runner = (TorchRunner if framework == 'torch' else KerasRunner)(device, mode)
    warm = set()
    try:
        diffs = runner.check()
        reply({'check': diffs, 'ok': runner.ok(diffs)})
    except Exception as e:
        reply({'check': {}, 'ok': False, 'error': f'{type(e).__name__}: {e}'.splitlines()[0]}); return
    for line in sys.stdin:
        req = json.loads(line)
        task, size, batch, min_time = req['task'], req['size'], req['batch'], req['min_time']
        try:
            if (task, size, batch) not in warm:
                fn = runner.call(task, size, 1 if req['heavy'] else batch)
                fn()                                    # warm-up (a heavy configuration warms up on one week)
                warm.add((task, size, batch))
            reset_peak()
            before = status_gib('VmRSS')
            fn = runner.call(task, size, batch)
            walls, cpus = [], []
            while not walls or (sum(walls) < min_time and len(walls) < 50):
                t, c = time.perf_counter(), time.process_time()
                fn()
                walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
            reply({'walls': walls, 'cpus': cpus, 'peak_gib': status_gib('VmHWM'), 'rss_before_gib': before})
        except Exception as e:   # e.g. out of memory: reported, the run goes on
            reply({'error': f'{type(e).__name__}: {e}'.splitlines()[0][:200]})


# ---------- main side (the project's environment: torch)
class Worker:
    def __init__(self, variant: str, args):
        framework, device, mode, extra = VARIANTS.get(variant, ('torch', 'cpu', '', {}))
        python = args.keras_python if framework == 'keras' else sys.executable
        env = {**os.environ, 'TQDM_DISABLE': '1', 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               'THP_MEM_ALLOC_ENABLE': '1' if args.thp else '0', 'TF_CPP_MIN_LOG_LEVEL': '2', 'TF_USE_LEGACY_KERAS': '1'}
        if framework == 'torch': env['OMP_WAIT_POLICY'] = args.omp_wait
        env.update(extra)
        env = {k: v for k, v in env.items() if v is not None}
        if args.threads: env['OMP_NUM_THREADS'] = env['TF_NUM_INTRAOP_THREADS'] = str(args.threads)
        self.variant, self.proc = variant, subprocess.Popen([python, __file__, '--worker', variant], stdin=subprocess.PIPE,
                                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.hello = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {'error': f'worker exited with code {self.proc.wait()}'}

    def run(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + '\n'); self.proc.stdin.flush()
        return self.read()

    def close(self):
        if self.proc.poll() is None: self.proc.stdin.close(); self.proc.wait()


def mm_peak() -> dict:
    "Best GFLOP/s of a 4096 x 4096 torch.mm on CPU in fp32 and bf16 (5 calls after a warm-up), and the load average."
    import torch   # noqa: the peak worker imports it here, under its own settings
    out = {}
    for name, dtype in (('fp32', torch.float32), ('bf16', torch.bfloat16)):
        a, b = (torch.randn(4096, 4096).to(dtype) for _ in range(2))
        torch.mm(a, b)
        out[name] = max(2 * 4096 ** 3 / t / 1e9 for t in (timed(torch.mm, a, b) for _ in range(5)))
    out['load'] = os.getloadavg()[0]
    return out


def timed(f, *a) -> float:
    t = time.perf_counter(); f(*a)
    return time.perf_counter() - t


def median(xs): return sorted(xs)[len(xs) // 2]


def summarize(rows: list, peaks: list, variants: list) -> str:
    "Markdown tables: weeks/s in the quietest round and the ratios against Keras + oneDNN (quietest and range)."
    quiet = {r: sum(x['fp32'] for x in p) / len(p) for r, p in enumerate(peaks)}
    best_round = max(quiet, key=quiet.get)
    get = {(r['round'], r['variant'], r['task'], r['size'], r['batch']): r for r in rows if 'walls' in r}
    configs = list(dict.fromkeys((r['task'], r['size'], r['batch']) for r in rows))
    others = [v for v in variants if v != BASELINE]
    lines = [f"Quietest round: {best_round + 1} of {len(peaks)} (fp32 mm peak {quiet[best_round]:.0f} GFLOP/s; "
             f"all rounds {', '.join(f'{q:.0f}' for q in quiet.values())}).", '',
             '| task | size | batch | ' + ' | '.join(f'{v} weeks/s' for v in variants) + ' | ' +
             ' | '.join(f'{v} / {BASELINE} (range)' for v in others) + ' | torch-fp32 % of fp32 peak | peak GiB (' + ', '.join(variants) + ') |',
             '|---' * (4 + len(variants) + len(others)) + '|---|']
    for task, size, batch in configs:
        cell = lambda r, v: get.get((r, v, task, size, batch))
        speed = lambda r, v: batch / median(cell(r, v)['walls']) if cell(r, v) else None
        cols = [f'{speed(best_round, v):.2f}' if speed(best_round, v) else skipped(rows, v, task, size, batch) for v in variants]
        ratios = []
        for v in others:
            per_round = [speed(r, v) / speed(r, BASELINE) for r in quiet if speed(r, v) and speed(r, BASELINE)]
            q = speed(best_round, v) / speed(best_round, BASELINE) if speed(best_round, v) and speed(best_round, BASELINE) else None
            ratios.append(f'**{q:.2f}x** ({min(per_round):.2f}-{max(per_round):.2f})' if q else '')
        fp32 = cell(best_round, 'torch-fp32')
        frac = f"{100 * flops(task, size) * batch / median(fp32['walls']) / 1e9 / peaks[best_round][0]['fp32']:.0f} %" if fp32 else ''
        mem = ', '.join(f"{cell(best_round, v)['peak_gib']:.2f}" if cell(best_round, v) else '-' for v in variants)
        lines.append(f'| {task} | PAT-{size} | {batch} | ' + ' | '.join(cols) + ' | ' + ' | '.join(ratios) + f' | {frac} | {mem} |')
    return '\n'.join(lines)


def skipped(rows, v, task, size, batch) -> str:
    r = next((r for r in rows if (r['variant'], r['task'], r['size'], r['batch']) == (v, task, size, batch) and 'walls' not in r), None)
    return 'skipped' if r and r.get('error', '').startswith('skipped') else ('error' if r else '')


def targets(rows: list, peaks: list) -> str:
    "The issue's targets, each with the measured value from the quietest round."
    quiet = [sum(x['fp32'] for x in p) / len(p) for p in peaks]
    r0 = max(range(len(quiet)), key=quiet.__getitem__)
    get = {(r['variant'], r['task'], r['size'], r['batch']): r for r in rows if 'walls' in r and r['round'] == r0}
    out = []
    for (v, task, size, batch), r in sorted(get.items()):
        if v != 'torch-fp32': continue
        base = get.get((BASELINE, task, size, batch))
        if base:
            ratio = median(base['walls']) / median(r['walls'])
            out.append(f"{task} PAT-{size} batch {batch}: torch-fp32 {ratio:.2f}x {BASELINE} (target >= 1.5x): {'met' if ratio >= 1.5 else 'NOT met'}")
        if (task, size, batch) == ('infer', 'L', 64):
            frac = flops(task, size) * batch / median(r['walls']) / 1e9 / peaks[r0][0]['fp32']
            out.append(f"infer PAT-L batch 64: {100 * frac:.0f} % of the fp32 mm peak (target >= 75 %): {'met' if frac >= 0.75 else 'NOT met'}")
        old = get.get(('torch-textbook', task, size, batch))
        if old: out.append(f"{task} PAT-{size} batch {batch}: peak memory {r['peak_gib']:.2f} GiB, textbook path {old['peak_gib']:.2f} GiB")
    return '\n'.join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='S and M, batch 1 and 64, 2 rounds, 1 s per configuration')
    p.add_argument('--sizes', nargs='+', choices=list(SIZES))
    p.add_argument('--batches', nargs='+', type=int)
    p.add_argument('--tasks', nargs='+', default=['infer', 'mae'], choices=['infer', 'mae'])
    p.add_argument('--variants', nargs='+', choices=list(VARIANTS), help=f"default: {' '.join(DEFAULT_VARIANTS)} (+ CUDA ones where present)")
    p.add_argument('--rounds', type=int)
    p.add_argument('--min-time', type=float, help='seconds of timed calls per configuration and round (at least one call)')
    p.add_argument('--threads', type=int, help='threads for both frameworks (default: each its own, one per core)')
    p.add_argument('--no-thp', dest='thp', action='store_false', help="THP_MEM_ALLOC_ENABLE=0 for the PyTorch workers (the library turns it on)")
    p.add_argument('--omp-wait', default='PASSIVE', choices=['PASSIVE', 'ACTIVE'],
                   help="OMP_WAIT_POLICY of the PyTorch workers (torch-fp32-spin: unset, libgomp's default spin-wait)")
    p.add_argument('--keras-python', default=str(ROOT/'.venv-keras'/'bin'/'python'), help='the Keras environment (make bench-keras)')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker: return serve(args.worker)

    import torch
    from big_mood.core import atomic_write, project_root
    sizes = args.sizes or (['S', 'M'] if args.quick else list(SIZES))
    batches = args.batches or [1, 64]
    rounds, min_time = args.rounds or (2 if args.quick else 3), args.min_time or (1. if args.quick else 3.)
    variants = args.variants or DEFAULT_VARIANTS + (['cuda-fp32', 'cuda-bf16'] if torch.cuda.is_available() else [])
    if not torch.cuda.is_available():
        if dropped := [v for v in variants if VARIANTS[v][1] == 'cuda']: print(f"CUDA not available: {', '.join(dropped)} skipped")
        variants = [v for v in variants if VARIANTS[v][1] != 'cuda']
    if any(VARIANTS[v][0] == 'keras' for v in variants) and not Path(args.keras_python).exists():
        print(f"{args.keras_python} not found (make bench-keras builds it): Keras variants skipped")
        variants = [v for v in variants if VARIANTS[v][0] != 'keras']
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"PyTorch workers OMP_WAIT_POLICY={args.omp_wait}, THP allocations {'on' if args.thp else 'off'}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; sizes {' '.join(sizes)}, batches {batches}, rounds {rounds}", flush=True)
    workers = {}
    for v in variants:
        w = Worker(v, args)
        diffs = ', '.join(f'{k} {d:.1e}' for k, d in w.hello.get('check', {}).items())
        print(f"{v}: outputs against the official fixtures: {diffs or w.hello.get('error')}"
              f"{'' if w.hello.get('ok') else ' -> NOT within tolerance: not timed'}", flush=True)
        if w.hello.get('ok'): workers[v] = w
        else: w.close()
    variants = [v for v in variants if v in workers]
    configs = [(t, s, b) for t in args.tasks for s in sizes for b in batches]
    rows, peaks = [], []
    peak = Worker('peak', args)
    try:
        for r in range(rounds):
            peaks.append([peak.run()])
            print(f"round {r + 1}: mm peak fp32 {peaks[-1][0]['fp32']:.0f}, bf16 {peaks[-1][0]['bf16']:.0f} GFLOP/s, load {peaks[-1][0]['load']:.2f}", flush=True)
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for task, size, batch in configs:
                for v in order:
                    row = {'round': r, 'variant': v, 'task': task, 'size': size, 'batch': batch}
                    need = keras_bytes(task, size, batch) if VARIANTS[v][0] == 'keras' else 0
                    if need > 0.7 * available_bytes():
                        row['error'] = f'skipped: its attention needs about {need / 2 ** 30:.1f} GiB of {available_bytes() / 2 ** 30:.1f} available'
                    else:
                        heavy = flops(task, size) * batch > 1e12   # over ~10 s a call: warm up on one week
                        row.update(workers[v].run(task=task, size=size, batch=batch, min_time=min_time, heavy=heavy))
                    rows.append(row)
                    if 'walls' in row:
                        w = median(row['walls'])
                        print(f"  {task} PAT-{size} b{batch} {v}: {batch / w:.2f} weeks/s ({len(row['walls'])} calls, best {batch / min(row['walls']):.2f}), "
                              f"{100 * flops(task, size) * batch / w / 1e9 / peaks[-1][0]['fp32']:.0f} % of fp32 peak, "
                              f"CPU {sum(row['cpus']) / sum(row['walls']):.2f} cores, peak {row['peak_gib']:.2f} GiB", flush=True)
                    else: print(f"  {task} PAT-{size} b{batch} {v}: {row['error']}", flush=True)
            peaks[-1].append(peak.run())
    finally:
        for w in [*workers.values(), peak]: w.close()
    print('\n' + summarize(rows, peaks, variants) + '\n\n' + targets(rows, peaks))
    out = project_root()/'bench'/'results'/'pat_vs_keras.json'
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps({'args': {k: v for k, v in vars(args).items() if k != 'worker'}, 'variants': variants,
                                   'checks': {v: w.hello for v, w in workers.items()}, 'peaks': peaks, 'rows': rows}, indent=1))
    print(f"\nresults: {out}")


if __name__ == '__main__':
    main()
