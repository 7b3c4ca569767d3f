"""The preprocess step end to end on synthetic cycles of all four layouts (C, D: PAXRAW; G, H: PAXMIN), checked against an independent reading."""
import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from big_mood.core import ConfigError
from big_mood.data.nhanes import TASKS
from big_mood.data.nhanes_preprocess import check_data_source, preprocess_nhanes
from big_mood.data.synthetic_files import synth_cycle
from big_mood.data.splits import split_arrays
from big_mood.data.weeks import read_weeks


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "Synthetic C, D, G (small) and H (300, with labels) preprocessed with the default rules."
    raw, out = tmp_path_factory.mktemp('raw'), tmp_path_factory.mktemp('out')
    for cycle, n in (('C', 12), ('D', 12), ('G', 25), ('H', 300)): synth_cycle(raw, cycle, n, seed=0)
    summary = preprocess_nhanes(raw, out, cycles=['C', 'D', 'G', 'H'], label_cycle='H', seed=0, chunk_rows=200_000)
    return raw, out, summary


def test_readers_pass_on_all_four_layouts(run):
    raw, out, summary = run
    weeks = read_weeks(out/'weeks')
    assert sorted(weeks.meta.cohort.unique()) == ['nhanes_C', 'nhanes_D', 'nhanes_G', 'nhanes_H']
    assert weeks.minutes.shape[1] == 10080 and np.isfinite(weeks.minutes).all() and (weeks.minutes >= 0).all()
    assert sorted(p.name for p in (out/'weeks').iterdir()) == ['nhanes_C.parquet', 'nhanes_D.parquet', 'nhanes_G.parquet', 'nhanes_H.parquet']


def test_paxmin_week_agrees_with_an_independent_reading(run):
    raw, out, _ = run
    hd = pyreadstat.read_xport(str(raw/'PAXHD_H.xpt'))[0].set_index('SEQN')
    pax = pyreadstat.read_xport(str(raw/'PAXMIN_H.xpt'), usecols=['SEQN', 'PAXSSNMP', 'PAXMTSM', 'PAXPREDM', 'PAXQFM'], row_limit=40000)[0]
    weeks = read_weeks(out/'weeks', cohorts=['nhanes_H'])
    for seqn in pax.SEQN.unique()[:2]:
        p = pax[pax.SEQN == seqn]
        h, m, s = map(int, hd.PAXFTIME[seqn].split(':'))
        w = (h * 3600 + m * 60 + s + p.PAXSSNMP.to_numpy() / 80) // 60 - 1440           # minutes from 00:00 of day 2
        keep = (w >= 0) & (w < 10080)
        row = weeks.meta.index[weeks.meta.id == str(int(seqn))][0]
        np.testing.assert_array_equal(weeks.minutes[row, w[keep].astype(int)], np.clip(p.PAXMTSM.to_numpy()[keep], 0, None).astype(np.float32))
        ok = (p.PAXMTSM >= 0) & (p.PAXQFM == 0) & (p.PAXPREDM != '3')
        np.testing.assert_array_equal(weeks.valid[row, w[keep].astype(int)], ok.to_numpy()[keep])


def test_paxraw_week_agrees_with_an_independent_reading(run):
    raw, out, _ = run
    pax = pyreadstat.read_xport(str(raw/'PAXRAW_D.xpt'))[0]
    weeks = read_weeks(out/'weeks', cohorts=['nhanes_D'])
    for row, seqn in enumerate(weeks.meta.id.astype(float)[:3]):
        p = pax[pax.SEQN == seqn]
        np.testing.assert_array_equal(weeks.minutes[row, (p.PAXN - 1).astype(int)], p.PAXINTEN.to_numpy(np.float32))


def test_test_set_is_shared_by_every_size_and_never_trained_on(run):
    _, out, _ = run
    splits = pd.read_parquet(out/'splits.parquet')
    assert set(splits.task) == set(TASKS)
    for task, g in splits.groupby('task'):
        tests = {size: frozenset(s.id) for size, s in g[g.split == 'test'].groupby('size')}
        assert len(set(tests.values())) == 1, f'{task}: sizes have different test sets'
        assert not set(g[g.split != 'test'].id) & next(iter(tests.values())), f'{task}: a test participant trains or validates'


def test_labels_and_splits_cover_only_included_2013_14_participants(run):
    _, out, summary = run
    labels, splits = pd.read_parquet(out/'labels.parquet'), pd.read_parquet(out/'splits.parquet')
    included = set(read_weeks(out/'weeks', cohorts=['nhanes_H']).meta.id)
    assert set(labels.id) == included and set(splits.id) <= included
    assert summary['labels']['benzodiazepine']['labelled'] == int(labels.benzodiazepine.notna().sum())


