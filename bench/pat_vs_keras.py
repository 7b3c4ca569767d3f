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

Variants: `torch-fp32` (the default path), `torch-bf16` (torch.autocast bfloat16: faster, outside the parity
tolerances), `keras-onednn` and `keras-eigen` (TF_ENABLE_ONEDNN_OPTS=1 / 0); optional `torch-textbook` (the
attention computed as before the folded path: four projections, one softmax per head: "today's" speed and memory),
`torch-fp32-spin` (libgomp's default spin-waiting instead of OMP_WAIT_POLICY=PASSIVE), `torch-fp32-glibc` (glibc's
malloc as it comes: freed blocks given back to the system, not kept for reuse by `big_mood.core.reuse_freed_memory`)
and, where CUDA is present,
`cuda-fp32` and `cuda-bf16` (flash / memory-efficient attention kernels; skipped with a line saying so on CPU).
Each variant first compares its outputs with the official fixtures in a process of its own (not timed if out of
tolerance). Then each configuration gets fresh worker processes, one per variant, and runs in rounds: each round
measures the machine's fp32 and bf16 `torch.mm` peak (4096 x 4096, in a process with the PyTorch workers'
settings), then runs every variant once, in an order rotated each round, so a change of load hits all variants
alike. Other processes share the cores and only ever slow a variant down, so each variant is quoted from its fastest
round (the median call of that round) and each ratio is of those, with the range of the same-round ratios beside it.
(Quoting the round with the highest mm peak instead, as this bench did before, let one slow round decide: the variant
running first after the peak measurement was often the slowest of its round.) Use as many rounds as variants so each
runs first once.

Per call: wall time (median of the calls in a round; best beside it) and this process's CPU time; effective
GFLOP/s count the textbook FLOPs (`forward_flops`; for the MAE step 3 x the forward of encoder on the visible
patches and decoder on all) as a fraction of the round's mm peak; peak memory is the worker's peak resident set
(VmHWM: the framework, one model, warm-up and all rounds of the configuration). Inputs are synthetic N(0, 1) weeks
(speed does not depend on the values).

    .venv/bin/python bench/pat_vs_keras.py --quick          # S and M, batch 1 and 64, both tasks, 2 rounds of 1 s
    .venv/bin/python bench/pat_vs_keras.py                  # S, M, L, H, batch 1 and 64, both tasks, 3 rounds of 3 s
    .venv/bin/python bench/pat_vs_keras.py --variants torch-fp32 torch-bf16 keras-onednn --rounds 2 --min-time 1 \
        --configs mae:S:64 infer:S:1 infer:M:1 mae:M:64 infer:S:64 infer:L:1 infer:M:64 mae:L:64 infer:H:1 infer:L:64
        # the README's run: 48 minutes under a load average of 7-13 (the full grid takes hours on a loaded machine)
    .venv/bin/python bench/pat_vs_keras.py --sizes L --batches 64 --tasks infer --variants torch-fp32 torch-textbook

