"""Calibration of one person: the folder it writes, an incremental update keeping the history, and every refusal of item 9
of the issue leaving what was stored exactly as it was (a process killed mid-calibration included)."""
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from conftest import ROOT
from personal_fixtures import CALIBRATE_DAYS, calibrated, folder_hashes, person, population, user_copy  # noqa: F401 (fixtures)
from big_mood.core import ConfigError, DataError, ModelError
from big_mood.data.synthetic_apple import write_synthetic_export
from big_mood.personal.baseline import BaselineStore
from big_mood.personal.calibrate import (PERSONAL_SCHEMA, ResidualAdapter, calibrate_run, fit_lora, lora_probs, load_personal)
from big_mood.personal.daily import read_export_days, until
from big_mood.personal.population import load_population


def test_calibration_writes_a_private_model_folder(calibrated, person):
    assert sorted(p.name for p in calibrated.iterdir()) == ['adapter.pt', 'baseline.db', 'metadata.json']
    assert stat.S_IMODE(calibrated.stat().st_mode) == 0o700
    for f in calibrated.iterdir(): assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    meta = json.loads((calibrated / 'metadata.json').read_text())
    assert (meta['schema'], meta['user_id'], len(meta['calibrations'])) == (PERSONAL_SCHEMA, 'person1', 1)
    types = meta['calibrations'][0]['types']
    assert types['depressive']['calibrated'] and not types['manic']['calibrated'] and '0 manic episode day(s)' in types['manic']['why_not']
    state = torch.load(calibrated / 'adapter.pt', weights_only=True)   # plain tensors: nothing executes on load
    assert set(state['recalibration']) == {'depressive'} and state['pat_standardize']['mean'].shape == (10080,)
    with BaselineStore(calibrated / 'baseline.db') as s:
        assert s.days()['date'].max() == person['split'] and len(s.episodes()) == 1 and len(s.calibrations()) == 1


def test_every_number_comes_from_a_fit(calibrated):
    "The held-out numbers differ between arms and were computed on the person's days, not set (the earlier project's stub returned constants)."
    ho = json.loads((calibrated / 'metadata.json').read_text())['calibrations'][0]['types']['depressive']['held_out']
    assert ho['population']['days'] == ho['personal']['days'] == ho['ensemble']['days'] > 30
    assert len({ho[a]['brier'] for a in ho}) == 3 and all(0 <= ho[a]['auc'] <= 1 for a in ho)


def test_calibrating_again_with_a_longer_export_updates_and_keeps_the_history(user_copy, person, population):
    before = json.loads((user_copy / 'metadata.json').read_text())
    s = calibrate_run(person['episodes'], person['days'], user_copy, population=population)
    meta = json.loads((user_copy / 'metadata.json').read_text())
    assert len(meta['calibrations']) == 2 and meta['calibrations'][0] == before['calibrations'][0]
    assert s['imported']['replaced'] == CALIBRATE_DAYS + 1 and s['stored_days'] == len(person['days'].days)
    with BaselineStore(user_copy / 'baseline.db') as st:
        assert len(st.imports()) == 2 and len(st.calibrations()) == 2 and not st.days()['date'].duplicated().any()
    assert meta['adapter_sha256'] != before['adapter_sha256']


def test_too_few_labelled_days_is_refused_and_nothing_is_written(person, population, tmp_path):
    (tmp_path / 'early.csv').write_text('start,end,type\n2022-06-12,2022-06-25,depressive\n')
    with pytest.raises(DataError, match=r'early.csv \+ export.zip: \d+ labelled day\(s\).*needs at least 14 \(min_labeled_days\)'):
        calibrate_run(tmp_path / 'early.csv', until(person['days'], '2022-06-25'), tmp_path / 'new', population=population)
    assert not (tmp_path / 'new').exists() and not list(tmp_path.glob('.new*'))


@pytest.mark.parametrize('text, message', [
    ('start,end,type\n2022-07-26,2022-08-17,depresive\n', "line 2: type 'depresive' is not one of"),
    ('start,end,type\n2022-07-26,2022-08-17,depressive\n2022-08-10,2022-08-20,manic\n', 'lines 2 and 3: episodes overlap'),
    ('start,end,type\n2030-01-01,2030-02-01,depressive\n', 'after the last day of data'),
    ('start,end,type\n2019-01-01,2019-02-01,depressive\n', "before the first day of data (2022-05-31): outside the export's days"),
    ('start,end,type\n2022-08-17,2022-07-26,depressive\n', 'ends (2022-07-26) before it starts (2022-08-17)'),
])
def test_bad_episodes_are_refused_naming_the_file_and_the_model_is_unchanged(user_copy, person, population, tmp_path, text, message):
    (tmp_path / 'bad.csv').write_text(text)
    before = folder_hashes(user_copy)
    with pytest.raises(DataError) as e: calibrate_run(tmp_path / 'bad.csv', person['calibration_days'], user_copy, population=population)
    assert 'bad.csv' in str(e.value) and message in str(e.value), e.value
    assert folder_hashes(user_copy) == before


