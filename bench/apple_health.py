"""Benchmark: the Apple Health reader against a bare lxml `iterparse(tag='Record')` pass, on synthetic exports.

Run: `.venv/bin/python bench/apple_health.py [--months 1 3 12] [--rounds 3] [--workers 2] [--keep DIR]`.

Writes one synthetic person's export (big_mood.data.synthetic_apple; synthetic, not a real person's) as bare XML and
as the Health app's zip for each length in `--months` (12 months is about 280 MB of XML), kept in `--keep` for the
next run. Every measurement runs in a fresh Python process, in alternating rounds (baseline, reader on the XML,
reader on the zip, then again), because other work shares this machine's cores. It prints:

- the machine load and CPU count;
- per round, on the longest export: MB of XML per second of the baseline (iterparse over the XML that visits and
  clears each `Record`), of `read_apple_export` on the XML and on the zip (whole reader: parsing, dates, de-duplication,
  minutes, sleep, weeks, writing), their CPU seconds, and the ratios reader / baseline (target >= 1 on 2 cores) and
  zip / XML (target within 15 %); nothing samples memory during these runs (reading /proc/PID/smaps_rollup every
  20 ms cost the reader, with three processes to sample, more CPU than the one-process baseline);
- per export length, in separate runs, the reader's peak memory: the peak summed PSS of its process and its helpers
  (shared pages counted once), the process' peak RSS, and its RSS after the imports alone (numpy, pandas, pyarrow,
  lxml), so the reader's own share shows (target < 300 MiB whatever the export's length); then how much the peak grows
  per month from the second-longest export to the longest (target: flat; exports of a few months peak lower, as the
  helpers reach their steady parsing memory only after some blocks).
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

RUN = r'''
import json, os, sys, threading, time
def status(key):
    "A size from /proc/self/status in bytes (VmRSS: now, VmHWM: peak; both start afresh at exec, unlike ru_maxrss)."
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'): return int(line.split()[1]) * 1024
def pss(pid):
    try:
        for line in open(f'/proc/{pid}/smaps_rollup'):
            if line.startswith('Pss:'): return int(line.split()[1]) * 1024
    except OSError: pass
    return 0
def tree(pid):
    kids = []
    for task in os.listdir(f'/proc/{pid}/task'):
        try: kids += [int(k) for k in open(f'/proc/{pid}/task/{task}/children').read().split()]
        except OSError: pass
    return [pid] + [p for k in kids for p in tree(k)]
peak, done = [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], sum(pss(p) for p in tree(os.getpid()))); time.sleep(0.02)
kind, path, out, workers, sampled = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == 'memory'
if kind == 'baseline':
    from lxml import etree
else:
    from big_mood.data.apple_health import read_apple_export
after_imports = status('VmRSS')
if sampled: threading.Thread(target=sample, daemon=True).start()   # only in memory runs: reading smaps costs CPU
c0, t0 = os.times(), time.perf_counter()
if kind == 'baseline':
    for _, el in etree.iterparse(path, tag='Record'):
        el.clear()
else:
    read_apple_export(path, out, workers=workers, progress=False)
wall, c1 = time.perf_counter() - t0, os.times()
done.set()
cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - (c0.user + c0.system + c0.children_user + c0.children_system)
print(json.dumps({'wall': wall, 'cpu': cpu, 'peak_pss': peak[0], 'peak_rss': status('VmHWM'), 'after_imports': after_imports}))
'''


def run(kind, path, out, workers, what='time'):
    "Run one measurement in a fresh process (`what`: 'time', or 'memory' with the PSS sampler on); its JSON result."
    env = {**os.environ, 'TQDM_DISABLE': '1', 'PYTHONPATH': str(Path(__file__).resolve().parents[1])}
    res = subprocess.run([sys.executable, '-c', RUN, kind, str(path), str(out), str(workers), what], capture_output=True, text=True, env=env)
    if res.returncode: raise SystemExit(f'{kind} {path} failed:\n{res.stderr}')
    return json.loads(res.stdout.strip().splitlines()[-1])


def exports(keep:Path, months:int):
    "(xml, zip) synthetic exports of `months` months, written once into `keep`."
    from big_mood.data.synthetic_apple import write_synthetic_export
    xml, zp = keep / f'export_{months}m.xml', keep / f'export_{months}m.zip'
    for path in (xml, zp):
        if not path.exists():
            t = time.perf_counter()
            write_synthetic_export(path, seed=3, days=round(months * 365 / 12))
            print(f'wrote {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s', flush=True)
    return xml, zp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--months', type=int, nargs='+', default=[1, 3, 12], help='export lengths (the longest is timed)')
    ap.add_argument('--rounds', type=int, default=3, help='alternating timing rounds on the longest export')
    ap.add_argument('--workers', type=int, default=2, help='processes the reader parses with')
    ap.add_argument('--keep', default=str(Path(tempfile.gettempdir()) / 'big_mood_bench_apple'), help='folder for the synthetic exports')
    args = ap.parse_args()
    keep = Path(args.keep); keep.mkdir(parents=True, exist_ok=True)
    files = {m: exports(keep, m) for m in sorted(args.months)}
    print(f'machine: {os.cpu_count()} CPUs, load average {" ".join(f"{x:.2f}" for x in os.getloadavg())}; reader workers={args.workers}')
    xml, zp = files[max(files)]
    mb = xml.stat().st_size / 1e6
    print(f'\ntiming on the {max(files)}-month export ({mb:.0f} MB of XML; zip {zp.stat().st_size / 1e6:.0f} MB), MB of XML per second:')
    rows = []
    for r in range(args.rounds):
        b = run('baseline', xml, '', 1)
        x = run('reader', xml, keep / 'out', args.workers)
        z = run('reader', zp, keep / 'out', args.workers)
        rows.append((mb / b['wall'], mb / x['wall'], mb / z['wall']))
        print(f'round {r + 1}: baseline {rows[-1][0]:6.1f} MB/s ({b["cpu"]:.1f} s CPU) | reader xml {rows[-1][1]:6.1f} MB/s ({x["cpu"]:.1f} s CPU) '
              f'| reader zip {rows[-1][2]:6.1f} MB/s ({z["cpu"]:.1f} s CPU) | reader/baseline {rows[-1][1] / rows[-1][0]:.2f} | zip/xml {rows[-1][2] / rows[-1][1]:.2f}', flush=True)
    med = [sorted(c)[len(c) // 2] for c in zip(*rows)]
    print(f'median: baseline {med[0]:.1f} MB/s, reader xml {med[1]:.1f} MB/s, zip {med[2]:.1f} MB/s; '
          f'reader/baseline {med[1] / med[0]:.2f} (target >= 1), zip/xml {med[2] / med[1]:.2f} (target >= 0.85)')
    print(f'load average after: {" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    print('\npeak memory of the reader on the zip (MiB):')
    peak = {}
    for m, (x, z) in files.items():
        res = run('reader', z, keep / 'out', args.workers, 'memory')
        peak[m] = res['peak_pss'] / 2**20
        print(f'{m:3d} months ({x.stat().st_size / 1e6:4.0f} MB XML): process tree peak PSS {res["peak_pss"] / 2**20:5.0f} | process peak RSS '
              f'{res["peak_rss"] / 2**20:5.0f} | RSS after imports {res["after_imports"] / 2**20:5.0f} | the reader\'s own (peak RSS - imports) '
              f'{(res["peak_rss"] - res["after_imports"]) / 2**20:5.0f}  (target < 300)', flush=True)
    if len(peak) > 1:
        a, b = sorted(peak)[-2:]
        print(f'growth of the peak PSS from {a} to {b} months: {peak[b] - peak[a]:+.0f} MiB, {(peak[b] - peak[a]) / (b - a):+.1f} MiB a month (target: flat)')


if __name__ == '__main__':
    main()
