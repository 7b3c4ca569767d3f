"""Depresjon/Psykose readers on the real files, and the Depresjon report stage where the data is absent."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, shared_path
from big_mood.train.baselines import leave_one_out_probs
from big_mood.core import DataError
from big_mood.data.actigraphy import first_days, read_depresjon, read_minute_counts, read_psykose
from big_mood.evaluate.metrics import binary_metrics
from big_mood.features.mood import FEATURE_NAMES, daily_indexes, mood_features
from big_mood.features.rhythm import participant_table
from big_mood.features.sleep import score_sleep


def test_depresjon_slice_reads_with_groups_and_scores():
    minutes, info = read_depresjon(shared_path('data', 'depresjon'), ['condition_3', 'control_5'])
    assert list(info['group']) == ['condition', 'control'] and info.loc['condition_3', 'madrs1'] == 24
    assert minutes.groupby('participant')['timestamp'].apply(lambda t: t.diff().dropna().eq(pd.Timedelta('1min')).all()).all()
    cut = first_days(minutes, info['days'])
    assert cut.groupby('participant').size().to_dict() == {'condition_3': 13 * 1440, 'control_5': 13 * 1440}


def test_autumn_repeated_hour_is_dropped_and_grid_stays_regular():
    s = read_minute_counts(shared_path('data', 'psykose', 'patient', 'patient_11.csv'))
    assert s.index.is_unique and s.index.is_monotonic_increasing
    raw = pd.read_csv(shared_path('data', 'psykose', 'patient', 'patient_11.csv'))
    assert len(s) == len(raw) - 60 and s.isna().sum() == 0


def test_psykose_reader_lists_patients():
    minutes, info = read_psykose(shared_path('data', 'psykose'), ['patient_1'])
    assert info['group'].tolist() == ['patient'] and minutes['activity'].notna().all()


def test_truncated_copy_of_the_data_set_is_refused(tmp_path):
    src = shared_path('data', 'depresjon')
    (tmp_path / 'condition').mkdir(); (tmp_path / 'control').mkdir()
    shutil.copy(src / 'scores.csv', tmp_path / 'scores.csv')
    shutil.copy(src / 'condition' / 'condition_1.csv', tmp_path / 'condition' / 'condition_1.csv')
    with pytest.raises(DataError, match='no recording for condition_10'):
        read_depresjon(tmp_path)


def test_real_patient_gives_all_36_features():
    minutes, info = read_depresjon(shared_path('data', 'depresjon'), ['condition_1'])
    g = first_days(minutes, info['days'])
    counts = pd.Series(g['activity'].to_numpy(), index=pd.DatetimeIndex(g['timestamp']))
    f = mood_features(daily_indexes(score_sleep(counts, 'sadeh')), min_days=3)
    assert list(f.columns) == list(FEATURE_NAMES) and len(f) == 11
    assert 20 < f['Circadian_phase_MN'].iloc[0] < 26 and 0.1 < f['Sleep_percentage_MN'].iloc[0] < 0.7


def test_daily_indexes_tell_patients_from_controls_left_out():
    "The report's leave-one-participant-out regression on the 12 daily indexes (measured: AUC 0.855, MCC 0.666)."
    minutes, info = read_depresjon(shared_path('data', 'depresjon'))
    table = participant_table(first_days(minutes, info['days']), 'sadeh', min_days=3)
    table = table[[c for c in table.columns if c.endswith(('_MN', '_SD'))]]
    y = (info.loc[table.index, 'group'] == 'condition').astype(int).to_numpy()
    m = binary_metrics(y, leave_one_out_probs(table, y, C=1.0))
    assert table.shape == (55, 24) and m['auc'] > 0.8 and m['mcc'] > 0.55, m


def test_depresjon_stage_reports_skipped_where_the_data_is_absent(tmp_path):
    from big_mood.pipeline import run_stage
    (tmp_path / 'nbs' / 'pipeline').mkdir(parents=True)
    shutil.copy(ROOT / 'settings.ini', tmp_path / 'settings.ini')
    shutil.copy(ROOT / 'nbs' / 'pipeline' / '23_depresjon_sleep.ipynb', tmp_path / 'nbs' / 'pipeline')
    (tmp_path / 'params.yaml').write_text(f"base: {{seed: 0}}\ndepresjon_sleep: {{depresjon_dir: {tmp_path / 'absent'}, scoring: sadeh, "
                                          "use_days: scores, min_days: 3, confidence: 0.95, loo_C: [1.0]}\n")
    html = run_stage('depresjon_sleep', root=tmp_path, log_output=False).read_text()
    assert 'nothing was computed' in html
    assert json.loads((tmp_path / 'metrics' / 'depresjon_sleep.json').read_text())['status'] == 'skipped'
