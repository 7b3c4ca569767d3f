"""Identical runs give identical files, byte for byte (so DVC sees no change), and training outside the project
still saves its model (its provenance says it is not a git checkout)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from big_mood.data.weeks import write_weeks
from big_mood.models.pat import PATConfig, PATEncoder, save_pat
from big_mood.train.pretrain import pretrain_run
from big_mood.train.task import finetune_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "24 participants' weeks, PHQ-9 of 15 for every other one (more active on day 3), and a small encoder."
    d = tmp_path_factory.mktemp('data')
    rng = np.random.default_rng(0)
    n = 24
    labels = pd.DataFrame({'id': [f'p{i}' for i in range(n)], 'phq9': np.where(np.arange(n) % 2, 15, 3)})
    minutes = rng.gamma(2, 5, (n, 10080)).astype(np.float32)
    minutes[:, 2 * 1440 + 720:2 * 1440 + 1080] *= np.where(labels.phq9 >= 10, 4.0, 1.0)[:, None]
    write_weeks(d / 'weeks.parquet', pd.DataFrame({'id': labels.id, 'cohort': 'toy', 'week': 0, 'weekday': 0}), minutes, np.ones_like(minutes, np.uint8))
    labels.to_parquet(d / 'labels.parquet')
    torch.manual_seed(0)
    save_pat(PATEncoder(PATConfig(patch_size=144, num_heads=1)), d / 'encoder.pt')
    return d


def files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob('*')) if p.is_file()}


def test_pretraining_twice_gives_the_same_files(data, tmp_path):
    for run in ('a', 'b'):
        pretrain_run(data / 'weeks.parquet', tmp_path / run, size='S', max_weeks=8, epochs=2, batch_size=4, device='cpu', log=lambda s: None)
    a, b = files(tmp_path / 'a'), files(tmp_path / 'b')
    assert sorted(a) == ['mae.json', 'mae.pt']
    assert [name for name in a if a[name] != b[name]] == []


def test_fine_tuning_twice_gives_the_same_files(data, tmp_path):
    for run in ('a', 'b'):
        finetune_task(data / 'weeks.parquet', data / 'labels.parquet', tmp_path / run, task='depression', label='PHQ9>=10',
                      pretrained=data / 'encoder.pt', runs=['pretrained/full', 'pretrained/linear'], epochs=2, batch_size=8, lr=1e-3,
                      test_frac=0.25, device='cpu', log=lambda s: None)
    a, b = files(tmp_path / 'a'), files(tmp_path / 'b')
    assert sorted(a) == ['full_fold0_pretrained_full_seed0.pt', 'full_fold0_pretrained_linear_seed0.pt', 'metadata.json',
                         'predictions.parquet', 'standardize.pt']
    assert [name for name in a if a[name] != b[name]] == []


def test_training_outside_the_project_saves_its_model(data, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'BIG_MOOD_ROOT'} | {'PYTHONPATH': str(ROOT), 'TQDM_DISABLE': '1'}
    run = subprocess.run([sys.executable, '-c', 'import sys; from big_mood.cli import main; sys.exit(main())', 'pretrain',
                          '--weeks', str(data / 'weeks.parquet'), '--out', 'run', '--max-weeks', '4', '--epochs', '1', '--batch-size', '4', '--device', 'cpu'],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / 'run' / 'mae.json').read_text())['source_commit'] == 'not a git checkout'
    assert (tmp_path / 'run' / 'mae.pt').is_file()
