"""Leakage guards (issue 14), each tested so that the test fails without the guard: pretraining refuses supervised
test participants unless forced, the mood models' causal MN/SD/Z use no later day, and NHANES participants whose only
drug rows are unknown/refused/don't-know codes get no drug label."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import assert_clean_failure, run_cli as run

from big_mood.data.weeks import write_weeks
from big_mood.train.pretrain import pretrain_run


@pytest.fixture
def processed(tmp_path):
    "A processed folder as preprocess writes it: weeks/ of two cohorts and splits.parquet holding out 3 of cohort B."
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({'id': [f'p{i}' for i in range(12)], 'cohort': ['A'] * 6 + ['B'] * 6, 'week': 0, 'weekday': 0})
    minutes = rng.gamma(2, 5, (12, 10080)).astype(np.float32)
    (tmp_path / 'weeks').mkdir()
    for c in ('A', 'B'):
        rows = (meta.cohort == c).to_numpy()
        write_weeks(tmp_path / 'weeks' / f'{c}.parquet', meta[rows].reset_index(drop=True), minutes[rows], np.ones_like(minutes[rows], np.uint8))
    pd.DataFrame({'task': 't', 'size': 'full', 'fold': 0, 'split': ['train'] * 3 + ['test'] * 3,
                  'id': ['p6', 'p7', 'p8', 'p9', 'p10', 'p11']}).to_parquet(tmp_path / 'splits.parquet')
    return tmp_path


QUICK = dict(epochs=1, batch_size=8, device='cpu', log=lambda s: None)


def test_pretraining_refuses_a_cohort_holding_test_participants(processed):
    with pytest.raises(Exception, match=r'cohort\(s\) B hold 3 participant\(s\)'):
        pretrain_run(processed / 'weeks', processed / 'run', **QUICK)
    assert not (processed / 'run' / 'mae.pt').exists()


def test_pretraining_on_other_cohorts_is_not_refused(processed):
    meta = pretrain_run(processed / 'weeks', processed / 'run', cohorts=['A'], **QUICK)['metadata']
    assert (meta['test_participants'], meta['transductive'], meta['cohorts']) == (0, False, ['A'])


def test_forced_pretraining_is_recorded_as_transductive(processed):
    meta = pretrain_run(processed / 'weeks', processed / 'run', force_cohorts=True, **QUICK)['metadata']
    assert (meta['test_participants'], meta['transductive']) == (3, True)
    assert json.loads((processed / 'run' / 'mae.json').read_text())['transductive'] is True


def test_pretrain_cli_without_cohorts_exits_2_and_names_the_flag(processed, capsys):
    code, out, err = run(capsys, 'pretrain', '--weeks', processed / 'weeks', '--out', processed / 'run', '--epochs', '1', '--batch-size', '8', '--device', 'cpu')
    assert_clean_failure(code, err, 'cohort(s) B', '--force-cohorts')
    code, out, err = run(capsys, 'pretrain', '--weeks', processed / 'weeks', '--out', processed / 'run', '--epochs', '1', '--batch-size', '8',
                         '--device', 'cpu', '--force-cohorts')
    assert code == 0, err


def _indexes(days:int=20, seed:int=0) -> pd.DataFrame:
    from big_mood.features.mood import DAILY_INDEXES
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(8, 1, (days, len(DAILY_INDEXES))), pd.date_range('2024-01-01', periods=days, name='date'), list(DAILY_INDEXES))


def test_causal_mood_features_of_a_day_do_not_move_when_later_days_change():
    from big_mood.features.mood import mood_features
    ix = _indexes()
    later = ix.copy()
    later.iloc[12:] += 5
    causal, causal_later = mood_features(ix, window='expanding'), mood_features(later, window='expanding')
    pd.testing.assert_frame_equal(causal.iloc[:12], causal_later.iloc[:12])
    assert causal.iloc[:6].isna().all().all() and causal.iloc[6:].notna().all().all()   # a baseline from the 7th day (min_days=7)
    whole, whole_later = mood_features(ix), mood_features(later)
    assert (whole.iloc[:12] - whole_later.iloc[:12]).abs().to_numpy().max() > 1   # the paper's whole-record features do move


def test_participants_with_only_unknown_drug_rows_have_no_drug_label():
    from big_mood.data.nhanes import SSRIS, drug_label
    rx = pd.DataFrame({'SEQN': [1, 1, 2, 3], 'RXDUSE': 1, 'RXDDRUG': ['99999', '55555', '77777', 'LISINOPRIL'], 'RXDDRGID': ['', '', '', 'd00732']})
    label = drug_label(rx, SSRIS)
    assert label.loc[[1, 2]].isna().all() and label.loc[3] == 0


def test_real_rxq_rx_h_unknown_only_participants_are_missing():
    from conftest import shared_path
    from big_mood.data.nhanes import BENZODIAZEPINES, drug_label, read_table
    rx = read_table(shared_path('data', 'nhanes', 'RXQ_RX_H.csv'), 'RXQ_RX_H', one_per_person=False)
    only_unknown = rx.assign(u=rx.RXDDRUG.isin(['55555', '77777', '99999'])).groupby('SEQN').u.all()
    ids = only_unknown[only_unknown].index
    assert len(ids) == 48 and drug_label(rx, BENZODIAZEPINES).loc[ids].isna().all()
