"""Forger-99 pacemaker and the two circadian indexes: solver accuracy, direction of phase shifts, gaps, parameters."""
import numpy as np
import pandas as pd
import pytest

from big_mood.core import ConfigError
from big_mood.data.synthetic_mood import simulate_episodes, simulate_person
from big_mood.features.circadian import circadian_indexes, simulate_pacemaker
from big_mood.features.sleep import check_sleep_minutes, episodes_to_minutes, parse_sleep_episodes


def schedule(days, onset=23.0, hours=8.0, shift_from=None, shift=0.0):
    idx = pd.date_range('2024-01-01 12:00', periods=days * 1440, freq='min')
    s = np.zeros(len(idx), np.float32)
    for d in range(days):
        on = int(round((d * 24 + onset - 12 + (shift if shift_from is not None and d >= shift_from else 0)) * 60))
        s[max(on, 0):on + int(hours * 60)] = 1
    return check_sleep_minutes(pd.Series(s, index=idx))


@pytest.fixture(scope='module')
def person():
    rng = np.random.default_rng(3)
    rows = simulate_person(simulate_episodes(120, 'BD1', rng), pd.Timestamp('2023-01-01'), rng)
    return episodes_to_minutes(parse_sleep_episodes(rows))


def test_default_tolerances_match_a_tight_solution(person):
    loose = circadian_indexes(person)
    tight = circadian_indexes(person, rtol=1e-9, atol=1e-11)
    assert np.nanmax(np.abs(loose['Circadian_phase'] - tight['Circadian_phase'])) < 1 / 60   # under a minute
    assert np.nanmax(np.abs(loose['Circadian_amplitude'] - tight['Circadian_amplitude'])) < 1e-3


def test_phase_and_amplitude_are_in_the_published_ranges(person):
    ci = circadian_indexes(person).dropna()
    assert len(ci) >= 115
    assert ci['Circadian_phase'].between(19, 27).all() and 21 < ci['Circadian_phase'].median() < 24.5
    assert ci['Circadian_amplitude'].between(0.6, 1.4).all()


def test_later_sleep_delays_and_earlier_sleep_advances_dlmo():
    base = circadian_indexes(schedule(10))['Circadian_phase'].mean()
    for shift in (-2.0, -1.0, 1.0, 2.0):
        moved = circadian_indexes(schedule(24, shift_from=4, shift=shift))['Circadian_phase'].to_numpy()
        assert np.sign(moved[-1] - base) == np.sign(shift) and abs(moved[-1] - base) > 0.6 * abs(shift), (shift, moved[-1] - base)


def test_a_missing_week_restarts_the_pacemaker_and_leaves_nans():
    s = schedule(28)
    s['2024-01-10 12:00':'2024-01-17 11:59'] = np.nan
    ci = circadian_indexes(s)
    assert ci['Circadian_phase'].isna().sum() == 7
    assert ci['Circadian_phase'].dropna().std() < 0.05          # entrained again at once after the gap


def test_unknown_pacemaker_parameter_is_refused():
    with pytest.raises(ConfigError, match='unknown Forger-99 parameter'):
        simulate_pacemaker([0, 24], [250.0], params={'G': 33.75, 'tau': 24.0})

