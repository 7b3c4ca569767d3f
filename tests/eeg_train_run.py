"""A tiny Mamba-2 EEG pretraining run for tests/test_eeg_train.py, started as a script by torchrun.

usage: eeg_train_run.py OUT_PREFIX EPOCHS   (each process writes OUT_PREFIX.rank<R>.pt: its final state_dict and history)"""
import os, sys
import numpy as np, torch
from big_mood.models.mamba_eeg import MambaEEGConfig
from big_mood.train.eeg_pretrain import pretrain_eeg

rng = np.random.default_rng(0)
t = np.arange(128) / 256.
X = (rng.uniform(0.5, 2, (40, 4, 1)) * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, (40, 1, 1))) * 20 + rng.normal(0, 2, (40, 4, 128))).astype(np.float32)
CFG = MambaEEGConfig(d_model=32, headdim=16, d_state=8, patch_size=16)


def run(epochs, log=lambda s: print(s, flush=True)):
    "Pretrain on 32 windows, validate on 8; the model and its history."
    return pretrain_eeg(X[:32], X[32:], CFG, lr=3e-3, epochs=epochs, batch_size=8, log=log)


if __name__ == '__main__':
    torch.set_num_threads(1)
    model, history = run(int(sys.argv[2]))
    torch.save({'state_dict': model.state_dict(), 'history': history}, f"{sys.argv[1]}.rank{os.environ.get('RANK', 0)}.pt")
