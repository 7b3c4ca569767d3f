"""`big-mood ft-task` and `big-mood pretrain`: they write what they say on small week tables, and a wrong input is
one line on stderr with exit status 2."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_clean_failure, run_cli as run

from big_mood.data.weeks import write_weeks
from big_mood.models.pat import PATClassifier, PATConfig, PATEncoder, load_pat, save_pat


@pytest.fixture
def dataset(tmp_path):
    "60 participants' weeks; PHQ-9 of 15 for a third of them, whose afternoons of day 3 are 4 times as active."
    rng = np.random.default_rng(0)
    n = 60
    labels = pd.DataFrame({'id': [f'p{i}' for i in range(n)], 'phq9': np.where(np.arange(n) % 3 == 0, 15, 4)})
    minutes = rng.gamma(2, 5, (n, 10080)).astype(np.float32)
    minutes[:, 2 * 1440 + 720:2 * 1440 + 1080] *= np.where(labels.phq9 >= 10, 4.0, 1.0)[:, None]
    meta = pd.DataFrame({'id': labels.id, 'cohort': 'toy', 'week': 0, 'weekday': 0})
    write_weeks(tmp_path / 'weeks.parquet', meta, minutes, np.ones_like(minutes, np.uint8))
    labels.to_parquet(tmp_path / 'labels.parquet')
    torch.manual_seed(0)
    save_pat(PATEncoder(PATConfig(patch_size=144, num_heads=1)), tmp_path / 'encoder.pt')   # 70 patches: a quick test
    return tmp_path


def test_ft_task_writes_model_predictions_and_metadata(dataset, capsys):
    code, out, err = run(capsys, 'ft-task', '--pretrained', dataset / 'encoder.pt', '--dataset', dataset / 'weeks.parquet',
                         '--label', 'PHQ9>=10', '--mode', 'linear', '--lr', '1e-2', '--epochs', '10', '--batch-size', '16',
                         '--device', 'cpu', '--out', dataset / 'out')
    assert code == 0, err
    assert "linear on 'PHQ9>=10': test AUC" in out
    assert sorted(p.name for p in (dataset / 'out').iterdir()) == ['full_fold0_pretrained_linear_seed0.pt', 'metadata.json', 'predictions.parquet', 'standardize.pt']
    meta = json.loads((dataset / 'out' / 'metadata.json').read_text())
    assert meta['label'] == 'PHQ9>=10' and meta['runs'] == ['pretrained/linear'] and meta['settings']['epochs'] == 10
    pred = pd.read_parquet(dataset / 'out' / 'predictions.parquet')
    assert pred.id.nunique() == 22 and set(pred.split) == {'val', 'test'}        # 12 test (0.2 of 60), 10 validation (0.2 of the other 48)
    assert float(out.split('test AUC ')[1].split(',')[0]) > 0.8
    model = load_pat(dataset / 'out' / 'full_fold0_pretrained_linear_seed0.pt')
    assert isinstance(model, PATClassifier)
    enc = load_pat(dataset / 'encoder.pt')
    assert torch.equal(model.encoder.blocks[0].ff1.weight, enc.blocks[0].ff1.weight), 'the linear probe changed the encoder'


@pytest.mark.parametrize('change, words', [
    ({'--pretrained': 'absent.pt'}, ['absent.pt: no such PAT weights file']),
    ({'--dataset': 'absent.parquet', '--labels': 'LABELS'}, ['absent.parquet']),
    ({'--label': 'PHQ8>=10'}, ["no column 'PHQ8'"]),
    ({'--label': "__import__('os')"}, ['Call is not allowed']),
    ({'--label': 'PHQ9>=100'}, ['0 positives']),
])
def test_ft_task_bad_input_exits_2(dataset, capsys, change, words):
    args = {'--pretrained': dataset / 'encoder.pt', '--dataset': dataset / 'weeks.parquet', '--label': 'PHQ9>=10', '--out': dataset / 'o'}
    args.update({k: (dataset / 'labels.parquet' if v == 'LABELS' else v) for k, v in change.items()})
    code, out, err = run(capsys, 'ft-task', *[x for kv in args.items() for x in kv])
    assert_clean_failure(code, err, *words)
    assert not (dataset / 'o').exists()


def test_pretrain_cli_writes_a_loadable_mae(dataset, capsys):
    code, out, err = run(capsys, 'pretrain', '--weeks', dataset / 'weeks.parquet', '--out', dataset / 'run', '--epochs', '1',
                         '--batch-size', '16', '--device', 'cpu')
    assert code == 0, err
    assert out.startswith('effective batch size 16 (16 per process x 1 process), lr 0.001\n')
    assert f"wrote {dataset / 'run' / 'mae.pt'}: 1 epochs, best validation loss" in out
    assert type(load_pat(dataset / 'run' / 'mae.pt')).__name__ == 'PATMAE'
    assert json.loads((dataset / 'run' / 'mae.json').read_text())['settings']['epochs'] == 1
    code, out, err = run(capsys, 'pretrain', '--weeks', dataset / 'absent.parquet', '--out', dataset / 'x')
    assert_clean_failure(code, err, 'absent.parquet')
    assert not (dataset / 'x').exists()


def test_pretrain_defaults_are_the_functions_not_the_commands(dataset, capsys, monkeypatch):
    import big_mood.train.pretrain as pretrain
    seen = {}
    monkeypatch.setattr(pretrain, 'pretrain_run', lambda weeks, out, **kw: seen.update(kw) or {'history': [{'val': 1.0}]})
    code, out, err = run(capsys, 'pretrain', '--weeks', dataset / 'weeks.parquet', '--out', dataset / 'run', '--lr', '0.01')
    assert code == 0, err
    assert seen == {'lr': 0.01}                               # nothing the user did not give, so the paper's defaults apply
