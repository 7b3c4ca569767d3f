"""The training loop: two processes under torchrun give the single-process result, and an interrupted run resumes
to the result of an uninterrupted one."""
import os, signal, subprocess, sys
from pathlib import Path

import pytest
import torch

from big_mood.train.pretrain import reconstruct
from pat_train_run import CFG, RUN_FILE, X, run
from big_mood.models.pat import PATMAE

ENV = {**{k: v for k, v in os.environ.items() if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')},
       'TQDM_DISABLE': '1', 'OMP_NUM_THREADS': '1'}


@pytest.fixture(autouse=True)
def one_thread():
    "Run in-process training on one thread, as the subprocesses do, so that rounding is the same."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def as_model(state_dict):
    model = PATMAE(CFG)
    model.load_state_dict(state_dict)
    return model


def test_ddp_two_processes_match_one_process(tmp_path):
    lines = []
    one, hist1 = run(3, log=lines.append)
    torchrun = Path(sys.executable).parent / 'torchrun'
    done = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', RUN_FILE, str(tmp_path / 'two.pt'), '3'],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    two = torch.load(tmp_path / 'two.pt', weights_only=True)
    assert lines[0] == 'effective batch size 8 (8 per process x 1 process), lr 0.003'
    assert 'effective batch size 8 (4 per process x 2 processes), lr 0.003' in done.stdout
    for h1, h2 in zip(hist1, two['history'], strict=True):
        assert abs(h1['train_loss'] - h2['train_loss']) < 1e-5 and abs(h1['val'] - h2['val']) < 1e-5 and h1['lr'] == h2['lr']
    # Attention key biases are left out: softmax ignores them, so their gradient is 0 up to rounding and Adam
    # turns that rounding into full-size steps. Every other weight, and the reconstructions, must agree.
    a, b = one.state_dict(), two['state_dict']
    worst = max((a[k] - b[k]).abs().max().item() for k in a if not k.endswith('key.bias'))
    assert worst < 1e-4, f'largest weight difference {worst:.2e}'
    r1, r2 = reconstruct(one, X[36:]), reconstruct(as_model(b), X[36:])
    assert abs(r1['pred'] - r2['pred']).max() < 1e-4


@pytest.mark.parametrize('killed_after', [0, 2])
def test_resume_after_kill_gives_the_uninterrupted_result(tmp_path, killed_after):
    ckpt = tmp_path / 'ckpt.pt'
    done = subprocess.run([sys.executable, RUN_FILE, str(tmp_path / 'cut.pt'), '4', str(ckpt), str(killed_after)], env=ENV,
                          capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert not (tmp_path / 'cut.pt').exists()
    saved = torch.load(ckpt, weights_only=True)
    assert saved['epoch'] == killed_after + 1
    lines = []
    resumed, hist = run(4, ckpt, log=lines.append)
    assert lines[0] == f"resuming from {ckpt} at epoch {saved['epoch']}"
    whole, hist_whole = run(4, log=lambda s: None)
    assert [h['val'] for h in hist] == [h['val'] for h in hist_whole]
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
