"""PAT pretraining throughput (masked autoencoder, training steps), against a baseline loop measured in the same run.

For each size (S/M/L) on CPU (and CUDA when present), one fresh subprocess per size, weeks per second of full
training steps (forward, MSE over all minutes, backward, Adam step) at mask ratio 0.90, for two loops over the same
data from the same initial weights:

- `ours`: big_mood.train.train_one_epoch with big_mood.pretrain.mae_step: batches indexed from one in-memory tensor,
  one shared mask per batch, and the model's fused attention (F.scaled_dot_product_attention, flash kernel);
- `baseline`: the straightforward loop: a torch DataLoader over a TensorDataset (per-sample collation) and attention
  computed the textbook way, every [batch, heads, N, N] score matrix materialised (SDPA's math backend).

The speed-up is ours / baseline at the same size, batch and device. The two loops alternate step by step, so a
change in the load of the shared cores hits both; the median step time is used (the best is printed beside it),
and the load average is printed with each size.

    .venv/bin/python bench/pat_train.py                      # S, M, L on CPU (about 5 minutes on 2 cores)
    .venv/bin/python bench/pat_train.py --sizes S --batch-size 32 --rounds 8
"""
import argparse, json, os, subprocess, sys, time

import torch


def sync(device: str):
    if device.startswith('cuda'): torch.cuda.synchronize()


def run_size(size: str, device: str, batch: int, rounds: int) -> list[dict]:
    "Alternate training steps of both loops on one size (called in a fresh subprocess); one row per loop."
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.data import DataLoader, TensorDataset
    from big_mood.models.pat import PAT_SIZES, PATMAE
    from big_mood.pretrain import mae_step
    from big_mood.train import batch_indices, train_one_epoch
    cfg = PAT_SIZES[size]()
    x = torch.randn(batch * 8, cfg.input_size, generator=torch.Generator().manual_seed(0))
    loops = {}
    for impl in ('baseline', 'ours'):
        torch.manual_seed(0)
        model = PATMAE(cfg).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-7)
        gen = torch.Generator().manual_seed(0)
        if impl == 'ours':
            step, batches = mae_step(x, 0.9, torch.device(device)), batch_indices(len(x), batch, seed=0)
            loops[impl] = lambda i, model=model, opt=opt, gen=gen, step=step, batches=batches: train_one_epoch(
                model, step, opt, batches[i % len(batches):i % len(batches) + 1], 0, gen)
        else:
            loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True)
            state = {'it': iter(loader)}
            def one(i, model=model, opt=opt, gen=gen, loader=loader, state=state):
                try: (xb,) = next(state['it'])
                except StopIteration: state['it'] = iter(loader); (xb,) = next(state['it'])
                with sdpa_kernel(SDPBackend.MATH):
                    loss, _, _ = model(xb.to(device), 0.9, generator=gen)
                opt.zero_grad(); loss.backward(); opt.step()
            loops[impl] = one
    times = {k: [] for k in loops}
    for i in range(rounds + 1):                 # round 0 warms up; the loops alternate, so a change of load hits both
        for impl, one in loops.items():
            sync(device); t = time.perf_counter()
            one(i); sync(device)
            if i: times[impl].append(time.perf_counter() - t)
    load = os.getloadavg()[0]
    out = []
    for impl, ts in times.items():
        sec, best = sorted(ts)[len(ts) // 2], min(ts)
        out.append({'size': size, 'impl': impl, 'device': device, 'batch': batch, 'steps': len(ts), 's_per_step': sec,
                    'weeks_per_s': batch / sec, 'best_weeks_per_s': batch / best, 'load': load, 'threads': torch.get_num_threads()})
    return out


def in_subprocess(size, device, batch, rounds) -> list[dict]:
    cmd = [sys.executable, __file__, '--one', size, device, str(batch), str(rounds)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'TQDM_DISABLE': '1'})
    if out.returncode: return [{'size': size, 'impl': impl, 'device': device, 'batch': batch, 'error': out.stderr.strip().splitlines()[-1]} for impl in ('baseline', 'ours')]
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows) -> str:
    "Markdown table of every configuration with the ours / baseline speed-up."
    base = {(r['device'], r['size']): r for r in rows if r['impl'] == 'baseline' and 'error' not in r}
    lines = ['| device | size | batch | loop | steps | weeks/s (median / best) | s/step | ours / baseline | load |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        if 'error' in r:
            lines.append(f"| {r['device']} | {r['size']} | {r['batch']} | {r['impl']} | | {r['error']} | | | |"); continue
        b = base.get((r['device'], r['size']))
        speedup = f"{b['s_per_step'] / r['s_per_step']:.2f}x" if b and r['impl'] == 'ours' else ''
        lines.append(f"| {r['device']} | {r['size']} | {r['batch']} | {r['impl']} | {r['steps']} | {r['weeks_per_s']:.2f} / {r['best_weeks_per_s']:.2f} | "
                     f"{r['s_per_step']:.2f} | {speedup} | {r['load']:.1f} |")
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', nargs='+', default=['S', 'M', 'L'], choices=['S', 'M', 'L', 'H'])
    p.add_argument('--batch-size', type=int, default=16, help='weeks per training step (paper: 128)')
    p.add_argument('--rounds', type=int, default=4, help='timed steps of each loop (they alternate), after one warm-up round')
    p.add_argument('--one', nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        size, device, batch, rounds = args.one
        print(json.dumps(run_size(size, device, int(batch), int(rounds))))
        return
    from big_mood.core import atomic_write, project_root
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    rows = []
    for device in devices:
        for size in args.sizes:
            for r in in_subprocess(size, device, args.batch_size, args.rounds):
                rows.append(r)
                print(json.dumps(r), flush=True)
    print('\n' + table(rows))
    out = project_root()/'bench'/'results'/'pat_train.json'
    with atomic_write(out) as tmp: tmp.write_text(json.dumps({'load_at_start': load, 'rows': rows}, indent=1))
    print(f"\nresults: {out}")


if __name__ == '__main__':
    main()
