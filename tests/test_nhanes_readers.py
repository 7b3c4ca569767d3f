"""NHANES readers on the real files, and bad input: truncated, zero-filled, renamed or retyped columns, duplicates, short or empty recordings."""
import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from big_mood.core import DataError
from big_mood.data.nhanes import codebook, read_table
from big_mood.data.nhanes_preprocess import preprocess_nhanes
from big_mood.data.nhanes_weeks import paxmin_weeks, paxraw_weeks
from big_mood.data.synthetic_files import synth_cycle
from big_mood.data.weeks import read_weeks
from big_mood.data.xpt import iter_xpt, write_xpt, xpt_layout
from conftest import shared_path


@pytest.fixture(scope='module')
def cohort(tmp_path_factory):
    "A tiny synthetic 2013-14 cycle without labels (20 participants)."
    raw = tmp_path_factory.mktemp('raw')
    synth_cycle(raw, 'H', participants=20, seed=1, labels=False)
    return raw


@pytest.fixture
def raw(cohort, tmp_path):
    "A private copy of the tiny cycle, to damage."
    return shutil.copytree(cohort, tmp_path/'raw')


def _frame(path, table):
    lay = xpt_layout(path)
    return pd.concat([pd.DataFrame(c) for c in iter_xpt(lay, list(lay.columns))], ignore_index=True)


def test_real_demo_c_exact_zeros_are_zero_not_pandas_5e_79():
    path = shared_path('data', 'nhanes', 'DEMO_C.XPT')
    ours = _frame(path, 'DEMO_C')
    theirs = pd.read_sas(path, format='xport')
    assert (ours.RIDAGEYR == 0).sum() == 477
    assert np.isclose(theirs.RIDAGEYR[ours.RIDAGEYR == 0], 5.397605346934028e-79).all()   # the pandas defect we avoid


def test_real_rxq_drug_text_and_numbers_match_pyreadstat():
    path = shared_path('data', 'nhanes', 'RXQ_DRUG.XPT')
    ours = _frame(path, 'RXQ_DRUG')
    ref, meta = pyreadstat.read_xport(str(path), encoding='latin1')
    for c in ref.columns:
        got = ours[c].str.decode('latin-1').str.rstrip() if meta.readstat_variable_types[c] == 'string' else ours[c]
        pd.testing.assert_series_equal(got, ref[c], check_names=False, check_dtype=False)


def test_real_demo_d_through_read_table_matches_pyreadstat():
    path = shared_path('data', 'nhanes', 'DEMO_D.XPT')
    got = read_table(path, 'DEMO_D', ['SEQN', 'SDDSRVYR', 'RIAGENDR', 'RIDAGEYR', 'WTMEC2YR'])
    ref = pyreadstat.read_xport(str(path), usecols=['SEQN', 'SDDSRVYR', 'RIAGENDR', 'RIDAGEYR', 'WTMEC2YR'])[0]
    pd.testing.assert_frame_equal(got, ref)
    assert set(got.SDDSRVYR) == {4.0}


def test_real_paxraw_participant_becomes_its_week_with_rnhanesdata_wear_flags(tmp_path):
    real = pd.read_csv(shared_path('data', 'nhanes', 'PAXRAW_C_SEQN21010.csv'))
    flags = pd.read_csv(shared_path('data', 'nhanes', 'PAXRAW_C_wear_flags.csv.gz'), nrows=100).query('SEQN == 21010').filter(like='MIN').to_numpy().ravel()
    write_xpt(tmp_path/'PAXRAW_C.XPT', 'PAXRAW_C', codebook('PAXRAW_C'), [real[:4000], real[4000:]])
    assert xpt_layout(tmp_path/'PAXRAW_C.XPT').record_len == 35
    weeks, flow = paxraw_weeks(tmp_path, 'C', chunk_rows=3000)
    assert (weeks.minutes[0] == real.PAXINTEN.to_numpy()).all() and (weeks.valid[0] == flags).all()
    assert flow.full_days.tolist() == [7]


