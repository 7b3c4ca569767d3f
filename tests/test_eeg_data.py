"""Muse EEG data: readers, MNE processing, windows, the primary dataset and its order check, every bad input, the synthetic cohort, the real recordings."""
import numpy as np
import pandas as pd
import pytest

from big_mood.core import ConfigError, DataError
from big_mood.data.eeg import (MUSE_CHANNELS, build_primary, contiguous_segments, filter_segment, muse_participants, primary_config,
                               read_eeg_csv, read_participants, read_primary, write_primary)
from big_mood.data.synthetic_eeg import synth_eeg_cohort
from conftest import shared_path

SFREQ = 256.0
SMALL = dict(window_s=5.0, parent_window_s=20.0)   # short windows keep the recordings, and the tests, small


def sines(seconds, sfreq=SFREQ, freqs=(10, 10, 10, 10), amp=20.0):
    "[4, n] sines (AF7, AF8, TP9, TP10)."
    t = np.arange(int(round(seconds * sfreq))) / sfreq
    return np.stack([amp * np.sin(2 * np.pi * f * t) for f in freqs])


def muse_frame(x, sfreq=SFREQ, t0=1.5e9):
    "A muse-lsl table for `x` [4, n]."
    af7, af8, tp9, tp10 = x
    return pd.DataFrame({'timestamps': t0 + np.arange(x.shape[1]) / sfreq, 'TP9': tp9, 'AF7': af7, 'AF8': af8, 'TP10': tp10,
                         'Right AUX': 0.0, 'Marker0': 0})


def write(path, df):
    df.to_csv(path, index=False, float_format='%.4f')
    return path


def table(folder, *rows, header='participant,remission,session,file'):
    "A participants table in `folder` from rows like 'P1,1,1,a.csv'."
    p = folder / 'participants.csv'
    p.write_text(header + '\n' + '\n'.join(rows) + '\n')
    return p


def amplitude(x, sfreq, f):
    "Amplitude at frequency `f` of each channel of `x` (one FFT bin)."
    return np.abs(np.fft.rfft(x, axis=-1))[..., int(round(f * x.shape[-1] / sfreq))] * 2 / x.shape[-1]


# ---- readers -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('marker', ['Marker0', 'Marker'])
def test_muse_lsl_reader_keeps_channels_in_dataset_order(tmp_path, marker):
    df = muse_frame(sines(2, freqs=(1, 2, 3, 4))).rename(columns={'Marker0': marker})
    rec = read_eeg_csv(write(tmp_path / 'r.csv', df))
    assert rec.columns.tolist() == ['time', 'line', 'AF7', 'AF8', 'TP9', 'TP10']
    np.testing.assert_allclose(rec['TP9'], df['TP9'], atol=1e-4)
    assert rec['line'].tolist()[:2] == [2, 3]


