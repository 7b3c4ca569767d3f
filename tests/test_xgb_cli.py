"""`big-mood xgb import-pickle`: reads nothing without --allow-pickle, converts and checks; wrong files exit 2 with one line."""
import pickle

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from conftest import assert_clean_failure, run_cli as run
from big_mood.features.mood import FEATURE_NAMES


@pytest.fixture(scope='module')
def published_like(tmp_path_factory):
    d = tmp_path_factory.mktemp('mood_ml')
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 36)), columns=list(FEATURE_NAMES))
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(X, (X['Circadian_phase_Zscore'] > 0.5).astype(int))
    with open(d / 'XGBoost_HME.pkl', 'wb') as f: pickle.dump(model, f)
    X.head(76).rename_axis('').set_axis(pd.date_range('2018-12-20', periods=76).strftime('%Y-%m-%d')).to_csv(d / 'test.csv')
    return d


def test_import_pickle_writes_json_and_predictions(tmp_path, capsys, published_like):
    code, out, err = run(capsys, 'xgb', 'import-pickle', published_like / 'XGBoost_HME.pkl', '--allow-pickle', '--features', published_like / 'test.csv', '--out', tmp_path)
    assert code == 0 and err == '', err
    assert 'episode: hypomanic' in out and 'checked on test.csv: 76 rows' in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ['XGBoost_HME.json', 'XGBoost_HME.meta.json', 'XGBoost_HME_predictions.csv']
    assert pd.read_csv(tmp_path / 'XGBoost_HME_predictions.csv')['date'][0] == '2018-12-20'


@pytest.mark.parametrize('make, message', [
    (lambda d: d / 'missing.pkl', 'missing.pkl: pickle not found'),
    (lambda d: (d / 'notes.pkl').write_bytes(b'plain text, not a pickle') and d / 'notes.pkl', 'could not be unpickled'),
    (lambda d: (d / 'list.pkl').write_bytes(pickle.dumps([1, 2])) and d / 'list.pkl', 'holds a builtins.list, not an XGBoost classifier'),
    (lambda d: (d / 'set.pkl').write_bytes(pickle.dumps(len)) and d / 'set.pkl', 'asks for builtins.len'),
])
def test_wrong_file_exits_2_with_one_line(tmp_path, capsys, make, message):
    code, _, err = run(capsys, 'xgb', 'import-pickle', make(tmp_path), '--allow-pickle', '--out', tmp_path / 'out')
    assert_clean_failure(code, err, message)
    assert not (tmp_path / 'out').exists()


def test_a_failed_import_leaves_the_verified_model_as_it_was(tmp_path, capsys, published_like):
    code, _, err = run(capsys, 'xgb', 'import-pickle', published_like / 'XGBoost_HME.pkl', '--allow-pickle', '--features', published_like / 'test.csv', '--out', tmp_path)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    df = pd.read_csv(published_like / 'test.csv')
    df[[df.columns[0], *FEATURE_NAMES[::-1]]].to_csv(tmp_path.parent / 'perm.csv', index=False)
    code, _, err = run(capsys, 'xgb', 'import-pickle', published_like / 'XGBoost_HME.pkl', '--allow-pickle', '--features', tmp_path.parent / 'perm.csv', '--out', tmp_path)
    assert code == 2
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_features_csv_in_another_order_exits_2(tmp_path, capsys, published_like):
    df = pd.read_csv(published_like / 'test.csv')
    df[[df.columns[0], *FEATURE_NAMES[::-1]]].to_csv(tmp_path / 'perm.csv', index=False)
    code, _, err = run(capsys, 'xgb', 'import-pickle', published_like / 'XGBoost_HME.pkl', '--allow-pickle', '--features', tmp_path / 'perm.csv', '--out', tmp_path)
    assert_clean_failure(code, err, 'perm.csv: columns differ')
