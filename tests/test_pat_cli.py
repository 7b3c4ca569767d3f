"""`big-mood weights convert` and `big-mood pat embed`: they work on the official fixture files, and fail cleanly
(exit 2, one line on stderr) on a wrong or missing file."""
import numpy as np
import pytest
import torch
from conftest import assert_clean_failure, run_cli as run, shared_path

from big_mood.models.pat import PATClassifier, load_pat, pat_s, save_pat


def test_convert_then_embed_gives_the_official_outputs(tmp_path, capsys):
    h5 = shared_path('fixtures', 'pat_keras', 'pat_s', 'classifier.h5')
    io = np.load(h5.parent / 'io.npz')
    code, out, err = run(capsys, 'weights', 'convert', '--h5', h5, '--size', 'S', '--out', tmp_path / 'pat_s.pt')
    assert code == 0 and 'classifier patch 18, 6 heads, 1 layers, 287,265 parameters' in out, (out, err)
    np.save(tmp_path / 'weeks.npy', io['X'])
    code, out, err = run(capsys, 'pat', 'embed', '--weights', tmp_path / 'pat_s.pt', '--input', tmp_path / 'weeks.npy',
                         '--output', tmp_path / 'emb.npz', '--batch-size', 3, '--device', 'cpu')
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
                           '--output', tmp_path / f'{precision}.npz', '--device', 'cpu', '--precision', precision)
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