def test_mind_monitor_reader_drops_element_rows_and_parses_local_time(tmp_path):
    x = sines(1) + 800
    t = pd.Timestamp('2024-03-05 23:59:59.500') + pd.to_timedelta(np.arange(x.shape[1]) / SFREQ, unit='s')   # crosses midnight
    rows = ['2024-03-05 23:59:59.400,,,,,,/muse/event/connected Muse-1234']
    rows += [f"{ts:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f",{c:.3f},{a:.3f},{b:.3f},{e:.3f},0.1," for ts, a, b, c, e in zip(t, *x)]
    rows.insert(100, '2024-03-05 23:59:59.890,,,,,,/muse/elements/blink')
    p = tmp_path / 'mm.csv'
    p.write_text('TimeStamp,RAW_TP9,RAW_AF7,RAW_AF8,RAW_TP10,Accelerometer_X,Elements\n' + '\n'.join(rows) + '\n')
    rec = read_eeg_csv(p)
    assert len(rec) == 256
    assert np.diff(rec['time']).max() < 0.006 and rec['time'].is_monotonic_increasing
    np.testing.assert_allclose(rec['AF7'].to_numpy(), x[0], atol=1e-3)


@pytest.mark.parametrize('kind', ['muse', 'mind_monitor'])
def test_missing_channel_names_file_and_column(tmp_path, kind):
    if kind == 'muse':
        write(tmp_path / 'r.csv', muse_frame(sines(1)).drop(columns='AF8'))
        with pytest.raises(DataError, match=r'r\.csv: no column AF8 \(the file has timestamps, TP9, AF7, TP10'): read_eeg_csv(tmp_path / 'r.csv')
    else:
        (tmp_path / 'r.csv').write_text('TimeStamp,RAW_TP9,RAW_AF7,RAW_TP10\n2024-01-01 00:00:00.000,1,2,3\n')
        with pytest.raises(DataError, match=r'r\.csv: no column RAW_AF8'): read_eeg_csv(tmp_path / 'r.csv')


def test_text_in_a_channel_names_the_line(tmp_path):
    df = muse_frame(sines(1)).astype({'AF7': object})
    df.loc[40, 'AF7'] = '12..5'
    with pytest.raises(DataError, match=r"r\.csv line 42: AF7 '12\.\.5' is not a number"): read_eeg_csv(write(tmp_path / 'r.csv', df))


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / 'x.csv').write_text('time,a\n1,2\n')
    with pytest.raises(DataError, match="header starts with 'time'"): read_eeg_csv(tmp_path / 'x.csv')
    with pytest.raises(DataError, match='recording not found'): read_eeg_csv(tmp_path / 'nothing.csv')


# ---- processing ----------------------------------------------------------------------------------------------------

def test_band_pass_keeps_a_sine_inside_the_band_and_removes_drift_and_high_frequencies():
    t = np.arange(30 * 256) / 256
    middle = slice(10 * 256, 20 * 256)                                     # away from the edges
    sine = lambda f: np.stack([20 * np.sin(2 * np.pi * f * t)] * 4)
    np.testing.assert_allclose(amplitude(filter_segment(sine(10), 256)[:, middle], 256, 10), 20, rtol=0.01)
    assert np.abs(filter_segment(sine(0.1), 256)[:, middle]).max() < 1.0  # a 0.1 Hz electrode drift: 20 µV -> under 1 µV
    assert np.abs(filter_segment(sine(80), 256)[:, middle]).max() < 0.05


@pytest.mark.parametrize('mains', [50.0, 60.0])
def test_notch_removes_line_noise_even_with_the_low_pass_off(mains):
    t = np.arange(20 * 256) / 256
    x = np.stack([15 * np.sin(2 * np.pi * mains * t) + 10 * np.sin(2 * np.pi * 30 * t)] * 4)
    y = filter_segment(x, 256, l_freq=1.0, h_freq=None)[:, 5 * 256:15 * 256]
    assert (amplitude(y, 256, mains) < 0.2).all()
    np.testing.assert_allclose(amplitude(y, 256, 30), 10, rtol=0.02)
    untouched = filter_segment(x, 256, l_freq=1.0, h_freq=None, line_freqs=())[:, 5 * 256:15 * 256]
    assert (amplitude(untouched, 256, mains) > 14).all()


@pytest.mark.parametrize('sfreq', [220.0, 512.0])
def test_resampling_keeps_frequencies(sfreq):
    x = sines(20, sfreq=sfreq, freqs=(7, 11, 13, 17))
    y = filter_segment(x, sfreq, resample_sfreq=256.0)
    assert y.shape == (4, 20 * 256)
    spec = np.abs(np.fft.rfft(y[:, 5 * 256:15 * 256], axis=-1))
    np.testing.assert_allclose(np.fft.rfftfreq(2560, 1 / 256)[spec.argmax(1)], [7, 11, 13, 17])
    np.testing.assert_allclose(amplitude(y[:, 5 * 256:15 * 256], 256, 11)[1], 20, rtol=0.02)


# ---- windows and the primary dataset -------------------------------------------------------------------------------

