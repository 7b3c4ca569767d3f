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
