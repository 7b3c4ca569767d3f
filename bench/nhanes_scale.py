"""NHANES preprocess at full scale: a synthetic PAXMIN_H-like cycle (7,769 participants x 9 days, ~89 M minute rows,
~9.5 GB of XPT) through `preprocess_nhanes`, timed and with peak memory, against a naive whole-file `pandas.read_sas`
on a slice it can hold (ratio per million rows).

    .venv/bin/python bench/nhanes_scale.py                      # full size, data under /tmp (deleted afterwards)
    .venv/bin/python bench/nhanes_scale.py --participants 1000  # quicker look

Target (issue 3): the full cycle in <= 10 minutes and <= 6 GB peak on 2 cores. Each phase runs in its own process and
reports its own peak RSS (ru_maxrss). Results also go to bench/results/nhanes_scale.json. Other jobs share the cores:
the load average is printed before and after.
"""
import argparse, json, os, shutil, subprocess, sys
from pathlib import Path

PHASES = {  # name: (imports, timed work)
    'synth': ("from big_mood.data.synthetic_files import synth_cycle", "synth_cycle(A.raw, 'H', A.participants, A.seed)"),
    'ours': ("from big_mood.data.nhanes_preprocess import preprocess_nhanes", "preprocess_nhanes(A.raw, A.out, cycles=['H'], label_cycle='H', seed=A.seed)"),
    'ours_slice': ("from big_mood.data.nhanes_weeks import paxmin_weeks", "paxmin_weeks(A.slice, 'H')"),
    'pandas_slice': ("import pandas as pd", "df = pd.read_sas(Path(A.slice)/'PAXMIN_H.xpt', format='xport', encoding='latin1')"),
}