def test_window_counts_parents_and_sessions(tmp_path):
    write(tmp_path / 'a1.csv', muse_frame(sines(125)))                     # 25 windows of 5 s: parents of 4, 4, ..., 1
    write(tmp_path / 'a2.csv', muse_frame(sines(12)))                      # 2 windows, one parent, after a1's 7
    write(tmp_path / 'b.csv', muse_frame(sines(9.9)))                      # 1 window, the last 4.9 s dropped
    s = build_primary(table(tmp_path, 'A,1,s1,a1.csv', 'A,1,s2,a2.csv', 'B,0,s1,b.csv'), tmp_path / 'out', **SMALL)
    meta, x = read_primary(s['primary'])
    assert (s['windows'], s['rejected_windows'], x.shape) == (28, 0, (28, 4, 1280))
    a = meta[meta.Participant == 'A']
    assert a.groupby('parent_window_id').size().tolist() == [4, 4, 4, 4, 4, 4, 1, 2]
    assert a.sub_window_id.tolist()[:5] == [0, 1, 2, 3, 0]
    assert a.window_start.tolist()[:5] == [0, 1280, 2560, 3840, 0] and (a.window_end - a.window_start == 1280).all()
    assert meta.session.tolist()[25:27] == ['s2', 's2']
    assert s['primary'].endswith('5s_af7-af8-tp9-tp10_primary_dataset.parquet')
    assert [r['short_dropped_s'] for r in s['recording_stats']] == [0.0, 0.0, 0.0]


def test_artefact_rejection_threshold_is_peak_to_peak_in_microvolts(tmp_path):
    x = sines(20, amp=20.0)                                                # 40 µV peak-to-peak
    x[0, int(7.25 * 256):int(7.75 * 256)] += 700                           # a 700 µV step in window 1 (5-10 s)
    x[2, 13 * 256:] = 0.0                                                  # TP9 flat from 13 s: window 3 (15-20 s) is flat
    write(tmp_path / 'a.csv', muse_frame(x))
    s = build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)
    rejected = pd.read_parquet(s['rejected'])
    assert rejected[['sub_window_id', 'reason', 'channel']].values.tolist() == [[1, 'amplitude', 'AF7'], [3, 'flat', 'TP9']]
    assert rejected.ptp_uv.iloc[0] > 500 and rejected.ptp_uv.iloc[1] < 1
    meta, _ = read_primary(s['primary'])
    assert meta.sub_window_id.tolist() == [0, 2]
    s = build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', reject_ptp_uv=2000.0, flat_ptp_uv=0.0, **SMALL)
    assert (s['windows'], s['rejected_windows']) == (4, 0)


def test_primary_dataset_schema(tmp_path):
    write(tmp_path / 'a.csv', muse_frame(sines(10)))
    s = build_primary(table(tmp_path, 'A,,1,a.csv'), tmp_path / 'out', **SMALL)
    import pyarrow as pa, pyarrow.parquet as pq
    schema = pq.read_schema(s['primary'])
    assert schema.names == ['Participant', 'Remission', 'session', 'parent_window_id', 'sub_window_id', 'window_start', 'window_end',
                            'af7', 'af8', 'tp9', 'tp10']
    assert schema.field('tp9').type == pa.list_(pa.float32(), 1280)
    meta, x = read_primary(s['primary'])
    assert meta.Remission.isna().all() and x.dtype == np.float32
    assert meta.attrs['eeg']['params']['reject_ptp_uv'] == 500.0 and meta.attrs['eeg']['sfreq'] == 256.0


def test_read_primary_names_the_first_row_out_of_order(tmp_path):
    meta = pd.DataFrame({'Participant': ['A', 'A', 'B', 'B', 'A'], 'Remission': [1, 1, 0, 0, 1], 'session': '1',
                         'parent_window_id': [0, 0, 0, 1, 1], 'sub_window_id': [0, 1, 0, 0, 0], 'window_start': 0, 'window_end': 4})
    p = write_primary(meta, np.zeros((5, 4, 4)), tmp_path / 'p.parquet', channels=MUSE_CHANNELS, attrs={})
    with pytest.raises(DataError, match=r'p\.parquet row 4: \(A, parent 1, sub 0\) after \(B, parent 1, sub 0\)'): read_primary(p)
    p = write_primary(meta.iloc[[0, 0]], np.zeros((2, 4, 4)), p, channels=MUSE_CHANNELS, attrs={})
    with pytest.raises(DataError, match='row 1: .* after .*without repeats'): read_primary(p)


