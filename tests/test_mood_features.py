"""The 36 features: published names and order, per-person MN/SD over the whole history (not rolling), cohort tables."""
import numpy as np
import pandas as pd
import pytest

from big_mood.core import DataError
from big_mood.data.synthetic_mood import synthetic_mood_cohort
from big_mood.features.mood import DAILY_INDEXES, FEATURE_NAMES, cohort_features, features_from_episodes, mood_features

PUBLISHED_ORDER = [f'{i}_{s}' for i in (
    'ST_long', 'ST_short', 'WT_long', 'WT_short', 'LongSleepWindow_length', 'LongSleepWindow_number', 'ShortSleepWindow_length',
    'ShortSleepWindow_number', 'Sleep_percentage', 'Sleep_amplitude', 'Circadian_phase', 'Circadian_amplitude') for s in ('MN', 'SD', 'Zscore')]


@pytest.fixture(scope='module')
def cohort():
    return synthetic_mood_cohort(n_people=3, n_days=60, seed=5, gap_share=0.0)


def test_feature_names_are_the_published_order():
    assert list(FEATURE_NAMES) == PUBLISHED_ORDER


def test_mn_and_sd_use_the_whole_history_not_a_rolling_window():
    dates = pd.date_range('2024-01-02', periods=60)
    ix = pd.DataFrame(1.0, index=pd.DatetimeIndex(dates, name='date'), columns=list(DAILY_INDEXES))
    ix['ST_long'] = np.r_[np.full(59, 7.0), 13.0]               # one long night at the very end
    f = mood_features(ix)
    assert f['ST_long_MN'].nunique() == 1 and f['ST_long_MN'].iloc[0] == pytest.approx(7.1)
    assert f['ST_long_SD'].iloc[0] == pytest.approx(np.std(ix['ST_long'], ddof=1))
    # a 30-day rolling mean would leave the first month at 7.0; the per-person mean moves every row
    assert f['ST_long_Zscore'].iloc[0] == pytest.approx((7 - 7.1) / np.std(ix['ST_long'], ddof=1))


def test_cohort_table_keeps_people_apart(cohort):
    episodes, labels, people = cohort
    f = cohort_features(episodes)
    assert list(f.columns) == ['person', 'date', *FEATURE_NAMES]
    assert f.groupby('person')['ST_long_MN'].nunique().eq(1).all()
    alone = features_from_episodes(episodes[episodes['person'] == people['person'][1]].drop(columns='person'))
    mine = f[f['person'] == people['person'][1]].set_index('date')[list(FEATURE_NAMES)]
    pd.testing.assert_frame_equal(mine, alone, check_freq=False, check_names=False)


def test_z_scores_average_zero_per_person(cohort):
    f = cohort_features(cohort[0])
    z = f.groupby('person')[[c for c in FEATURE_NAMES if c.endswith('Zscore')]].mean()
    assert np.nanmax(np.abs(z.to_numpy())) < 1e-9


def test_too_short_history_is_an_error_not_noise(cohort):
    episodes = cohort[0][cohort[0]['person'] == 'synthetic_000'].drop(columns='person').iloc[:5]
    with pytest.raises(DataError, match='per-person MN/SD need at least 7'):
        features_from_episodes(episodes)