def test_split_arrays_on_preprocess_output(run):
    _, out, _ = run
    data = split_arrays(read_weeks(out/'weeks', cohorts=['nhanes_H']), pd.read_parquet(out/'labels.parquet'), pd.read_parquet(out/'splits.parquet'),
                        'ssri', standardize='paper')
    assert abs(float(data['test'].x.mean())) < 1e-3 and set(np.unique(data['train'].y)) == {0, 1}


def test_same_seed_same_outputs(run, tmp_path):
    raw, out, _ = run
    preprocess_nhanes(raw, tmp_path, cycles=['H'], label_cycle='H', seed=0)
    for name in ('labels', 'splits'):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path/f'{name}.parquet'), pd.read_parquet(out/f'{name}.parquet'))
    assert (read_weeks(tmp_path/'weeks').minutes == read_weeks(out/'weeks', cohorts=['nhanes_H']).minutes).all()
    preprocess_nhanes(raw, tmp_path/'other', cycles=['H'], label_cycle='H', seed=1)
    assert not pd.read_parquet(tmp_path/'other'/'splits.parquet').equals(pd.read_parquet(out/'splits.parquet')), 'the seed is ignored'


def test_week_files_of_cycles_not_in_the_run_are_removed_and_reported(run, tmp_path):
    raw, _, _ = run
    preprocess_nhanes(raw, tmp_path, cycles=['C', 'G'], label_cycle=None)
    summary = preprocess_nhanes(raw, tmp_path, cycles=['C'], label_cycle=None)
    assert [p.name for p in (tmp_path/'weeks').iterdir()] == ['nhanes_C.parquet']
    assert summary['removed_files'] == ['weeks/nhanes_G.parquet']


@pytest.mark.parametrize('fail_at', [1, 2, 4])
def test_a_failure_at_any_write_leaves_the_earlier_results_byte_identical(run, tmp_path, monkeypatch, fail_at):
    raw, _, _ = run
    out = tmp_path/'out'
    preprocess_nhanes(raw, out, cycles=['C', 'G'], label_cycle=None)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob('*') if p.is_file()}
    import big_mood.data.nhanes_preprocess as pre
    calls, real, original = [0], pd.DataFrame.to_parquet, pre.write_weeks
    def flaky_weeks(*a, **k):                                  # the writes are counted: weeks D, G, H, then the tables
        calls[0] += 1
        if calls[0] == fail_at: raise OSError('disk full')
        return original(*a, **k)
    def flaky_parquet(self, *a, **k):
        calls[0] += 1
        if calls[0] == fail_at: raise OSError('disk full')
        return real(self, *a, **k)
    monkeypatch.setattr(pre, 'write_weeks', flaky_weeks)
    monkeypatch.setattr(pd.DataFrame, 'to_parquet', flaky_parquet)
    with pytest.raises(OSError, match='disk full'):
        preprocess_nhanes(raw, out, cycles=['D', 'G', 'H'], label_cycle='H')
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob('*') if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ['out'], 'a temporary folder was left behind'


def test_a_small_cohort_preprocesses_and_reports_the_tasks_it_cannot_split(tmp_path):
    raw = tmp_path/'raw'
    synth_cycle(raw, 'H', 40, seed=1)
    summary = preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle='H', seed=0)
    splits = pd.read_parquet(tmp_path/'out'/'splits.parquet')
    assert len(read_weeks(tmp_path/'out'/'weeks').meta) == 40
    assert set(splits.task) | set(summary.get('skipped_tasks', {})) == set(TASKS)
    for task, why in summary.get('skipped_tasks', {}).items():
        assert 'cannot draw a stratified' in why or 'nothing to split' in why, why
        assert 'labelled participants: {' in why and 'np.int64' not in why, why


def test_label_cycle_must_be_read(run, tmp_path):
    raw, _, _ = run
    with pytest.raises(ConfigError, match="label_cycle 'H' must be one of the cycles"):
        preprocess_nhanes(raw, tmp_path, cycles=['G'], label_cycle='H')


def test_synthetic_folder_is_refused_as_real_nhanes(run):
    raw, _, _ = run
    assert json.loads((raw/'SYNTHETIC_H.json').read_text())['note'].startswith('synthetic data')
    with pytest.raises(ConfigError, match='holds synthetic cycles C, H'):
        check_data_source(raw, 'nhanes', ['C', 'H'])
