"""Sleep input and windows: bad sleep files, both input forms, scoring of real actigraphy, published-feature identities."""
import numpy as np
import pandas as pd
import pytest

from big_mood.core import DataError
from big_mood.data.synthetic_mood import simulate_episodes, simulate_person
from big_mood.features.sleep import (SLEEP_INDEXES, daily_sleep_indexes, episodes_to_minutes, parse_sleep_episodes,
                                     read_sleep_episodes, read_sleep_minutes, sleep_windows)

HEADER = 'sleep_start,sleep_end,time_in_bed,minutes_sleep,minutes_awake\n'


def write(tmp_path, rows, name='sleep.csv'):
    path = tmp_path / name
    path.write_text(HEADER + ''.join(','.join(map(str, r)) + '\n' for r in rows))
    return path


def nights(n, start='2024-01-01 23:00', hours=8, awake=20):
    return [(f'{t:%Y-%m-%d %H:%M}', f'{t + pd.Timedelta(hours=hours):%Y-%m-%d %H:%M}', hours * 60, hours * 60 - awake, awake)
            for t in pd.date_range(start, periods=n)]


def test_overlapping_episodes_are_refused_with_both_lines(tmp_path):
    rows = nights(3) + [('2024-01-02 05:00', '2024-01-02 08:00', 180, 170, 10)]
    ep = read_sleep_episodes(write(tmp_path, rows))
    with pytest.raises(DataError, match=r'sleep.csv line 5: episode 2024-01-02 05:00 overlaps the episode on line 2'):
        episodes_to_minutes(ep, source='sleep.csv')


def test_duplicated_export_merges_to_the_same_series(tmp_path):
    once = episodes_to_minutes(read_sleep_episodes(write(tmp_path, nights(5), 'a.csv')))
    twice = episodes_to_minutes(read_sleep_episodes(write(tmp_path, nights(5) * 2, 'b.csv')), overlap='merge')
    pd.testing.assert_series_equal(once, twice)


def test_episode_ending_before_it_starts_is_refused(tmp_path):
    rows = nights(2) + [('2024-01-04 07:00', '2024-01-03 23:00', 480, 460, 20)]
    with pytest.raises(DataError, match='sleep.csv line 4: sleep_end is not after sleep_start'):
        read_sleep_episodes(write(tmp_path, rows))


def test_gap_of_weeks_is_missing_not_sleepless(tmp_path):
    rows = nights(10) + nights(10, start='2024-02-10 23:00')
    ep = read_sleep_episodes(write(tmp_path, rows))
    ix = daily_sleep_indexes(episodes_to_minutes(ep))
    gap = ix.loc['2024-01-12':'2024-02-10']
    assert gap['ST_long'].isna().all() and len(gap) == 30
    assert (ix['ST_long'].dropna() > 7).all()      # no zero-sleep days invented around the gap


def test_time_zone_jump_is_refused_by_default_and_handled_on_request(tmp_path):
    rows = [('2024-01-01T23:00+09:00', '2024-01-02T07:00+09:00', 480, 460, 20),
            ('2024-01-03T23:00+09:00', '2024-01-04T07:00+09:00', 480, 460, 20),
            ('2024-01-05T22:00-08:00', '2024-01-06T06:00-08:00', 480, 460, 20)]
    path = write(tmp_path, rows)
    with pytest.raises(DataError, match='line 4: the UTC offset changes from \\+540 to -480 min'):
        read_sleep_episodes(path)
    local = read_sleep_episodes(path, tz_change='local')
    assert local['start'].dt.strftime('%H:%M').tolist() == ['23:00', '23:00', '22:00']
    first = read_sleep_episodes(path, tz_change='first')
    assert first['start'].iloc[2] == pd.Timestamp('2024-01-06 15:00')   # 22:00 at -08:00 is 15:00 next day at +09:00


def test_daylight_saving_night_without_offsets_is_explained(tmp_path):
    rows = [('2024-03-30 23:00', '2024-03-31 07:00', 420, 400, 20)]   # 8 h on the clock, 7 h in bed
    with pytest.raises(DataError, match='daylight-saving change'):
        read_sleep_episodes(write(tmp_path, rows))


def test_truncated_or_foreign_file_is_refused(tmp_path):
    (tmp_path / 'x.csv').write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00')
    with pytest.raises(DataError, match='x.csv'):
        read_sleep_episodes(tmp_path / 'x.csv')
    path = write(tmp_path, nights(2))
    path.write_text(path.read_text()[:-25])                        # last row cut mid-line
    with pytest.raises(DataError, match='line 3'):
        read_sleep_episodes(path)


def test_minute_input_gives_the_same_windows_as_episodes(tmp_path):
    ep = read_sleep_episodes(write(tmp_path, nights(4, awake=0)))
    m = episodes_to_minutes(ep)
    (tmp_path / 'm.csv').write_text('timestamp,sleep\n' + ''.join(f'{t:%Y-%m-%d %H:%M},{int(v)}\n' for t, v in m.items()))
    pd.testing.assert_frame_equal(sleep_windows(read_sleep_minutes(tmp_path / 'm.csv')), sleep_windows(m))


def test_a_synthetic_year_gives_a_known_row_per_day_in_plausible_ranges():
    rng = np.random.default_rng(1)
    rows = simulate_person(simulate_episodes(365, 'BD2', rng), pd.Timestamp('2023-01-01'), rng)
    ix = daily_sleep_indexes(episodes_to_minutes(parse_sleep_episodes(rows))).dropna()
    assert list(ix.columns) == list(SLEEP_INDEXES) and len(ix) >= 360
    assert ix['ST_long'].between(2, 14).all() and ix['Sleep_amplitude'].between(0.3, 2.5).all()


def test_real_actigraphy_scores_to_plausible_sleep():
    from conftest import shared_path
    from big_mood.data.actigraphy import read_minute_counts
    from big_mood.features.sleep import score_sleep
    counts = read_minute_counts(shared_path('data', 'depresjon', 'control', 'control_2.csv'))
    ix = daily_sleep_indexes(score_sleep(counts, 'sadeh')).dropna()
    assert len(ix) >= 10
    assert 4 < ix['ST_long'].median() < 11, ix['ST_long'].median()
    assert ix['LongSleepWindow_number'].median() == 1
