"""Synthetic NHANES cohort: deterministic real-layout XPT files, NHANES-like prevalences, planted effects a simple statistic can find."""
import numpy as np
import pandas as pd
import pyreadstat
import pytest
from sklearn.metrics import roc_auc_score

from big_mood.core import ConfigError
from big_mood.data.nhanes import codebook
from big_mood.data.synthetic import minute_activity, synth_people
from big_mood.data.synthetic_files import synth_cycle
from big_mood.data.xpt import xpt_layout


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a, b, c = (synth_cycle(tmp_path/name, 'H', 8, seed) for name, seed in (('a', 5), ('b', 5), ('c', 6)))
    assert all(a[t].read_bytes() == b[t].read_bytes() for t in a)
    assert a['PAXMIN_H'].read_bytes() != c['PAXMIN_H'].read_bytes()


@pytest.mark.parametrize('cycle, table, record', [('C', 'PAXRAW_C', 35), ('D', 'PAXRAW_D', 40), ('G', 'PAXMIN_G', 104), ('H', 'PAXMIN_H', 106)])
def test_minute_files_have_the_cdc_layout(tmp_path, cycle, table, record):
    paths = synth_cycle(tmp_path, cycle, 3, seed=0)
    meta = pyreadstat.read_xport(str(paths[table]), metadataonly=True)[1]
    assert meta.column_names == [v.name for v in codebook(table)]
    assert {n: t == 'string' for n, t in meta.readstat_variable_types.items()} == {v.name: v.kind == 'char' for v in codebook(table)}
    assert xpt_layout(paths[table]).record_len == record and meta.table_name == table


def test_pandas_and_pyreadstat_read_the_synthetic_files_alike(tmp_path):
    paths = synth_cycle(tmp_path, 'G', 3, seed=0)
    ref = pyreadstat.read_xport(str(paths['PAXMIN_G']), encoding='latin1')[0]
    got = pd.read_sas(paths['PAXMIN_G'], format='xport', encoding='latin1')
    num = ref.select_dtypes('number').columns
    fixed = got[num].where(got[num].abs() > 1e-70, 0.0)              # pandas decodes exact zeros as 5.4e-79
    pd.testing.assert_frame_equal(fixed, ref[num], check_dtype=False)
    assert (got.PAXPREDM == ref.PAXPREDM).all() and len(got) == xpt_layout(paths['PAXMIN_G']).n_rows


def test_paxday_and_paxhd_agree_with_paxmin(tmp_path):
    paths = synth_cycle(tmp_path, 'H', 10, seed=2, labels=False)
    day = pyreadstat.read_xport(str(paths['PAXDAY_H']))[0]
    hd = pyreadstat.read_xport(str(paths['PAXHD_H']))[0]
    assert int(day.PAXTMD.sum()) == xpt_layout(paths['PAXMIN_H']).n_rows
    last = day.groupby('SEQN').PAXDAYD.max()
    assert (hd.set_index('SEQN').PAXLDAY[last.index] == last).all()


def test_prevalences_are_near_nhanes_2013_14():
    people = synth_people(7769, 'H', seed=0)
    pam = people[people.pam]
    adults = pam[pam.age >= 18]
    assert 0.06 < adults.depression.mean() < 0.11                  # PHQ-9 >= 10: about 8% of adults
    assert 0.02 < pam.benzodiazepine.mean() < 0.04                 # real RXQ_RX_H: 2.8%
    assert 0.035 < pam.ssri.mean() < 0.055                         # real RXQ_RX_H: 4.4%
    assert 0.04 < pam[pam.age >= 16].sleep_disorder.mean() < 0.12


def test_planted_effects_are_found_by_simple_statistics():
    "Depression: lower daytime activity; benzodiazepines: quieter nights (01:00-05:00). Single statistics, so modest AUCs."
    people = synth_people(3000, 'H', seed=0)
    adults = people[people.pam & (people.age >= 18)].reset_index(drop=True)
    day, night = [], []
    for b in range(0, len(adults), 250):
        part = adults.iloc[b:b + 250]
        mims, state = minute_activity(part, np.zeros(len(part), int), np.random.default_rng(b))
        worn = np.where(state != 3, mims, np.nan)[:, 1440:8 * 1440].reshape(len(part), 7, 1440)   # the week: days 2-8
        day.append(worn[:, :, 10 * 60:20 * 60].reshape(len(part), -1))
        night.append(worn[:, :, 1 * 60:5 * 60].reshape(len(part), -1))
    mean = lambda x: pd.DataFrame(np.concatenate(x)).mean(axis=1).fillna(0).to_numpy()   # all-non-wear rows -> 0
    daytime, nighttime = mean(day), mean(night)
    assert 0.58 < roc_auc_score(adults.depression, -daytime) < 0.85
    assert 0.65 < roc_auc_score(adults.benzodiazepine, -nighttime) < 0.9


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="cycle must be one of C, D, G, H, got 'E'"):
        synth_cycle(tmp_path, 'E', 5)
    with pytest.raises(ConfigError, match='participants must be at least 1'):
        synth_cycle(tmp_path, 'H', 0)
    assert list(tmp_path.iterdir()) == []
