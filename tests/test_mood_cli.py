"""`big-mood features`: the CSV it writes, and one-line errors with exit status 2 for bad sleep files."""
import pandas as pd
import pytest
from conftest import assert_clean_failure, run_cli as run

from big_mood.features.mood import FEATURE_NAMES

HEADER = 'sleep_start,sleep_end,time_in_bed,minutes_sleep,minutes_awake\n'


def sleep_csv(tmp_path, extra=(), n=14, name='sleep.csv'):
    rows = [(f'{t:%Y-%m-%d %H:%M}', f'{t + pd.Timedelta(hours=7 + i % 2):%Y-%m-%d %H:%M}', 420 + 60 * (i % 2), 400 + 60 * (i % 2), 20)
            for i, t in enumerate(pd.date_range('2024-01-01 23:00', periods=n))]
    path = tmp_path / name
    path.write_text(HEADER + ''.join(','.join(map(str, r)) + '\n' for r in [*rows, *extra]))
    return path


def test_features_command_writes_date_and_36_columns(tmp_path, capsys):
    code, out, _ = run(capsys, 'features', '--sleep', str(sleep_csv(tmp_path)), '--out', str(tmp_path / 'f.csv'))
    assert code == 0 and 'wrote' in out
    df = pd.read_csv(tmp_path / 'f.csv')
    assert list(df.columns) == ['date', *FEATURE_NAMES] and len(df) == 14 and df['date'][0] == '2024-01-02'


@pytest.mark.parametrize('extra, message', [
    ([('2024-01-03 05:00', '2024-01-03 09:00', 240, 200, 40)], 'overlaps the episode on line'),
    ([('2024-01-20 08:00', '2024-01-19 23:00', 540, 500, 40)], 'sleep_end is not after sleep_start'),
    ([('2024-01-20 23:00', '2024-01-21 07:00', 480, 'lots', 0)], "minutes_sleep 'lots' is not a number"),
])
def test_bad_sleep_file_exits_2_with_one_line(tmp_path, capsys, extra, message):
    code, _, err = run(capsys, 'features', '--sleep', str(sleep_csv(tmp_path, extra)), '--out', str(tmp_path / 'f.csv'))
    assert_clean_failure(code, err, 'big-mood: error: sleep.csv line', message)
    assert not (tmp_path / 'f.csv').exists()


def test_overlap_merge_option_accepts_a_duplicated_night(tmp_path, capsys):
    extra = [('2024-01-03 23:00', '2024-01-04 06:00', 420, 400, 20)]   # the third night logged twice
    code, _, _ = run(capsys, 'features', '--sleep', str(sleep_csv(tmp_path, extra)), '--out', str(tmp_path / 'f.csv'), '--overlap', 'merge')
    assert code == 0 and len(pd.read_csv(tmp_path / 'f.csv')) == 14


def test_existing_output_survives_a_failed_run(tmp_path, capsys):
    (tmp_path / 'f.csv').write_text('keep me\n')
    code, _, _ = run(capsys, 'features', '--sleep', str(sleep_csv(tmp_path, n=3)), '--out', str(tmp_path / 'f.csv'))
    assert code == 2 and (tmp_path / 'f.csv').read_text() == 'keep me\n'
