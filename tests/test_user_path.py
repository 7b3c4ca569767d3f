"""A user's own recording to a prediction, from the README's commands alone: `sleep score` -> `features` -> `xgb predict`."""
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from conftest import assert_clean_failure, run_cli as run, shared_path
from big_mood.features.mood import FEATURE_NAMES
from big_mood.models.xgb import save_xgb


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "Three models on the 36 published features, standing in for the train_xgb stage's (trained on random data)."
    d = tmp_path_factory.mktemp('xgb')
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 36)), columns=list(FEATURE_NAMES))
    for code in ('DE', 'ME', 'HME'):
        save_xgb(xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, (X.iloc[:, 0] > 0).astype(int)), d / f'XGBoost_{code}.json')
    return d


def test_a_depresjon_recording_goes_from_counts_to_next_day_risks(tmp_path, capsys, models):
    recording = shared_path('data', 'depresjon', 'condition', 'condition_1.csv')
    code, out, err = run(capsys, 'sleep', 'score', '--activity', recording, '--method', 'sadeh', '--out', tmp_path / 'sleep.csv')
    assert code == 0, err
    code, out, err = run(capsys, 'features', '--sleep', tmp_path / 'sleep.csv', '--out', tmp_path / 'features.csv')
    assert code == 0, err
    code, out, err = run(capsys, 'xgb', 'predict', '--models', models, '--features', tmp_path / 'features.csv', '--out', tmp_path / 'risks.csv')
    assert code == 0, err
    risks = pd.read_csv(tmp_path / 'risks.csv')
    assert risks.columns.tolist() == ['date', 'p_depressive', 'p_manic', 'p_hypomanic'] and len(risks) >= 10
    assert risks.iloc[:, 1:].apply(lambda c: c.between(0, 1).all()).all()


def test_a_recording_without_the_columns_is_one_line(tmp_path, capsys):
    (tmp_path / 'r.csv').write_text('time,steps\n2024-01-01 00:00,3\n')
    code, _, err = run(capsys, 'sleep', 'score', '--activity', tmp_path / 'r.csv', '--out', tmp_path / 's.csv')
    assert_clean_failure(code, err, 'r.csv: missing column(s) timestamp, activity')
    assert not (tmp_path / 's.csv').exists()


def test_predict_without_models_says_where_they_come_from(tmp_path, capsys):
    (tmp_path / 'f.csv').write_text('date,' + ','.join(FEATURE_NAMES) + '\n')
    code, _, err = run(capsys, 'xgb', 'predict', '--models', tmp_path, '--features', tmp_path / 'f.csv', '--out', tmp_path / 'r.csv')
    assert_clean_failure(code, err, 'no XGBoost_DE/ME/HME.json', 'dvc repro train_xgb')
