"""The week table (source-agnostic): parquet round trip, participant-level splits at paper and small scale, standardisation modes."""
import numpy as np
import pandas as pd
import pytest

from big_mood.core import ConfigError, DataError
from big_mood.data.splits import check_splits, make_splits, participant_folds, split_arrays, split_ids
from big_mood.data.weeks import MINUTES_PER_WEEK, Weeks, read_weeks, standardize_splits, write_weeks


def _labels(n, prevalence, seed=0, missing=0.0):
    r = np.random.default_rng(seed)
    y = (r.random(n) < prevalence).astype(float)
    y[r.random(n) < missing] = np.nan
    return pd.DataFrame({'id': [str(70000 + i) for i in range(n)], 'depression': y, 'ssri': (r.random(n) < 0.05).astype(float)})


def test_no_participant_in_two_splits():
    row = lambda task, size, fold, split, id: {'task': task, 'size': size, 'fold': fold, 'split': split, 'id': id}
    fine = pd.DataFrame([row('d', 'full', 0, 'test', 'a'), row('d', 'full', 1, 'train', 'a'), row('d', '500', 0, 'train', 'a'), row('s', 'full', 0, 'val', 'a')])
    check_splits(fine)                                                     # one person, one side per task, size and fold
    with pytest.raises(DataError, match=r"participant a is in more than one of \['test', 'train'\] \(task d, size full, fold 1\)"):
        check_splits(pd.concat([fine, pd.DataFrame([row('d', 'full', 1, 'test', 'a')])]))
    folds = participant_folds(_labels(60, 0.3), 'depression', scheme='kfold', k=5, seed=2)
    assert folds[folds.split == 'test'].id.is_unique                     # each labelled person is tested in exactly one fold
    assert (folds.groupby(['fold', 'id']).size() == 1).all()


def test_paper_scale_gives_the_paper_sizes():
    splits, _ = make_splits(_labels(7769, 0.08), ['ssri'], seed=0)
    sizes = splits.groupby(['size', 'split']).size().unstack()
    assert sizes.loc['full'].to_dict() == {'test': 2000, 'train': 4615, 'val': 1154}                 # pool 5,769
    assert sizes.loc['500'].to_dict() == {'test': 2000, 'train': 400, 'val': 100}
    assert sorted(sizes.index) == ['1000', '2500', '500', 'full']


def test_test_set_is_the_same_for_every_size():
    splits, _ = make_splits(_labels(7769, 0.08), ['ssri'], seed=3)
    tests = {size: frozenset(g.id[g.split == 'test']) for size, g in splits.groupby('size')}
    assert len(set(tests.values())) == 1


def test_small_cohort_caps_the_test_set_and_drops_sizes_above_the_pool():
    splits, _ = make_splits(_labels(600, 0.2), ['depression'], seed=0)
    assert splits.groupby(['size', 'split']).size().to_dict() == {('full', 'test'): 300, ('full', 'train'): 240, ('full', 'val'): 60}
    splits, _ = make_splits(_labels(1800, 0.2), ['depression'], seed=0)                       # test 900, pool 900: 500 fits
    assert sorted(splits['size'].unique()) == ['500', 'full']


def test_splits_are_stratified_and_seeded():
    labels = _labels(4000, 0.1)
    a, b, c = (make_splits(labels, ['depression'], seed=s)[0] for s in (0, 0, 1))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    y = labels.set_index('id').depression
    for split in ('train', 'val', 'test'):
        assert abs(y[a.id[(a['size'] == 'full') & (a.split == split)]].mean() - y.mean()) < 0.01


def test_a_task_too_rare_to_stratify_is_skipped_with_its_counts():
    labels = _labels(50, 0.0).assign(depression=[1.0] + [0.0] * 49)
    splits, skipped = make_splits(labels, ['depression', 'ssri'])
    assert 'task depression test set: cannot draw a stratified 25 of 50' in skipped['depression'] and '{0: 49, 1: 1}' in skipped['depression']
    assert set(splits.task) <= {'ssri'} and 'depression' not in set(splits.task)


def test_week_table_round_trip_from_a_folder(tmp_path):
    r = np.random.default_rng(0)
    written = []
    for cohort, n in (('nhanes_G', 3), ('nhanes_H', 4)):
        meta = pd.DataFrame({'id': [f'{cohort}{i}' for i in range(n)], 'cohort': cohort, 'week': 0, 'weekday': 2})
        minutes, valid = r.random((n, MINUTES_PER_WEEK), np.float32), (r.random((n, MINUTES_PER_WEEK)) < 0.9).astype(np.uint8)
        write_weeks(tmp_path/f'{cohort}.parquet', meta, minutes, valid)
        written.append((minutes, valid))
    w = read_weeks(tmp_path)
    assert w.minutes.shape == (7, 10080) and w.minutes.dtype == np.float32 and w.valid.dtype == np.uint8
    np.testing.assert_array_equal(w.minutes, np.concatenate([m for m, _ in written]))
    np.testing.assert_array_equal(w.valid, np.concatenate([v for _, v in written]))
    assert read_weeks(tmp_path, cohorts=['nhanes_H']).meta.id.tolist() == [f'nhanes_H{i}' for i in range(4)]
    np.testing.assert_allclose(w.meta.wear_fraction, np.concatenate([v for _, v in written]).mean(1), rtol=1e-6)


def test_leak_free_standardisation_applies_train_statistics_to_test():
    r = np.random.default_rng(0)
    arrays = {'train': r.normal(0, 1, (200, MINUTES_PER_WEEK)), 'val': r.normal(0, 1, (50, MINUTES_PER_WEEK)), 'test': r.normal(5, 1, (50, MINUTES_PER_WEEK))}
    paper, _ = standardize_splits(arrays, standardize='paper')
    free, scalers = standardize_splits(arrays, standardize='leak_free')
    assert abs(paper['test'].mean()) < 1e-3 and free['test'].mean() > 4.5
    assert scalers['test'] is scalers['train'] and free['train'].dtype == np.float32
    with pytest.raises(ConfigError, match="leak_free standardisation fits on 'fit'"):
        standardize_splits(arrays, standardize='leak_free', fit_on='fit')


def test_split_arrays_returns_standardised_labelled_splits():
    labels = _labels(1000, 0.2)
    splits, _ = make_splits(labels, ['depression'], seed=0, n_test=200)
    r = np.random.default_rng(1)
    weeks = Weeks(pd.DataFrame({'id': labels.id, 'cohort': 'nhanes_H', 'week': 0, 'weekday': 0}), r.random((1000, MINUTES_PER_WEEK), np.float32),
                  np.ones((1000, MINUTES_PER_WEEK), np.uint8))
    data = split_arrays(weeks, labels, splits, 'depression', size='500', standardize='leak_free')
    assert {k: v.x.shape[0] for k, v in data.items()} == {'train': 400, 'val': 100, 'test': 200}
    assert set(data['train'].ids) == set(split_ids(splits, 'depression', size='500')['train'])
    assert data['test'].y.dtype == np.int64
