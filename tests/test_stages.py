"""Every stage notebook of nbs/pipeline runs under pytest, on tiny inputs in a copy of the project, through the same
runner as `dvc repro` (`big-mood stage`): a signature change that would break the pipeline breaks a test first."""
import json
import shutil

import pandas as pd
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
    'train_xgb': {'n_estimators': 20, 'protocols': ['paper', 'paper_causal', 'participant']},
    'eeg_primary': {'synthetic_participants': 10, 'synthetic_seconds': 40.0},
    'mamba_eeg': {'d_model': 32, 'd_state': 8},
    'eeg_pretrain': {'epochs': 1, 'warmup_epochs': 0, 'batch_size': 16},
    'eeg_finetune': {'epochs': 2, 'schemes': {'synthetic': ['split'], 'muse_task': ['lopo']}},
    'eeg_sweep': {'mask_ratios': [0.5]},
    'personal': {'days': 100, 'calibrate_days': 60},
    'personal_eval': {'n_people': 2, 'days': 100, 'calibrate_days': 60, 'n_boot': 50},
}
STAGES = ['synthesize', 'preprocess', 'architecture', 'pretrain', 'finetune', 'evaluate', 'features', 'train_xgb', 'evaluate_xgb',
          'depresjon_sleep', 'depresjon_weeks', 'eeg_primary', 'eeg_pretrain', 'eeg_finetune', 'eeg_sweep', 'apple', 'benchmark_pat', 'benchmark',
          'population', 'personal', 'personal_eval']


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
    params['eeg_primary']['muse_dir'] = str(root / 'no_muse')   # the real recordings are tested in tests/test_eeg_data.py and test_eeg_train.py
    (root / 'params.yaml').write_text(yaml.safe_dump(params))
    return {'root': root, 'done': set()}


def stage(project, name, *, after=(), sections=(), **overrides):
    "Run `name` in the copy; its report, after checking that the stages it reads from ran."
    if missing := [s for s in after if s not in project['done']]: pytest.fail(f'{name} needs {missing}, which failed earlier')
    html = run_stage(name, overrides=overrides or None, sections=sections, root=project['root'], log_output=False,
                     tag=overrides.get('task') or overrides.get('dataset'))
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


def test_architecture_without_weights(project):
    "A user without the official weights or the shared fixtures still gets the report, saying what it cannot show."
    html = stage(project, 'architecture', sections=['pat'], keras_h5=str(project['root'] / 'no_such_weights.h5'))
    assert 'Parameter counts' in html and 'Attention profile: <strong>not available</strong>' in html


def test_pretrain(project):
    stage(project, 'pretrain', after=['preprocess'], sections=['pat'])
    assert (project['root'] / 'models' / 'pat_synthetic' / 'mae.pt').is_file()
    assert json.loads((project['root'] / 'metrics' / 'pat_synthetic' / 'pretrain.json').read_text())['epochs_run'] == 1
    assert (project['root'] / 'metrics' / 'pat_synthetic' / 'pretrain_live' / 'plots' / 'metrics' / 'val.tsv').is_file()
    assert 'pat_synthetic/mae.pt' in json.loads((project['root'] / 'models' / 'registry.json').read_text())['models']


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
    metrics = json.loads((project['root'] / 'metrics' / 'xgb.json').read_text())
    assert set(metrics) == {f'{p}/{m}' for p in ('paper', 'paper_causal', 'participant') for m in ('DE', 'ME', 'HME')}
    assert metrics['paper_causal/DE']['test_days'] == metrics['paper/DE']['test_days']   # the same split, other features


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


def test_apple(project):
    html = stage(project, 'apple', synthetic_days=21, workers=1)
    assert 'synthetic person' in html
    assert json.loads((project['root'] / 'metrics' / 'apple.json').read_text())['days'] >= 21


def test_eeg_primary(project):
    html = stage(project, 'eeg_primary', sections=['eeg'])
    metrics = json.loads((project['root'] / 'metrics' / 'eeg_primary.json').read_text())
    assert metrics['synthetic']['participants'] == 10 and metrics['muse_cueing']['status'] == 'skipped', metrics
    assert 'were skipped' in html


def test_eeg_pretrain(project):
    html = stage(project, 'eeg_pretrain', after=['eeg_primary'], sections=['eeg', 'mamba_eeg'])
    root = project['root']
    assert 'the SYNTHETIC cohort' in html and (root / 'models' / 'eeg' / 'main' / 'pretrained' / 'mamba2_eeg_d32_l2_m30_mae.pt').is_file()
    assert json.loads((root / 'metrics' / 'eeg' / 'main' / 'pretrain.json').read_text())['dataset'] == 'synthetic'
    assert (root / 'metrics' / 'eeg' / 'main' / 'pretrain_live' / 'plots' / 'metrics' / 'val.tsv').read_text().startswith('step\tval\n0\t')


