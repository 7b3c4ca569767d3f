"""Rhythm metrics: pyActigraphy's published values (where its sample file is given) and real Depresjon recordings."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from big_mood.data.actigraphy import read_minute_counts
from big_mood.features.rhythm import (RHYTHM_METRICS, interdaily_stability, intradaily_variability, l5_m10, rhythm_metrics,
                                      sleep_regularity_index)
from big_mood.features.sleep import score_sleep

# MOOD_ML.md §5.2: pyActigraphy 1.2.2 on its example_01.AWD (18,401 1-min epochs; freq 1H, binarize, threshold 4)
GOLDEN = {'IS': 0.527656245354158, 'IV': 0.32913524895082263, 'L5': 0.10512820512820513, 'M10': 0.7624465811965813,
          'RA': 0.7576503909857768}


def read_awd(path: Path) -> pd.Series:
    "A CamNtech AWD file (7 header lines: name, date, time, epoch code, age, serial, sex; then counts, optional ' M')."
    lines = path.read_text().splitlines()
    start = pd.to_datetime(f'{lines[1]} {lines[2]}', format='%d-%b-%Y %H:%M')
    assert lines[3].strip() == '4', 'only 1-minute epochs (code 4)'
    counts = [float(x.split()[0]) for x in lines[7:] if x.strip()]
    return pd.Series(counts, index=pd.date_range(start, periods=len(counts), freq='min'))


def test_pyactigraphy_published_values():
    folder = os.environ.get('PYACTIGRAPHY_TEST_DATA')   # pyActigraphy/tests/data of a pyActigraphy 1.2.2 checkout (GPL, not vendored)
    if not folder or not (Path(folder) / 'example_01.AWD').is_file():
        pytest.skip('set PYACTIGRAPHY_TEST_DATA to pyActigraphy/tests/data to check against its published values')
    x = read_awd(Path(folder) / 'example_01.AWD')
    assert len(x) == 18401
    got = {'IS': interdaily_stability(x, convention='pyactigraphy'), 'IV': intradaily_variability(x, convention='pyactigraphy'),
           **{k: v for k, v in l5_m10(x).items() if k in ('L5', 'M10', 'RA')}}
    for k, v in GOLDEN.items():
        assert got[k] == pytest.approx(v, rel=1e-9), (k, got[k], v)
    # TOOLING.md §11: read_raw_awd(start_time='1918-01-24 08:00:00', period='9 days') -> 12961 epochs, values to 4 digits
    w = x['1918-01-24 08:00':].iloc[:12961]
    nine = {'IS': interdaily_stability(w, convention='pyactigraphy'), 'IV': intradaily_variability(w, convention='pyactigraphy'), **l5_m10(w)}
    assert {k: round(nine[k], 4) for k in ('IS', 'IV', 'RA', 'L5', 'M10')} == {'IS': 0.8291, 'IV': 0.4544, 'RA': 0.7312, 'L5': 0.14, 'M10': 0.9015}


def test_textbook_and_pyactigraphy_conventions_differ_by_their_factors():
    rng = np.random.default_rng(0)
    x = pd.Series(rng.poisson(20, 7 * 1440).astype(float), index=pd.date_range('2024-01-01', periods=7 * 1440, freq='min'))
    n, p = 7 * 24, 24
    assert interdaily_stability(x, binarize=False, convention='pyactigraphy') == pytest.approx(
        interdaily_stability(x, binarize=False) * (n - 1) * p / ((p - 1) * n), rel=1e-12)
    assert intradaily_variability(x, binarize=False, convention='pyactigraphy') == pytest.approx(
        intradaily_variability(x, binarize=False) * (n - 1) / n, rel=1e-12)
    assert intradaily_variability(x, binarize=False) == pytest.approx(2.0, abs=0.3)   # hourly sums of white noise


def test_real_recording_gives_metrics_in_their_ranges():
    counts = read_minute_counts(shared_path('data', 'depresjon', 'control', 'control_3.csv'))
    sleep = score_sleep(counts, 'sadeh')
    m = rhythm_metrics(sleep, counts)
    assert list(m) == list(RHYTHM_METRICS)
    assert 0 < m['IS'] < 1 and 0 < m['IV'] < 2.5 and 0 <= m['L5'] < m['M10'] <= 1 and 0 < m['RA'] <= 1
    assert -100 <= m['SRI'] <= 100 and 0 < m['sleep_efficiency'] <= 1 and 0 < m['kRA'] < 1 and 0 < m['kAR'] < 1
    assert -3 < m['sleep_midpoint'] < 8