def test_another_persons_export_is_refused_and_the_model_is_unchanged(user_copy, person, population, tmp_path):
    write_synthetic_export(tmp_path / 'noor.zip', seed=2, days=40, trip_zone='')
    before = folder_hashes(user_copy)
    with pytest.raises(DataError, match="noor.zip: looks like another person's export"):
        calibrate_run(person['calibration_episodes'], tmp_path / 'noor.zip', user_copy, population=population)
    assert folder_hashes(user_copy) == before


def test_a_model_folder_of_an_older_schema_is_refused(user_copy, person, population):
    meta = json.loads((user_copy / 'metadata.json').read_text()); meta['schema'] = 0
    (user_copy / 'metadata.json').write_text(json.dumps(meta))
    with pytest.raises(ModelError, match='personal model schema 0, this big_mood reads schema 1'):
        calibrate_run(person['calibration_episodes'], person['calibration_days'], user_copy, population=population)


def test_a_damaged_baseline_db_is_refused_and_left_alone(user_copy, person, population):
    db = user_copy / 'baseline.db'
    db.write_bytes(b'SQLite format 3\x00' + os.urandom(3000))
    before = folder_hashes(user_copy)
    with pytest.raises(DataError, match='baseline.db: not a readable baseline database'):
        calibrate_run(person['calibration_episodes'], person['calibration_days'], user_copy, population=population)
    assert folder_hashes(user_copy) == before


def test_a_hostile_user_id_is_refused(person, population, tmp_path):
    with pytest.raises(ConfigError, match="user id '../x' is not allowed"):
        calibrate_run(person['calibration_episodes'], person['calibration_days'], tmp_path / 'a', population=population, user_id='../x')
    with pytest.raises(ConfigError, match='exists and is not a big_mood personal model folder'):
        (tmp_path / 'occupied').mkdir(); (tmp_path / 'occupied' / 'notes.txt').write_text('mine')
        calibrate_run(person['calibration_episodes'], person['calibration_days'], tmp_path / 'occupied', population=population)


def test_a_model_fitted_on_other_population_models_is_refused(calibrated, population, tmp_path):
    other = shutil.copytree(population, tmp_path / 'other')
    meta = json.loads((other / 'metadata.json').read_text())
    for ext in ('.json', '.meta.json'): shutil.copyfile(other / 'xgb' / f'XGBoost_ME{ext}', other / 'xgb' / f'XGBoost_DE{ext}')   # another DE model
    meta['models']['depressive_population']['sha256'] = meta['models']['manic_population']['sha256']
    (other / 'metadata.json').write_text(json.dumps(meta))
    with pytest.raises(ModelError, match='was calibrated on other population models'): load_personal(calibrated, load_population(other))


KILLED = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from unittest import mock
    import big_mood.personal.calibrate as C
    marker = Path(sys.argv[4])
    def stalled(*a, **k):
        marker.write_text('fitting')
        time.sleep(300)
    with mock.patch.object(C, 'fit_personal', stalled):
        C.calibrate_run(sys.argv[1], sys.argv[2], sys.argv[3], population=sys.argv[5])
''')


def test_kill_9_during_calibration_leaves_the_previous_model(user_copy, person, population, tmp_path):
    before = folder_hashes(user_copy)
    marker = tmp_path / 'marker'
    proc = subprocess.Popen([sys.executable, '-c', KILLED, str(person['episodes']), str(person['export']), str(user_copy), str(marker), str(population)],
                            env={**os.environ, 'PYTHONPATH': str(ROOT), 'TQDM_DISABLE': '1'})
    try:
        for _ in range(3000):
            if marker.exists() or proc.poll() is not None: break
            time.sleep(0.1)
        assert marker.exists(), f'calibration never reached the fit (exit {proc.poll()})'
        proc.kill(); proc.wait()
    finally:
        if proc.poll() is None: proc.kill()
    assert folder_hashes(user_copy) == before   # the new days and episodes went into a copy that never replaced the folder
    load_personal(user_copy)
    with BaselineStore(user_copy / 'baseline.db') as s: assert len(s.imports()) == 1


def test_lora_trains_only_its_matrices_and_starts_at_the_population(population):
    pat = load_population(population).pat
    x = np.random.default_rng(0).normal(size=(12, 10080)).astype(np.float32)
    y = np.r_[np.zeros(6), np.ones(6)]
    state, hist = fit_lora(x, y, pat, epochs=1, batch_size=4, lr=1e-2)
    assert state and all('lora_' in k for k in state) and len(hist) == 1
    zero = {k: torch.zeros_like(v) if 'lora_B' in k else v for k, v in state.items()}   # B = 0: LoRA adds nothing
    with torch.no_grad(): population_p = torch.sigmoid(pat.eval()(torch.as_tensor(x))).squeeze(1).numpy()
    np.testing.assert_allclose(lora_probs(zero, pat, x), population_p, atol=1e-6)
    assert not np.allclose(lora_probs(state, pat, x), population_p)
