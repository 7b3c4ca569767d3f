"""Repository hygiene: notebooks committed clean, the exported package in sync, DVC telemetry off."""
import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in ROOT.glob('nbs/**/*.ipynb') if '.ipynb_checkpoints' not in p.parts)


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


# --- the package layout and the pipeline's declared dependencies

import ast
import re

import yaml

PIPELINE = sorted((ROOT / 'nbs' / 'pipeline').glob('[0-9][0-9]_*.ipynb'))


def _module_file(module: str) -> Path | None:
    p = ROOT / Path(*module.split('.'))
    return next((f for f in (p.with_suffix('.py'), p / '__init__.py') if f.is_file()), None)


def _imported(source: str, package: str = '') -> set[str]:
    "big_mood modules a piece of code imports (`from big_mood.x import y` counts `big_mood.x.y` when that is a module)."
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module is not None or isinstance(node, ast.ImportFrom) and node.level:
            base = node.module or ''
            if node.level: base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
            if not base.startswith('big_mood'): continue
            out.add(base)
            out |= {f'{base}.{a.name}' for a in node.names if _module_file(f'{base}.{a.name}')}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith('big_mood')}
    return out


def _closure(modules: set[str]) -> set[str]:
    "Files of `modules` and of everything they import, directly or not (package __init__ files left out)."
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m in seen or not (f := _module_file(m)): continue
        seen.add(m)
        todo += _imported(f.read_text(), m if f.name == '__init__.py' else m.rsplit('.', 1)[0])
    return {_module_file(m).relative_to(ROOT).as_posix() for m in seen if _module_file(m).name != '__init__.py'}


def _notebook_code(path: Path) -> str:
    return '\n'.join(''.join(c['source']) for c in json.loads(path.read_text())['cells'] if c['cell_type'] == 'code')


def _dvc_stages() -> dict:
    "Stage name -> its dvc.yaml entry (a foreach stage's `do`)."
    stages = yaml.safe_load((ROOT / 'dvc.yaml').read_text())['stages']
    return {name: s.get('do', s) for name, s in stages.items()}


def test_each_stage_depends_on_every_module_its_notebook_imports():
    stages = _dvc_stages()
    for nb in PIPELINE:
        name = nb.stem.split('_', 1)[1]
        if name not in stages: continue   # stages run by hand (README), not by dvc repro
        deps = {str(d) for d in stages[name]['deps']}
        needed = _closure(_imported(_notebook_code(nb))) | {nb.relative_to(ROOT).as_posix(), 'big_mood/pipeline.py'}
        assert not needed - deps, f'dvc.yaml stage {name} lacks deps: {sorted(needed - deps)}'


def test_each_stage_lists_the_base_keys_it_reads_and_no_others():
    stages, params = _dvc_stages(), yaml.safe_load((ROOT / 'params.yaml').read_text())
    for nb in PIPELINE:
        name = nb.stem.split('_', 1)[1]
        if name not in stages: continue
        parameters_cell = next(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if 'parameters' in c['metadata'].get('tags', []))
        declared = {line.split(':')[0].strip() for line in parameters_cell.splitlines() if re.match(r'\w+\s*:', line)}
        listed = {p.split('.', 1)[1] for p in stages[name]['params'] if isinstance(p, str) and p.startswith('base.')}
        assert 'base' not in stages[name]['params'], f'{name} depends on all of base'
        assert listed == declared & set(params['base']), f'{name}: params lists base {sorted(listed)}, notebook reads {sorted(declared & set(params["base"]))}'


def test_library_notebooks_import_only_lower_numbers():
    number = {}
    for nb in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')):
        exp = re.search(r'#\| default_exp (\S+)', nb.read_text())
        if exp: number['big_mood.' + exp[1]] = nb.stem.split('_')[0]
    for nb in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        exported = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code' and ''.join(c['source']).startswith('#| export'))
        for module in _imported(exported):
            if module in number:
                assert number[module] < nb.stem.split('_')[0], f'{nb.name} imports {module} (notebook {number[module]}): only lower numbers'


def test_the_package_root_keeps_only_infrastructure():
    assert sorted(p.name for p in (ROOT / 'big_mood').glob('*.py')) == ['__init__.py', '_modidx.py', 'cli.py', 'core.py', 'pipeline.py']


def test_train_does_not_import_evaluate():
    for f in (ROOT / 'big_mood' / 'train').glob('*.py'):
        assert not any(m.startswith('big_mood.evaluate') for m in _imported(f.read_text(), 'big_mood.train')), f'{f.name} imports evaluate: training writes predictions, evaluation scores them'


def test_jupyterlab_edits_are_what_nbdev_clean_strips(tmp_path):
    from nbdev.clean import clean_nb
    for path in [ROOT / 'nbs' / '00_core.ipynb', *PIPELINE[:1]]:
        committed = json.loads(path.read_text())
        opened = json.loads(path.read_text())   # what JupyterLab writes after opening and running it
        opened['metadata']['kernelspec']['display_name'] = 'Python 3 (ipykernel)'
        opened['metadata']['language_info'] = {'name': 'python', 'version': '3.11.7', 'mimetype': 'text/x-python'}
        for cell in opened['cells']: cell['metadata'].update(execution={'iopub.status.idle': '2026-12-07T10:00:00Z'}, scrolled=True)
        clean_nb(opened, allowed_cell_metadata_keys=['tags'])   # settings.ini's allowed_cell_metadata_keys
        assert opened['metadata'] == committed['metadata'], path.name
        assert [c['metadata'] for c in opened['cells']] == [c['metadata'] for c in committed['cells']], path.name
