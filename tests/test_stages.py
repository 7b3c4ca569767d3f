"""Every stage notebook of nbs/pipeline runs under pytest, on tiny inputs in a copy of the project, through the same
runner as `dvc repro` (`big-mood stage`): a signature change that would break the pipeline breaks a test first."""
import json
import shutil

import pytest
import yaml

from conftest import ROOT, shared_path
from big_mood.core import shared_dir
from big_mood.pipeline import run_stage

TINY = {  # each stage's section of params.yaml, shrunk to seconds on 2 cores
    'synthesize': {'participants': 160, 'pretrain_participants': 24},
    'pretrain': {'max_weeks': 32, 'epochs': 1, 'batch_size': 16},
    'finetune': {'runs': {'depression': ['pretrained/linear', 'random/full']}, 'seeds': {'full': [0], 'linear': [0, 1]},
                 'epochs': {'full': 1, 'linear': 3}, 'max_train': 60, 'batch_size': 16},
    'evaluate': {'tasks': ['depression'], 'explain_weeks': 4},
    'architecture': {},
    'features': {'n_people': 12, 'n_days': 150},
    'train_xgb': {'n_estimators': 20, 'protocols': ['paper', 'participant']},
    'personal': {'days': 100, 'calibrate_days': 60},
    'personal_eval': {'n_people': 2, 'days': 100, 'calibrate_days': 60, 'n_boot': 50},
}
STAGES = ['synthesize', 'preprocess', 'architecture', 'pretrain', 'finetune', 'evaluate', 'features', 'train_xgb', 'evaluate_xgb',
          'depresjon_sleep', 'depresjon_weeks', 'eeg_primary', 'population', 'personal', 'personal_eval']


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A copy of the project's pipeline (settings, params, dvc.yaml, stage notebooks, paper tables) with tiny parameters."
    root = tmp_path_factory.mktemp('project')
    for name in ('settings.ini', 'dvc.yaml'): shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / 'nbs' / 'pipeline', root / 'nbs' / 'pipeline')
    shutil.copytree(ROOT / 'paper', root / 'paper')
    params = yaml.safe_load((ROOT / 'params.yaml').read_text())
    for section, values in TINY.items(): params[section].update(values)
    params['pat']['keras_h5'] = str(shared_dir() / 'fixtures' / 'pat_keras' / 'pat_s' / 'classifier.h5')   # absent: the report says so
    (root / 'params.yaml').write_text(yaml.safe_dump(params))
    return {'root': root, 'done': set()}


def stage(project, name, *, after=(), sections=(), **overrides):
    "Run `name` in the copy; its report, after checking that the stages it reads from ran."
    if missing := [s for s in after if s not in project['done']]: pytest.fail(f'{name} needs {missing}, which failed earlier')
    html = run_stage(name, overrides=overrides or None, sections=sections, root=project['root'], log_output=False,
                     tag=overrides.get('task'))
    project['done'].add(name)
    text = html.read_text()
    assert '<title>' in text and 'jp-OutputArea-output' in text
    return text


def test_every_stage_notebook_is_tested():
    assert sorted(STAGES) == sorted(p.stem.split('_', 1)[1] for p in (ROOT / 'nbs' / 'pipeline').glob('*.ipynb'))


def test_synthesize(project):
    assert 'planted label effects' in stage(project, 'synthesize')


def test_preprocess(project):
    html = stage(project, 'preprocess', after=['synthesize'])
    summary = json.loads((project['root'] / 'metrics' / 'preprocess.json').read_text())
    assert summary['participants']['nhanes_H']['included'] > 100 and 'depression' in summary['splits'], summary
    assert 'Cohort flow' in html


def test_architecture(project):
    assert 'Parameter counts' in stage(project, 'architecture', sections=['pat'])


def test_pretrain(project):
    stage(project, 'pretrain', after=['preprocess'], sections=['pat'])
    assert (project['root'] / 'models' / 'pat_synthetic' / 'mae.pt').is_file()
    assert json.loads((project['root'] / 'metrics' / 'pat_synthetic' / 'pretrain.json').read_text())['epochs_run'] == 1


def test_finetune(project):
    html = stage(project, 'finetune', after=['pretrain'], sections=['pat'], task='depression')
    assert 'PAT-S LP' in html and 'PAT-S random init FT' in html
    metrics = json.loads((project['root'] / 'metrics' / 'pat_synthetic' / 'finetune_depression.json').read_text())
    assert set(metrics) == {'full/PAT-S LP', 'full/PAT-S random init FT', 'full/daily summaries + logistic regression'}, metrics


def test_evaluate(project):
    html = stage(project, 'evaluate', after=['finetune'], sections=['pat'])
    assert 'paper, same model and size' in html