def test_truncated_xpt_is_refused_and_nothing_is_written(raw, tmp_path):
    path = raw/'PAXMIN_H.xpt'
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError) as e:
        preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle=None)
    assert str(e.value).startswith('PAXMIN_H.xpt: truncated download: ') and '\n' not in str(e.value)
    assert not (tmp_path/'out').exists()


def test_zero_filled_download_is_refused_though_pyreadstat_reads_it(raw, tmp_path):
    path = raw/'PAXMIN_H.xpt'
    data = bytearray(path.read_bytes())
    data[len(data) // 2:] = bytes(len(data) - len(data) // 2)                 # the right length, zero from the middle on
    path.write_bytes(bytes(data))
    rows, _ = pyreadstat.read_xport(str(path), usecols=['SEQN'])
    assert (rows.SEQN == 0).sum() > 1000                                          # pyreadstat: no complaint, SEQN 0 rows
    with pytest.raises(DataError, match=r'PAXMIN_H.xpt: truncated download: zero-filled from byte [\d,]+ \(row'):
        preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle=None)
    assert not (tmp_path/'out').exists()


def test_failed_run_leaves_previous_outputs_untouched(raw, tmp_path):
    preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle=None)
    before = {p: p.read_bytes() for p in (tmp_path/'out').rglob('*.parquet')}
    path = raw/'PAXMIN_H.xpt'
    path.write_bytes(path.read_bytes()[:-80 * 7])
    with pytest.raises(DataError):
        preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle=None)
    assert {p: p.read_bytes() for p in (tmp_path/'out').rglob('*.parquet')} == before


def _rewrite(path, table, **changes):
    "Rewrite an XPT with some variables renamed or retyped: changes = {old_name: XptVar or None (drop)}."
    df = _frame(path, table)
    variables = []
    for v in codebook(table):
        new = changes.get(v.name, v)
        if new is None: df = df.drop(columns=v.name); continue
        if new.name != v.name: df = df.rename(columns={v.name: new.name})
        if new.kind == 'num' and v.kind == 'char': df[new.name] = df[new.name].astype(int)
        variables.append(new)
    write_xpt(path, table, variables, [df])


def test_renamed_minute_column_is_refused(raw):
    from big_mood.data.xpt import XptVar
    _rewrite(raw/'PAXMIN_H.xpt', 'PAXMIN_H', PAXMTSM=XptVar('PAXMTS', 'num'))
    with pytest.raises(DataError, match=r'PAXMIN_H.xpt: missing variable\(s\) PAXMTSM \(expected the CDC PAXMIN_H layout'):
        paxmin_weeks(raw, 'H')


def test_numeric_day_column_is_refused(raw):
    from big_mood.data.xpt import XptVar
    _rewrite(raw/'PAXMIN_H.xpt', 'PAXMIN_H', PAXDAYM=XptVar('PAXDAYM', 'num'))
    with pytest.raises(DataError, match='PAXDAYM is numeric, the codebook says text'):
        paxmin_weeks(raw, 'H')


def test_duplicate_minute_rows_are_refused(raw):
    df = _frame(raw/'PAXMIN_H.xpt', 'PAXMIN_H')
    df = pd.concat([df.iloc[:5001], df.iloc[5000:]], ignore_index=True)
    write_xpt(raw/'PAXMIN_H.xpt', 'PAXMIN_H', codebook('PAXMIN_H'), [df])
    with pytest.raises(DataError, match=r'PAXMIN_H.xpt row 5,002: SEQN \d+ repeats a minute'):
        paxmin_weeks(raw, 'H', chunk_rows=1000)


