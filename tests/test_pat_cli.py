"""`big-mood weights convert` and `big-mood pat embed`: they work on the official fixture files, embed raw weeks with the
standardisation stored with a fine-tuned model, and fail cleanly (exit 2, one line on stderr) on a wrong or missing file."""
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_clean_failure, run_cli as run, shared_path

from big_mood.data.weeks import write_weeks
from big_mood.models.pat import PATClassifier, PATEncoder, load_pat, pat_s, save_pat


def test_convert_then_embed_gives_the_official_outputs(tmp_path, capsys):
    h5 = shared_path('fixtures', 'pat_keras', 'pat_s', 'classifier.h5')
    io = np.load(h5.parent / 'io.npz')
    code, out, err = run(capsys, 'weights', 'convert', '--h5', h5, '--size', 'S', '--out', tmp_path / 'pat_s.pt')
    assert code == 0 and 'classifier patch 18, 6 heads, 1 layers, 287,265 parameters' in out, (out, err)
    np.save(tmp_path / 'weeks.npy', io['X'])
    code, out, err = run(capsys, 'pat', 'embed', '--weights', tmp_path / 'pat_s.pt', '--input', tmp_path / 'weeks.npy',
                         '--output', tmp_path / 'emb.npz', '--batch-size', 3, '--device', 'cpu', '--standardize', 'none')
    assert code == 0, err
    emb = np.load(tmp_path / 'emb.npz')
    assert {k: emb[k].shape for k in emb.files} == {'sequence': (4, 560, 96), 'pooled': (4, 96), 'prob': (4, 1)}
    assert all(emb[k].dtype == np.float32 for k in emb.files)
    assert np.abs(emb['pooled'] - io['pooled']).max() < 1e-5 and np.abs(emb['prob'] - io['prob']).max() < 1e-5
    assert np.abs(emb['sequence'] - io['enc_out']).max() < 2e-4


def test_embed_in_bf16_stays_close_to_fp32(tmp_path, capsys):
    torch.manual_seed(0)
    save_pat(PATClassifier(pat_s()), tmp_path / 'm.pt')
    np.save(tmp_path / 'w.npy', np.random.default_rng(0).standard_normal((3, 10080)).astype(np.float32))
    for precision in ('fp32', 'bf16'):
        code, _, err = run(capsys, 'pat', 'embed', '--weights', tmp_path / 'm.pt', '--input', tmp_path / 'w.npy',
                           '--output', tmp_path / f'{precision}.npz', '--device', 'cpu', '--precision', precision,
                           '--standardize', 'none')
        assert code == 0, err
    exact, half = np.load(tmp_path / 'fp32.npz'), np.load(tmp_path / 'bf16.npz')
    assert half['pooled'].dtype == np.float32
    assert 0 < np.abs(half['pooled'] - exact['pooled']).max() < 0.02   # bfloat16 really ran, and stayed close
    assert np.abs(half['prob'] - exact['prob']).max() < 0.01


def test_saved_model_records_its_source(tmp_path, capsys):
    h5 = shared_path('fixtures', 'pat_keras', 'pat_conv_s', 'encoder.h5')
    assert run(capsys, 'weights', 'convert', '--h5', h5, '--size', 'S', '--conv', '--out', tmp_path / 'c.pt')[0] == 0
    ckpt = torch.load(tmp_path / 'c.pt', weights_only=True)
    assert ckpt['config']['model'] == 'encoder' and ckpt['config']['conv'] is True
    assert ckpt['metadata']['source'] == 'encoder.h5' and ckpt['metadata']['looks_like'] == 'PAT Conv-S'
    assert load_pat(tmp_path / 'c.pt').cfg.conv


def test_convert_wrong_size_exits_2_and_names_the_size_it_looks_like(tmp_path, capsys):
    h5 = shared_path('fixtures', 'pat_keras', 'pat_m', 'encoder.h5')
    code, _, err = run(capsys, 'weights', 'convert', '--h5', h5, '--size', 'S', '--out', tmp_path / 'x.pt')
    assert_clean_failure(code, err, 'encoder.h5', 'looks like PAT-M')
    assert not (tmp_path / 'x.pt').exists()


