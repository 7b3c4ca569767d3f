"""Drift detection (big_mood.evaluate.drift) measured: shifts of known size are detected, resamples of the reference are
not flagged above the documented false-alarm rate, and `big-mood drift` on files."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from big_mood.data.synthetic_mood import synthetic_mood_cohort
from big_mood.evaluate.drift import daily_indexes_from_features, feature_drift, person_drift
from big_mood.features.mood import DAILY_INDEXES, cohort_features

from conftest import assert_clean_failure, run_cli


@pytest.fixture(scope='module')
def reference() -> pd.DataFrame:
    "Daily indexes of a synthetic cohort (4 people x 180 days): counts, lengths, phases; ties and gaps as in real days."
    return daily_indexes_from_features(cohort_features(synthetic_mood_cohort(4, 180, 0)[0]))


def flag_rate(reference: pd.DataFrame, draw, trials: int, **kw) -> float:
    "Share of `trials` in which any feature is flagged, each against the current days `draw(rng)` gives."
    rng = np.random.default_rng(0)
    return np.mean([feature_drift(reference, draw(rng), columns=list(DAILY_INDEXES), **kw)['flagged'].any() for _ in range(trials)])


@pytest.mark.parametrize('alpha', [0.01, 0.05])
def test_resamples_of_the_reference_are_flagged_at_most_at_the_documented_rate(reference, alpha):
    # 200 windows of 28 days drawn from the reference itself: the number flagged follows Binomial(200, <= alpha); the
    # bound is that binomial's 99.5th percentile, so the test fails for a rate above alpha, not for bad luck.
    rate = flag_rate(reference, lambda rng: reference.iloc[rng.choice(len(reference), 28)], 200, alpha=alpha)
    assert rate <= stats.binom.ppf(0.995, 200, alpha) / 200, rate


def test_on_independent_data_the_false_alarm_rate_is_alpha_not_lower(reference):
    # Twelve continuous features, current days drawn independently from the same distribution: the Bonferroni rule
    # spends close to all of alpha (not a test that never fires).
    rng = np.random.default_rng(1)
    ref = pd.DataFrame(rng.normal(size=(1000, 12)), columns=list(DAILY_INDEXES))
    rate = flag_rate(ref, lambda rng: pd.DataFrame(rng.normal(size=(28, 12)), columns=list(DAILY_INDEXES)), 200, alpha=0.05)
    assert stats.binom.ppf(0.005, 200, 0.04) / 200 <= rate <= stats.binom.ppf(0.995, 200, 0.05) / 200, rate


@pytest.mark.parametrize('shift_sd, least, most', [(1.5, 0.85, 1.0), (2.0, 0.95, 1.0), (0.25, 0.0, 0.1)])
def test_a_mean_shift_of_known_size_is_detected(reference, shift_sd, least, most):
    # 28 days with ST_long moved by `shift_sd` of its own SD: detected nearly always from 1.5 SD, rarely at 0.25 SD
    # (60 windows each: the bounds leave room for sampling error).
    sd = reference['ST_long'].std()
    def shifted(rng):
        days = reference.iloc[rng.choice(len(reference), 28)].copy()
        days['ST_long'] += shift_sd * sd
        return days
    rng = np.random.default_rng(2)
    hits = [feature_drift(reference, shifted(rng), columns=list(DAILY_INDEXES)).loc['ST_long', 'flagged'] for _ in range(60)]
    assert least <= np.mean(hits) <= most, np.mean(hits)


def test_a_change_of_spread_is_detected(reference):
    rng = np.random.default_rng(3)
    days = reference.iloc[rng.choice(len(reference), 60)].copy()
    phase = reference['Circadian_phase']
    days['Circadian_phase'] = phase.mean() + 3 * (days['Circadian_phase'] - phase.mean())   # same centre, three times the spread
    d = feature_drift(reference, days, columns=list(DAILY_INDEXES))
    assert d.loc['Circadian_phase', 'flagged'] and abs(d.loc['Circadian_phase', 'shift_sd']) < 0.5


def test_a_person_drifting_from_their_own_baseline(reference):
    # One synthetic person's days in a shuffled order: their last four weeks are like the rest by construction (real
    # days are correlated from one to the next and carry mood episodes, which this removes), then a planted change.
    days = reference[reference['person'] == reference['person'].iloc[0]]
    person = days.drop(columns='date').sample(frac=1, random_state=0).set_index(days['date'].to_numpy()).rename_axis('date')
    stable = person_drift(person, population=reference)
    assert stable['baseline'] is not None and not stable['baseline']['flagged'].any()
    person = person.copy()
    person.loc[person.index[-28:], 'ST_long'] += 2.5   # two and a half hours more sleep in the last four weeks
    drifted = person_drift(person, population=reference)
    assert drifted['baseline'].loc['ST_long', 'flagged'] and 'ST_long' in drifted['flagged']
    assert drifted['baseline']['flagged'].sum() == 1


def test_drift_command_on_files(tmp_path, capsys, reference):
    reference.to_parquet(tmp_path / 'ref.parquet')
    current = reference.sample(28, random_state=0).assign(ST_long=lambda d: d['ST_long'] + 3)
    current.to_csv(tmp_path / 'cur.csv', index=False)
    code, out, err = run_cli(capsys, 'drift', '--reference', tmp_path / 'ref.parquet', '--current', tmp_path / 'cur.csv',
                             '--columns', *DAILY_INDEXES, '--out', tmp_path / 'drift.csv')
    assert code == 0, err
    assert out.startswith(f'12 feature(s) of 28 current rows against {len(reference)} reference rows: drift in ST_long\n'), out
    assert pd.read_csv(tmp_path / 'drift.csv').set_index('feature').loc['ST_long', 'flagged']


@pytest.mark.parametrize('argv, words', [(['--columns', 'nope'], ["no column 'nope'"]), (['--alpha', '2'], ['alpha must be in (0, 1)'])])
def test_drift_command_refuses_bad_options_with_one_line(tmp_path, capsys, reference, argv, words):
    reference.to_csv(tmp_path / 'ref.csv', index=False)
    code, out, err = run_cli(capsys, 'drift', '--reference', tmp_path / 'ref.csv', '--current', tmp_path / 'ref.csv', *argv)
    assert_clean_failure(code, err, *words)