def test_failed_build_leaves_the_previous_dataset_untouched(tmp_path):
    write(tmp_path / 'a.csv', muse_frame(sines(10)))
    s = build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)
    before = open(s['primary'], 'rb').read()
    bad = muse_frame(sines(10)); bad.loc[1000:, 'timestamps'] -= 2.0
    write(tmp_path / 'b.csv', bad)
    with pytest.raises(DataError, match='goes back'):
        build_primary(table(tmp_path, 'A,1,1,a.csv', 'B,0,1,b.csv'), tmp_path / 'out', **SMALL)
    assert open(s['primary'], 'rb').read() == before
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['5s_af7-af8-tp9-tp10_primary_dataset.parquet', '5s_af7-af8-tp9-tp10_rejected_windows.parquet']


# ---- bad input -----------------------------------------------------------------------------------------------------

def test_timestamps_out_of_order_are_refused_with_the_line(tmp_path):
    df = muse_frame(sines(12))
    df = pd.concat([df.iloc[:1500], df.iloc[2000:2100], df.iloc[1500:2000], df.iloc[2100:]], ignore_index=True)   # a block moved
    write(tmp_path / 'a.csv', df)
    with pytest.raises(DataError, match=r'a\.csv line 1602: timestamp goes back 2\.340 s'):
        build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)


def test_duplicated_rows_are_dropped_and_counted(tmp_path):
    df = muse_frame(sines(10))
    write(tmp_path / 'a.csv', df.loc[df.index.repeat(2)])                  # every row written twice
    s = build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)
    assert (s['recording_stats'][0]['duplicates'], s['windows']) == (2560, 2)


def test_repeated_timestamps_beyond_jitter_are_refused(tmp_path):
    df = muse_frame(sines(12))
    df.loc[2000:2099, 'timestamps'] = df.timestamps[2000]                  # clock stuck for 100 samples, new values
    write(tmp_path / 'a.csv', df)
    with pytest.raises(DataError, match=r'a\.csv line \d+: timestamp is [+-]0\.\d+ s off the steady'):
        build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)


def test_jitter_and_small_repeats_like_the_real_files_are_accepted(tmp_path):
    df = muse_frame(sines(12))
    df['timestamps'] += np.random.default_rng(0).normal(0, 0.006, len(df))   # steps back by up to ~0.03 s
    assert (np.diff(df.timestamps) < 0).any()
    write(tmp_path / 'a.csv', df)
    assert build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)['windows'] == 2


def test_a_gap_splits_the_recording_so_no_window_spans_it(tmp_path):
    df = muse_frame(sines(22))
    df.loc[df.index >= 8 * 256, 'timestamps'] += 3.0                       # 3 s lost after 8 s: pieces of 8 s and 14 s
    write(tmp_path / 'a.csv', df)
    s = build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)
    r = s['recording_stats'][0]
    assert (r['gaps'], r['segments'], s['windows']) == (1, 2, 1 + 2)        # not 4, as 22 s without the gap would give
    meta, _ = read_primary(s['primary'])
    assert meta.parent_window_id.tolist() == [0, 1, 1]


def test_short_nan_runs_are_interpolated_and_long_ones_split(tmp_path):
    df = muse_frame(sines(22))
    df.loc[300:309, 'AF7'] = np.nan                                        # 10 samples (< 0.1 s): interpolated
    df.loc[8 * 256:9 * 256 - 1, ['TP9', 'TP10']] = np.nan                  # 1 s: removed, splits like a gap
    df.loc[len(df) - 3:, 'AF8'] = np.nan                                   # a truncated tail: trimmed
    write(tmp_path / 'a.csv', df)
    s = build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)
    r = s['recording_stats'][0]
    assert (r['nan_interpolated'], r['segments'], s['windows']) == (10, 2, 1 + 2)
    assert r['nan_dropped_s'] == pytest.approx((256 + 3) / 256)
    _, x = read_primary(s['primary'])
    assert np.isfinite(x).all()


