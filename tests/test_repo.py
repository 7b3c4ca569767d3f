"""Repository hygiene: notebooks committed clean, the exported package in sync, DVC telemetry off."""
import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob('nbs/**/*.ipynb'))


def test_notebooks_have_no_outputs():
    dirty = []
    for path in NOTEBOOKS:
        for i, cell in enumerate(json.loads(path.read_text())['cells']):
            if cell['cell_type'] == 'code' and (cell.get('outputs') or cell.get('execution_count') is not None):
                dirty.append(f'{path.relative_to(ROOT)} cell {i}')
    assert not dirty, 'notebooks with outputs (run nbdev_clean): ' + ', '.join(dirty)


def test_nbdev_export_leaves_package_unchanged(tmp_path):
    for name in ('settings.ini', 'setup.py'):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / 'nbs', tmp_path / 'nbs')
    (tmp_path / 'big_mood').mkdir()
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}  # nbdev_export does nothing under IN_TEST
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_export')], cwd=tmp_path, env=env, check=True, capture_output=True)
    exported = {p.relative_to(tmp_path / 'big_mood'): p.read_text() for p in (tmp_path / 'big_mood').rglob('*.py')}
    committed = {p.relative_to(ROOT / 'big_mood'): p.read_text() for p in (ROOT / 'big_mood').rglob('*.py')
                 if '__pycache__' not in p.parts}
    assert sorted(exported) == sorted(committed), 'run nbdev_export: modules differ'
    stale = [str(p) for p in exported if exported[p] != committed[p]]
    assert not stale, 'big_mood/ is out of sync with nbs/ (run nbdev_export): ' + ', '.join(stale)


def test_dvc_telemetry_off():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / '.dvc' / 'config')
    assert cfg['core']['analytics'] == 'false' and cfg['core']['check_update'] == 'false'
