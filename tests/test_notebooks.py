"""Runs every library notebook in nbs/ the way nbdev_test does (cells flagged with tst_flags skipped)."""
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

NBS = Path(__file__).resolve().parents[1] / 'nbs'
NOTEBOOKS = sorted(NBS.glob('[0-9]*.ipynb'))


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(notebook):
    ok, _ = run_notebook(notebook, skip_flags=get_config().tst_flags.split())
    assert ok, f'{notebook.name} failed: see the traceback above'
