"""An interrupted command leaves no temporary file behind: SIGTERM and Ctrl-C unwind (the CLI turns them into
exceptions, so every temporary is removed), and what a `kill -9` leaves (it runs no cleanup) is removed by the next run. A stage
stopped by SIGTERM while its kernel runs leaves no scratch folder or kernel connection file in the system's temp
folder; after a `kill -9` (or a SIGTERM during the kernel's start, when the orphaned kernel may still write its
connection file) the next stage removes them."""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from big_mood.core import scratch_folder
from big_mood.models.pat import PATEncoder, pat_s, save_pat

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, '-c', 'import sys; from big_mood.cli import main; sys.exit(main())']


def start(tmp_path, *argv, **env):
    "`big-mood ARGV` in a new process whose system temp folder is `tmp_path/systemp`."
    (tmp_path / 'systemp').mkdir(exist_ok=True)
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'TQDM_DISABLE': '1', 'TMPDIR': str(tmp_path / 'systemp'), **env}
    return subprocess.Popen([*CLI, *map(str, argv)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # a background shell ignores Ctrl-C


def wait_for(found, process, timeout=180):
    "Poll `found()` until it is truthy while `process` runs."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if result := found(): return result
        if process.poll() is not None: pytest.fail(f'the command ended (exit {process.returncode}) before the moment to stop it: {process.communicate()[1][-500:]}')
        time.sleep(0.05)
    process.kill()
    pytest.fail('timed out')


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob('*'))


def synth_mid_write(tmp_path):
    "`nhanes synth` of 300 participants into data/raw, caught while it writes the minute file inside its temporary folder."
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'keep.txt').write_text('kept\n')
    p = start(tmp_path, 'nhanes', 'synth', '--out', data / 'raw', '--participants', 300, '--cycles', 'H')
    wait_for(lambda: list(data.glob('.raw.*/.PAXMIN_H.xpt.*')), p)
    return p, data


@pytest.mark.parametrize('sig, message', [(signal.SIGTERM, ''), (signal.SIGINT, 'big-mood: interrupted\n')])
def test_a_stop_while_writing_a_folder_removes_every_temporary(tmp_path, sig, message):
    p, data = synth_mid_write(tmp_path)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, err
    assert err == message
    assert listing(data) == ['keep.txt']
    assert listing(tmp_path / 'systemp') == []


def test_what_kill_9_leaves_is_removed_by_the_next_run(tmp_path):
    p, data = synth_mid_write(tmp_path)
    p.kill()
    p.wait()
    assert [n for n in listing(data) if n.startswith('.raw.')], 'a kill -9 runs no cleanup: the temporary folder is still there'
    again = start(tmp_path, 'nhanes', 'synth', '--out', data / 'raw', '--participants', 2, '--cycles', 'H')
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert [n for n in listing(data) if n.startswith('.') or '/.' in n] == []
    assert 'raw/PAXMIN_H.xpt' in listing(data)


def test_sigterm_while_embedding_removes_the_streamed_parts(tmp_path):
    torch.manual_seed(0)
    save_pat(PATEncoder(pat_s()), tmp_path / 'm.pt')
    np.save(tmp_path / 'w.npy', np.random.default_rng(0).standard_normal((400, 10080)).astype(np.float32))
    out = tmp_path / 'out'
    out.mkdir()
    p = start(tmp_path, 'pat', 'embed', '--weights', tmp_path / 'm.pt', '--input', tmp_path / 'w.npy', '--output', out / 'e.npz',
              '--batch-size', 1, '--device', 'cpu', '--standardize', 'none')
    wait_for(lambda: list(out.glob('.e.npz.*/sequence.npy')), p)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert listing(out) == [] and listing(tmp_path / 'systemp') == []


@pytest.fixture
def sleepy_project(tmp_path):
    "A project with one stage, `sleepy`, whose notebook sleeps: a stage that can be stopped while its kernel runs."
    import nbformat
    proj = tmp_path / 'project'
    (proj / 'nbs' / 'pipeline').mkdir(parents=True)
    (proj / 'reports').mkdir()
    (proj / 'settings.ini').write_text((ROOT / 'settings.ini').read_text())
    (proj / 'params.yaml').write_text(f"base:\n  seed: 0\nsleepy:\n  seconds: 120\n  running: '{tmp_path / 'running'}'\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('# sleepy'),
                nbformat.v4.new_code_cell("seconds: int = 120\nrunning: str = ''", metadata={'tags': ['parameters']}),
                nbformat.v4.new_code_cell('import pathlib, time\npathlib.Path(running).touch()\ntime.sleep(seconds)')]
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nbformat.write(nb, proj / 'nbs' / 'pipeline' / '99_sleepy.ipynb')
    return proj


def _children(pid: int) -> list[int]:
    try: return [int(k) for t in os.listdir(f'/proc/{pid}/task') for k in open(f'/proc/{pid}/task/{t}/children').read().split()]
    except OSError: return []


@pytest.mark.slow
@pytest.mark.skipif(not Path('/proc/self/task').is_dir(), reason='reads child processes from /proc (Linux)')
def test_a_stopped_stage_leaves_no_scratch_folder_or_kernel(tmp_path, sleepy_project, monkeypatch):
    systemp = tmp_path / 'systemp'
    p = start(tmp_path, 'stage', 'sleepy', '--quiet', BIG_MOOD_ROOT=str(sleepy_project))
    wait_for(lambda: (tmp_path / 'running').exists(), p)                         # the kernel runs the notebook
    kernels = _children(p.pid)
    assert list(systemp.glob('.big_mood_stage.*/*.json')), 'the scratch folder holds the connection file'
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert listing(systemp) == [] and listing(sleepy_project / 'reports') == [], err
    time.sleep(2)
    assert [k for k in kernels if Path(f'/proc/{k}').exists() and 'ipykernel' in Path(f'/proc/{k}/cmdline').read_text()] == []
    p = start(tmp_path, 'stage', 'sleepy', '--quiet', BIG_MOOD_ROOT=str(sleepy_project))   # kill -9: the scratch folder stays...
    wait_for(lambda: list(systemp.glob('.big_mood_stage.*/*.json')), p)
    p.kill()
    p.wait()
    assert listing(systemp)
    monkeypatch.setattr(tempfile, 'tempdir', str(systemp))
    with scratch_folder('big_mood_stage'): pass                                    # ...until the next stage takes its scratch folder
    assert listing(systemp) == []
