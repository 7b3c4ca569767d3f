"""Shared fixtures of the personal tests (import them into a test module): one small population trained end to end on
synthetic cohorts, one synthetic person's export and episodes, and that person calibrated on their first 100 days.
Built once per test session; tests that change a model folder work on a copy (`user_copy`)."""
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from big_mood.data.synthetic_apple import write_synthetic_export
from big_mood.personal.calibrate import calibrate_run
from big_mood.personal.daily import read_export_days, until
from big_mood.personal.population import synthetic_population
from big_mood.personal.synthetic import episodes_until, write_episodes

CALIBRATE_DAYS = 100


@pytest.fixture(scope='session')
def population(tmp_path_factory) -> Path:
    "A population folder (synthetic mood cohort XGBoost, linear-probe PAT on synthetic weeks)."
    out = tmp_path_factory.mktemp('population') / 'population'
    synthetic_population(out)
    return out


@pytest.fixture(scope='session')
def person(tmp_path_factory) -> dict:
    "Synthetic person 1 (MDD: one depressive episode, 2022-07-26 to 08-17) over 150 days: export.zip, episodes, days read."
    d = tmp_path_factory.mktemp('person')
    sim = write_synthetic_export(d / 'export.zip', seed=1, days=150, episodes_csv=d / 'episodes.csv')
    split = pd.Timestamp(sim['plan'].index[1]) + pd.Timedelta(days=CALIBRATE_DAYS - 1)
    write_episodes(episodes_until(sim['episodes'], split), d / 'episodes_calibration.csv')
    days = read_export_days(d / 'export.zip')
    return {'folder': d, 'export': d / 'export.zip', 'episodes': d / 'episodes.csv', 'calibration_episodes': d / 'episodes_calibration.csv',
            'split': split, 'truth': sim['episodes'], 'days': days, 'calibration_days': until(days, split), 'sim': sim}


@pytest.fixture(scope='session')
def calibrated(population, person, tmp_path_factory) -> Path:
    "models/users/person1 calibrated on the first 100 days (never changed: copy it with `user_copy`)."
    out = tmp_path_factory.mktemp('users') / 'person1'
    calibrate_run(person['calibration_episodes'], person['calibration_days'], out, population=population)
    return out


@pytest.fixture
def user_copy(calibrated, tmp_path) -> Path:
    "A copy of the calibrated person's folder to change."
    return Path(shutil.copytree(calibrated, tmp_path / 'users' / calibrated.name))


def folder_hashes(folder: Path) -> dict:
    "SHA-256 of every file in a folder (to show that nothing changed)."
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*')) if p.is_file()}