`make bench-keras` builds .venv-keras (requirements-keras.txt) and runs this. Results: bench/results/pat_vs_keras.json.
"""
import argparse, ctypes, json, os, signal, subprocess, sys, time
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
            'torch-fp32-glibc': ('torch', 'cpu', 'fp32', {'GLIBC_TUNABLES': 'glibc.malloc.tcache_count=7'}),   # glibc's default value: set, so `reuse_freed_memory` stays off
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
        from big_mood.models.pat_keras import convert_keras_h5
        np, torch, F, out = self.np, self.torch, shared_fixtures(), {}
        for name, cfg in (('pat_s', self.pat.pat_s()), ('pat_m', self.pat.pat_m())):
            model, _ = convert_keras_h5(F/name/'classifier.h5', cfg)
            io = np.load(F/name/'io.npz')
            got = self.embed(model.to(self.device), io['X'], precision=self.precision)
            out[f'{name} sequence'] = float(np.abs(got['sequence'] - io['enc_out']).max())
            out[f'{name} pooled'] = float(np.abs(got['pooled'] - io['pooled']).max())
        mae, _ = convert_keras_h5(F/'pat_s'/'mae.h5', self.pat.pat_s())
        io = np.load(F/'pat_s'/'mae_io.npz')
        with torch.no_grad(), torch.autocast(self.device, torch.bfloat16, enabled=self.precision == 'bf16'):
            loss, pred, _ = mae.to(self.device).eval()(torch.from_numpy(io['X']).to(self.device), perm=torch.from_numpy(io['perm']).long())
        out['pat_s mae recon'] = float(np.abs(pred.flatten(1).float().cpu().numpy() - io['recon']).max())
        out['pat_s mae loss'] = abs(float(loss) - float(io['loss']))
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


def serve(variant: str, check: bool):
    "Worker loop: with `check`, compare with the official outputs and stop; else answer one timing request per line."
    def reply(obj): print(json.dumps(obj), flush=True)
    ctypes.CDLL('libc.so.6').prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG: end with the main process, however it ends
    if variant == 'peak':   # the machine's matrix-product peak, with the PyTorch workers' settings
        reply({'ok': True})
        for _ in sys.stdin: reply(mm_peak())
        return
    framework, device, mode, _ = VARIANTS[variant]
    base = status_gib('VmRSS')
    runner = (TorchRunner if framework == 'torch' else KerasRunner)(device, mode)
    if check:
        try: diffs = runner.check(); reply({'check': diffs, 'ok': runner.ok(diffs)})
        except Exception as e: reply({'check': {}, 'ok': False, 'error': f'{type(e).__name__}: {e}'.splitlines()[0]})
        return
    reply({'ok': True, 'framework_gib': status_gib('VmRSS') - base})
    fn = None
    for line in sys.stdin:   # one configuration per worker: the first request warms up
        req = json.loads(line)
        task, size, batch, min_time = req['task'], req['size'], req['batch'], req['min_time']
        try:
            if fn is None:
                runner.call(task, size, 1 if req['heavy'] else batch)()   # warm-up (a heavy configuration: on one week)
                fn = runner.call(task, size, batch)
            walls, cpus = [], []
            while not walls or (sum(walls) < min_time and len(walls) < 50):
                t, c = time.perf_counter(), time.process_time()
                fn()
                walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
            reply({'walls': walls, 'cpus': cpus, 'peak_gib': status_gib('VmHWM'),
                   **({'cuda_peak_gib': runner.torch.cuda.max_memory_allocated() / 2 ** 30} if device == 'cuda' else {})})
        except Exception as e:   # e.g. out of memory: reported, the run goes on
            reply({'error': f'{type(e).__name__}: {e}'.splitlines()[0][:200]})


# ---------- main side (the project's environment: torch)
class Worker:
    "A variant's worker process: `check` runs the fixture comparison only; otherwise it times one configuration."
    def __init__(self, variant: str, args, check: bool = False):
        framework, device, mode, extra = VARIANTS.get(variant, ('torch', 'cpu', '', {}))
        python = args.keras_python if framework == 'keras' else sys.executable
        env = {**os.environ, 'TQDM_DISABLE': '1', 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               'THP_MEM_ALLOC_ENABLE': '1' if args.thp else '0', 'TF_CPP_MIN_LOG_LEVEL': '2', 'TF_USE_LEGACY_KERAS': '1'}
        if framework == 'torch': env['OMP_WAIT_POLICY'] = args.omp_wait
        env.update(extra)
        env = {k: v for k, v in env.items() if v is not None}
        if args.threads: env['OMP_NUM_THREADS'] = env['TF_NUM_INTRAOP_THREADS'] = str(args.threads)
        self.variant, self.proc = variant, subprocess.Popen([python, __file__, '--worker', variant] + ['--check'] * check, stdin=subprocess.PIPE,
                                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.hello = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {'error': f'worker exited with code {self.proc.wait()}'}

    def run(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + '\n'); self.proc.stdin.flush()
        return self.read()

    def close(self):
        "End the worker: it exits at the end of its input; one still busy (an interrupted run) is killed."
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try: self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()


def mm_peak() -> dict:
    "Best GFLOP/s of a 4096 x 4096 torch.mm on CPU in fp32 and bf16 (5 calls after a warm-up), and the load average."
    import torch   # noqa: the peak worker imports it here, under its own settings
    out = {}
    for name, dtype in (('fp32', torch.float32), ('bf16', torch.bfloat16)):
        a, b = (torch.randn(4096, 4096).to(dtype) for _ in range(2))
        torch.mm(a, b)
        out[name] = max(2 * 4096 ** 3 / t / 1e9 for t in (timed(torch.mm, a, b) for _ in range(5)))
    if torch.cuda.is_available():   # TF32 stays off (torch's default): fp32 means fp32
        for name, dtype in (('cuda_fp32', torch.float32), ('cuda_bf16', torch.bfloat16)):
            a, b = (torch.randn(8192, 8192, device='cuda', dtype=dtype) for _ in range(2))
            torch.mm(a, b); torch.cuda.synchronize()
            out[name] = max(2 * 8192 ** 3 / t / 1e9 for t in (timed(lambda: (torch.mm(a, b), torch.cuda.synchronize())) for _ in range(5)))
    out['load'] = os.getloadavg()[0]
    return out


def timed(f, *a) -> float:
    t = time.perf_counter(); f(*a)
    return time.perf_counter() - t


def median(xs): return sorted(xs)[len(xs) // 2]


def peak_key(v: str) -> str:
    "Which matrix-product peak a variant is measured against: cuda_ or not, bf16 or fp32."
    return ('cuda_' if VARIANTS[v][1] == 'cuda' else '') + ('bf16' if VARIANTS[v][2] == 'bf16' else 'fp32')


def describe(row: dict) -> str:
    "One timing row in words."
    if 'walls' not in row: return row['error']
    w, key = median(row['walls']), peak_key(row['variant'])
    return (f"{row['batch'] / w:.2f} weeks/s ({len(row['walls'])} calls, best {row['batch'] / min(row['walls']):.2f}), "
            f"{100 * flops(row['task'], row['size']) * row['batch'] / w / 1e9 / row['mm'][key]:.0f} % of the {key} peak, "
            f"CPU {sum(row['cpus']) / sum(row['walls']):.2f} cores, peak {row['peak_gib']:.2f} GiB"
            + (f", GPU {row['cuda_peak_gib']:.2f} GiB" if 'cuda_peak_gib' in row else ''))


def by_config(rows: list) -> dict:
    "{(task, size, batch): {'best': {variant: its fastest round}, 'speed': {(round, variant): weeks/s}, 'rows': ..., 'mm': {round: fp32 peak}}}"
    out = {}
    for r in rows:
        c = out.setdefault((r['task'], r['size'], r['batch']), {'speed': {}, 'rows': {}, 'mm': {}})
        if 'walls' in r:
            c['speed'][r['round'], r['variant']] = r['batch'] / median(r['walls'])
            c['rows'][r['round'], r['variant']] = r
            c['mm'][r['round']] = r['mm']['fp32']
        else: c['rows'][None, r['variant']] = r
    for c in out.values(): c['best'] = {v: max((r for r, u in c['speed'] if u == v), key=lambda r: c['speed'][r, v]) for _, v in c['speed']}
    return out


def cpu_ratio(c: dict, v: str, base: str = BASELINE) -> float | None:
    "v / base in weeks per CPU second of the worker (all rounds): the work each needs, whatever share of the cores it got."
    per_cpu = {u: sum(r['batch'] * len(r['cpus']) for (_, w), r in c['rows'].items() if w == u and 'cpus' in r) /
                  max(sum(sum(r['cpus']) for (_, w), r in c['rows'].items() if w == u and 'cpus' in r), 1e-9) for u in (v, base)}
    return per_cpu[v] / per_cpu[base] if all(per_cpu.values()) else None


def best_speed(c: dict, v: str) -> float | None:
    "A variant's weeks/s in its fastest round: other jobs only ever slow a variant down, so this is nearest its own speed."
    return c['speed'][c['best'][v], v] if v in c['best'] else None


def ratio(c: dict, v: str, base: str = BASELINE) -> tuple:
    "v / base, each in its fastest round, and the lowest and highest over the rounds where both ran (same round)."
    per = [c['speed'][r, v] / c['speed'][r, base] for r in c['mm'] if (r, v) in c['speed'] and (r, base) in c['speed']]
    b = best_speed(c, v), best_speed(c, base)
    return (b[0] / b[1] if all(b) else None), (min(per) if per else None), (max(per) if per else None)


def peak_fraction(c: dict, task: str, size: str, batch: int) -> float | None:
    "torch-fp32's textbook GFLOP/s in its fastest round as a fraction of that round's fp32 mm peak."
    r = c['rows'].get((c['best'].get('torch-fp32'), 'torch-fp32'))
    return flops(task, size) * batch / median(r['walls']) / 1e9 / r['mm']['fp32'] if r else None


def summarize(rows: list, variants: list) -> str:
    "Markdown table: each variant's weeks/s in its fastest round, ratios against Keras + oneDNN (range over rounds), peaks."
    others = [v for v in variants if v != BASELINE]
    lines = ['| task | size | batch | mm peak GFLOP/s (rounds) | ' + ' | '.join(f'{v} weeks/s' for v in variants) + ' | ' +
             ' | '.join(f'{v} / {BASELINE} (range)' for v in others) + ' | torch-fp32 % of fp32 peak | peak GiB (' + ', '.join(variants) + ') |',
             '|---' * (5 + len(variants) + len(others)) + '|---|']
    for (task, size, batch), c in by_config(rows).items():
        cols = [f"{best_speed(c, v):.2f}" if v in c['best'] else ('skipped' if (None, v) in c['rows'] else 'error') for v in variants]
        rats = []
        for v in others:
            x, lo, hi = ratio(c, v) if BASELINE in variants else (None, None, None)
            per_cpu = cpu_ratio(c, v) if BASELINE in variants else None
            rats.append((f'**{x:.2f}x** ({lo:.2f}-{hi:.2f})' if x else '') + (f'; {per_cpu:.2f}x per CPU s' if per_cpu else ''))
        frac = f"{100 * f:.0f} %" if (f := peak_fraction(c, task, size, batch)) else ''
        mem = ', '.join(f"{max(r['peak_gib'] for (_, u), r in c['rows'].items() if u == v and 'peak_gib' in r):.2f}"
                        if any(u == v and 'peak_gib' in r for (_, u), r in c['rows'].items()) else '-' for v in variants)
        mm = f"{min(c['mm'].values()):.0f}-{max(c['mm'].values()):.0f}" if c['mm'] else ''
        lines.append(f'| {task} | PAT-{size} | {batch} | {mm} | ' + ' | '.join(cols) + ' | ' + ' | '.join(rats) + f' | {frac} | {mem} |')
    return '\n'.join(lines)


def targets(rows: list) -> str:
    "The issue's targets, each from every variant's fastest round (and the range over rounds)."
    out = []
    for (task, size, batch), c in by_config(rows).items():
        x, lo, hi = ratio(c, 'torch-fp32')
        if x: out.append(f"{task} PAT-{size} batch {batch}: torch-fp32 {x:.2f}x {BASELINE} (rounds {lo:.2f}-{hi:.2f}; target >= 1.5x): "
                         f"{'met' if x >= 1.5 else 'NOT met'}; per CPU second {cpu_ratio(c, 'torch-fp32'):.2f}x")
        if (task, size, batch) == ('infer', 'L', 64) and (frac := peak_fraction(c, task, size, batch)):
            out.append(f"infer PAT-L batch 64: {100 * frac:.0f} % of the fp32 mm peak (target >= 75 %): {'met' if frac >= 0.75 else 'NOT met'}")
        old = [r['peak_gib'] for (_, v), r in c['rows'].items() if v == 'torch-textbook' and 'peak_gib' in r]
        new = [r['peak_gib'] for (_, v), r in c['rows'].items() if v == 'torch-fp32' and 'peak_gib' in r]
        if old and new: out.append(f"{task} PAT-{size} batch {batch}: peak memory {max(new):.2f} GiB, textbook path {max(old):.2f} GiB")
    return '\n'.join(out)


def measure(task: str, size: str, batch: int, variants: list, peak: Worker, args, rounds: int, min_time: float, rows: list):
    "One configuration: fresh workers, `rounds` rounds of every variant (order rotated), rows appended as they come."
    todo, workers = [], {}
    for v in variants:
        need = keras_bytes(task, size, batch) if VARIANTS[v][0] == 'keras' else 0
        if need > 0.7 * available_bytes():
            rows.append({'variant': v, 'task': task, 'size': size, 'batch': batch,
                         'error': f'skipped: its attention needs about {need / 2 ** 30:.1f} GiB of {available_bytes() / 2 ** 30:.1f} available'})
            print(f"  {task} PAT-{size} b{batch} {v}: {rows[-1]['error']}", flush=True)
        else: todo.append(v)
    try:
        workers = {v: Worker(v, args) for v in todo}
        for r in range(rounds):
            mm = peak.run()
            print(f"{task} PAT-{size} batch {batch}, round {r + 1}: mm peak fp32 {mm['fp32']:.0f}, bf16 {mm['bf16']:.0f} GFLOP/s, load {mm['load']:.2f}", flush=True)
            for v in todo[r % len(todo):] + todo[:r % len(todo)]:
                rows.append({'round': r, 'variant': v, 'task': task, 'size': size, 'batch': batch, 'mm': mm,
                             'framework_gib': workers[v].hello.get('framework_gib'),
                             **workers[v].run(task=task, size=size, batch=batch, min_time=min_time, heavy=flops(task, size) * batch > 1e12)})
                print(f"  {v}: {describe(rows[-1])}", flush=True)
    finally:
        for w in workers.values(): w.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='S and M, batch 1 and 64, 2 rounds, 1 s per configuration')
    p.add_argument('--sizes', nargs='+', choices=list(SIZES))
    p.add_argument('--batches', nargs='+', type=int)
    p.add_argument('--tasks', nargs='+', default=['infer', 'mae'], choices=['infer', 'mae'])
    p.add_argument('--variants', nargs='+', choices=list(VARIANTS), help=f"default: {' '.join(DEFAULT_VARIANTS)} (+ CUDA ones where present)")
    p.add_argument('--configs', nargs='+', metavar='TASK:SIZE:BATCH', help='these configurations (e.g. mae:S:64 infer:L:1) instead of the grid')
    p.add_argument('--rounds', type=int)
    p.add_argument('--min-time', type=float, help='seconds of timed calls per configuration and round (at least one call)')
    p.add_argument('--threads', type=int, help='threads for both frameworks (default: each its own, one per core)')
    p.add_argument('--no-thp', dest='thp', action='store_false', help="THP_MEM_ALLOC_ENABLE=0 for the PyTorch workers (the library turns it on)")
    p.add_argument('--omp-wait', default='PASSIVE', choices=['PASSIVE', 'ACTIVE'],
                   help="OMP_WAIT_POLICY of the PyTorch workers (torch-fp32-spin: unset, libgomp's default spin-wait)")
    p.add_argument('--keras-python', default=str(ROOT/'.venv-keras'/'bin'/'python'), help='the Keras environment (make bench-keras)')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--check', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker: return serve(args.worker, args.check)

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
    checks = {}
    for v in variants:   # each variant's outputs against the official ones, in a fresh process, before any timing
        w = Worker(v, args, check=True); w.close()
        checks[v] = w.hello
        diffs = ', '.join(f'{k} {d:.1e}' for k, d in w.hello.get('check', {}).items())
        print(f"{v}: outputs against the official fixtures: {diffs or w.hello.get('error')}"
              f"{'' if w.hello.get('ok') else ' -> NOT within tolerance: not timed'}", flush=True)
    variants = [v for v in variants if checks[v].get('ok')]
    configs = ([(t, s, int(b)) for t, s, b in (c.split(':') for c in args.configs)] if args.configs
               else [(t, s, b) for t in args.tasks for s in sizes for b in batches])
    rows, peak = [], Worker('peak', args)
    try:
        for task, size, batch in configs: measure(task, size, batch, variants, peak, args, rounds, min_time, rows)
    except KeyboardInterrupt: print('interrupted: the tables below hold the configurations measured so far')
    finally: peak.close()
    print('\n' + summarize(rows, variants) + '\n\n' + targets(rows))
    out = project_root()/'bench'/'results'/'pat_vs_keras.json'
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps({'args': {k: v for k, v in vars(args).items() if k not in ('worker', 'check')},
                                   'variants': variants, 'checks': checks, 'rows': rows}, indent=1))
    print(f"\nresults: {out}")


if __name__ == '__main__':
    main()