def test_convert_conv_file_as_plain_exits_2(tmp_path, capsys):
    h5 = shared_path('fixtures', 'pat_keras', 'pat_conv_s', 'classifier.h5')
    code, _, err = run(capsys, 'weights', 'convert', '--h5', h5, '--size', 'S', '--out', tmp_path / 'x.pt')
    assert_clean_failure(code, err, 'encoder_model/conv1d_patch_embedding', 'PAT Conv-S')


def test_convert_not_hdf5_or_missing_exits_2(tmp_path, capsys):
    (tmp_path / 'notes.h5').write_text('not an hdf5 file\n')
    assert_clean_failure(*run(capsys, 'weights', 'convert', '--h5', tmp_path / 'notes.h5', '--size', 'S', '--out', tmp_path / 'x.pt')[::2],
                         'not an HDF5 file')
    assert_clean_failure(*run(capsys, 'weights', 'convert', '--h5', tmp_path / 'absent.h5', '--size', 'L', '--out', tmp_path / 'x.pt')[::2],
                         'absent.h5: no such file')


@pytest.fixture
def model_pt(tmp_path):
    return save_pat(PATClassifier(pat_s()), tmp_path / 'm.pt')


def test_embed_wrong_shape_input_exits_2(tmp_path, capsys, model_pt):
    np.save(tmp_path / 'short.npy', np.zeros((2, 1440), np.float32))
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', tmp_path / 'short.npy', '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'expected shape (weeks, 10080), got (2, 1440)')
    assert not (tmp_path / 'o.npz').exists()


def test_embed_nan_week_exits_2(tmp_path, capsys, model_pt):
    x = np.zeros((3, 10080), np.float32); x[1, 100] = np.nan
    np.save(tmp_path / 'nan.npy', x)
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', tmp_path / 'nan.npy', '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'week row 1 has NaN')
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', tmp_path / 'nan.npy', '--output', tmp_path / 'o.npz', '--standardize', 'none')
    assert_clean_failure(code, err, 'week row 1 has NaN')


