"""Mood XGBoost models: splits, column-order refusal, errors never become a risk, JSON round trip, pickle import."""
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from big_mood.core import ModelError
from big_mood.features.mood import FEATURE_NAMES
from big_mood.data.splits import mood_split
from big_mood.models.xgb import import_pickle, load_xgb, predict_xgb, save_xgb
from big_mood.train.xgb import next_day_table, table_sha256, train_xgb


@pytest.fixture(scope='module')
def table():
    rng = np.random.default_rng(0)
    feats, labs = [], []
    for p in range(8):
        dates = pd.date_range('2024-01-01', periods=150)
        dep = np.zeros(150, int); dep[20:50] = 1; dep[100:115] = 1
        man = np.zeros(150, int); man[60:70] = 1; man[130:138] = 1
        f = pd.DataFrame(rng.normal(size=(150, 36)), columns=list(FEATURE_NAMES))
        f['Circadian_phase_Zscore'] += 2 * np.r_[dep[1:], 0] - 2 * np.r_[man[1:], 0]
        feats.append(f.assign(person=f'p{p}', date=dates))
        labs.append(pd.DataFrame({'person': f'p{p}', 'date': dates, 'depressive': dep, 'manic': man, 'hypomanic': 0}))
    return next_day_table(pd.concat(feats, ignore_index=True), pd.concat(labs, ignore_index=True))


@pytest.fixture(scope='module')
def model(table):
    return train_xgb(table[list(FEATURE_NAMES)], table['manic'], n_estimators=30)


def test_no_participant_in_two_splits(table):
    split = mood_split(table, 'manic', protocol='participant', seed=3)
    assert not set(table.loc[split == 'train', 'person']) & set(table.loc[split == 'test', 'person'])
    assert (split == 'test').any()


def test_paper_split_tests_only_on_later_days(table):
    split = mood_split(table, 'depressive', protocol='paper')
    for _, g in table.assign(split=split).groupby('person'):
        assert g.loc[g['split'] == 'train', 'date'].max() < g.loc[g['split'] == 'test', 'date'].min()
        assert (g['split'] == 'train').sum() == 60 and g.loc[g['split'] == 'train', 'depressive'].sum() == 30


def test_permuted_columns_are_refused(table, model):
    cols = list(FEATURE_NAMES)
    cols[0], cols[1] = cols[1], cols[0]
    with pytest.raises(ModelError, match="another order .* column 0: 'ST_long_SD'"):
        predict_xgb(model, table[cols])


def test_renamed_or_missing_column_is_refused(table, model):
    renamed = table[list(FEATURE_NAMES)].rename(columns={'Circadian_phase_Zscore': 'circadian_phase_z'})
    with pytest.raises(ModelError, match='missing Circadian_phase_Zscore; unexpected circadian_phase_z'):
        predict_xgb(model, renamed)


def test_prediction_failure_is_an_error_not_zero_risk(table, model):
    bad = table[list(FEATURE_NAMES)].astype(object)
    bad.iloc[0, 0] = 'n/a'
    with pytest.raises(ModelError, match='non-numeric column'):
        predict_xgb(model, bad)


def test_json_round_trip_keeps_predictions_and_metadata(tmp_path, table, model):
    X = table[list(FEATURE_NAMES)]
    save_xgb(model, tmp_path / 'ME.json', episode='manic', protocol='random', seed=0, training_data_sha256=table_sha256(X, table['manic']))
    loaded, meta = load_xgb(tmp_path / 'ME.json')
    np.testing.assert_allclose(predict_xgb(loaded, X), predict_xgb(model, X), atol=1e-7)
    assert meta['feature_names'] == list(FEATURE_NAMES) and meta['xgboost'] and meta['python'] and len(meta['training_data_sha256']) == 64
    assert json.loads((tmp_path / 'ME.json').read_text())['learner']['feature_names'] == list(FEATURE_NAMES)


def test_metadata_that_disagrees_with_the_model_is_refused(tmp_path, model):
    save_xgb(model, tmp_path / 'ME.json')
    meta = json.loads((tmp_path / 'ME.meta.json').read_text())
    meta['feature_names'] = meta['feature_names'][::-1]
    (tmp_path / 'ME.meta.json').write_text(json.dumps(meta))
    with pytest.raises(ModelError, match='feature names differ'):
        load_xgb(tmp_path / 'ME.json')


def test_same_seed_same_model_other_seed_other_model(table):
    a, b, c = (train_xgb(table[list(FEATURE_NAMES)], table['manic'], seed=s, n_estimators=20) for s in (1, 1, 2))
    X = table[list(FEATURE_NAMES)]
    np.testing.assert_array_equal(predict_xgb(a, X), predict_xgb(b, X))
    assert not np.array_equal(predict_xgb(a, X), predict_xgb(c, X)), 'the seed is ignored'   # subsample 0.8 draws from it


def test_imported_pickle_scores_like_the_original(tmp_path, table, model):
    with open(tmp_path / 'XGBoost_ME.pkl', 'wb') as f: pickle.dump(model, f)
    table[['date', *FEATURE_NAMES]].head(50).to_csv(tmp_path / 'test.csv', index=False)
    rep = import_pickle(tmp_path / 'XGBoost_ME.pkl', tmp_path / 'out', feature_names=list(FEATURE_NAMES), allow_pickle=True,
                        features_csv=tmp_path / 'test.csv')
    assert rep['episode'] == 'manic'
    out = pd.read_csv(rep['predictions'])
    np.testing.assert_allclose(out['episode'], predict_xgb(model, table[list(FEATURE_NAMES)].head(50)), atol=1e-6)


def test_pickle_of_a_model_on_other_features_is_refused(tmp_path, table):
    import xgboost as xgb
    other = xgb.XGBClassifier(n_estimators=2).fit(table[list(FEATURE_NAMES)[:5]], table['manic'])
    with open(tmp_path / 'XGBoost_DE.pkl', 'wb') as f: pickle.dump(other, f)
    with pytest.raises(ModelError, match='not the 36 expected ones'):
        import_pickle(tmp_path / 'XGBoost_DE.pkl', tmp_path / 'out', feature_names=list(FEATURE_NAMES), allow_pickle=True)
    assert not (tmp_path / 'out' / 'XGBoost_DE.json').exists()


@pytest.mark.parametrize('payload', ['os.system', 'subprocess.Popen', 'builtins.eval', 'builtins.exec'])
def test_crafted_pickles_do_not_run(tmp_path, model, payload):
    mod, name = payload.rsplit('.', 1)
    marker = tmp_path / 'ran'
    arg = {'os.system': f'touch {marker}', 'subprocess.Popen': ['touch', str(marker)], 'builtins.eval': f"open({str(marker)!r}, 'w')",
           'builtins.exec': f"open({str(marker)!r}, 'w')"}[payload]
    class Payload:
        def __reduce__(self): return (getattr(__import__(mod), name), (arg,))
    (tmp_path / 'XGBoost_ME.pkl').write_bytes(pickle.dumps({'model': model, 'x': Payload()}))
    with pytest.raises(ModelError, match=f'asks for .*{name}.*refused'):
        import_pickle(tmp_path / 'XGBoost_ME.pkl', tmp_path / 'out', feature_names=list(FEATURE_NAMES), allow_pickle=True)
    assert not marker.exists() and not (tmp_path / 'out').exists()
