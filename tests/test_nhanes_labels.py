"""NHANES labels: drug ids against the real drug dictionary, counts on the real 2013-14 RXQ_RX_H, PHQ-9 and sleep rules."""
import numpy as np
import pandas as pd
import pyreadstat
import pytest

from big_mood.core import DataError
from big_mood.data.nhanes import (BENZODIAZEPINES, DPQ_ITEMS, SSRIS, codebook, drug_label, phq9_total, read_table, sleep_labels)
from big_mood.data.xpt import write_xpt
from conftest import shared_path


def _dictionary():
    drugs, _ = pyreadstat.read_xport(str(shared_path('data', 'nhanes', 'RXQ_DRUG.XPT')), encoding='latin1')
    level3 = [c for c in drugs.columns if c.startswith(('RXDDCI', 'RXDICI')) and c.endswith('C')]   # drug and ingredient categories, level 3
    return drugs, level3


def _real_rx():
    return read_table(shared_path('data', 'nhanes', 'RXQ_RX_H.csv'), 'RXQ_RX_H', one_per_person=False)


def test_benzodiazepine_ids_are_exactly_multum_categories_69_and_203():
    drugs, level3 = _dictionary()
    benzo = drugs[drugs[level3].isin([69, 203]).any(axis=1)]
    assert dict(zip(benzo.RXDDRGID, benzo.RXDDRUG)) == BENZODIAZEPINES


def test_ssri_ids_are_exactly_multum_category_208():
    drugs, level3 = _dictionary()
    ssri = drugs[drugs[level3].isin([208]).any(axis=1)]
    assert dict(zip(ssri.RXDDRGID, ssri.RXDDRUG)) == SSRIS


def test_ids_of_the_earlier_port_are_other_drugs():
    drugs, _ = _dictionary()
    names = dict(zip(drugs.RXDDRGID, drugs.RXDDRUG))
    assert (names['d00321'], names['d00732'], names['d04851']) == ('NITROGLYCERIN', 'LISINOPRIL', 'ROSUVASTATIN')
    assert not {'d00321', 'd00732', 'd00541', 'd04851', 'd00533', 'd00674'} & (set(BENZODIAZEPINES) | set(SSRIS))


def test_real_rxq_rx_h_label_counts():
    rx = _real_rx()
    benzo, ssri = drug_label(rx, BENZODIAZEPINES), drug_label(rx, SSRIS)
    assert len(benzo) == 10175
    # NA: 5 refused/don't-know RXDUSE, and 48 whose only drug rows are 55555/77777/99999 (issue 14: missing, not 0)
    assert (int((benzo == 1).sum()), int((benzo == 0).sum()), int(benzo.isna().sum())) == (287, 9835, 53)
    assert (int((ssri == 1).sum()), int((ssri == 0).sum()), int(ssri.isna().sum())) == (446, 9676, 53)


def test_real_rxq_rx_h_rows_per_drug_match_the_reference():
    rows = _real_rx().RXDDRGID.value_counts()
    assert {d: int(rows.get(d, 0)) for d in ('d00168', 'd00149', 'd00197', 'd00148', 'd00384', 'd00880', 'd04332', 'd00236', 'd04812', 'd03157', 'd03804')} == {
        'd00168': 115, 'd00149': 51, 'd00197': 63, 'd00148': 36, 'd00384': 21, 'd00880': 137, 'd04332': 118, 'd00236': 88,
        'd04812': 57, 'd03157': 45, 'd03804': 5}


def test_real_rxq_rx_h_survives_an_xpt_round_trip_with_latin1_text(tmp_path):
    rx = _real_rx()
    write_xpt(tmp_path/'RXQ_RX_H.xpt', 'RXQ_RX_H', codebook('RXQ_RX_H'), [rx])
    back = read_table(tmp_path/'RXQ_RX_H.xpt', 'RXQ_RX_H', one_per_person=False)
    pd.testing.assert_frame_equal(back, rx, check_dtype=False)
    assert back.RXDRSD1.str.contains('Sjögren').any()


def test_real_slq_d_codes_match_the_reference():
    slq = read_table(shared_path('data', 'nhanes', 'SLQ_D.XPT'), 'SLQ_D', ['SEQN', 'SLD010H', 'SLQ050', 'SLQ060'])
    assert slq.SLQ060.value_counts().to_dict() == {2.0: 5763, 1.0: 370, 9.0: 5, 7.0: 1}
    assert slq.SLQ050.value_counts().to_dict() == {2.0: 4946, 1.0: 1184, 9.0: 8, 7.0: 1}
    labels = sleep_labels(slq)
    assert int(labels.sleep_disorder.sum()) == 370 and labels.sleep_hours.max() == 12   # 77 and 99 are missing


def test_phq9_total_needs_all_nine_answered_items():
    dpq = pd.DataFrame([[1, *[3] * 9], [2, *[3] * 8, 9], [3, *[3] * 8, np.nan], [4, *[1] * 9]], columns=['SEQN', *DPQ_ITEMS])
    total = phq9_total(dpq)
    assert total.iloc[0] == 27 and total.iloc[3] == 9 and total.iloc[1:3].isna().all()


def test_drug_label_is_missing_for_refused_or_unknown_use():
    rx = pd.DataFrame({'SEQN': [1, 2, 3, 4], 'RXDUSE': [7, 9, 2, 1], 'RXDDRUG': ['', '', '', 'ESCITALOPRAM'], 'RXDDRGID': ['', '', '', 'd04812']})
    label = drug_label(rx, SSRIS)
    assert label.iloc[:2].isna().all() and label.iloc[2:].tolist() == [0, 1]


def test_sleep_abnormality_counts_top_coded_and_short_sleep():
    slq = pd.DataFrame({'SEQN': [1, 2, 3, 4, 5], 'SLD010H': [12, 5, 6, 77, 8], 'SLQ060': [2, 2, 2, 1, 7]})
    labels = sleep_labels(slq)
    assert labels.sleep_abnormality.iloc[:4].tolist() == [1, 1, 0, 1] and pd.isna(labels.sleep_abnormality.iloc[4])


def test_rxq_csv_with_a_text_id_column_of_numbers_is_refused(tmp_path):
    (tmp_path/'RXQ_RX_H.csv').write_text('SEQN,RXDUSE,RXDDRGID\n1,1,d00880\n2,x,\n')
    with pytest.raises(DataError, match="line 3: RXDUSE = 'x' is not a number"):
        read_table(tmp_path/'RXQ_RX_H.csv', 'RXQ_RX_H', ['SEQN', 'RXDUSE', 'RXDDRGID'], one_per_person=False)