def test_embed_with_a_non_model_file_exits_2(tmp_path, capsys):
    np.save(tmp_path / 'w.npy', np.zeros((1, 10080), np.float32))
    h5 = shared_path('fixtures', 'pat_keras', 'pat_s', 'encoder.h5')
    code, _, err = run(capsys, 'pat', 'embed', '--weights', h5, '--input', tmp_path / 'w.npy', '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'not a PAT weights file written by big_mood')
    code, _, err = run(capsys, 'pat', 'embed', '--weights', tmp_path / 'none.pt', '--input', tmp_path / 'w.npy', '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'no such PAT weights file')


def test_embed_missing_input_exits_2(tmp_path, capsys, model_pt):
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', tmp_path / 'absent.npy', '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'absent.npy: no such file')


@pytest.fixture(scope='module')
def fine_tuned(tmp_path_factory):
    "A model fine-tuned by `big-mood ft-task` (one epoch) on a synthetic week table of raw minute counts: (folder, weeks, raw minutes)."
    d = tmp_path_factory.mktemp('ft')
    rng = np.random.default_rng(0)
    n = 20
    minutes = rng.poisson(rng.uniform(5, 60, (n, 1)), (n, 10080)).astype(np.float32)
    meta = pd.DataFrame({'id': [f'p{i:02d}' for i in range(n)], 'cohort': 'synthetic', 'week': np.zeros(n, np.int16), 'weekday': np.zeros(n, np.int8)})
    write_weeks(d / 'data' / 'weeks.parquet', meta, minutes, np.ones(minutes.shape, np.uint8))
    pd.DataFrame({'id': meta['id'], 'PHQ9': np.tile([3, 12], n // 2)}).to_parquet(d / 'data' / 'labels.parquet', index=False)
    torch.manual_seed(0)
    save_pat(PATEncoder(pat_s()), d / 'encoder.pt')
    from big_mood.cli import main
    assert main(['ft-task', '--pretrained', str(d / 'encoder.pt'), '--dataset', str(d / 'data' / 'weeks.parquet'), '--label', 'PHQ9>=10',
                 '--out', str(d / 'ft'), '--epochs', '1', '--standardize', 'leak_free', '--device', 'cpu']) == 0
    return d / 'ft', d / 'data' / 'weeks.parquet', minutes


def test_raw_weeks_with_the_stored_standardisation_embed_as_the_standardised_weeks(tmp_path, capsys, fine_tuned):
    folder, weeks, minutes = fine_tuned
    model = folder / 'full_fold0_pretrained_full_seed0.pt'
    np.save(tmp_path / 'raw.npy', minutes)
    code, out, err = run(capsys, 'pat', 'embed', '--weights', model, '--input', weeks, '--output', tmp_path / 'table.npz', '--device', 'cpu')
    assert code == 0 and 'standardisation: stored (standardize.pt [full_fold0])' in out and 'id (20,)' in out, (out, err)
    assert run(capsys, 'pat', 'embed', '--weights', model, '--input', tmp_path / 'raw.npy', '--output', tmp_path / 'raw.npz', '--device', 'cpu')[0] == 0
    stats = torch.load(folder / 'standardize.pt', weights_only=True)['full_fold0']
    np.save(tmp_path / 'std.npy', (minutes - stats['mean'].numpy()) / stats['scale'].numpy())
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model, '--input', tmp_path / 'std.npy', '--output', tmp_path / 'std.npz',
                       '--device', 'cpu', '--standardize', 'none')
    assert code == 0, err
    table, raw, std = (np.load(tmp_path / f'{k}.npz') for k in ('table', 'raw', 'std'))
    assert table['id'].tolist() == [f'p{i:02d}' for i in range(20)] and sorted(raw.files) == ['pooled', 'prob', 'sequence']
    for k in std.files:
        assert np.array_equal(table[k], std[k]) and np.array_equal(raw[k], std[k]), k
    probs = torch.sigmoid(load_pat(model).eval()(torch.from_numpy(np.load(tmp_path / 'std.npy')))).detach().numpy()
    assert np.abs(raw['prob'] - probs).max() < 1e-5          # the model on the weeks standardised as in training


def test_raw_weeks_for_a_model_without_a_stored_standardisation_are_refused(tmp_path, capsys, fine_tuned, model_pt):
    _, weeks, minutes = fine_tuned
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', weeks, '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'm.pt: the model stores no standardisation', '--standardize paper', '--standardize none')
    assert not (tmp_path / 'o.npz').exists()
    code, out, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', weeks, '--output', tmp_path / 'o.npz', '--standardize', 'paper')
    assert code == 0 and "paper (each minute z-scored over the input's 20 weeks)" in out, err
    np.save(tmp_path / 'z.npy', (minutes - minutes.mean(0)) / minutes.std(0))
    code, _, err = run(capsys, 'pat', 'embed', '--weights', model_pt, '--input', tmp_path / 'z.npy', '--output', tmp_path / 'z.npz')
    assert_clean_failure(code, err, 'z.npy: week row 0 has negative minutes', 'looks standardised already', '--standardize none')


class _Evil:
    def __reduce__(self): return (print, ('ran code',))


@pytest.mark.parametrize('content, words', [
    (_Evil(), 'a pickle could run code'),
    ({'full_fold0': {'mean': torch.zeros(1440), 'scale': torch.ones(1440)}}, 'mean of shape (1440,) and scale of shape (1440,)'),
    ({'full_fold0': {'mean': torch.zeros(10080), 'scale': torch.full((10080,), float('nan'))}}, 'not finite'),
    ({'full_fold0': torch.zeros(10080)}, 'not a pair of float tensors'),
    ({'half_fold3': {}}, 'no entry full_fold0'),
    (b'not torch', 'not a torch file')])
def test_a_hostile_or_wrong_standardisation_file_is_refused(tmp_path, capsys, fine_tuned, content, words):
    folder, weeks, _ = fine_tuned
    (tmp_path / 'ft').mkdir()
    (tmp_path / 'ft' / 'm.pt').write_bytes((folder / 'full_fold0_pretrained_full_seed0.pt').read_bytes())
    if isinstance(content, bytes): (tmp_path / 'ft' / 'standardize.pt').write_bytes(content)
    else: torch.save(content, tmp_path / 'ft' / 'standardize.pt')
    code, out, err = run(capsys, 'pat', 'embed', '--weights', tmp_path / 'ft' / 'm.pt', '--input', weeks, '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'standardize.pt', words)
    assert 'ran code' not in out and not (tmp_path / 'o.npz').exists()
    (tmp_path / 'ft' / 'standardize.pt').unlink()
    code, _, err = run(capsys, 'pat', 'embed', '--weights', tmp_path / 'ft' / 'm.pt', '--input', weeks, '--output', tmp_path / 'o.npz')
    assert_clean_failure(code, err, 'a fine-tuned model without its standardize.pt', '--standardize paper or none')