def test_wrong_sampling_rate_is_refused_then_resampled_when_declared(tmp_path):
    write(tmp_path / 'a.csv', muse_frame(sines(12, sfreq=220.0), sfreq=220.0))
    with pytest.raises(DataError, match=r'a\.csv lines 2-2641: timestamps give 220\.0 Hz, expected 256 Hz'):
        build_primary(table(tmp_path, 'A,1,1,a.csv'), tmp_path / 'out', **SMALL)
    s = build_primary(table(tmp_path, 'A,1,1,a.csv,220', header='participant,remission,session,file,sfreq'), tmp_path / 'out', **SMALL)
    _, x = read_primary(s['primary'])
    assert x.shape == (2, 4, 1280)
    (tmp_path / 'slow.csv').write_text('timestamps,TP9,AF7,AF8,TP10\n' + ''.join(f'{i}.0,1,2,3,{i}\n' for i in range(30)))
    with pytest.raises(DataError, match=r'slow\.csv: rows are a median 1\.000 s apart'):
        build_primary(table(tmp_path, 'A,1,1,slow.csv'), tmp_path / 'out', **SMALL)


@pytest.mark.parametrize('rows, message', [
    (['A,1,1,a.csv', 'B,0,1,missing.csv'], r"participants\.csv line 3: file 'missing\.csv' not found"),
    (['A,2,1,a.csv'], r"line 2: remission '2' must be 1, 0 or empty"),
    (['A/../../x,1,1,a.csv'], r"line 2: participant 'A/\.\./\.\./x' is not allowed"),
    (['A,1,1,a.csv', 'A,0,1,a.csv'], r'line 3: participant A session 1 is listed twice'),
])
def test_participants_table_errors_name_the_line(tmp_path, rows, message):
    write(tmp_path / 'a.csv', muse_frame(sines(6)))
    with pytest.raises(DataError, match=message): read_participants(table(tmp_path, *rows))


def test_parameters_are_checked_and_unknown_config_keys_refused(tmp_path):
    write(tmp_path / 'a.csv', muse_frame(sines(6)))
    t = table(tmp_path, 'A,1,1,a.csv')
    with pytest.raises(ConfigError, match='eeg.parent_window_s must be a whole number of eeg.window_s'):
        build_primary(t, tmp_path / 'out', window_s=4.0, parent_window_s=10.0)
    with pytest.raises(ConfigError, match='eeg.window_s x eeg.resample_sfreq must be a whole number of samples'):
        build_primary(t, tmp_path / 'out', window_s=0.001, parent_window_s=0.001)
    (tmp_path / 'params.yaml').write_text('eeg:\n  window_s: 5.0\n  reject_uv: 100\n')
    with pytest.raises(ConfigError, match=r'eeg\.reject_uv not a parameter'): primary_config(tmp_path / 'params.yaml')
    (tmp_path / 'params.yaml').write_text('eeg:\n  window_s: 5.0\n  parent_window_s: 20.0\n  line_freqs: [60.0]\n')
    assert build_primary(t, tmp_path / 'out', **primary_config(tmp_path / 'params.yaml'))['windows'] == 1


def test_contiguous_segments_counts(tmp_path):
    rec = pd.DataFrame({'time': np.arange(2560) / SFREQ, 'line': np.arange(2560) + 2, **dict(zip(MUSE_CHANNELS, sines(10)))})
    pieces, stats = contiguous_segments(rec, 'r.csv', min_s=5.0)
    assert len(pieces) == 1 and pieces[0][1].shape == (4, 2560)
    assert stats == dict(rows=2560, duplicates=0, gaps=0, nan_interpolated=0, nan_dropped_s=0.0, short_dropped_s=0.0)


# ---- the synthetic cohort ------------------------------------------------------------------------------------------

