"""The baseline store: private file, WAL, overlapping imports replace days, a process killed mid-transaction leaves the
previous state readable, damaged or foreign files refused and left as they were."""
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from big_mood.core import DataError, ModelError
from big_mood.personal.baseline import MEASURES, SCORES, BaselineStore, copy_store, identity

ME = identity({}, ['Alex’s Apple Watch'])


def days(first, n, steps):
    return pd.DataFrame({'date': pd.date_range(first, periods=n), 'valid_hours': 20.0, 'sleep_hours': 7.0,
                         **{m: 1.0 for m in MEASURES}, **{s: 0.2 for s in SCORES}}).assign(steps=steps)


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / 'baseline.db'
    with BaselineStore(path, create=True) as s:
        s.import_days(days('2024-01-01', 60, 5000.0), export='first.zip', export_sha256='1' * 64, identity=ME)
    return path


def test_store_file_is_private_and_in_wal_mode(store_path):
    with BaselineStore(store_path) as s:
        assert s.conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        s.import_days(days('2024-03-01', 5, 1.0), export='x.zip', export_sha256='2' * 64, identity=ME)
        for f in store_path.parent.glob('baseline.db*'):   # the WAL and shared-memory files too, while open
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


def test_reimport_of_an_overlapping_export_replaces_those_days_and_duplicates_nothing(store_path):
    with BaselineStore(store_path) as s:
        r = s.import_days(days('2024-02-10', 30, 7000.0), export='second.zip', export_sha256='3' * 64, identity=ME)
        again = s.import_days(days('2024-02-10', 30, 7000.0), export='second.zip', export_sha256='3' * 64, identity=ME)
        stored = s.days()
        assert (r['replaced'], again['replaced']) == (20, 30)
        assert len(stored) == 70 and not stored['date'].duplicated().any()
        assert stored.set_index('date').loc['2024-02-09', 'steps'] == 5000 and stored.set_index('date').loc['2024-02-10', 'steps'] == 7000
        assert len(s.imports()) == 3 and s.baselines().groupby(['date', 'measure']).size().max() == 1


SLOW_IMPORT = textwrap.dedent('''
    import sys, time, numpy as np, pandas as pd
    from pathlib import Path
    from unittest import mock
    import big_mood.personal.baseline as B
    marker = Path(sys.argv[2])
    def stalled(*a, **k):
        marker.write_text('inside the transaction')
        time.sleep(120)
    new = pd.DataFrame({'date': pd.date_range('2024-01-15', periods=60), 'valid_hours': 1.0, 'sleep_hours': 1.0,
                        **{m: 9.0 for m in B.MEASURES}, **{s: 0.9 for s in B.SCORES}})
    with mock.patch.object(B, 'rolling_baselines', stalled), B.BaselineStore(sys.argv[1]) as s:
        s.import_days(new, export='killed.zip', export_sha256='9' * 64, identity=B.identity({}, ['Alex’s Apple Watch']))
''')


def test_kill_9_in_the_middle_of_an_import_leaves_the_previous_state_readable(store_path, tmp_path):
    with BaselineStore(store_path) as s: before, base_before = s.days(), s.baselines()
    marker = tmp_path / 'marker'
    proc = subprocess.Popen([sys.executable, '-c', SLOW_IMPORT, str(store_path), str(marker)], env={**os.environ, 'PYTHONPATH': str(ROOT)})
    try:
        for _ in range(600):
            if marker.exists() or proc.poll() is not None: break
            time.sleep(0.1)
        assert marker.exists(), f'the importing process never reached its transaction (exit {proc.poll()})'
        proc.kill()   # SIGKILL: no cleanup, no rollback by the process
        proc.wait()
    finally:
        if proc.poll() is None: proc.kill()
    assert proc.returncode == -9
    with BaselineStore(store_path) as s:   # opening runs quick_check and the schema check
        after = s.days()
        pd.testing.assert_frame_equal(after, before)
        pd.testing.assert_frame_equal(s.baselines(), base_before)
        assert s.imports()['export'].tolist() == ['first.zip']


def test_a_damaged_store_is_refused_naming_it_and_left_as_it_was(store_path):
    data = store_path.read_bytes()
    store_path.write_bytes(data[:len(data) // 3])   # truncated
    truncated = hashlib.sha256(store_path.read_bytes()).hexdigest()
    with pytest.raises(DataError, match='baseline.db: not a readable baseline database'): BaselineStore(store_path)
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == truncated


def test_a_store_of_another_schema_is_refused(store_path):
    con = sqlite3.connect(store_path)
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'"); con.commit(); con.close()
    with pytest.raises(ModelError, match='baseline schema 0, this big_mood reads schema 1'): BaselineStore(store_path)


def test_a_copy_is_consistent_private_and_independent(store_path, tmp_path):
    copy = copy_store(store_path, tmp_path / 'copy.db')
    with BaselineStore(copy) as c: c.import_days(days('2024-05-01', 3, 1.0), export='c.zip', export_sha256='4' * 64, identity=ME)
    with BaselineStore(store_path) as s, BaselineStore(copy) as c: assert (len(s.days()), len(c.days())) == (60, 63)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError): copy_store(store_path, copy)


def test_another_persons_days_are_refused_and_nothing_changes(store_path):
    with BaselineStore(store_path) as s:
        with pytest.raises(DataError, match="looks like another person's export"):
            s.import_days(days('2024-02-01', 10, 1.0), export='noor.zip', export_sha256='5' * 64, identity=identity({}, ['Noor’s iPhone']))
        assert len(s.imports()) == 1 and (s.days()['steps'] == 5000).all()
