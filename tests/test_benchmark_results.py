"""The committed real-data benchmark results (issue 14) re-derive from the committed predictions at HEAD: every headline
number of metrics/benchmark_<b>.json comes back from results/<b>/protocol/*.parquet, and each protocol file was
committed before the results it governs. Skipped for a benchmark whose results are not committed yet."""
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from big_mood.evaluate.benchmark import comparison_table, interval_table, metric_table
from big_mood.evaluate.protocol import load_protocol
from big_mood.evaluate.statistics import permutation_p

BENCHMARKS = ['depresjon', 'psykose']


def _results(benchmark):
    folder, metrics = ROOT / 'results' / benchmark / 'protocol', ROOT / 'metrics' / f'benchmark_{benchmark}.json'
    if not (folder / 'predictions.parquet').is_file() or not metrics.is_file(): pytest.skip(f'{benchmark}: no committed benchmark results')
    return folder, json.loads(metrics.read_text()), load_protocol(ROOT / 'paper' / 'protocols' / f'{benchmark}.yaml')


@pytest.mark.parametrize('benchmark', BENCHMARKS)
def test_headline_metrics_rederive_from_committed_predictions(benchmark):
    folder, metrics, p = _results(benchmark)
    pred = pd.read_parquet(folder / 'predictions.parquet')
    table = metric_table(pred, p['threshold']).set_index(['scheme', 'model', 'seed'])
    primary = table.loc[(p['outer']['scheme'], p['primary_model'], 'ensemble')]
    for k in ('auc', 'mcc', 'f1'): assert round(primary[k], 4) == pytest.approx(metrics['primary'][k], abs=1e-4), k
    for m, row in metrics['lopo'].items(): assert round(table.loc[(p['secondary_outer']['scheme'], m, 'ensemble'), 'auc'], 4) == pytest.approx(row['auc'], abs=1e-4)
    assert pred.groupby(['scheme', 'model', 'seed']).id.nunique().eq(metrics['participants']).all()


@pytest.mark.parametrize('benchmark', BENCHMARKS)
def test_intervals_paired_tests_and_permutation_rederive(benchmark):
    folder, metrics, p = _results(benchmark)
    pred, boot = pd.read_parquet(folder / 'predictions.parquet'), pd.read_parquet(folder / 'bootstrap.parquet')
    primary = pred[(pred.scheme == p['outer']['scheme']) & (pred.seed == 'ensemble')]
    assert boot.replicate.nunique() == p['intervals']['replicates'] and set(boot.model) == set(p['models'])
    iv = interval_table(metric_table(primary, p['threshold']), boot, p['intervals']['confidence']).set_index('model')
    for m, row in metrics['models'].items():
        for k in ('mcc_low', 'mcc_high', 'auc_low', 'auc_high'): assert round(iv.loc[m, k], 4) == pytest.approx(row[k], abs=1e-4), (m, k)
    cmp = comparison_table(primary, boot, p['comparisons'], p['intervals']['confidence'])
    for r in cmp.to_dict('records'):
        assert round(r['delong_p'], 4) == pytest.approx(metrics['comparisons'][f"{r['a']} vs {r['b']}"]['delong_p'], abs=1e-4)
    null = pd.read_parquet(folder / 'permutation.parquet')
    head = primary[primary.model == p['permutation']['model']]
    observed = metric_table(head, p['threshold']).iloc[0]
    assert round(permutation_p(observed['mcc'], null['mcc']), 4) == pytest.approx(metrics['permutation']['mcc_p'], abs=1e-4)


def _first_commit_time(path) -> int:
    out = subprocess.run(['git', 'log', '--diff-filter=A', '--format=%ct', '--', str(path)], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip(): pytest.skip(f'{path}: no git history here')
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize('benchmark', BENCHMARKS)
def test_protocol_was_committed_before_its_results(benchmark):
    _results(benchmark)
    protocol = _first_commit_time(ROOT / 'paper' / 'protocols' / f'{benchmark}.yaml')
    for out in ('results/{b}/pat/embeddings.parquet', 'results/{b}/protocol/predictions.parquet'):
        assert protocol < _first_commit_time(ROOT / out.format(b=benchmark))