def test_synthetic_cohort_builds_and_keeps_its_planted_asymmetry(tmp_path):
    participants = synth_eeg_cohort(tmp_path / 'raw', n_participants=6, seconds=40, faa_effect=1.0, pops_per_min=3.0, seed=1)
    s = build_primary(participants, tmp_path / 'out', **SMALL)
    assert s['participants'] == 6 and s['rejected_by_reason'].get('amplitude', 0) > 0       # pops are rejected
    meta, x = read_primary(s['primary'])
    spec = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[-1], 1 / SFREQ)
    alpha = spec[:, :, (f >= 8) & (f <= 12)].sum(-1)
    meta['faa'] = np.log(alpha[:, 1] / alpha[:, 0])                          # ln(AF8) - ln(AF7)
    per = meta.groupby('Participant').agg(faa=('faa', 'mean'), remission=('Remission', 'first'))
    assert per[per.remission == 1].faa.mean() > per[per.remission == 0].faa.mean() + 0.2
    assert (tmp_path / 'raw' / 'README.txt').read_text().startswith('SYNTHETIC EEG')


# ---- the real Muse recordings --------------------------------------------------------------------------------------

def test_real_muse_tables():
    shared_path('data', 'muse', 'P300')
    task, cueing = muse_participants(), muse_participants(tasks=('cueing',))
    assert (len(task), len(cueing)) == (15, 12)
    assert task.groupby('task').participant.nunique().to_dict() == {'P300': 5, 'SSVEP': 3}
    checked = read_participants(task)
    assert checked.remission.tolist().count(1) == 6 and not checked.remission.isna().any()
    assert read_participants(cueing).remission.isna().all()


def test_real_jittered_recording_builds(tmp_path):
    folder = shared_path('data', 'muse', 'SSVEP')
    f = folder / 'subject1_session1_data_2017-09-14-21.20.04.csv'         # LSL jitter: steps back of up to 15 ms, repeated timestamps
    rec = read_eeg_csv(f)
    assert ((np.diff(rec.time) < 0).sum(), (np.diff(rec.time) == 0).sum()) == (32, 91)
    s = build_primary(pd.DataFrame({'participant': ['subject1'], 'remission': [1], 'session': ['SSVEP_1'], 'file': [str(f)]}), tmp_path)
    assert s['windows'] + s['rejected_windows'] == 12
    r = s['recording_stats'][0]
    assert (r['rows'], r['duplicates'], r['gaps'], r['segments']) == (30732, 0, 0, 1)
    _, x = read_primary(s['primary'])
    assert x.shape[1:] == (4, 2560) and np.isfinite(x).all()


# ---- the stage notebook --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_stage_notebook_runs_on_a_tiny_cohort_and_says_when_real_data_is_absent(tmp_path, root, monkeypatch):
    import json, papermill
    monkeypatch.setenv('BIG_MOOD_ROOT', str(root))
    monkeypatch.setenv('PYTHONPATH', str(root))
    papermill.execute_notebook(str(root / 'nbs' / 'pipeline' / '06_eeg_primary.ipynb'), str(tmp_path / 'report.ipynb'), kernel_name='python3',
                               cwd=str(tmp_path), progress_bar=False,
                               parameters=dict(muse_dir=str(tmp_path / 'no_muse'), synthetic_participants=4, synthetic_seconds=30.0,
                                               window_s=5.0, parent_window_s=15.0))
    metrics = json.loads((tmp_path / 'metrics' / 'eeg_primary.json').read_text())
    assert metrics['muse_task']['status'] == 'skipped' and metrics['muse_cueing']['status'] == 'skipped'
    assert metrics['synthetic']['windows'] + metrics['synthetic']['rejected_windows'] == 4 * 6
    assert metrics['synthetic']['note'].startswith('SYNTHETIC')
    report = (tmp_path / 'report.ipynb').read_text()
    assert 'muse_cueing and muse_task were skipped' in report
    assert (tmp_path / 'data' / 'processed' / 'eeg' / 'synthetic' / '5s_af7-af8-tp9-tp10_primary_dataset.parquet').is_file()
