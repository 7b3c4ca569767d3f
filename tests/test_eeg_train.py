"""Mamba-2 EEG training: pretraining under torchrun (DistributedDataParallel, gloo on CPU), participant-level splits of
windows whose labels vary within a participant, and an end-to-end run on real Muse recordings (skipped without them)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_path
from big_mood.core import DataError
from big_mood.train.eeg_finetune import eeg_splits

RUN_FILE = Path(__file__).parent / 'eeg_train_run.py'
ENV = {**{k: v for k, v in os.environ.items() if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')},
       'TQDM_DISABLE': '1', 'OMP_NUM_THREADS': '1'}


def test_eeg_pretraining_under_torchrun_keeps_both_processes_in_step(tmp_path):
    torchrun = Path(sys.executable).parent / 'torchrun'
    done = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', str(RUN_FILE), str(tmp_path / 'two'), '3'],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'effective batch size 8 (4 per process x 2 processes), lr 0.003' in done.stdout
    assert done.stdout.count('Mamba-2 layers: torch (CPU: plain PyTorch)') == 1   # process 0 logs, once
    r0, r1 = (torch.load(tmp_path / f'two.rank{r}.pt', weights_only=True) for r in (0, 1))
    assert r0['history'] == r1['history'] and len(r0['history']) == 3
    assert all(torch.equal(r0['state_dict'][k], r1['state_dict'][k]) for k in r0['state_dict'])   # gradients averaged, same steps
    assert r0['history'][-1]['val'] < r0['history'][0]['val']


def test_no_participant_in_two_splits_when_labels_vary_within_participants():
    people = np.repeat(['s1', 's2', 's3', 's4', 's5'], 6)
    labels = np.array([1, 0] * 3 + [0] * 6 + [1, 1, 1, 0, 0, 0] + [1, 0, 0, 1, 1, 0] + [0] * 6)   # s1, s3, s4 did both tasks
    folds = eeg_splits(people, labels, schemes=['lopo'])
    assert not folds.duplicated(['scheme', 'fold', 'id']).any()
    assert sorted(folds[folds.split == 'test'].id) == ['s1', 's2', 's3', 's4', 's5']
    assert (folds.groupby(['fold', 'split']).size().unstack()[['train', 'val', 'test']].to_numpy() >= 1).all()
    with pytest.raises(DataError, match=r'use schemes: \[lopo\]'):
        eeg_splits(people, labels, schemes=['split'])


def test_real_muse_pretraining_then_task_finetuning_end_to_end(tmp_path):
    muse = shared_path('data', 'muse')
    from big_mood.data.eeg import build_primary, muse_participants
    from big_mood.evaluate.eeg import eeg_metrics
    from big_mood.models.registry import model_lineage
    from big_mood.train.eeg_finetune import eeg_finetune_run
    from big_mood.train.eeg_pretrain import eeg_pretrain_run
    cueing = build_primary(muse_participants(muse, ('cueing',)).head(3), tmp_path / 'cueing')
    tasks = muse_participants(muse, ('SSVEP', 'P300'))
    task = build_primary(tasks[tasks.participant.isin(['subject1', 'subject2', 'subject3', 'subject4'])], tmp_path / 'task')
    registry = tmp_path / 'registry.json'
    pre = eeg_pretrain_run(cueing['primary'], tmp_path / 'pre', d_model=32, d_state=8, epochs=1, batch_size=16, device='cpu', threads=1,
                           registry=registry, log=lambda s: None)
    assert pre['metadata']['n_train'] + pre['metadata']['n_val'] == cueing['windows'] and np.isfinite(pre['metadata']['best_val_loss'])
    res = eeg_finetune_run(task['primary'], tmp_path / 'pre', tmp_path / 'ft', d_model=32, arms=['pretrained', 'features'], schemes=['lopo'],
                           epochs=3, device='cpu', threads=1, task='SSVEP vs P300', registry=registry, log=lambda s: None)
    scores = eeg_metrics(res['predictions']).set_index(['arm', 'level'])
    recordings = res['predictions'].query("split == 'test'").groupby(['Participant', 'session']).ngroups
    assert scores.loc[('pretrained', 'recording'), 'n'] == recordings and scores.loc[('pretrained', 'window'), 'n'] == task['windows']
    chain = model_lineage('ft/mamba2_eeg_d32_l2_m30_mae_finetuned.pt', registry)
    assert [c['key'] for c in chain] == ['ft/mamba2_eeg_d32_l2_m30_mae_finetuned.pt', 'pre/mamba2_eeg_d32_l2_m30_mae.pt']
    assert [Path(p).parent.name for p in chain[-1]['data']] == ['cueing'] and chain[0]['task'] == 'SSVEP vs P300'


def test_full_finetuning_trains_the_backbone_and_frozen_does_not(tmp_path):
    import pandas as pd
    from big_mood.data.eeg import MUSE_CHANNELS, write_primary
    from big_mood.models.mamba_eeg import MambaEEGConfig, MambaEEGMAE, load_mamba_eeg, save_mamba_eeg
    from big_mood.train.eeg_finetune import eeg_finetune_run
    rng = np.random.default_rng(0)
    y = np.repeat([1, 0] * 5, 4)
    x = rng.normal(0, 10, (40, 4, 256)).astype(np.float32)
    x[:, 1] += 20 * y[:, None] * np.sin(np.arange(256) / 256 * 2 * np.pi * 10)
    keys = pd.DataFrame({'Participant': np.repeat([f'p{i}' for i in range(10)], 4), 'Remission': pd.array(y, 'Int8'), 'session': 's1',
                         'parent_window_id': 0, 'sub_window_id': np.tile(range(4), 10), 'window_start': 0, 'window_end': 256})
    write_primary(keys, x, tmp_path / 'toy.parquet', channels=MUSE_CHANNELS, attrs={'sfreq': 256., 'channels': ['af7', 'af8', 'tp9', 'tp10']})
    torch.manual_seed(0)
    pretrained = save_mamba_eeg(MambaEEGMAE(MambaEEGConfig(d_model=32, d_state=8), backend='torch'), tmp_path / 'pre' / 'mamba2_eeg_d32_l2_m30_mae.pt')
    backbone = {k: v.clone() for k, v in load_mamba_eeg(pretrained).backbone.state_dict().items()}
    for freeze, out in ((False, 'full'), (True, 'frozen')):
        res = eeg_finetune_run(tmp_path / 'toy.parquet', tmp_path / 'pre', tmp_path / out, d_model=32, arms=['pretrained'], freeze_backbone=freeze,
                               epochs=2, batch_size=8, device='cpu', threads=1, log=lambda s: None)
        tuned = load_mamba_eeg(res['model_path']).backbone.state_dict()
        assert all(torch.equal(backbone[k], tuned[k]) for k in backbone) == freeze, out
        assert res['metadata']['freeze_backbone'] == freeze and len(res['predictions']) == 16   # 2 validation + 2 test participants x 4 windows
