"""Mamba-2 EEG pretraining throughput: windows per second of masked-model training steps, against a baseline measured in the same run.

A training step here is the forward and backward pass of `MambaEEGMAE` (masked reconstruction loss) on a batch of
windows, with the same weights, the same windows and the same masks for every implementation of the Mamba-2 layers:

- CPU: `ours`, big_mood's PyTorch `Mamba2` (chunked SSD scan), against `transformers`, the same model with every
  mixer replaced by transformers' `Mamba2Mixer` (its PyTorch path) holding the same state_dict;
- CUDA, when present: `ours` on the GPU against `mamba_ssm`, the same model built with mamba_ssm's `Mamba2`
  (Triton kernels) when mamba_ssm imports.

The ratio is ours / baseline. Implementations alternate step by step, so a change in the load of the shared cores
hits both; the median step time is used (the best is printed beside it), with the load average. Each device runs in a
fresh subprocess; the CPU one blocks mamba_ssm from importing, because transformers would otherwise pick its Triton
kernels, which fail on CPU tensors. The data are random windows (synthetic): the speed does not depend on the values.
The window count of the real Muse recordings (BIG_MOOD_SHARED) is printed with the time one epoch over them would take.

    .venv/bin/python bench/eeg.py                          # default model, 10 s windows, batch 32, both styles
    .venv/bin/python bench/eeg.py --threads 1 --rounds 10 --masking-styles mae
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

import torch


def sync(device: str):
    if device.startswith('cuda'): torch.cuda.synchronize()


def transformers_mixer(layer):
    "transformers' Mamba2Mixer with the configuration and state_dict of big_mood's Mamba2 `layer`."
    from transformers import Mamba2Config
    from transformers.models.mamba2.modeling_mamba2 import Mamba2Mixer
    cfg = Mamba2Config(hidden_size=layer.d_model, state_size=layer.d_state, expand=layer.expand, head_dim=layer.headdim,
                       num_heads=layer.nheads, n_groups=layer.ngroups, chunk_size=layer.chunk_size, conv_kernel=layer.d_conv,
                       use_bias=False, use_conv_bias=True, layer_norm_epsilon=1e-5, num_hidden_layers=1)
    mixer = Mamba2Mixer(cfg, layer_idx=0).to(layer.out_proj.weight.device)
    mixer.load_state_dict(layer.state_dict(), strict=True)
    return mixer


def build(impl: str, cfg, device: str, state: dict):
    "The masked model with `impl`'s Mamba-2 layers and the weights `state`."
    from big_mood.models.mamba_eeg import MambaEEGMAE
    model = MambaEEGMAE(cfg, backend='mamba_ssm' if impl == 'mamba_ssm' else 'torch').to(device)
    if impl == 'transformers':
        for block in [*model.backbone.layers, *model.decoder_layers]: block.mixer = transformers_mixer(block.mixer)
    model.load_state_dict(state, strict=True)
    return model.train()


def run_device(device: str, batch: int, seconds: float, rounds: int, styles: list[str], mask_ratio: float) -> list[dict]:
    "Alternate training steps of the implementations on one device (called in a fresh subprocess); one row per implementation and style."
    from big_mood.models.mamba import mamba2_backend
    from big_mood.models.mamba_eeg import MambaEEGConfig, MambaEEGMAE
    cfg = MambaEEGConfig()
    torch.manual_seed(0)
    state = MambaEEGMAE(cfg, backend='torch').state_dict()
    impls = ['transformers', 'ours'] if device == 'cpu' else (['mamba_ssm', 'ours'] if mamba2_backend()[0] == 'mamba_ssm' else ['ours'])
    models = {impl: build(impl, cfg, device, state) for impl in impls}
    x = (torch.randn(batch, cfg.in_channels, round(seconds * 256), generator=torch.Generator().manual_seed(0)) * 20).to(device)
    rows = []
    for style in styles:
        times, losses = {impl: [] for impl in impls}, {}
        for i in range(rounds + 1):                    # round 0 warms up
            for impl, model in models.items():
                sync(device); t = time.perf_counter()
                loss, _, _ = model(x, mask_ratio, style, torch.Generator().manual_seed(i))
                model.zero_grad(set_to_none=True); loss.backward(); sync(device)
                if i: times[impl].append(time.perf_counter() - t)
                losses.setdefault(i, {})[impl] = loss.item()
        gap = max(max(v.values()) - min(v.values()) for v in losses.values())
        load = os.getloadavg()[0]
        for impl, ts in times.items():
            sec, best = sorted(ts)[len(ts) // 2], min(ts)
            rows.append({'device': device, 'style': style, 'impl': impl, 'batch': batch, 'window_s': seconds, 'tokens': x.shape[-1] // cfg.patch_size,
                         'steps': len(ts), 's_per_step': sec, 'windows_per_s': batch / sec, 'best_windows_per_s': batch / best,
                         'max_loss_gap': gap, 'load': load, 'threads': torch.get_num_threads()})
    return rows


def in_subprocess(device, args) -> list[dict]:
    cmd = [sys.executable, __file__, '--one', device, '--batch-size', str(args.batch_size), '--seconds', str(args.seconds),
           '--rounds', str(args.rounds), '--mask-ratio', str(args.mask_ratio), '--masking-styles', *args.masking_styles]
    if args.threads: cmd += ['--threads', str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'TQDM_DISABLE': '1'})
    if out.returncode: return [{'device': device, 'impl': '-', 'style': '-', 'error': (out.stderr.strip().splitlines() or ['failed'])[-1]}]
    return json.loads(out.stdout.strip().splitlines()[-1])


def muse_windows(seconds: float) -> tuple[int, int] | None:
    "(files, non-overlapping windows of `seconds`) in the real Muse recordings, or None where they are absent."
    from big_mood.core import shared_dir
    folder = shared_dir()/'data'/'muse'
    files = sorted(folder.rglob('*.csv')) if folder.is_dir() else []
    if not files: return None
    per_window = round(seconds * 256)
    return len(files), sum((sum(b.count(b'\n') for b in iter(lambda f=f: f.read(1 << 20), b'')) - 1) // per_window
                           for f in (open(p, 'rb') for p in files))


def table(rows) -> str:
    "Markdown table with the ours / baseline ratio per device and style."
    base = {(r['device'], r['style']): r for r in rows if 'error' not in r and r['impl'] != 'ours'}
    lines = ['| device | style | impl | batch | tokens | steps | windows/s (median / best) | s/step | ours / baseline | max loss gap | load | threads |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        if 'error' in r: lines.append(f"| {r['device']} | | | | | | {r['error']} | | | | | |"); continue
        b = base.get((r['device'], r['style']))
        ratio = f"{b['s_per_step'] / r['s_per_step']:.2f}x vs {b['impl']}" if b and r['impl'] == 'ours' else ''
        lines.append(f"| {r['device']} | {r['style']} | {r['impl']} | {r['batch']} | {r['tokens']} | {r['steps']} | {r['windows_per_s']:.1f} / "
                     f"{r['best_windows_per_s']:.1f} | {r['s_per_step']:.3f} | {ratio} | {r['max_loss_gap']:.1e} | {r['load']:.1f} | {r['threads']} |")
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch-size', type=int, default=32, help='windows per training step (eeg-mlflow: 64)')
    p.add_argument('--seconds', type=float, default=10.0, help='window length in seconds at 256 Hz (eeg-mlflow: 10)')
    p.add_argument('--rounds', type=int, default=6, help='timed steps of each implementation (they alternate), after one warm-up round')
    p.add_argument('--masking-styles', nargs='+', default=['mae', 'bert'], choices=['mae', 'bert'])
    p.add_argument('--mask-ratio', type=float, default=0.3, help='share of tokens hidden (eeg-mlflow: 0.3)')
    p.add_argument('--threads', type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument('--one', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    if args.one:
        if args.one == 'cpu': sys.modules.update({'mamba_ssm': None, 'causal_conv1d': None})   # transformers must not see them
        print(json.dumps(run_device(args.one, args.batch_size, args.seconds, args.rounds, args.masking_styles, args.mask_ratio)))
        return
    from big_mood.core import atomic_write, project_root
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    rows = []
    for device in ['cpu'] + (['cuda'] if torch.cuda.is_available() else []):
        for r in in_subprocess(device, args):
            rows.append(r); print(json.dumps(r), flush=True)
    if not torch.cuda.is_available(): print('no CUDA device: the mamba_ssm comparison was not run')
    print('\n' + table(rows))
    muse = muse_windows(args.seconds)
    ours = [r for r in rows if r.get('impl') == 'ours' and r['device'] == 'cpu']
    if muse and ours:
        files, windows = muse
        print(f"\nreal Muse recordings: {files} files, {windows} non-overlapping {args.seconds:g} s windows; one pretraining epoch "
              + ', '.join(f"({r['style']}) ~{windows / r['windows_per_s']:.0f} s" for r in ours) + ' of forward+backward on this CPU')
    out = project_root()/'bench'/'results'/'eeg.json'
    with atomic_write(out) as tmp: tmp.write_text(json.dumps({'load_at_start': load, 'muse': muse, 'rows': rows}, indent=1))
    print(f"\nresults: {out}")


if __name__ == '__main__':
    main()
