"""A tiny PAT pretraining run for tests/test_train.py, imported or started as a script (by python or torchrun).

usage: pat_train_run.py OUT.pt EPOCHS [CHECKPOINT.pt [KILL_AFTER_EPOCH]]   (process 0 writes the final state_dict and history,
and with a CHECKPOINT the weights after the first epoch). With KILL_AFTER_EPOCH the process kills itself with SIGKILL right after the checkpoint of that epoch is written: a
kill -9 at a known point, not a race against a poll."""
import os, signal, sys
import numpy as np, torch
import big_mood.train.loop as loop
from big_mood.models.pat import PATConfig
from big_mood.train.pretrain import pretrain_mae

RUN_FILE = __file__
rng = np.random.default_rng(0)
X = (rng.standard_normal((44, 1)) + 0.3 * rng.standard_normal((44, 360))).astype(np.float32)
CFG = PATConfig(patch_size=18, num_heads=2, input_size=360, dropout=0.0)   # no dropout: processes draw different masks


def run(epochs, checkpoint=None, log=lambda s: print(s, flush=True)):
    "Pretrain on 36 weeks of 360 minutes, validate on 8; the model and its history."
    return pretrain_mae(X[:36], X[36:], CFG, lr=3e-3, epochs=epochs, batch_size=8, patience=100, plateau_patience=1,
                        min_lr=1e-4, checkpoint=checkpoint, log=log)


def kill_after(epoch:int):
    "Make the checkpoint writer kill this process (SIGKILL) once the checkpoint after `epoch` is on disk."
    write = loop.save_checkpoint
    def write_then_die(path, state):
        write(path, state)
        if state['epoch'] == epoch + 1: os.kill(os.getpid(), signal.SIGKILL)
    loop.save_checkpoint = write_then_die


def keeping_first_epoch(kept:dict):
    "A checkpoint writer that also puts the weights after the first epoch into `kept['model']`."
    write = loop.save_checkpoint
    def write_and_keep(path, state):
        write(path, state)
        if state['epoch'] == 1: kept['model'] = {k: v.clone() for k, v in state['model'].items()}
    return write_and_keep


if __name__ == '__main__':
    torch.set_num_threads(1)
    kept = {}
    if len(sys.argv) > 4: kill_after(int(sys.argv[4]))
    else: loop.save_checkpoint = keeping_first_epoch(kept)
    model, history = run(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    if int(os.environ.get('RANK', 0)) == 0: torch.save({'state_dict': model.state_dict(), 'history': history, 'first_epoch': kept.get('model')}, sys.argv[1])