def test_features(project):
    stage(project, 'features')
    assert json.loads((project['root'] / 'metrics' / 'mood_features.json').read_text())['people'] == 12


def test_train_xgb(project):
    stage(project, 'train_xgb', after=['features'])
    assert (project['root'] / 'models' / 'xgb' / 'participant' / 'XGBoost_HME.json').is_file()


def test_evaluate_xgb(project):
    stage(project, 'evaluate_xgb', after=['train_xgb'])
    assert set(json.loads((project['root'] / 'metrics' / 'xgb.json').read_text())) == {f'{p}/{m}' for p in ('paper', 'participant') for m in ('DE', 'ME', 'HME')}


def test_depresjon_sleep(project):
    folder = shared_path('data', 'depresjon')
    html = stage(project, 'depresjon_sleep', depresjon_dir=str(folder), loo_C=[1.0])
    assert 'Depresjon (real data)' in html and 'exploratory' in html


def test_depresjon_weeks(project):
    folder = shared_path('data', 'depresjon')
    stage(project, 'depresjon_weeks', data_source='depresjon', depresjon_dir=str(folder), psykose_dir='none', cv_scheme='kfold', cv_k=3)
    counts = json.loads((project['root'] / 'metrics' / 'pat_depresjon' / 'depresjon_weeks.json').read_text())
    assert counts['folds'] == 3 and counts['labelled_participants'] == 55, counts


def test_population(project):
    html = stage(project, 'population', after=['train_xgb', 'finetune'])
    meta = json.loads((project['root'] / 'models' / 'population' / 'metadata.json').read_text())
    assert sorted(meta['models']) == ['depressive_population', 'hypomanic_population', 'manic_population', 'pat_depression_population']
    assert 'test AUC' in html


def test_personal(project):
    html = stage(project, 'personal', after=['population'], sections=['calibrate'])
    root = project['root']
    assert sorted(p.name for p in (root / 'models' / 'users' / 'synthetic_person').iterdir()) == ['adapter.pt', 'baseline.db', 'metadata.json']
    assert (root / 'data' / 'personal' / 'export.zip').is_file() and (root / 'reports' / '50_personal_clinical.html').is_file()
    assert 'depressive' in json.loads((root / 'metrics' / 'personal.json').read_text())['calibrated'] and 'not evidence about people' in html


def test_personal_eval(project):
    html = stage(project, 'personal_eval', after=['population'], sections=['calibrate'])
    metrics = json.loads((project['root'] / 'metrics' / 'personal_eval.json').read_text())
    assert {k.split('/')[1] for k in metrics} == {'population', 'personal', 'ensemble'}, metrics
    assert 'Measured on synthetic people' in html

def _browser():
    "A headless Chromium (Debian's, driven by Playwright), or a skip saying what is missing."
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.skip('playwright is not installed (it is in requirements.txt: run make setup)')
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None: pytest.skip('no chromium on this machine (.ci/run installs Debian chromium; apt-get install chromium)')
    return sync_playwright, exe


def test_eeg_primary(project):
    params = yaml.safe_load((project['root'] / 'params.yaml').read_text())
    if 'eeg_primary' not in params: pytest.skip('the eeg_primary stage is not wired into params.yaml yet')
    stage(project, 'eeg_primary', sections=['eeg'], synthetic_participants=4, synthetic_seconds=30.0)


def test_every_report_reads_in_a_browser(project):
    "Each rendered report: its title in <title>, the summary first, no console error, no request beyond the file, no stderr, no cut table."
    sync_playwright, exe = _browser()
    reports = sorted((project['root'] / 'reports').glob('*.html'))
    reports = [r for r in reports if not r.name.endswith('.stale.html')]
    assert len(reports) >= 8, [r.name for r in reports]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=['--no-sandbox'])
        for report in reports:
            page, errors, requests = browser.new_page(), [], []
            page.on('console', lambda m: m.type == 'error' and errors.append(m.text))
            page.on('pageerror', lambda e: errors.append(str(e)))
            page.on('request', lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until='load')
            name = report.name
            assert page.title() and page.title() == page.locator('h1').first.inner_text().rstrip('¶').strip(), name
            assert not errors, (name, errors)
            assert [u for u in requests if not u.startswith(('file://', 'data:'))] == [], (name, requests)
            assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0, f'{name}: stderr in the page'
            assert page.locator('td', has_text='...').count() == 0, f'{name}: a table is cut'
            headings = page.locator('h2').all_inner_texts()
            assert headings and headings[0].rstrip('¶').strip() == 'Summary', (name, headings[:3])
            assert headings[-1].rstrip('¶').strip() in ('Provenance', 'Parameters') or 'Input data' in page.content(), (name, headings[-2:])
            page.close()
        browser.close()
