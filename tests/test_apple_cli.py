"""`big-mood apple read`: the files it writes, one-line errors with exit status 2."""
import json
import multiprocessing
import os
import signal

import pytest
from conftest import assert_clean_failure, run_cli as run, shared_path

from big_mood.data.synthetic_apple import write_synthetic_export


def test_apple_read_writes_the_tables(tmp_path, capsys):
    write_synthetic_export(tmp_path / 'export.zip', days=21, trip_zone='', compresslevel=1)
    code, out, _ = run(capsys, 'apple', 'read', '--export', tmp_path / 'export.zip', '--out', tmp_path / 'out', '--quiet', '--start', '2022-06-02')
    assert code == 0 and 'wrote' in out
    assert json.loads((tmp_path / 'out' / 'summary.json').read_text())['first_date'] == '2022-06-02'
    assert {p.name for p in (tmp_path / 'out').iterdir()} >= {'minutes.parquet', 'sleep_episodes.csv', 'weeks.parquet', 'pat_input.npy'}
    code, _, _ = run(capsys, 'features', '--sleep', tmp_path / 'out' / 'sleep_episodes.csv', '--out', tmp_path / 'f.csv', '--tz-change', 'local')
    assert code == 0


def test_apple_read_sample_export(tmp_path, capsys):
    code, out, _ = run(capsys, 'apple', 'read', '--export', shared_path('data', 'apple_health', 'export_sample.zip'), '--out', tmp_path / 'out', '--quiet')
    assert code == 0 and '8 records' in out


def test_apple_read_bad_export_exits_2(tmp_path, capsys):
    (tmp_path / 'export.zip').write_bytes(b'PK\x03\x04 truncated')
    code, _, err = run(capsys, 'apple', 'read', '--export', tmp_path / 'export.zip', '--out', tmp_path / 'out', '--quiet')
    assert_clean_failure(code, err, 'export.zip: not a readable zip')
    assert not (tmp_path / 'out').exists()


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or 'fork' not in multiprocessing.get_all_start_methods(), reason='needs two cores and fork')
def test_apple_read_helper_killed_exits_2(tmp_path, capsys, monkeypatch):
    import big_mood.data.apple_xml as apple_xml
    write_synthetic_export(tmp_path / 'export.zip', days=3, trip_zone='', compresslevel=1)
    monkeypatch.setattr(apple_xml, 'read_block', lambda *args, **kw: os.kill(os.getpid(), signal.SIGKILL))   # in the forked helpers
    code, _, err = run(capsys, 'apple', 'read', '--export', tmp_path / 'export.zip', '--out', tmp_path / 'out', '--quiet', '--workers', '2')
    assert_clean_failure(code, err, 'export.zip: a helper process parsing it stopped', '--workers 1')
    assert not (tmp_path / 'out').exists()


def test_apple_read_disk_full_exits_2(tmp_path, capsys, monkeypatch):
    "A disk that fills up while the records are spilled: one line naming the file, the earlier output untouched, no scratch left."
    import errno, io
    import big_mood.data.apple_health as apple_health
    write_synthetic_export(tmp_path / 'export.zip', days=3, trip_zone='', compresslevel=1)
    assert run(capsys, 'apple', 'read', '--export', tmp_path / 'export.zip', '--out', tmp_path / 'out', '--quiet')[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / 'out').iterdir()}

    class Full(io.BytesIO):
        def __init__(self, path, mode): super().__init__(); self.path = str(path)
        def write(self, data): raise OSError(errno.ENOSPC, 'No space left on device', self.path)
    monkeypatch.setattr(apple_health, 'open', Full, raising=False)   # the spill's `open`, before the builtin
    code, _, err = run(capsys, 'apple', 'read', '--export', tmp_path / 'export.zip', '--out', tmp_path / 'out', '--quiet')
    assert_clean_failure(code, err, '.q: no space left on the device')
    assert {p.name: p.read_bytes() for p in (tmp_path / 'out').iterdir()} == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith('.')]   # the temporary folder and its period files are gone
