"""Every stage notebook of nbs/pipeline runs under pytest, on tiny inputs in a copy of the project, through the same
runner as `dvc repro` (`big-mood stage`): a signature change that would break the pipeline breaks a test first."""
import json
import shutil

import pandas as pd
import pytest
import yaml

from conftest import ROOT, shared_path
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
}
STAGES = ['synthesize', 'preprocess', 'architecture', 'pretrain', 'finetune', 'evaluate', 'features', 'train_xgb', 'evaluate_xgb',
          'depresjon_sleep', 'depresjon_weeks', 'benchmark_pat', 'benchmark']


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A copy of the project's pipeline (settings, params, dvc.yaml, stage notebooks, paper tables) with tiny parameters."
    root = tmp_path_factory.mktemp('project')
    for name in ('settings.ini', 'dvc.yaml'): shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / 'nbs' / 'pipeline', root / 'nbs' / 'pipeline')
    shutil.copytree(ROOT / 'paper', root / 'paper')
    params = yaml.safe_load((ROOT / 'params.yaml').read_text())
    for section, values in TINY.items(): params[section].update(values)
    params['pat']['keras_h5'] = ''
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