def test_eeg_finetune(project):
    html = stage(project, 'eeg_finetune', after=['eeg_pretrain'], sections=['eeg', 'mamba_eeg'], dataset='synthetic')
    root = project['root']
    metrics = json.loads((root / 'metrics' / 'eeg' / 'main' / 'finetune_synthetic.json').read_text())
    assert set(metrics) == {f'split/{a}/{l}' for a in ('pretrained', 'random', 'features') for l in ('window', 'participant')}
    assert 'SYNTHETIC remission cohort' in html
    entry = json.loads((root / 'models' / 'registry.json').read_text())['models']['eeg/main/finetune/synthetic/mamba2_eeg_d32_l2_m30_mae_finetuned.pt']
    assert entry['parent'] == 'eeg/main/pretrained/mamba2_eeg_d32_l2_m30_mae.pt' and entry['task'] == 'remission'
    assert 'Skipped' in stage(project, 'eeg_finetune', sections=['eeg', 'mamba_eeg'], dataset='muse_task')
    assert json.loads((root / 'metrics' / 'eeg' / 'main' / 'finetune_muse_task.json').read_text())['status'] == 'skipped'


def test_eeg_sweep(project):
    stage(project, 'eeg_pretrain', after=['eeg_primary'], sections=['eeg', 'mamba_eeg'], mask_ratio=0.5, run='m0.5')
    stage(project, 'eeg_finetune', after=['eeg_pretrain'], sections=['eeg', 'mamba_eeg'], mask_ratio=0.5, run='m0.5', dataset='synthetic')
    html = stage(project, 'eeg_sweep', after=['eeg_finetune'], sections=['mamba_eeg'])
    sweep = json.loads((project['root'] / 'metrics' / 'eeg_sweep.json').read_text())
    assert set(sweep) == {'0.3', '0.5'} and {'f1_pretrained', 'auc_random', 'auc_features', 'val_loss'} <= set(sweep['0.5']), sweep
    assert 'Mask ratios 0.3, 0.5' in html


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


def tiny_protocol(project, benchmark:str) -> str:
    "The benchmark's protocol shrunk to seconds: one seed and ordering, one epoch, 2-fold fine-tuning of a PAT head, 2 resamples."
    p = yaml.safe_load((ROOT / 'paper' / 'protocols' / f'{benchmark}.yaml').read_text())
    p['pretraining'].update(orderings=['official'], seeds=[0], random_seeds=[0], settings={**p['pretraining']['settings'], 'epochs': 1, 'batch_size': 8})
    p.update(outer={'scheme': 'stratified_group_kfold', 'k': 3}, inner={'k': 2, 'criterion': 'balanced_log_loss'}, C=[0.1, 1.0],
             intervals={**p['intervals'], 'replicates': 2}, permutation={**p['permutation'], 'permutations': 2})
    p['severity']['alpha'] = [1.0, 10.0]
    for m in p['models'].values():
        if 'orderings' in m: m['orderings'] = ['official']
        if 'pat_components' in m: m['pat_components'] = 2
    if p['finetune']: p['finetune'].update(folds=2, val_frac=0.5, runs=['pretrained/linear'], settings={**p['finetune']['settings'], 'epochs': {'linear': 2, 'full': 1, 'lora': 1}})
    path = project['root'] / 'paper' / 'protocols' / f'tiny_{benchmark}.yaml'
    path.write_text(yaml.safe_dump(p))
    return str(path)


def test_benchmark_pat(project):
    dep, psy = shared_path('data', 'depresjon'), shared_path('data', 'psykose')
    html = run_stage('benchmark_pat', overrides={'benchmark': 'depresjon', 'protocol': tiny_protocol(project, 'depresjon'), 'depresjon_dir': str(dep),
                                                 'psykose_dir': str(psy), 'max_per_group': 6}, tag='depresjon', root=project['root'], log_output=False).read_text()
    project['done'].add('benchmark_pat')
    assert 'Depresjon (real data)' in html and 'labelled transductive' in html
    out = project['root'] / 'results' / 'depresjon' / 'pat'
    emb = pd.read_parquet(out / 'embeddings.parquet')
    assert sorted(emb.encoder.unique()) == ['inductive_official_s0', 'random_s0', 'transductive_official_s0'] and len(emb) == 3 * 12
    metrics = json.loads((project['root'] / 'metrics' / 'benchmark_pat_depresjon.json').read_text())
    assert metrics['corpora'] == {'inductive': 6, 'transductive': 18} and set(metrics['finetune']) == {'pretrained/linear'}, metrics


def test_benchmark(project):
    if 'benchmark_pat' not in project['done']: pytest.fail('benchmark needs benchmark_pat, which failed earlier')
    dep, psy = shared_path('data', 'depresjon'), shared_path('data', 'psykose')
    html = run_stage('benchmark', overrides={'benchmark': 'depresjon', 'protocol': str(project['root'] / 'paper' / 'protocols' / 'tiny_depresjon.yaml'),
                                             'depresjon_dir': str(dep), 'psykose_dir': str(psy), 'max_per_group': 6}, tag='depresjon',
                     root=project['root'], log_output=False).read_text()
    assert 'Depresjon (real data)' in html and 'Paired comparisons' in html and 'Jakobsen et al. 2020' in html
    out = project['root'] / 'results' / 'depresjon' / 'protocol'
    pred = pd.read_parquet(out / 'predictions.parquet')
    assert set(pred.scheme) == {'stratified_group_kfold', 'lopo'} and pred.groupby(['scheme', 'model', 'seed']).id.nunique().eq(12).all()
    metrics = json.loads((project['root'] / 'metrics' / 'benchmark_depresjon.json').read_text())
    assert metrics['primary_model'] == 'fusion' and 'fusion vs sleep' in metrics['comparisons'] and metrics['permutation']['permutations'] == 2