def test_duplicate_header_participant_is_refused(raw):
    hd = read_table(raw/'PAXHD_H.xpt', 'PAXHD_H')
    write_xpt(raw/'PAXHD_H.xpt', 'PAXHD_H', codebook('PAXHD_H'), [pd.concat([hd, hd.iloc[:1]]).sort_values('SEQN')])
    with pytest.raises(DataError, match='PAXHD_H.xpt: SEQN \\d+ appears more than once'):
        paxmin_weeks(raw, 'H')


def test_participant_with_no_minutes_and_short_recording_are_counted(raw, tmp_path):
    df = _frame(raw/'PAXMIN_H.xpt', 'PAXMIN_H')
    first, second = sorted(df.SEQN.unique())[:2]
    day = df.PAXDAYM.str.decode('ascii').astype(int)
    df = df[(df.SEQN != first) & ~((df.SEQN == second) & (day > 4))]             # first: no minutes; second: stops after day 4
    write_xpt(raw/'PAXMIN_H.xpt', 'PAXMIN_H', codebook('PAXMIN_H'), [df])
    days = read_table(raw/'PAXDAY_H.xpt', 'PAXDAY_H', one_per_person=False)
    days = days[(days.SEQN != first) & ~((days.SEQN == second) & (days.PAXDAYD.astype(int) > 4))]   # PAXDAY says the same
    write_xpt(raw/'PAXDAY_H.xpt', 'PAXDAY_H', codebook('PAXDAY_H'), [days])
    summary = preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle=None)
    flow = pd.read_parquet(tmp_path/'out'/'participants.parquet').set_index('id')
    assert flow.loc[str(int(first)), 'excluded'] == 'no minutes in the file'
    assert flow.loc[str(int(second)), 'excluded'] == '' and flow.loc[str(int(second)), 'full_days'] == 3   # days 2-4 of the week
    assert summary['participants']['nhanes_H']['no minutes in the file'] == 1
    preprocess_nhanes(raw, tmp_path/'strict', cycles=['H'], label_cycle=None, min_days=7)
    strict = pd.read_parquet(tmp_path/'strict'/'participants.parquet').set_index('id')
    assert strict.loc[str(int(second)), 'excluded'] == 'data on fewer than 7 of 7 days'


def test_min_valid_days_excludes_exactly_those_below_it(cohort, tmp_path):
    preprocess_nhanes(cohort, tmp_path/'all', cycles=['H'], label_cycle=None)
    weeks = read_weeks(tmp_path/'all'/'weeks')
    valid_days = pd.Series((weeks.valid.reshape(len(weeks.meta), 7, 1440).sum(2) >= 600).sum(1), weeks.meta.id.astype(str).to_numpy())
    preprocess_nhanes(cohort, tmp_path/'strict', cycles=['H'], label_cycle=None, min_valid_days=7)
    flow = pd.read_parquet(tmp_path/'strict'/'participants.parquet').set_index('id')
    excluded = set(flow.index[flow.excluded == 'fewer than 7 valid days (>= 600 valid minutes)'])
    assert excluded == set(valid_days.index[valid_days < 7]) and 0 < len(excluded) < len(valid_days), valid_days.value_counts()


def test_minute_file_cut_on_a_record_boundary_is_refused_against_paxday(raw, tmp_path):
    path = raw/'PAXMIN_H.xpt'
    lay = xpt_layout(path)
    cut = lay.data_start + (lay.n_rows // 2) * lay.record_len
    cut -= (cut - lay.data_start) % (80 * lay.record_len)                        # whole records and whole 80-byte cards: size and tail look fine
    path.write_bytes(path.read_bytes()[:cut])
    assert xpt_layout(path).n_rows < lay.n_rows
    with pytest.raises(DataError, match=r'PAXMIN_H: SEQN \d+ has \d+ minutes on day \d but PAXDAY_H says \d+ \(\d+ participant-days differ\): the minute file is incomplete'):
        preprocess_nhanes(raw, tmp_path/'out', cycles=['H'], label_cycle=None)
    assert not (tmp_path/'out').exists()
