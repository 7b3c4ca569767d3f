"""Benchmark: personal calibration of one person-year and daily prediction, against reading the export (the baseline every
path pays) and against the targets (calibration < 5 min on CPU; prediction < 100 ms per person-day after parsing).

Run: `.venv/bin/python bench/personal.py [--days 365] [--population models/population] [--threads 1]`. One synthetic person
(big_mood.data.synthetic_apple, seed 1) is written as export.zip (not timed against a target), read once (`read_export_days`),
calibrated (`calibrate_run` on the days read), and predicted three ways: population models only (every PAT window embedded),
with the personal model on the days it was calibrated on (embeddings reused from its store), and with the personal model after
the export grew by a week (only the new windows embedded). Where the time goes: PAT embeddings are timed on their own
(`population_scores` without a cache), and the rest of each call is the mood features, XGBoost, the store and the fits.
Without models/population (before `dvc repro population`) it builds the small synthetic population used by the tests.
"""
import argparse, os, tempfile, time
from pathlib import Path

import numpy as np, pandas as pd, torch

from big_mood.data.synthetic_apple import write_synthetic_export
from big_mood.personal.calibrate import calibrate_run
from big_mood.personal.daily import pat_standardizer, population_scores, read_export_days, until
from big_mood.personal.population import load_population, synthetic_population
from big_mood.personal.predict import predict_run
from big_mood.personal.synthetic import episodes_until, write_episodes


def timed(fn, *a, **k):
    t = time.perf_counter(); out = fn(*a, **k)
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--days', type=int, default=365, help='days recorded (a person-year: 365)')
    ap.add_argument('--population', default='models/population', help='population folder (absent: a small synthetic one is built)')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: a shared 2-core machine)')
    ap.add_argument('--seed', type=int, default=1, help='synthetic person')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault('TQDM_DISABLE', '1')
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if Path(args.population, 'metadata.json').is_file(): pop_dir = Path(args.population); built = 'the pipeline'
        else:
            synthetic_population(tmp / 'population')
            pop_dir, built = tmp / 'population', 'synthetic, built here'
        pop = load_population(pop_dir)
        print(f"population: {pop_dir} ({built}); PAT {pop.pat.cfg.patch_size}-minute patches, {pop.pat.cfg.num_layers} layer(s)")
        sim, t_write = timed(write_synthetic_export, tmp / 'export.zip', seed=args.seed, days=args.days)
        size = (tmp / 'export.zip').stat().st_size / 1e6
        print(f"export: {args.days} days, {size:.1f} MB zip, written in {t_write:.1f} s (not a target)")
        ed, t_parse = timed(read_export_days, tmp / 'export.zip')
        n = len(ed.days)
        print(f"\nbaseline, reading the export: {t_parse:.1f} s ({n} days, {len(ed.weeks.meta)} PAT windows)")
        last = pd.Timestamp(ed.days['date'].iloc[-1]) - pd.Timedelta(days=7)
        year = until(ed, last)
        write_episodes(episodes_until(sim['episodes'], last), tmp / 'episodes.csv')
        (scores, _), t_embed = timed(population_scores, year, pop, stats=pat_standardizer(year.weeks))
        print(f"PAT embeddings of {len(year.weeks.meta)} windows alone: {t_embed:.1f} s ({1e3 * t_embed / max(len(year.weeks.meta), 1):.0f} ms per window)")
        cal, t_cal = timed(calibrate_run, tmp / 'episodes.csv', year, tmp / 'users' / 'bench', population=pop)
        print(f"\ncalibration of {len(year.days)} days after reading: {t_cal:.1f} s = {t_cal / t_parse:.2f} x reading; "
              f"of which PAT embeddings ~{t_embed:.1f} s, the rest store, features, fits ({cal['labelled_days']} labelled days)")
        total = t_parse + t_cal
        print(f"calibration of one person-year including reading: {total:.1f} s; target 300 s: {total / 300:.3f} of the budget "
              f"({'met' if total < 300 else 'MISSED'})")
        print('\nprediction after reading (per person-day; target 100 ms):')
        for label, call in (('population only, every window embedded', lambda: predict_run(ed, population=pop)),
                            ('personal model, the calibrated days reused', lambda: predict_run(year, model=tmp / 'users' / 'bench', population=pop)),
                            ('personal model, export grown by a week', lambda: predict_run(ed, model=tmp / 'users' / 'bench', population=pop))):
            r, t = timed(call)
            per_day = 1e3 * t / len(r['risks'])
            print(f"  {label}: {t:.2f} s for {len(r['risks'])} days = {per_day:.1f} ms per day ({per_day / 100:.2f} of the target, "
                  f"{'met' if per_day < 100 else 'MISSED'}); {per_day * len(r['risks']) / 1e3 / t_parse:.2f} x reading")


if __name__ == '__main__':
    main()