def run_phase(name, args):
    "Run one phase in a fresh interpreter; return (wall s, CPU s, peak RSS MB) of its work, measured inside it (imports excluded)."
    setup, work = PHASES[name]
    code = (f"import json, resource, sys, time, types; from pathlib import Path; A = types.SimpleNamespace(**{vars(args)!r}); {setup}\n"
            "cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2]); t, c = time.perf_counter(), cpu()\n"
            f"{work}\n"
            "print(json.dumps([time.perf_counter() - t, cpu() - c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'TQDM_DISABLE': '1'})
    if res.returncode: sys.exit(f"phase {name} failed:\n{res.stderr[-3000:]}")
    return tuple(json.loads(res.stdout.strip().splitlines()[-1]))


def make_slice(raw, folder, rows):
    "PAXMIN_H.xpt with the records of the participants in its first `rows` rows (cut where a participant ends), and PAXHD/PAXDAY beside it."
    import numpy as np
    from big_mood.core import atomic_write
    from big_mood.data.nhanes import codebook, read_table
    from big_mood.data.xpt import CARD, iter_xpt, write_xpt, xpt_layout
    lay = xpt_layout(raw/'PAXMIN_H.xpt')
    seqn = next(iter_xpt(lay, ['SEQN'], chunk_rows=min(rows + 20000, lay.n_rows)))['SEQN']
    rows = int(np.argmax(seqn == seqn[min(rows, len(seqn) - 1)])) if rows < lay.n_rows else lay.n_rows   # first row of the straddling participant
    with atomic_write(folder/'PAXMIN_H.xpt') as tmp, open(raw/'PAXMIN_H.xpt', 'rb') as src, open(tmp, 'wb') as dst:
        dst.write(src.read(lay.data_start + rows * lay.record_len))
        dst.write(b' ' * (-(lay.data_start + rows * lay.record_len) % CARD))
    shutil.copy(raw/'PAXHD_H.xpt', folder/'PAXHD_H.xpt')
    day = read_table(raw/'PAXDAY_H.xpt', 'PAXDAY_H', one_per_person=False)
    write_xpt(folder/'PAXDAY_H.xpt', 'PAXDAY_H', codebook('PAXDAY_H'), [day[day.SEQN < seqn[rows]] if rows < len(seqn) else day])
    return rows, lay.n_rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--participants', type=int, default=7769, help='participants with monitor data (paper: 7,769)')
    p.add_argument('--slice-rows', type=int, default=2_000_000, help='rows of the slice pandas reads whole')
    p.add_argument('--dir', default='/tmp/big_mood_bench_nhanes', help='scratch folder for the XPT files (GBs)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--keep', action='store_true', help='keep the scratch folder')
    a = p.parse_args()
    root = Path(a.dir)
    args = argparse.Namespace(raw=str(root/'raw'), out=str(root/'out'), slice=str(root/'slice'), participants=a.participants, seed=a.seed)
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    try:
        t_synth, c_synth, m_synth = run_phase('synth', args) if not (root/'raw'/'PAXMIN_H.xpt').exists() else (float('nan'),) * 3
        size = (root/'raw'/'PAXMIN_H.xpt').stat().st_size
        t_ours, c_ours, m_ours = run_phase('ours', args)
        s_rows, n_rows = make_slice(root/'raw', root/'slice', a.slice_rows)
        t_os, c_os, m_os = run_phase('ours_slice', args)
        t_pd, c_pd, m_pd = run_phase('pandas_slice', args)
    finally:
        if not a.keep: shutil.rmtree(root, ignore_errors=True)
    M, Ms = n_rows / 1e6, s_rows / 1e6
    result = {
        'participants': a.participants, 'rows': n_rows, 'file_gb': round(size / 1e9, 2), 'synth_s': round(t_synth, 1), 'synth_peak_mb': round(m_synth, 1),
        'preprocess_s': round(t_ours, 1), 'preprocess_cpu_s': round(c_ours, 1), 'preprocess_peak_mb': round(m_ours),
        'preprocess_s_per_mrow': round(t_ours / M, 3), 'preprocess_cpu_s_per_mrow': round(c_ours / M, 3),
        'slice_rows': s_rows, 'ours_slice_s': round(t_os, 2), 'ours_slice_cpu_s': round(c_os, 2), 'ours_slice_peak_mb': round(m_os),
        'pandas_slice_s': round(t_pd, 2), 'pandas_slice_cpu_s': round(c_pd, 2), 'pandas_slice_peak_mb': round(m_pd),
        'pandas_s_per_mrow': round(t_pd / Ms, 3), 'pandas_cpu_s_per_mrow': round(c_pd / Ms, 3), 'pandas_mb_per_mrow': round(m_pd / Ms),
        'pandas_full_file_mb_extrapolated': round(m_pd / Ms * M),
        'ratio_time_pandas_over_ours_per_mrow': round((t_pd / Ms) / (t_ours / M), 2),
        'ratio_cpu_pandas_over_ours_per_mrow': round((c_pd / Ms) / (c_ours / M), 2),
        'target_met': bool(t_ours <= 600 and m_ours <= 6 * 1024), 'load_after': os.getloadavg()}
    print(f"""
full cycle: {a.participants:,} participants, {n_rows:,} rows, {size / 1e9:.2f} GB (synthesis {t_synth:.0f} s, not part of the target)
  preprocess_nhanes (weeks + labels + splits, written): {t_ours:.1f} s wall, {c_ours:.1f} s CPU, peak {m_ours:,.0f} MB
      -> {t_ours / M:.3f} s wall, {c_ours / M:.3f} s CPU per million rows
slice of {s_rows:,} rows:
  pandas.read_sas, whole file:           {t_pd:.2f} s wall, {c_pd:.2f} s CPU, peak {m_pd:,.0f} MB -> {t_pd / Ms:.3f} s and {m_pd / Ms:,.0f} MB per million rows
  our streaming reader (paxmin_weeks):   {t_os:.2f} s wall, {c_os:.2f} s CPU, peak {m_os:,.0f} MB
ratio per million rows, pandas whole-file read / our full preprocess: {result['ratio_time_pandas_over_ours_per_mrow']}x wall, {result['ratio_cpu_pandas_over_ours_per_mrow']}x CPU
pandas would need ~{result['pandas_full_file_mb_extrapolated']:,} MB for the full file; ours peaked at {m_ours:,.0f} MB
target (<= 600 s, <= 6144 MB): {'met' if result['target_met'] else 'NOT met'}
load average after: {result['load_after']}""")
    from big_mood.core import atomic_write
    with atomic_write(Path(__file__).parent/'results'/'nhanes_scale.json') as tmp: tmp.write_text(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
