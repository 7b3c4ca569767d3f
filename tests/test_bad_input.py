"""Every `big-mood` command through a table of bad, hostile and faulty inputs: each must exit 2 with one line on
stderr that names what was wrong, leave no output behind (not even a hidden temporary file or an empty folder), and
change no file that was already there.

The cases run in this process (`big_mood.cli.main`) on tiny inputs built once per module. Each case gets a fresh work
folder that already holds files (`existing.txt`, a folder `existing/`, a read-only folder `readonly/`); the inputs
folder and the work folder are snapshotted before the case and compared after it."""
import functools
import os
import pickle
import shutil
import stat
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb
from tqdm import tqdm

from big_mood.cli import build_parser, main
from big_mood.data.weeks import META_COLUMNS, WEEK_SCHEMA, write_weeks
from big_mood.data.xpt import float_to_ibm, xpt_layout
from big_mood.features.mood import FEATURE_NAMES
from big_mood.models.pat import PATClassifier, PATConfig, PATEncoder, PATMAE, pat_s, save_pat
from big_mood.models.pat_keras import KERAS_TRANSFORMS, keras_name_map

ROOT = Path(__file__).resolve().parents[1]


def _read_only_holds() -> bool:
    "Whether a folder without write permission refuses new files here (root, with its override, writes anyway)."
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o555)
        try: open(os.path.join(d, 'probe'), 'w').close(); return False
        except PermissionError: return True
        finally: os.chmod(d, 0o755)


READ_ONLY_HOLDS = _read_only_holds()
HOSTILE = {'newline': 'a\nb', 'ansi': '\x1b[31mred\x1b[0m', 'traversal': '../../escape', 'empty': '', 'long': 'x' * 300,
           'dot': '.hidden', 'space': 'a b', 'slash': 'a/b'}
NASTY_NAMES = {'newline': 'bad\nname', 'ansi': 'bad\x1b[2Jname', 'bell': 'bad\aname', 'nul': 'bad\0name', 'del': 'bad\x7fname'}


# ---------------------------------------------------------------- inputs, built once

_TO_KERAS = {'copy': lambda w: w, 'dense': lambda w: w.T, 'conv': lambda w: w.transpose(2, 1, 0),
             'qkv': lambda w: w.T, 'qkv_bias': lambda w: w, 'attention_output': lambda w: w.T}   # then reshaped


def keras_arrays(model, layout):
    "The model's weights as the official Keras file holds them: {h5 path: array}."
    out = {}
    for key, (h5_key, name) in keras_name_map(model.cfg, layout).items():
        w = model.state_dict()[key].numpy()
        out[h5_key] = _TO_KERAS[name](w).reshape(KERAS_TRANSFORMS[name][1](w.shape, model.cfg.num_heads))
    return out


def write_h5(path, arrays, sparse=None, **kw):
    with h5py.File(path, 'w') as f:
        for k, v in arrays.items(): f.create_dataset(k, data=v, **kw)
        for k, shape in (sparse or {}).items(): f.create_dataset(k, shape=shape, dtype='f4', chunks=True)   # declared, never written
    return path


def npy_header_only(path, shape, descr='<f4', extra=b'\0' * 64):
    "A .npy file whose header claims `shape` but which holds only `extra` bytes of data."
    with open(path, 'wb') as f:
        np.lib.format.write_array_header_1_0(f, {'descr': descr, 'fortran_order': False, 'shape': shape})
        f.write(extra)
    return path


class RunsCode:
    "Unpickling this runs a shell command that would create the file `sentinel`."
    def __init__(self, sentinel): self.sentinel = str(sentinel)
    def __reduce__(self): return (os.system, (f'touch {self.sentinel}',))


def episodes(days=14, start='2024-01-01 23:00', hours=7.5, tz=''):
    t0 = pd.Timestamp(start)
    starts = [t0 + pd.Timedelta(days=d) for d in range(days)]
    mins = int(hours * 60)
    fmt = lambda t: t.strftime('%Y-%m-%d %H:%M') + tz
    return pd.DataFrame({'sleep_start': [fmt(s) for s in starts], 'sleep_end': [fmt(s + pd.Timedelta(minutes=mins)) for s in starts],
                         'time_in_bed': mins, 'minutes_sleep': mins - 30, 'minutes_awake': 30})


def patch_xpt(src, dst, column, values, rows):
    "Copy the XPT `src` to `dst` with `column` set to `values` on record numbers `rows`."
    lay = xpt_layout(src)
    data = bytearray(Path(src).read_bytes())
    col = lay.columns[column]
    enc = float_to_ibm(np.asarray(values, float), col.width)
    for r, b in zip(rows, enc):
        at = lay.data_start + r * lay.record_len + col.offset
        data[at:at + col.width] = bytes(b)
    Path(dst).write_bytes(bytes(data))


def raw_variant(raw, d, name, change):
    "A copy of the raw folder `raw` as `d/name`, changed by `change(folder)`."
    out = d / name
    shutil.copytree(raw, out)
    change(out)
    return out


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp('inputs')
    rng = np.random.default_rng(0)
    # --- weights
    torch.manual_seed(0)
    tiny = PATConfig(patch_size=144, num_heads=1, embed_dim=8, ff_dim=16)
    save_pat(PATEncoder(tiny), d / 'enc.pt')
    save_pat(PATMAE(tiny), d / 'mae.pt')
    save_pat(PATClassifier(tiny), d / 'cls.pt')
    for name, value in (('nan', float('nan')), ('inf', float('inf'))):
        m = PATEncoder(tiny)
        with torch.no_grad(): m.blocks[0].ff1.weight[0, 0] = value
        save_pat(m, d / f'{name}.pt')
    state = PATEncoder(tiny).state_dict()
    base = {'model': 'encoder', **{k: getattr(tiny, k) for k in ('patch_size', 'num_heads', 'num_layers', 'embed_dim', 'ff_dim', 'dropout', 'conv', 'input_size')}}
    for name, cfg in {'huge_embed': {'embed_dim': 200000}, 'huge_layers': {'num_layers': 10 ** 6}, 'huge_input': {'input_size': 10 ** 9},
                      'huge_heads': {'num_heads': 100000}, 'tiny_patch': {'patch_size': 1, 'input_size': 10 ** 6},
                      'neg_dim': {'embed_dim': -8}, 'str_dim': {'embed_dim': 'eight'}, 'bool_conv': {'conv': 'yes'},
                      'bad_dropout': {'dropout': 1.5}, 'odd_dim': {'embed_dim': 7}, 'extra_key': {'colour': 'red'},
                      'kind': {'model': 'resnet'}}.items():
        torch.save({'state_dict': state, 'config': {**base, **cfg}, 'metadata': {}}, d / f'cfg_{name}.pt')
    torch.save({'state_dict': state}, d / 'no_config.pt')
    torch.save({'state_dict': {k: v[..., :1] for k, v in state.items()}, 'config': base, 'metadata': {}}, d / 'wrong_shapes.pt')
    torch.save({'state_dict': {k: v.double() for k, v in state.items()}, 'config': base, 'metadata': {}}, d / 'float64.pt')
    torch.save(torch.zeros(3), d / 'tensor.pt')
    torch.save([1, 2, 3], d / 'list.pt')
    good = (d / 'enc.pt').read_bytes()
    (d / 'truncated.pt').write_bytes(good[:len(good) // 2])
    (d / 'zeros.pt').write_bytes(bytes(len(good)))
    (d / 'empty.pt').write_bytes(b'')
    (d / 'text.pt').write_text('not a torch file\n')
    (d / 'pickle.pt').write_bytes(pickle.dumps(RunsCode(d / 'PWNED_pt')))
    # --- Keras h5 (PAT-S encoder, written as the official files are)
    s_arrays = keras_arrays(PATEncoder(pat_s()), 'encoder')
    write_h5(d / 's.h5', s_arrays)
    write_h5(d / 'sparse.h5', s_arrays, sparse={'junk/huge:0': (2 ** 31, 1024)})
    write_h5(d / 'huge_kernel.h5', s_arrays)
    with h5py.File(d / 'huge_kernel.h5', 'a') as f:
        del f['dense/dense/kernel:0']
        f.create_dataset('dense/dense/kernel:0', shape=(2 ** 30, 96), dtype='f4', chunks=True)
    q = next(k for k in s_arrays if k.endswith('query/kernel:0'))
    write_h5(d / 'q1d.h5', {**s_arrays, q: s_arrays[q].ravel()})
    write_h5(d / 'q0d.h5', {**s_arrays, 'dense/dense/kernel:0': np.float32(1)})
    write_h5(d / 'nan.h5', {**s_arrays, q: np.full_like(s_arrays[q], np.nan)})
    write_h5(d / 'inf.h5', {**s_arrays, 'dense/dense/kernel:0': np.full_like(s_arrays['dense/dense/kernel:0'], np.inf)})
    write_h5(d / 'int.h5', {k: v.astype(np.int32) for k, v in s_arrays.items()})
    write_h5(d / 'text_ds.h5', {**s_arrays, 'dense/dense/bias:0': np.array([b'x'] * 96)})
    write_h5(d / 'extra.h5', {**s_arrays, 'extra/extra/kernel:0': np.zeros(3, np.float32)})
    write_h5(d / 'missing.h5', {k: v for k, v in s_arrays.items() if 'ff2' not in k})
    write_h5(d / 'other.h5', {'conv2d/conv2d/kernel:0': np.zeros((3, 3), np.float32)})
    write_h5(d / 'empty.h5', {})
    write_h5(d / 'f16.h5', {k: v.astype(np.float16) for k, v in s_arrays.items()})
    h5 = (d / 's.h5').read_bytes()
    (d / 'truncated.h5').write_bytes(h5[:len(h5) // 2])
    (d / 'zeros.h5').write_bytes(bytes(4096))
    (d / 'text.h5').write_text('not hdf5\n')
    # --- weeks for `pat embed`
    np.save(d / 'weeks.npy', rng.standard_normal((3, 10080)).astype(np.float32))
    np.save(d / 'big64.npy', np.full((2, 10080), 1e300))
    nan = np.zeros((2, 10080), np.float32); nan[1, 5] = np.nan
    np.save(d / 'nan.npy', nan)
    np.save(d / 'inf.npy', np.full((2, 10080), np.inf, np.float32))
    np.save(d / 'short.npy', np.zeros((2, 1440), np.float32))
    np.save(d / 'transposed.npy', np.zeros((10080, 2), np.float32))
    np.save(d / 'flat.npy', np.zeros(10080, np.float32))
    np.save(d / 'cube.npy', np.zeros((1, 2, 10080), np.float32))
    np.save(d / 'none.npy', np.zeros((0, 10080), np.float32))
    np.save(d / 'scalar.npy', np.float32(1))
    np.save(d / 'text.npy', np.array([['a'] * 10080]))
    np.save(d / 'bools.npy', np.zeros((1, 10080), bool))
    np.save(d / 'complex.npy', np.zeros((1, 10080), np.complex64))
    np.save(d / 'object.npy', np.array([[None] * 10080], object), allow_pickle=True)
    np.savez(d / 'arrays.npz', x=np.zeros((1, 10080), np.float32))
    npy_header_only(d / 'claims_huge.npy', (10 ** 7, 10080))
    npy_header_only(d / 'claims_more.npy', (5, 10080))
    npy_header_only(d / 'claims_negative.npy', (-1, 10080))
    w = (d / 'weeks.npy').read_bytes()
    (d / 'truncated.npy').write_bytes(w[:len(w) // 2])
    (d / 'zeros.npy').write_bytes(bytes(len(w)))
    (d / 'empty.npy').write_bytes(b'')
    (d / 'text_file.npy').write_text('1,2,3\n')
    # --- week tables and labels for pretrain / ft-task
    n = 12
    ids = [f'p{i}' for i in range(n)]
    minutes = rng.gamma(2, 5, (n, 10080)).astype(np.float32)
    meta = pd.DataFrame({'id': ids, 'cohort': 'toy', 'week': 0, 'weekday': 0})
    (d / 'weeks').mkdir()
    write_weeks(d / 'weeks' / 'toy.parquet', meta, minutes, np.ones_like(minutes, np.uint8))
    write_weeks(d / 'one_person.parquet', meta.assign(id='p0', week=range(n)), minutes, np.ones_like(minutes, np.uint8))
    labels = pd.DataFrame({'id': ids, 'phq9': np.where(np.arange(n) % 2, 15, 3), 'age': 30 + np.arange(n), 'note': 'text', 'empty': np.nan})
    labels.to_parquet(d / 'weeks' / 'labels.parquet')
    labels.to_parquet(d / 'labels.parquet')
    labels.drop(columns='id').to_parquet(d / 'labels_no_id.parquet')
    labels.assign(id=[f'q{i}' for i in range(n)]).to_parquet(d / 'labels_other_ids.parquet')
    pd.DataFrame({'id': ids}).to_parquet(d / 'labels_only_id.parquet')
    labels.to_csv(d / 'labels.csv', index=False)
    import pyarrow as pa, pyarrow.parquet as pq
    pq.write_table(pa.table({'id': ids, 'x': range(n)}), d / 'not_weeks.parquet')
    bad = minutes.copy(); bad[0, 0] = np.nan
    cols = {k: pa.array(meta[k].astype(str) if k in ('id', 'cohort') else meta[k], t) for k, t in META_COLUMNS.items() if k != 'wear_fraction'}
    cols['wear_fraction'] = pa.array(np.ones(n, np.float32))
    cols['minutes'] = pa.FixedSizeListArray.from_arrays(pa.array(bad.ravel()), 10080)
    cols['valid'] = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(n * 10080, np.uint8)), 10080)
    pq.write_table(pa.table(cols, schema=WEEK_SCHEMA), d / 'nan_weeks.parquet')
    p = (d / 'weeks' / 'toy.parquet').read_bytes()
    (d / 'truncated.parquet').write_bytes(p[:len(p) // 2])
    (d / 'zeros.parquet').write_bytes(bytes(4096))
    (d / 'text.parquet').write_text('id,minutes\n1,2\n')
    (d / 'empty_dir').mkdir()
    # --- sleep episodes for `features`
    ep = episodes()
    ep.to_csv(d / 'sleep.csv', index=False)
    episodes(days=3).to_csv(d / 'sleep_3days.csv', index=False)
    for name, change in {
        'missing_col': lambda e: e.drop(columns='minutes_awake'),
        'bad_date': lambda e: e.assign(sleep_start=['yesterday'] + list(e.sleep_start[1:])),
        'after_2262': lambda e: e.assign(sleep_start=['2263-01-01 23:00'] + list(e.sleep_start[1:]), sleep_end=['2263-01-02 06:30'] + list(e.sleep_end[1:])),
        'before_1677': lambda e: e.assign(sleep_start=['1600-01-01 23:00'] + list(e.sleep_start[1:]), sleep_end=['1600-01-02 06:30'] + list(e.sleep_end[1:])),
        'year_9999': lambda e: e.assign(sleep_start=list(e.sleep_start[:-1]) + ['9999-12-30 23:00'], sleep_end=list(e.sleep_end[:-1]) + ['9999-12-31 06:30']),
        'ten_years': lambda e: e.assign(sleep_end=list(e.sleep_end[:-1]) + ['2034-01-15 06:30'], time_in_bed=list(e.time_in_bed[:-1]) + [5_260_000],
                                        minutes_sleep=list(e.minutes_sleep[:-1]) + [5_250_000]),
        'centuries_apart': lambda e: pd.concat([e, episodes(days=1, start='2200-01-01 23:00')]),
        'end_before_start': lambda e: e.assign(sleep_end=list(e.sleep_start[:1]) + list(e.sleep_end[1:])),
        'negative': lambda e: e.assign(minutes_sleep=[-5] + list(e.minutes_sleep[1:])),
        'text_number': lambda e: e.assign(minutes_sleep=['lots'] + list(e.minutes_sleep[1:])),
        'nan_number': lambda e: e.assign(minutes_sleep=['nan'] + list(e.minutes_sleep[1:])),
        'inf_number': lambda e: e.assign(time_in_bed=['inf'] + list(e.time_in_bed[1:])),
        'huge_number': lambda e: e.assign(minutes_awake=['1e300'] + list(e.minutes_awake[1:])),
        'sleep_exceeds': lambda e: e.assign(minutes_sleep=[9999] + list(e.minutes_sleep[1:])),
        'bed_mismatch': lambda e: e.assign(time_in_bed=[10] + list(e.time_in_bed[1:])),
        'overlap': lambda e: pd.concat([e, e.iloc[:1]]),
        'mixed_offsets': lambda e: e.assign(sleep_start=[e.sleep_start[0] + '+01:00'] + list(e.sleep_start[1:])),
        'tz_change': lambda e: pd.concat([episodes(days=7, tz='+01:00'), episodes(days=7, start='2024-01-08 23:00', tz='+02:00')]),
        'empty_rows': lambda e: e.iloc[:0],
        'hostile_date': lambda e: e.assign(sleep_start=['\x1b[2J2024-01-01\n23:00'] + list(e.sleep_start[1:])),
    }.items():
        change(ep.copy()).to_csv(d / f'sleep_{name}.csv', index=False)
    (d / 'sleep_binary.csv').write_bytes(bytes(range(256)) * 8)
    (d / 'sleep_latin1.csv').write_bytes('sleep_start,sleep_end\n2024-01-01 23:00,\xe9\n'.encode('latin-1'))
    (d / 'sleep_empty.csv').write_bytes(b'')
    (d / 'sleep_quote.csv').write_text('sleep_start,sleep_end,time_in_bed,minutes_sleep,minutes_awake\n"2024-01-01 23:00,x\n')
    # --- XGBoost pickles and feature tables
    X = pd.DataFrame(rng.normal(size=(60, 36)), columns=list(FEATURE_NAMES))
    model = xgb.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(X, (X.iloc[:, 0] > 0).astype(int))
    (d / 'XGBoost_DE.pkl').write_bytes(pickle.dumps(model))
    (d / 'runs_code.pkl').write_bytes(pickle.dumps(RunsCode(d / 'PWNED_pkl')))
    (d / 'eval.pkl').write_bytes(pickle.dumps(eval))
    (d / 'list.pkl').write_bytes(pickle.dumps([1, 2]))
    (d / 'dict.pkl').write_bytes(pickle.dumps({'a': 1}))
    xgb.XGBClassifier(n_estimators=2, n_jobs=1).fit(X.iloc[:, :5], (X.iloc[:, 0] > 0).astype(int))
    (d / 'five_features.pkl').write_bytes(pickle.dumps(xgb.XGBClassifier(n_estimators=2, n_jobs=1).fit(X.iloc[:, :5], (X.iloc[:, 0] > 0).astype(int))))
    pk = (d / 'XGBoost_DE.pkl').read_bytes()
    (d / 'truncated.pkl').write_bytes(pk[:len(pk) // 2])
    (d / 'zeros.pkl').write_bytes(bytes(len(pk)))
    (d / 'empty.pkl').write_bytes(b'')
    (d / 'text.pkl').write_text('plain text\n')
    (d / 'bad name!.pkl').write_bytes(pk)
    (d / '.hidden.pkl').write_bytes(pk)
    feats = X.head(10).set_axis(pd.date_range('2020-01-01', periods=10).strftime('%Y-%m-%d')).rename_axis('date')
    feats.to_csv(d / 'features.csv')
    feats.iloc[:, ::-1].to_csv(d / 'features_reversed.csv')
    feats.iloc[:, :-1].to_csv(d / 'features_35.csv')
    feats.assign(extra=1).to_csv(d / 'features_extra.csv')
    feats.astype(object).assign(**{FEATURE_NAMES[3]: ['high'] + [0.0] * 9}).to_csv(d / 'features_text.csv')
    feats.assign(**{FEATURE_NAMES[0]: np.inf}).to_csv(d / 'features_inf.csv')
    feats.reset_index(drop=True).to_csv(d / 'features_no_date.csv', index=False)
    feats.iloc[:0].to_csv(d / 'features_empty.csv')
    (d / 'features_binary.csv').write_bytes(bytes(range(256)) * 8)
    (d / 'features_blank.csv').write_bytes(b'')
    # --- a tiny synthetic NHANES raw folder and damaged copies of it
    from big_mood.data.synthetic_files import synthesize_run
    raw = d / 'raw'
    synthesize_run(raw, cycles=['C', 'H'], participants=3, pretrain_participants=2, seed=0)
    (d / 'raws').mkdir()
    rv = lambda name, change: raw_variant(raw, d / 'raws', name, change)
    cut = lambda name, k: lambda f: (f / name).write_bytes((f / name).read_bytes()[:-k])
    def zero_tail(name):
        def change(f):
            b = bytearray((f / name).read_bytes()); lay = xpt_layout(raw / name)
            at = lay.data_start + (lay.n_rows // 2) * lay.record_len
            b[at:] = bytes(len(b) - at); (f / name).write_bytes(bytes(b))
        return change
    def swap_records(name, i, j):
        def change(f):
            lay = xpt_layout(raw / name); b = bytearray((f / name).read_bytes()); L = lay.record_len
            a, c = lay.data_start + i * L, lay.data_start + j * L
            b[a:a + L], b[c:c + L] = b[c:c + L], b[a:a + L]; (f / name).write_bytes(bytes(b))
        return change
    paxmin = xpt_layout(raw / 'PAXMIN_H.xpt')
    variants = {
        'paxmin_truncated': cut('PAXMIN_H.xpt', 13), 'paxmin_cut_record': cut('PAXMIN_H.xpt', 160),
        'paxmin_zero_tail': zero_tail('PAXMIN_H.xpt'), 'paxraw_zero_tail': zero_tail('PAXRAW_C.xpt'),
        'paxraw_truncated': cut('PAXRAW_C.xpt', 7),
        'paxmin_text': lambda f: (f / 'PAXMIN_H.xpt').write_text('not xport\n'),
        'paxmin_empty': lambda f: (f / 'PAXMIN_H.xpt').write_bytes(b''),
        'paxmin_is_demo': lambda f: shutil.copyfile(f / 'DEMO_H.xpt', f / 'PAXMIN_H.xpt'),
        'paxhd_missing': lambda f: (f / 'PAXHD_H.xpt').unlink(),
        'paxday_missing': lambda f: (f / 'PAXDAY_H.xpt').unlink(),
        'demo_missing': lambda f: (f / 'DEMO_H.xpt').unlink(),
        'dpq_text': lambda f: (f / 'DPQ_H.xpt').write_text('not xport\n'),
        'paxmin_swapped': swap_records('PAXMIN_H.xpt', 10, 11),
        'paxmin_duplicate': lambda f: patch_xpt(f / 'PAXMIN_H.xpt', f / 'PAXMIN_H.xpt', 'PAXSSNMP', [0.0], [5]),
        'paxmin_ssn_odd': lambda f: patch_xpt(f / 'PAXMIN_H.xpt', f / 'PAXMIN_H.xpt', 'PAXSSNMP', [4801.0], [1]),
        'paxmin_unknown_seqn': lambda f: patch_xpt(f / 'PAXMIN_H.xpt', f / 'PAXMIN_H.xpt', 'SEQN', [99999999.0] * 3, range(paxmin.n_rows - 3, paxmin.n_rows)),
        'paxmin_dir': lambda f: ((f / 'PAXMIN_H.xpt').unlink(), (f / 'PAXMIN_H.xpt').mkdir()),
        'paxraw_seqn_zero': lambda f: patch_xpt(f / 'PAXRAW_C.xpt', f / 'PAXRAW_C.xpt', 'SEQN', [0.0], [0]),
        'paxraw_minute_mismatch': lambda f: patch_xpt(f / 'PAXRAW_C.xpt', f / 'PAXRAW_C.xpt', 'PAXHOUR', [23.0], [3]),
        'zip_only': lambda f: ((f / 'PAXMIN_H.xpt').rename(f / 'PAXMIN_H.zip')),
    }
    for name, change in variants.items(): rv(name, change)
    (d / 'raws' / 'empty').mkdir()
    (d / 'raws' / 'not_a_folder').write_text('x')
    # --- a population folder for `serve`, and its XGBoost models for `xgb predict`
    from big_mood.serve.inference import random_population
    random_population(d / 'population')
    (d / 'pop_empty').mkdir()
    shutil.copytree(d / 'population' / 'xgb', d / 'xgb_changed')
    (d / 'xgb_changed' / 'XGBoost_DE.json').write_bytes((d / 'xgb_changed' / 'XGBoost_DE.json').read_bytes().replace(b'"', b"'", 1))
    shutil.copytree(d / 'population', d / 'pop_nan')
    shutil.copyfile(d / 'nan.pt', d / 'pop_nan' / 'pat' / 'depression.pt')
    # --- minute counts for `sleep score`
    t = pd.date_range('2024-01-01 12:00', periods=3 * 1440, freq='min')
    act = pd.DataFrame({'timestamp': t.strftime('%Y-%m-%d %H:%M:%S'), 'activity': np.where((t.hour >= 23) | (t.hour < 7), 0, 200)})
    act.to_csv(d / 'activity.csv', index=False)
    for name, change in {'negative': lambda a: a.assign(activity=[-5] + list(a.activity[1:])), 'text': lambda a: a.assign(activity=['lots'] + list(a.activity[1:])),
                         'nan': lambda a: a.assign(activity=['nan'] + list(a.activity[1:])), 'inf': lambda a: a.assign(activity=['inf'] + list(a.activity[1:])),
                         'seconds': lambda a: a.assign(timestamp=['2024-01-01 12:00:30'] + list(a.timestamp[1:])),
                         'bad_time': lambda a: a.assign(timestamp=['noon'] + list(a.timestamp[1:])), 'no_rows': lambda a: a.iloc[:0],
                         'missing_col': lambda a: a.drop(columns='activity'), 'after_2262': lambda a: a.assign(timestamp=['2263-01-01 00:00:00'] + list(a.timestamp[1:])),
                         'centuries': lambda a: pd.concat([a, pd.DataFrame({'timestamp': ['2200-01-01 00:00:00'], 'activity': [0]})]),
                         'huge': lambda a: a.assign(activity=['1e300'] + list(a.activity[1:])), 'one_row': lambda a: a.iloc[:1]}.items():
        change(act.copy()).to_csv(d / f'activity_{name}.csv', index=False)
    (d / 'activity_binary.csv').write_bytes(bytes(range(256)) * 8)
    # --- day tables for `drift`
    from big_mood.features.mood import DAILY_INDEXES
    days = pd.DataFrame(rng.normal(size=(40, len(DAILY_INDEXES))), columns=list(DAILY_INDEXES))
    days.to_csv(d / 'days.csv', index=False); days.to_parquet(d / 'days.parquet')
    days.astype(str).assign(**{c: 'x' for c in DAILY_INDEXES}).to_csv(d / 'days_text.csv', index=False)
    days.iloc[:3].to_csv(d / 'days_3.csv', index=False)
    days.iloc[:0].to_csv(d / 'days_empty.csv', index=False)
    days.to_csv(d / 'days.txt', index=False)
    (d / 'days_binary.csv').write_bytes(bytes(range(256)) * 8)
    (d / 'days_truncated.parquet').write_bytes((d / 'days.parquet').read_bytes()[:200])
    # --- Apple Health exports that are not
    import zipfile
    (d / 'export_text.zip').write_text('not a zip\n')
    with zipfile.ZipFile(d / 'export_no_xml.zip', 'w') as z: z.writestr('apple_health_export/readme.txt', 'no export here')
    (d / 'export_truncated.xml').write_text('<?xml version="1.0"?>\n<HealthData locale="en_US">\n <Record type="HKQuantityTypeIdentifierStepCount" ')
    (d / 'export_bomb.xml').write_text('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                                       '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n<HealthData>&lol3;</HealthData>\n')
    (d / 'export_external.xml').write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<HealthData>&e;</HealthData>\n')
    (d / 'export_empty.xml').write_bytes(b'')
    (d / 'export_other.xml').write_text('<?xml version="1.0"?>\n<svg></svg>\n')
    (d / 'export_no_records.xml').write_text('<?xml version="1.0"?>\n<HealthData locale="en_US"><ExportDate value="2024-01-01 00:00:00 +0000"/></HealthData>\n')
    (d / 'export_binary.xml').write_bytes(bytes(range(256)) * 8)
    # --- a tiny synthetic EEG cohort and its primary dataset; registries
    from big_mood.data.eeg import build_primary
    from big_mood.data.synthetic_eeg import synth_eeg_cohort
    table = synth_eeg_cohort(d / 'eeg', n_participants=4, seconds=30, seed=0)
    build_primary(table, d / 'eeg_primary', parent_window_s=20.0)
    primary = next((d / 'eeg_primary').glob('*primary_dataset.parquet'))
    shutil.copyfile(primary, d / 'primary.parquet')
    (d / 'primary_truncated.parquet').write_bytes(primary.read_bytes()[:len(primary.read_bytes()) // 2])
    ptab = pd.read_csv(table)
    for name, change in {'missing_col': lambda t: t.drop(columns='remission'), 'absent_file': lambda t: t.assign(file=['nosuch.csv'] + list(t.file[1:])),
                         'traversal': lambda t: t.assign(file=['../../../../etc/passwd'] + list(t.file[1:])),
                         'remission_2': lambda t: t.assign(remission=[2] + list(t.remission[1:])), 'hostile_id': lambda t: t.assign(participant=['a\nb'] + list(t.participant[1:])),
                         'sfreq_negative': lambda t: t.assign(sfreq=-256.0), 'empty': lambda t: t.iloc[:0],
                         'text_file': lambda t: t.assign(file=['notes.csv'] + list(t.file[1:]))}.items():
        change(ptab.copy()).to_csv(d / 'eeg' / f'participants_{name}.csv', index=False)
    (d / 'eeg' / 'notes.csv').write_text('hello\n')
    (d / 'eeg' / 'participants_binary.csv').write_bytes(bytes(range(256)) * 8)
    (d / 'config_bad.yaml').write_text('eeg: [unclosed\n')
    (d / 'config_unknown.yaml').write_text('eeg:\n  colour: red\nmamba_eeg:\n  colour: red\n')
    (d / 'registry_text.json').write_text('not json')
    (d / 'registry_no_models.json').write_text('{"x": 1}')
    (d / 'registry_partial.json').write_text('{"models": {"m.pt": {"kind": "mamba_eeg_pretrained"}}}')
    (d / 'registry_list.json').write_text('{"models": {"m.pt": [1, 2]}}')
    (d / 'registry_ok.json').write_text('{"models": {"m.pt": {"name": "m", "kind": "mamba_eeg_pretrained", "sha256": "%s"}}}' % ('0' * 64))
    return d


@pytest.fixture(scope='module')
def personal_inputs(inputs):
    "`inputs/personal`: a synthetic population, a 60-day synthetic export, a person calibrated on it (1 epoch), and damaged copies (built only when a case needs them)."
    import json
    from big_mood.data.synthetic_apple import write_synthetic_export
    from big_mood.personal.calibrate import calibrate_run
    from big_mood.personal.population import synthetic_population
    d = inputs / 'personal'
    d.mkdir()
    synthetic_population(d / 'population')
    write_synthetic_export(d / 'export.zip', seed=1, days=60)   # 2022-05-31 to 2022-07-30
    (d / 'episodes.csv').write_text('start,end,type\n2022-07-01,2022-07-20,depressive\n')
    calibrate_run(d / 'episodes.csv', d / 'export.zip', d / 'user1', population=d / 'population', epochs=1)
    z = (d / 'export.zip').read_bytes()
    (d / 'export_truncated.zip').write_bytes(z[:len(z) // 2])
    (d / 'export_binary.zip').write_bytes(bytes(range(256)) * 8)
    good = 'start,end,type\n2022-07-01,2022-07-20,depressive\n'
    for name, text in {'unknown_type': 'start,end,type\n2022-07-01,2022-07-20,sad\n', 'end_before_start': 'start,end,type\n2022-07-20,2022-07-01,depressive\n',
                       'overlap': good + '2022-07-10,2022-07-25,manic\n', 'hostile': 'start,end,type\n2022-07-01,2022-07-20,\x1b[2Jdepressive\x07\n',
                       'nan_date': 'start,end,type\nnan,2022-07-20,depressive\n', 'empty_date': 'start,end,type\n,2022-07-20,depressive\n',
                       'missing_col': 'start,end\n2022-07-01,2022-07-20\n', 'future': good + '2030-01-01,2030-01-20,manic\n',
                       'past': 'start,end,type\n1999-01-01,1999-01-20,manic\n' + good.split('\n', 1)[1], 'year_99999': 'start,end,type\n2022-07-01,99999-01-01,depressive\n',
                       'quote': 'start,end,type\n"2022-07-01,2022-07-20,depressive\n', 'empty': ''}.items():
        (d / f'episodes_{name}.csv').write_text(text)
    (d / 'episodes_binary.csv').write_bytes(bytes(range(256)) * 8)
    def user_variant(name, change):
        shutil.copytree(d / 'user1', d / name)
        meta = json.loads((d / name / 'metadata.json').read_text())
        change(d / name, meta)
    def set_meta(**kw):
        def change(f, meta):
            meta.update(kw); (f / 'metadata.json').write_text(json.dumps(meta))
        return change
    def pickled(f, meta):
        (f / 'adapter.pt').write_bytes(pickle.dumps(RunsCode(d / 'PWNED_pt')))
        import hashlib
        meta['adapter_sha256'] = hashlib.sha256((f / 'adapter.pt').read_bytes()).hexdigest(); (f / 'metadata.json').write_text(json.dumps(meta))
    user_variant('user_bad_json', lambda f, meta: (f / 'metadata.json').write_text('{"schema": '))
    user_variant('user_not_personal', set_meta(written_by='someone else'))
    user_variant('user_schema', set_meta(schema=999))
    user_variant('user_other_population', lambda f, meta: set_meta(population={**meta['population'], 'versions': {'xgb': 'other'}})(f, meta))
    user_variant('user_adapter_changed', lambda f, meta: (f / 'adapter.pt').write_bytes((f / 'adapter.pt').read_bytes()[:-8] + bytes(8)))
    user_variant('user_adapter_missing', lambda f, meta: (f / 'adapter.pt').unlink())
    user_variant('user_adapter_pickle', pickled)
    user_variant('user_no_metadata', lambda f, meta: (f / 'metadata.json').unlink())
    (d / 'not_a_model').mkdir(); (d / 'not_a_model' / 'notes.txt').write_text('mine\n')
    return d


# ---------------------------------------------------------------- the cases

# Each case: (group, id, argv, words). In argv, '{in}' is the inputs folder and '{w}' the case's work folder, which
# already holds existing.txt, existing/keep.txt and readonly/keep.txt (a folder without write permission).
CASES = []


def case(group, name, argv, *words, needs_non_root=False):
    CASES.append(pytest.param(argv, words, id=f'{group}-{name}', marks=[pytest.mark.skipif(not READ_ONLY_HOLDS, reason='this user writes into read-only folders (root)')] if needs_non_root else []))


def out_cases(group, make, suffix=''):
    "The output-path cases of a command: `make(out)` -> argv; `suffix` is the file type it writes ('' for a folder)."
    case(group, 'out-parent-is-a-file', make('{w}/existing.txt/out' + suffix), 'existing.txt')
    case(group, 'out-in-readonly-folder', make('{w}/readonly/out' + suffix), 'readonly', needs_non_root=True)
    case(group, 'out-below-readonly-folder', make('{w}/readonly/sub/out' + suffix), 'readonly', needs_non_root=True)
    if suffix: case(group, 'out-is-an-existing-folder', make('{w}/existing'), 'existing')
    else: case(group, 'out-is-an-existing-file', make('{w}/existing.txt'), 'existing.txt')
    case(group, 'out-nul-byte', make('{w}/bad\0out' + suffix), 'out')


# --- stage: everything checked before papermill starts a kernel
STAGE = ['stage', 'synthesize']
for k, v in HOSTILE.items(): case('stage', f'name-{k}', ['stage', v], 'stage name' if k != 'long' else 'stage name')
case('stage', 'name-unknown', ['stage', 'nosuch'], "no stage notebook for 'nosuch'")
case('stage', 'name-ansi-unknown', ['stage', 'no\x1b[31msuch'], 'stage name')
for k, v in HOSTILE.items():
    if k not in ('dot',): case('stage', f'tag-{k}', [*STAGE, '--tag', v], '--tag')
case('stage', 'set-no-equals', [*STAGE, '--set', 'seed'], '--set expects key=value')
case('stage', 'set-empty-key', [*STAGE, '--set', '=3'], '--set expects key=value')
case('stage', 'set-yaml-error', [*STAGE, '--set', 'seed=[1'], '--set seed')
case('stage', 'set-yaml-tab', [*STAGE, '--set', 'seed=a: b: c'], '--set seed')
case('stage', 'set-unknown-key', [*STAGE, '--set', 'colour=red'], 'colour', 'not a parameter')
case('stage', 'set-hostile-key', [*STAGE, '--set', 'a\x1b[2Jb=1'], 'not a parameter')
case('stage', 'set-wrong-type', [*STAGE, '--set', 'seed=abc'], 'seed must be int')
case('stage', 'set-float-for-int', [*STAGE, '--set', 'seed=1.5'], 'seed must be int')
case('stage', 'set-list-for-int', [*STAGE, '--set', 'seed=[1, 2]'], 'seed must be int')
case('stage', 'section-unknown', [*STAGE, '--sections', 'nosuch'], "no section 'nosuch'")
case('stage', 'section-hostile', [*STAGE, '--sections', '../x'], 'section')
case('stage', 'no-name', ['stage'], 'name')

# --- weights convert
def convert(h5='{in}/s.h5', out='{w}/out.pt', *extra): return ['weights', 'convert', '--h5', h5, '--size', 'S', '--out', out, *extra]
for name, words in {'truncated': ['truncated.h5'], 'zeros': ['zeros.h5', 'not an HDF5 file'], 'text': ['text.h5', 'not an HDF5 file'],
                    'empty': ['empty.h5'], 'other': ['other.h5', 'not PAT Keras weights'], 'sparse': ['sparse.h5', 'junk/huge:0'],
                    'huge_kernel': ['huge_kernel.h5', 'dense/dense/kernel:0'], 'q1d': ['q1d.h5', 'query/kernel:0'],
                    'q0d': ['q0d.h5', 'dense/dense/kernel:0'], 'nan': ['nan.h5', 'not finite'], 'inf': ['inf.h5', 'not finite'],
                    'int': ['int.h5', 'float'], 'text_ds': ['text_ds.h5', 'dense/dense/bias:0'], 'extra': ['extra.h5', 'extra/extra/kernel:0'],
                    'missing': ['missing.h5', 'missing']}.items():
    case('convert', f'h5-{name}', convert(f'{{in}}/{name}.h5'), *words)
case('convert', 'h5-absent', convert('{in}/absent.h5'), 'absent.h5: no such file')
case('convert', 'h5-is-a-folder', convert('{in}/empty_dir'), 'empty_dir')
case('convert', 'h5-is-a-pt', convert('{in}/enc.pt'), 'enc.pt', 'not an HDF5 file')
for k, v in NASTY_NAMES.items(): case('convert', f'h5-name-{k}', convert(f'{{in}}/{v}.h5'), 'name.h5')
case('convert', 'wrong-size', ['weights', 'convert', '--h5', '{in}/s.h5', '--size', 'L', '--out', '{w}/o.pt'], 'looks like PAT-S')
case('convert', 'wrong-conv', ['weights', 'convert', '--h5', '{in}/s.h5', '--size', 'S', '--conv', '--out', '{w}/o.pt'], 'conv1d_patch_embedding')
case('convert', 'size-unknown', ['weights', 'convert', '--h5', '{in}/s.h5', '--size', 'XL', '--out', '{w}/o.pt'], '--size')
case('convert', 'size-missing', ['weights', 'convert', '--h5', '{in}/s.h5', '--out', '{w}/o.pt'], '--size')
case('convert', 'out-is-the-input', convert('{in}/s.h5', '{in}/s.h5'), 's.h5')
case('convert', 'no-action', ['weights'], 'ACTION')
case('convert', 'unknown-action', ['weights', 'shred'], 'shred')
out_cases('convert', lambda out: convert('{in}/s.h5', out), '.pt')

# --- pat embed
def embed(weights='{in}/cls.pt', x='{in}/weeks.npy', out='{w}/o.npz', *extra):
    return ['pat', 'embed', '--weights', weights, '--input', x, '--output', out, '--device', 'cpu', *extra]
for name, words in {'nan': ['nan.pt', 'not finite'], 'inf': ['inf.pt', 'not finite'], 'cfg_huge_embed': ['embed_dim 200,000'],
                    'cfg_huge_layers': ['num_layers'], 'cfg_huge_input': ['input_size'], 'cfg_huge_heads': ['num_heads'],
                    'cfg_tiny_patch': ['input_size'], 'cfg_neg_dim': ['embed_dim'], 'cfg_str_dim': ['embed_dim'], 'cfg_bool_conv': ['conv'],
                    'cfg_bad_dropout': ['dropout'], 'cfg_odd_dim': ['embed_dim'], 'cfg_extra_key': ['colour'], 'cfg_kind': ['resnet'],
                    'no_config': ['not a big_mood PAT model'], 'wrong_shapes': ['do not fit'],
                    'tensor': ['not a big_mood PAT model'], 'list': ['not a big_mood PAT model'], 'truncated': ['truncated.pt'],
                    'zeros': ['zeros.pt'], 'empty': ['empty.pt'], 'text': ['text.pt'], 'pickle': ['pickle.pt']}.items():
    case('embed', f'weights-{name}', embed(f'{{in}}/{name}.pt'), *words)
case('embed', 'weights-absent', embed('{in}/absent.pt'), 'absent.pt')
case('embed', 'weights-is-h5', embed('{in}/s.h5'), 's.h5')
case('embed', 'weights-is-folder', embed('{in}/empty_dir'), 'empty_dir')
for name, words in {'big64': ['big64.npy', 'float32'], 'nan': ['nan.npy', 'row 1'], 'inf': ['inf.npy', 'row 0'],
                    'short': ['(2, 1440)'], 'transposed': ['transposed'], 'flat': ['(10080,)'], 'cube': ['(1, 2, 10080)'],
                    'none': ['(0, 10080)'], 'scalar': ['scalar.npy'], 'text': ['text.npy'], 'bools': ['bools.npy'],
                    'complex': ['complex.npy'], 'object': ['object.npy'], 'claims_huge': ['claims_huge.npy'],
                    'claims_more': ['claims_more.npy'], 'claims_negative': ['claims_negative.npy'], 'truncated': ['truncated.npy'],
                    'zeros': ['zeros.npy'], 'empty': ['empty.npy'], 'text_file': ['text_file.npy']}.items():
    case('embed', f'input-{name}', embed(x=f'{{in}}/{name}.npy'), *words)
case('embed', 'input-npz', embed(x='{in}/arrays.npz'), 'arrays.npz')
case('embed', 'input-absent', embed(x='{in}/absent.npy'), 'absent.npy: no such file')
case('embed', 'input-folder', embed(x='{in}/empty_dir'), 'empty_dir')
for k, v in NASTY_NAMES.items(): case('embed', f'input-name-{k}', embed(x=f'{{in}}/{v}.npy'), 'name.npy')
for v in ('0', '-3', 'nan', 'inf', '1.5', 'x', '1e9', ''):
    case('embed', f'batch-size-{v or "empty"}', embed('{in}/cls.pt', '{in}/weeks.npy', '{w}/o.npz', '--batch-size', v), '--batch-size')
case('embed', 'batch-size-huge', embed('{in}/cls.pt', '{in}/weeks.npy', '{w}/o.npz', '--batch-size', '100000000'), 'batch_size 100,000,000')
for v in ('tpu', 'cuda:x', '', 'cuda:99'):
    case('embed', f'device-{v or "empty"}', ['pat', 'embed', '--weights', '{in}/cls.pt', '--input', '{in}/weeks.npy', '--output', '{w}/o.npz', '--device', v], 'device')
case('embed', 'precision-fp8', embed('{in}/cls.pt', '{in}/weeks.npy', '{w}/o.npz', '--precision', 'fp8'), '--precision')
case('embed', 'output-not-npz', embed(out='{w}/o.npy'), 'o.npy', '.npz')
case('embed', 'output-hostile-suffix', embed(out='{w}/o.npz\n'), '.npz')
out_cases('embed', lambda out: embed(out=out), '.npz')

# --- features
def features(sleep='{in}/sleep.csv', out='{w}/f.csv', *extra): return ['features', '--sleep', sleep, '--out', out, *extra]
for name, words in {'missing_col': ['minutes_awake'], 'bad_date': ['line 2', 'yesterday'], 'after_2262': ['line 2', '2263'],
                    'before_1677': ['line 2', '1600'], 'year_9999': ['9999'], 'ten_years': ['line 15'], 'centuries_apart': ['2200'],
                    'end_before_start': ['line 2'], 'negative': ['line 2', 'minutes_sleep'], 'text_number': ['line 2', 'lots'],
                    'nan_number': ['line 2', 'minutes_sleep'], 'inf_number': ['line 2', 'time_in_bed'], 'huge_number': ['line 2', 'minutes_awake'],
                    'sleep_exceeds': ['line 2', 'minutes_sleep'], 'bed_mismatch': ['line 2', 'time_in_bed'], 'overlap': ['overlaps'],
                    'mixed_offsets': ['sleep_start', 'UTC offsets'], 'tz_change': ['UTC offset changes'], 'empty_rows': ['no sleep episodes'],
                    'hostile_date': ['line 2'], 'binary': ['sleep_binary.csv'], 'latin1': ['sleep_latin1.csv'], 'empty': ['sleep_empty.csv'],
                    'quote': ['sleep_quote.csv'], '3days': ['3 day(s)', 'min_days']}.items():
    case('features', f'sleep-{name}', features(f'{{in}}/sleep_{name}.csv'), *words)
case('features', 'sleep-absent', features('{in}/absent.csv'), 'absent.csv')
case('features', 'sleep-folder', features('{in}/empty_dir'), 'empty_dir')
case('features', 'sleep-is-npy', features('{in}/weeks.npy'), 'weeks.npy')
for k, v in NASTY_NAMES.items(): case('features', f'sleep-name-{k}', features(f'{{in}}/{v}.csv'), 'name.csv')
for v in ('0', '-1', 'x', '2.5', 'nan', ''): case('features', f'min-days-{v or "empty"}', features('{in}/sleep.csv', '{w}/f.csv', '--min-days', v), '--min-days')
case('features', 'min-days-more-than-data', features('{in}/sleep.csv', '{w}/f.csv', '--min-days', '1000000000'), 'min_days')
case('features', 'overlap-choice', features('{in}/sleep.csv', '{w}/f.csv', '--overlap', 'ignore'), '--overlap')
case('features', 'tz-change-choice', features('{in}/sleep.csv', '{w}/f.csv', '--tz-change', 'utc'), '--tz-change')
case('features', 'out-is-the-input', features('{in}/sleep.csv', '{in}/sleep.csv'), 'sleep.csv')
out_cases('features', lambda out: features(out=out), '.csv')

# --- xgb import-pickle
def imp(pkl='{in}/XGBoost_DE.pkl', out='{w}/models', *extra): return ['xgb', 'import-pickle', pkl, '--allow-pickle', '--out', out, *extra]
case('xgb', 'no-opt-in', ['xgb', 'import-pickle', '{in}/XGBoost_DE.pkl', '--out', '{w}/models'], '--allow-pickle')
case('xgb', 'no-opt-in-code', ['xgb', 'import-pickle', '{in}/runs_code.pkl', '--out', '{w}/models'], '--allow-pickle')
for name, words in {'runs_code': ['runs_code.pkl', 'refused'], 'eval': ['eval.pkl', 'builtins.eval'], 'list': ['holds a builtins.list'],
                    'dict': ['holds a builtins.dict'], 'five_features': ['five_features.pkl', 'features'], 'truncated': ['truncated.pkl'],
                    'zeros': ['zeros.pkl'], 'empty': ['empty.pkl'], 'text': ['text.pkl'], 'bad name!': ['model name'],
                    '.hidden': ['model name']}.items():
    case('xgb', f'pickle-{name.replace(" ", "_").replace("!", "")}', imp(f'{{in}}/{name}.pkl'), *words)
case('xgb', 'pickle-absent', imp('{in}/absent.pkl'), 'absent.pkl')
case('xgb', 'pickle-folder', imp('{in}/empty_dir'), 'empty_dir')
case('xgb', 'pickle-is-pt', imp('{in}/enc.pt'), 'enc.pt')
for k, v in NASTY_NAMES.items(): case('xgb', f'pickle-name-{k}', imp(f'{{in}}/{v}.pkl'), 'name')
for name, words in {'reversed': ['features_reversed.csv', 'another order'], '35': ['features_35.csv', 'missing'],
                    'extra': ['features_extra.csv', 'unexpected extra'], 'text': ['features_text.csv', FEATURE_NAMES[3]],
                    'inf': ['infinite'], 'no_date': ['features_no_date.csv'], 'empty': ['features_empty.csv'],
                    'binary': ['features_binary.csv'], 'blank': ['features_blank.csv']}.items():
    case('xgb', f'features-{name}', imp('{in}/XGBoost_DE.pkl', '{w}/models', '--features', f'{{in}}/features_{name}.csv'), *words)
case('xgb', 'features-absent', imp('{in}/XGBoost_DE.pkl', '{w}/models', '--features', '{in}/absent.csv'), 'absent.csv')
case('xgb', 'features-folder', imp('{in}/XGBoost_DE.pkl', '{w}/models', '--features', '{in}/empty_dir'), 'empty_dir')
case('xgb', 'features-is-npy', imp('{in}/XGBoost_DE.pkl', '{w}/models', '--features', '{in}/weeks.npy'), 'weeks.npy')
out_cases('xgb', lambda out: imp(out=out))

# --- nhanes synth
def synth(out='{w}/raw', *extra): return ['nhanes', 'synth', '--out', out, '--cycles', 'G', '--pretrain-participants', '2', *extra]
for opt in ('--participants', '--pretrain-participants'):
    for v in ('0', '-1', '1e9', 'x', '2.5', 'nan', '100001', '1000000000'):
        case('synth', f'{opt[2:]}-{v}', [*synth(), opt, v], opt.lstrip('-').replace('-', '_') if v in ('100001', '1000000000') else opt)
for v in ('-1', 'x', '1.5', '99999999999999999999999'): case('synth', f'seed-{v[:8]}', synth('{w}/raw', '--seed', v), 'seed')
case('synth', 'cycles-unknown', synth('{w}/raw', '--cycles', 'E'), '--cycles')
case('synth', 'cycles-hostile', synth('{w}/raw', '--cycles', 'G\x1b[2J'), '--cycles')
out_cases('synth', lambda out: synth(out))
case('synth', 'out-existing-folder-of-other-files', synth('{w}/existing'), 'existing')

# --- nhanes weeks
def weeks_cmd(raw='{in}/raw', out='{w}/processed', *extra): return ['nhanes', 'weeks', '--raw', raw, '--out', out, *extra]
for name, words in {'paxmin_truncated': ['PAXMIN_H.xpt', 'truncated'], 'paxmin_cut_record': ['PAXMIN_H.xpt'],
                    'paxmin_zero_tail': ['PAXMIN_H.xpt', 'zero-filled'], 'paxraw_zero_tail': ['PAXRAW_C.xpt', 'zero-filled'],
                    'paxraw_truncated': ['PAXRAW_C.xpt', 'truncated'], 'paxmin_text': ['PAXMIN_H.xpt'], 'paxmin_empty': ['PAXMIN_H.xpt'],
                    'paxmin_is_demo': ['PAXMIN_H.xpt', 'missing variable'], 'paxhd_missing': ['PAXHD_H'], 'paxday_missing': ['PAXDAY_H'],
                    'demo_missing': ['DEMO_H'], 'dpq_text': ['DPQ_H.xpt'], 'paxmin_swapped': ['PAXMIN_H.xpt', 'out of order'],
                    'paxmin_duplicate': ['PAXMIN_H.xpt'], 'paxmin_ssn_odd': ['PAXSSNMP'], 'paxmin_unknown_seqn': ['99999999'],
                    'paxmin_dir': ['PAXMIN_H'], 'paxraw_seqn_zero': ['PAXRAW_C.xpt'], 'paxraw_minute_mismatch': ['PAXRAW_C.xpt', 'PAXHOUR'],
                    'zip_only': ['unzip'], 'empty': ['no PAXMIN_G/H or PAXRAW_C/D'], 'not_a_folder': ['not_a_folder']}.items():
    case('weeks', f'raw-{name}', weeks_cmd(f'{{in}}/raws/{name}'), *words)
case('weeks', 'raw-absent', weeks_cmd('{in}/absent'), 'absent')
case('weeks', 'raw-hostile-name', weeks_cmd('{in}/ab\x1b[2Jsent\n'), 'no such folder')
case('weeks', 'cycles-not-in-folder', weeks_cmd('{in}/raw', '{w}/processed', '--cycles', 'G'), 'PAXHD_G')
case('weeks', 'cycles-unknown', weeks_cmd('{in}/raw', '{w}/processed', '--cycles', 'E'), '--cycles')
case('weeks', 'label-cycle-not-read', weeks_cmd('{in}/raw', '{w}/processed', '--cycles', 'H', '--label-cycle', 'C'), 'label_cycle')
case('weeks', 'label-cycle-without-labels', weeks_cmd('{in}/raw', '{w}/processed', '--label-cycle', 'C'), 'RXQ_RX_C')
case('weeks', 'label-cycle-unknown', weeks_cmd('{in}/raw', '{w}/processed', '--label-cycle', 'Z'), '--label-cycle')
for v in ('-1', 'x', '1e3'): case('weeks', f'seed-{v}', weeks_cmd('{in}/raw', '{w}/processed', '--seed', v), 'seed')
case('weeks', 'out-is-the-raw-folder', weeks_cmd('{in}/raw', '{in}/raw'), 'raw')
out_cases('weeks', lambda out: weeks_cmd('{in}/raw', out))
case('weeks', 'out-existing-folder-of-other-files', weeks_cmd('{in}/raw', '{w}/existing'), 'existing')

# --- pretrain
def pretrain(weeks='{in}/weeks/toy.parquet', out='{w}/run', *extra):
    return ['pretrain', '--weeks', weeks, '--out', out, '--epochs', '1', '--batch-size', '4', '--device', 'cpu', *extra]
for name, words in {'weeks/absent.parquet': ['absent.parquet'], 'not_weeks.parquet': ['not_weeks.parquet', 'not a week table'],
                    'truncated.parquet': ['truncated.parquet'], 'zeros.parquet': ['zeros.parquet'], 'text.parquet': ['text.parquet'],
                    'one_person.parquet': ['2 participants'], 'nan_weeks.parquet': ['nan_weeks.parquet', 'not finite'],
                    'empty_dir': ['empty_dir'], 'weeks.npy': ['weeks.npy'], 'labels.parquet': ['labels.parquet', 'not a week table']}.items():
    case('pretrain', f'weeks-{name.split("/")[-1].split(".")[0]}', pretrain(f'{{in}}/{name}'), *words)
for k, v in NASTY_NAMES.items(): case('pretrain', f'weeks-name-{k}', pretrain(f'{{in}}/{v}.parquet'), 'name.parquet')
case('pretrain', 'cohorts-unknown', pretrain('{in}/weeks/toy.parquet', '{w}/run', '--cohorts', 'nosuch'), 'nosuch', 'toy')
case('pretrain', 'cohorts-hostile', pretrain('{in}/weeks/toy.parquet', '{w}/run', '--cohorts', 'a\nb'), 'toy')
for opt, values in {'--lr': ('nan', '-1', '0', 'inf', 'x', '-inf'), '--epochs': ('0', '-1', '1e9', 'x', '2.5'),
                    '--batch-size': ('0', '-3', 'x', '1.5'), '--patience': ('0', '-2'), '--plateau-patience': ('0',),
                    '--max-weeks': ('0', '-1'), '--val-frac': ('-1', '0', '1', '2', 'nan', 'x'), '--mask-ratio': ('0', '1', '1.5', 'nan', '-0.5'),
                    '--min-lr': ('-1', 'nan', '0.5', 'x'), '--seed': ('-1', 'x', '1.5', str(2 ** 70)), '--size': ('XL',),
                    '--standardize': ('none',), '--ordering': ('random',), '--device': ('tpu', 'cuda:x', 'cuda:99', '')}.items():
    for v in values:
        field = opt[2:].replace('-', '_')
        case('pretrain', f'{opt[2:]}-{v[:8] or "empty"}', [*pretrain(), opt, v], field if opt in ('--val-frac', '--mask-ratio', '--min-lr', '--device', '--seed') and v != 'x' and (v, opt) != ('1.5', '--seed') else opt)
case('pretrain', 'out-is-the-weeks-file', pretrain('{in}/weeks/toy.parquet', '{in}/weeks/toy.parquet'), 'toy.parquet')
out_cases('pretrain', lambda out: pretrain(out=out))

# --- ft-task
def ft(label='PHQ9>=10', *extra, out='{w}/ft', pretrained='{in}/enc.pt', dataset='{in}/weeks/toy.parquet'):
    return ['ft-task', '--pretrained', pretrained, '--dataset', dataset, '--label', label, '--out', out, '--epochs', '1', '--device', 'cpu', *extra]
for name, expr, words in [
        ('divide-by-zero', 'phq9 / 0 >= 1', ['division by zero']), ('and-number', 'phq9 >= 10 and age', ['age', 'condition']),
        ('or-number', 'age or phq9 >= 10', ['age', 'condition']), ('not-number', 'not age', ['condition']),
        ('nested-not', 'not ' * 2000 + 'phq9 >= 10', ['too']), ('nested-parens', '(' * 500 + 'phq9' + ')' * 500 + ' >= 10', ['label expression']),
        ('long', 'phq9 + ' * 2000 + 'phq9 >= 10', ['too long']),
        ('call', "__import__('os').system('touch PWNED')", ['Call is not allowed']), ('attribute', 'phq9.real >= 1', ['Attribute']),
        ('lambda', '(lambda: 1)() >= 1', ['not allowed']), ('subscript', 'phq9[0] >= 1', ['Subscript']), ('string', "'a' == 'a'", ['Constant']),
        ('true', 'True', ['Constant']), ('number', '10', ['condition']), ('column-only', 'phq9', ['condition']),
        ('chain', '1 < phq9 < 5', ['Compare']), ('syntax', 'phq9 >=', ['not valid']), ('empty', '', ['label expression']),
        ('unknown-column', 'phq8 >= 10', ["no column 'phq8'"]), ('text-column', 'note >= 1', ['note', 'not numeric']),
        ('all-missing', 'empty >= 1', ['empty']), ('no-positives', 'phq9 >= 100', ['0 positives']), ('walrus', '(x := 1) >= 1', ['not allowed']),
        ('starred', '*phq9 >= 1', ['not valid']), ('in', 'phq9 in (1, 2)', ['not allowed']), ('is', 'phq9 is None', ['not allowed']),
        ('huge-constant', 'phq9 >= 1e400', ['finite']), ('power-overflow', 'phq9 ** 1000 >= 1', ['finite']),
        ('hostile', 'phq9\x1b[2J >= 1', ['label expression']), ('newline', 'phq9 >= 1\nor 1', ['label expression']),
        ('bitnot-number', '~phq9 >= 1', ['condition']), ('modulo-zero', 'phq9 % 0 >= 1', ['not allowed'])]:
    case('ft-task', f'label-{name}', ft(expr), *words)
for v, words in (('nosuch.parquet', ['nosuch.parquet']), ('labels_no_id.parquet', ['id']), ('labels_other_ids.parquet', ['toy.parquet']),
                 ('labels_only_id.parquet', ["no column 'PHQ9'"]), ('labels.csv', ['labels.csv']), ('truncated.parquet', ['truncated.parquet']),
                 ('zeros.parquet', ['zeros.parquet']), ('empty_dir', ['empty_dir'])):
    case('ft-task', f'labels-{v.split(".")[0]}', ft('PHQ9>=10', '--labels', f'{{in}}/{v}'), *words)
for name, words in {'nan': ['not finite'], 'inf': ['not finite'], 'cfg_huge_embed': ['embed_dim'], 'truncated': ['truncated.pt'],
                    'text': ['text.pt'], 'absent': ['absent.pt'], 'pickle': ['pickle.pt'], 'tensor': ['tensor.pt']}.items():
    case('ft-task', f'pretrained-{name}', ft(pretrained=f'{{in}}/{name}.pt'), *words)
for name, words in {'absent.parquet': ['absent.parquet'], 'not_weeks.parquet': ['not a week table'], 'text.parquet': ['text.parquet'],
                    'nan_weeks.parquet': ['not finite']}.items():
    case('ft-task', f'dataset-{name.split(".")[0]}', ft('PHQ9>=10', '--labels', '{in}/labels.parquet', dataset=f'{{in}}/{name}'), *words)
for opt, values in {'--lr': ('nan', '-1', '0'), '--epochs': ('0', '-1'), '--batch-size': ('0', '-3'), '--patience': ('0',),
                    '--warmup-epochs': ('-1', 'x'), '--lora-r': ('0', '-1'), '--lora-alpha': ('0',), '--test-frac': ('-1', '0', '1', 'nan'),
                    '--val-frac': ('-1', '1', 'nan'), '--seed': ('-1', 'x'), '--mode': ('half',), '--standardize': ('none',),
                    '--device': ('tpu',)}.items():
    for v in values:
        field = opt[2:].replace('-', '_')
        case('ft-task', f'{opt[2:]}-{v}', ft('PHQ9>=10', opt, v), field if opt in ('--test-frac', '--val-frac', '--warmup-epochs', '--device', '--seed') and v != 'x' else opt)
for k, v in HOSTILE.items(): case('ft-task', f'name-{k}', ft('PHQ9>=10', '--name', v), 'task')
case('ft-task', 'out-is-the-dataset-folder', ft(out='{in}/weeks', dataset='{in}/weeks'), 'weeks')
out_cases('ft-task', lambda out: ft(out=out))

# --- apple read
def apple(export='{in}/export_no_records.xml', out='{w}/apple', *extra): return ['apple', 'read', '--export', export, '--out', out, '--quiet', *extra]
for name, words in {'text.zip': ['export_text.zip'], 'no_xml.zip': ['export_no_xml.zip'], 'truncated.xml': ['export_truncated.xml'],
                    'bomb.xml': ['export_bomb.xml'], 'external.xml': ['export_external.xml'], 'empty.xml': ['export_empty.xml'],
                    'other.xml': ['export_other.xml'], 'no_records.xml': ['export_no_records.xml'], 'binary.xml': ['export_binary.xml']}.items():
    case('apple', f'export-{name.replace(".", "-")}', apple(f'{{in}}/export_{name}'), *words)
case('apple', 'export-absent', apple('{in}/absent.zip'), 'absent.zip')
case('apple', 'export-folder', apple('{in}/empty_dir'), 'empty_dir')
case('apple', 'export-is-npy', apple('{in}/weeks.npy'), 'weeks.npy')
for k, v in NASTY_NAMES.items(): case('apple', f'export-name-{k}', apple(f'{{in}}/{v}.zip'), 'name.zip')
for opt, values in {'--tz': ('Mars/Olympus', '../../etc/localtime'), '--start': ('yesterday', '2024-13-01'),
                    '--end': ('tomorrow', '9999-99-99'), '--workers': ('0', '-1', 'x', '100000')}.items():
    for v in values: case('apple', f'{opt[2:]}-{v.replace("/", "_") or "empty"}', apple('{in}/export_no_records.xml', '{w}/apple', opt, v), opt[2:])
case('apple', 'end-before-start', apple('{in}/export_no_records.xml', '{w}/apple', '--start', '2024-02-01', '--end', '2024-01-01'), 'end')
case('apple', 'out-existing-folder-of-other-files', apple(out='{w}/existing'), 'existing')
out_cases('apple', lambda out: apple(out=out))

# --- sleep score
def score(activity='{in}/activity.csv', out='{w}/sleep.csv', *extra): return ['sleep', 'score', '--activity', activity, '--out', out, *extra]
for name, words in {'negative': ['line 2', 'activity'], 'text': ['line 2', 'lots'], 'nan': ['line 2', 'activity'], 'inf': ['line 2', 'activity'],
                    'seconds': ['whole minutes'], 'bad_time': ['line 2', 'noon'], 'no_rows': ['no rows'], 'missing_col': ['activity'],
                    'after_2262': ['2263'], 'centuries': ['2200'], 'huge': ['line 2', 'activity'], 'one_row': ['activity_one_row.csv'],
                    'binary': ['activity_binary.csv']}.items():
    case('sleep', f'activity-{name}', score(f'{{in}}/activity_{name}.csv'), *words)
case('sleep', 'activity-absent', score('{in}/absent.csv'), 'absent.csv')
case('sleep', 'activity-folder', score('{in}/empty_dir'), 'empty_dir')
case('sleep', 'activity-is-npy', score('{in}/weeks.npy'), 'weeks.npy')
for v in ('0', '-1', 'x'):
    case('sleep', f'flip-minutes-{v}', score('{in}/activity.csv', '{w}/sleep.csv', '--flip-minutes', v), '--flip-minutes')
    case('sleep', f'merge-minutes-{v}', score('{in}/activity.csv', '{w}/sleep.csv', '--merge-minutes', v), '--merge-minutes')
case('sleep', 'method-unknown', score('{in}/activity.csv', '{w}/sleep.csv', '--method', 'guess'), '--method')
case('sleep', 'out-is-the-input', score('{in}/activity.csv', '{in}/activity.csv'), 'activity.csv')
out_cases('sleep', lambda out: score(out=out), '.csv')

# --- xgb predict
def predict(models='{in}/population/xgb', feats='{in}/features.csv', out='{w}/risk.csv'):
    return ['xgb', 'predict', '--models', models, '--features', feats, '--out', out]
for name, words in {'pop_empty': ['no XGBoost_DE/ME/HME.json'], 'xgb_changed': ['XGBoost_DE.json'], 'absent': ['absent'], 'raw': ['no XGBoost'],
                    'features.csv': ['features.csv']}.items():
    case('xgb', f'predict-models-{name.split(".")[0]}', predict(f'{{in}}/{name}'), *words)
for name, words in {'reversed': ['another order'], '35': ['missing'], 'text': [FEATURE_NAMES[3]], 'inf': ['infinite'], 'empty': ['no rows'],
                    'binary': ['features_binary.csv'], 'blank': ['features_blank.csv'], 'no_date': ['features_no_date.csv']}.items():
    case('xgb', f'predict-features-{name}', predict(feats=f'{{in}}/features_{name}.csv'), *words)
case('xgb', 'predict-features-absent', predict(feats='{in}/absent.csv'), 'absent.csv')
case('xgb', 'predict-out-is-the-features', predict(out='{in}/features.csv'), 'features.csv')
out_cases('xgb-predict', lambda out: predict(out=out), '.csv')

# --- drift
def drift(ref='{in}/days.csv', cur='{in}/days.parquet', *extra): return ['drift', '--reference', ref, '--current', cur, *extra]
for name, words in {'days_text.csv': ['numeric'], 'days_binary.csv': ['days_binary.csv'], 'days_truncated.parquet': ['days_truncated.parquet'],
                    'days.txt': ['.csv or .parquet'], 'absent.csv': ['absent.csv'], 'empty_dir': ['empty_dir'], 'days_empty.csv': ['days_empty.csv']}.items():
    case('drift', f'reference-{name.replace(".", "-")}', drift(f'{{in}}/{name}'), *words)
    case('drift', f'current-{name.replace(".", "-")}', drift('{in}/days.csv', f'{{in}}/{name}'), *words)
for opt, values in {'--alpha': ('0', '2', 'nan', '-1'), '--psi-min': ('-1', 'nan', 'inf', 'x'), '--n-bins': ('0', '1', 'x'), '--min-n': ('0', '1', 'x')}.items():
    for v in values:
        argparse_refuses = v == 'x' or (opt != '--psi-min' and (v in ('0', '-1', 'nan') or opt == '--alpha' and v == 'inf'))
        case('drift', f'{opt[2:]}-{v}', drift('{in}/days.csv', '{in}/days.parquet', opt, v), opt if argparse_refuses else opt[2:].replace('-', '_'))
case('drift', 'columns-unknown', drift('{in}/days.csv', '{in}/days.parquet', '--columns', 'nosuch'), 'nosuch')
case('drift', 'columns-hostile', drift('{in}/days.csv', '{in}/days.parquet', '--columns', 'a\nb'), 'a\\nb')
out_cases('drift', lambda out: drift('{in}/days.csv', '{in}/days.parquet', '--out', out), '.csv')

# --- serve: everything checked before it listens (the runner refuses to start uvicorn)
def serve(*extra, models='{in}/population'): return ['serve', '--models', models, '--state', '{w}/state', *extra]
for v in ('0', '-1', 'x', '70000', '65536'): case('serve', f'port-{v}', serve('--port', v), 'port')
for opt in ('--workers', '--max-pending', '--job-workers', '--max-jobs'):
    for v in ('0', '-1', 'x'): case('serve', f'{opt[2:]}-{v}', serve(opt, v), opt)
for opt in ('--timeout', '--job-timeout', '--max-json-mb', '--max-upload-mb'):
    for v in ('0', 'nan', 'inf'): case('serve', f'{opt[2:]}-{v}', serve(opt, v), opt)
case('serve', 'max-json-mb-100', serve('--max-json-mb', '100'), 'max_json_mb')
case('serve', 'host-public-without-token', serve('--host', '0.0.0.0'), 'BIG_MOOD_TOKEN')
case('serve', 'host-hostile', serve('--host', 'a\nb'), 'host')
for name, words in {'absent': ['absent'], 'pop_empty': ['no PAT model'], 'pop_nan': ['not finite'], 'weeks.npy': ['weeks.npy']}.items():
    case('serve', f'models-{name.split(".")[0]}', serve(models=f'{{in}}/{name}'), *words)
case('serve', 'users-absent', serve('--users', '{in}/absent'), 'absent')
case('serve', 'users-is-a-file', serve('--users', '{in}/weeks.npy'), 'weeks.npy')
case('serve', 'state-is-a-file', ['serve', '--models', '{in}/population', '--state', '{w}/existing.txt'], 'existing.txt')
case('serve', 'state-in-readonly-folder', ['serve', '--models', '{in}/population', '--state', '{w}/readonly/state'], 'readonly', needs_non_root=True)

# --- eeg
def eeg_primary(participants='{in}/eeg/participants.csv', out='{w}/primary', *extra): return ['eeg', 'primary', '--participants', participants, '--out', out, *extra]
for name, words in {'missing_col': ['remission'], 'absent_file': ['nosuch.csv'], 'traversal': ['passwd'], 'remission_2': ['remission'],
                    'hostile_id': ['participant'], 'sfreq_negative': ['sfreq'], 'empty': ['participants_empty.csv'],
                    'text_file': ['notes.csv'], 'binary': ['participants_binary.csv']}.items():
    case('eeg', f'primary-participants-{name}', eeg_primary(f'{{in}}/eeg/participants_{name}.csv'), *words)
case('eeg', 'primary-participants-absent', eeg_primary('{in}/absent.csv'), 'absent.csv')
case('eeg', 'primary-config-absent', eeg_primary('{in}/eeg/participants.csv', '{w}/primary', '--config', '{in}/absent.yaml'), 'absent.yaml')
case('eeg', 'primary-config-bad-yaml', eeg_primary('{in}/eeg/participants.csv', '{w}/primary', '--config', '{in}/config_bad.yaml'), 'config_bad.yaml')
case('eeg', 'primary-config-unknown-key', eeg_primary('{in}/eeg/participants.csv', '{w}/primary', '--config', '{in}/config_unknown.yaml'), 'colour')
case('eeg', 'primary-config-no-section', eeg_primary('{in}/eeg/participants.csv', '{w}/primary', '--config', '{in}/config_unknown.yaml', '--section', 'nosuch'), 'nosuch')
out_cases('eeg-primary', lambda out: eeg_primary(out=out))
def eeg_synth(out='{w}/cohort', *extra): return ['eeg', 'synth', '--out', out, '--participants', '2', '--seconds', '20', *extra]
for opt, values in {'--participants': ('0', '-1', 'x', '1000000000'), '--seconds': ('0', 'nan', 'inf', '1e9'), '--sessions': ('0', 'x', '1000000'),
                    '--seed': ('-1', 'x')}.items():
    for v in values: case('eeg', f'synth{opt}-{v}', [*eeg_synth(), opt, v], opt if v in ('0', '-1', 'x', 'nan', 'inf') and opt != '--seed' or v == 'x' else '')
out_cases('eeg-synth', lambda out: eeg_synth(out))
def muse_table(out='{w}/muse.csv', *extra): return ['eeg', 'muse-table', '--out', out, *extra]
case('eeg', 'muse-table-dir-absent', muse_table('{w}/muse.csv', '--muse-dir', '{in}/absent'), 'absent')
case('eeg', 'muse-table-dir-is-a-file', muse_table('{w}/muse.csv', '--muse-dir', '{in}/weeks.npy'), 'weeks.npy')
case('eeg', 'muse-table-dir-empty', muse_table('{w}/muse.csv', '--muse-dir', '{in}/empty_dir'), 'empty_dir')
case('eeg', 'muse-table-task-unknown', muse_table('{w}/muse.csv', '--tasks', 'dream'), '--tasks')
out_cases('eeg-muse-table', lambda out: muse_table(out, '--muse-dir', '{in}/empty_dir'), '.csv')
for action in ('pretrain', 'finetune'):
    def train(*extra, action=action, primary='{in}/primary.parquet', models='{w}/eeg_models'):
        return ['eeg', action, '--primary', primary, '--models-dir', models, *(['--out', '{w}/ft'] if action == 'finetune' else []),
                '--epochs', '1', '--batch-size', '4', '--threads', '1', '--device', 'cpu', *extra]
    for name, words in {'absent.parquet': ['absent.parquet'], 'primary_truncated.parquet': ['primary_truncated.parquet'], 'weeks/toy.parquet': ['toy.parquet'],
                        'text.parquet': ['text.parquet'], 'weeks.npy': ['weeks.npy']}.items():
        case('eeg', f'{action}-primary-{name.split("/")[-1].split(".")[0]}', train(primary=f'{{in}}/{name}'), *words)
    opts = {'--mask-ratio': ('0', '1', '1.5', 'nan', '-0.1'), '--lr': ('nan', '0', '-1'), '--epochs': ('0', '-1'), '--batch-size': ('0',), '--patience': ('0',),
            '--val-frac': ('-1', '1', 'nan'), '--warmup-epochs': ('-1',), '--clip-grad-norm': ('-1', 'nan'), '--weight-decay': ('-1', 'nan'),
            '--threads': ('-1', '100000'), '--seed': ('-1',), '--device': ('tpu',), '--d-model': ('0', '-8'), '--num-layers': ('0',)}
    if action == 'pretrain': opts |= {'--patch-size': ('0', '-1', '7'), '--d-state': ('0',), '--headdim': ('0', '5'), '--chunk-size': ('0',)}
    else: opts |= {'--test-frac': ('-1', '0', '1', 'nan'), '--dropout': ('-0.1', '1', 'nan'), '--C': ('0', 'nan')}
    for opt, values in opts.items():
        for v in values:
            argparse_refuses = opt in ('--lr', '--epochs', '--batch-size', '--patience', '--C') and v in ('nan', '0', '-1')
            case('eeg', f'{action}{opt}-{v}', train(opt, v), opt if argparse_refuses else opt[2:].replace('-', '_').replace('d_state', 'd_state'))
    case('eeg', f'{action}-config-bad-yaml', train('--config', '{in}/config_bad.yaml'), 'config_bad.yaml')
    case('eeg', f'{action}-config-unknown-key', train('--config', '{in}/config_unknown.yaml'), 'colour')
    case('eeg', f'{action}-registry-is-a-folder', train('--registry', '{w}/existing'), 'existing')
    case('eeg', f'{action}-live-dir-is-a-file', train('--live-dir', '{w}/existing.txt'), 'existing.txt')
    case('eeg', f'{action}-models-dir-is-a-file', train(models='{w}/existing.txt'), 'existing.txt')
    case('eeg', f'{action}-models-dir-readonly', train(models='{w}/readonly/m'), 'readonly', needs_non_root=True)
case('eeg', 'finetune-models-dir-empty', ['eeg', 'finetune', '--primary', '{in}/primary.parquet', '--models-dir', '{in}/empty_dir', '--out', '{w}/ft', '--arms', 'pretrained'], 'empty_dir')
out_cases('eeg-finetune', lambda out: ['eeg', 'finetune', '--primary', '{in}/primary.parquet', '--models-dir', '{in}/empty_dir', '--out', out])

# --- models list
for name, words in {'registry_text.json': ['registry_text.json'], 'registry_no_models.json': ['registry_no_models.json'],
                    'registry_partial.json': ['registry_partial.json'], 'registry_list.json': ['registry_list.json'], 'empty_dir': ['empty_dir']}.items():
    case('models', f'list-registry-{name.split(".")[0]}', ['models', 'list', '--registry', f'{{in}}/{name}'], *words)
case('models', 'list-lineage-unknown', ['models', 'list', '--registry', '{in}/registry_ok.json', '--lineage', 'nosuch.pt'], 'nosuch.pt')
case('models', 'list-lineage-hostile', ['models', 'list', '--registry', '{in}/registry_ok.json', '--lineage', 'a\x1b[2Jb'], 'no model')

# --- calibrate and predict (the personal wing): everything checked before the export is read or a model trained
P = '{in}/personal'
def calibrate(*extra, episodes=f'{P}/episodes.csv', export=f'{P}/export.zip', output='{w}/users/u1', population=f'{P}/population'):
    return ['calibrate', '--episodes', episodes, '--export', export, '--output', output, '--population', population, '--epochs', '1', *extra]
def personal_predict(*extra, export=f'{P}/export.zip', model=f'{P}/user1', population=f'{P}/population'):
    return ['predict', '--export', export, *(['--model', model] if model else []), '--population', population, *extra]
EXPORTS = {f'{P}/export_truncated.zip': ['export_truncated.zip'], f'{P}/export_binary.zip': ['export_binary.zip'], '{in}/export_text.zip': ['export_text.zip'],
           '{in}/export_no_xml.zip': ['export_no_xml.zip'], '{in}/export_other.xml': ['export_other.xml'], '{in}/export_bomb.xml': ['export_bomb.xml'],
           '{in}/export_empty.xml': ['export_empty.xml'], '{in}/export_no_records.xml': ['export_no_records.xml'], '{in}/absent.zip': ['absent.zip'],
           '{in}/weeks.npy': ['weeks.npy'], '{in}/empty_dir': ['empty_dir']}
for export, words in EXPORTS.items():
    name = export.split('/')[-1].replace('.', '-')
    case('calibrate', f'export-{name}', calibrate(export=export), *words)
    case('predict', f'export-{name}', personal_predict(export=export), *words)
for name, words in {'unknown_type': ['line 2', 'sad'], 'end_before_start': ['line 2', 'before it starts'], 'overlap': ['lines 2 and 3', 'overlap'],
                    'hostile': ['line 2', 'type'], 'nan_date': ['line 2', 'start'], 'empty_date': ['line 2', 'start'], 'missing_col': ['type'],
                    'future': ['line 3', 'after the last day of data'], 'past': ['line 2', 'before the first day of data'], 'year_99999': ['line 2', 'end'],
                    'quote': ['episodes_quote.csv'], 'empty': ['episodes_empty.csv'], 'binary': ['episodes_binary.csv']}.items():
    case('calibrate', f'episodes-{name}', calibrate(episodes=f'{P}/episodes_{name}.csv'), *words)
case('calibrate', 'episodes-absent', calibrate(episodes='{in}/absent.csv'), 'absent.csv')
case('calibrate', 'episodes-folder', calibrate(episodes='{in}/empty_dir'), 'empty_dir')
for name, words in {'user_bad_json': ['metadata.json', 'not valid JSON'], 'user_not_personal': ['metadata.json', 'not a big_mood personal model'],
                    'user_schema': ['schema 999'], 'user_other_population': ['other population models'], 'user_adapter_changed': ['adapter.pt'],
                    'user_adapter_missing': ['adapter.pt'], 'user_adapter_pickle': ['adapter.pt'], 'user_no_metadata': ['user_no_metadata'],
                    'not_a_model': ['not_a_model']}.items():
    case('calibrate', f'output-{name}', calibrate(output=f'{P}/{name}', *(['--user-id', 'user1'] if name.startswith('user') else [])), *words)
    case('predict', f'model-{name}', personal_predict(model=f'{P}/{name}'), *words)
case('calibrate', 'output-other-user', calibrate('--user-id', 'someone', output=f'{P}/user1'), 'someone')
case('calibrate', 'output-existing-folder-of-other-files', calibrate(output='{w}/existing'), 'existing')
case('predict', 'model-absent', personal_predict(model='{in}/absent'), 'absent')
case('predict', 'model-is-a-file', personal_predict(model='{in}/weeks.npy'), 'weeks.npy')
for which, make in (('calibrate', lambda pop: calibrate(population=pop)), ('predict', lambda pop: personal_predict(population=pop))):
    case(which, 'population-absent', make('{in}/absent'), 'absent')
    case(which, 'population-empty', make('{in}/empty_dir'), 'empty_dir')
    case(which, 'population-is-a-file', make('{in}/weeks.npy'), 'weeks.npy')
    case(which, 'population-other', make('{in}/population'), 'population')
for k, v in HOSTILE.items():
    if k not in ('empty',): case('calibrate', f'user-id-{k}', calibrate('--user-id', v), 'user id')
for opt, values in {'--min-labeled-days': ('0', '-1', 'x'), '--baseline-window-days': ('0', '1', 'x'), '--min-baseline-days': ('0', '40'),
                    '--min-episode-days': ('0',), '--bottleneck': ('0', '-4'), '--adapter-dropout': ('-0.1', '1', 'nan', 'x'), '--batch-size': ('0', 'x'),
                    '--lr': ('nan', '-1', '0', 'inf'), '--epochs': ('0', '-1', '2.5'), '--lora-r': ('0',), '--lora-alpha': ('0',), '--adapter': ('half',),
                    '--workers': ('0', '100000'), '--seed': ('-1', 'x'), '--end': ('yesterday', '2022-13-01'), '--tz': ('Mars/Olympus', '../../etc/localtime')}.items():
    for v in values:
        field = opt[2:].replace('-', '_')
        argparse_refuses = v in ('x', '2.5') or (v in ('0', '-1', '-4', 'nan', 'inf') and opt not in ('--adapter-dropout', '--seed')) or opt == '--adapter'
        case('calibrate', f'{opt[2:]}-{v.replace("/", "_")}', calibrate(opt, v), opt if argparse_refuses else {'--baseline-window-days': 'baseline_window_days', '--end': 'end', '--tz': 'tz',
             '--workers': 'workers'}.get(opt, field))
for opt, values in {'--workers': ('0', '100000'), '--end': ('yesterday', '2022-13-01'), '--tz': ('Mars/Olympus',)}.items():
    for v in values: case('predict', f'{opt[2:]}-{v.replace("/", "_")}', personal_predict(opt, v), opt if v == '0' else opt[2:])
for name in ('unknown_type', 'end_before_start', 'overlap', 'binary'):
    case('predict', f'episodes-{name}', personal_predict('--report', '{w}/report.html', '--episodes', f'{P}/episodes_{name}.csv'), f'episodes_{name}.csv')
case('predict', 'episodes-absent', personal_predict('--report', '{w}/report.html', '--episodes', '{in}/absent.csv'), 'absent.csv')
case('predict', 'out-is-the-export', personal_predict('--out', f'{P}/export.zip'), '.csv')
case('predict', 'no-export', ['predict', '--population', f'{P}/population'], '--export')
case('calibrate', 'no-episodes', ['calibrate', '--export', f'{P}/export.zip', '--output', '{w}/u'], '--episodes')
out_cases('calibrate', lambda out: calibrate(output=out))
out_cases('predict-out', lambda out: personal_predict('--out', out), '.csv')
out_cases('predict-report', lambda out: personal_predict('--report', out), '.html')

# --- the parser itself
case('cli', 'no-command', [], 'COMMAND')
case('cli', 'unknown-command', ['shred'], 'shred')
case('cli', 'hostile-command', ['\x1b[2Jshred\n'], 'shred')
case('cli', 'unknown-option', ['features', '--sleep', '{in}/sleep.csv', '--out', '{w}/f.csv', '--colour', 'red'], '--colour')


# ---------------------------------------------------------------- the runner

def _snapshot(folder, content=True) -> dict:
    "Every path under `folder`: kind, permissions and bytes (or size and modification time) of files; kind and permissions of folders."
    snap = {}
    for p in [folder, *folder.rglob('*')]:
        st = p.lstat()
        if not stat.S_ISREG(st.st_mode): snap[p] = ('dir' if stat.S_ISDIR(st.st_mode) else 'other', stat.S_IMODE(st.st_mode))
        else: snap[p] = ('file', stat.S_IMODE(st.st_mode), p.read_bytes() if content else (st.st_size, st.st_mtime_ns))
    return snap


@pytest.fixture
def work(tmp_path):
    w = tmp_path / 'work'
    (w / 'existing').mkdir(parents=True)
    (w / 'existing' / 'keep.txt').write_text('kept\n')
    (w / 'existing.txt').write_text('kept\n')
    (w / 'readonly').mkdir()
    (w / 'readonly' / 'keep.txt').write_text('kept\n')
    (w / 'readonly').chmod(0o555)
    yield w
    (w / 'readonly').chmod(0o755)


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A copy of the project's stage notebooks and parameters, with a report already there: `stage` cases run against it."
    r = tmp_path_factory.mktemp('project')
    (r / 'nbs').mkdir()
    shutil.copytree(ROOT / 'nbs' / 'pipeline', r / 'nbs' / 'pipeline')
    for f in ('settings.ini', 'params.yaml', 'dvc.yaml'): shutil.copyfile(ROOT / f, r / f)
    (r / 'reports').mkdir()
    (r / 'reports' / '10_architecture.html').write_text('<p>the last good report</p>\n')
    return r


@pytest.mark.parametrize('argv, words', CASES)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(argv, words, inputs, project, work, capsys, monkeypatch, tmp_path, request):
    if any('{in}/personal' in a for a in argv): request.getfixturevalue('personal_inputs')   # built on first use: -k without personal cases skips it
    monkeypatch.setattr(tqdm, '__init__', functools.partialmethod(tqdm.__init__, disable=True))   # as TQDM_DISABLE=1 in CI
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('BIG_MOOD_ROOT', str(project))
    monkeypatch.delenv('BIG_MOOD_TOKEN', raising=False)
    import uvicorn
    monkeypatch.setattr(uvicorn, 'run', lambda *a, **k: pytest.fail('serve got past its checks and would listen'))
    argv = [a.replace('{in}', str(inputs)).replace('{w}', str(work)) for a in argv]
    snapshot = lambda: {**_snapshot(tmp_path), **_snapshot(project), **_snapshot(inputs, content=False)}
    before = snapshot()
    with warnings.catch_warnings(record=True) as caught:   # a warning would be one more line on a user's terminal
        warnings.simplefilter('always')
        try: code = main(argv)
        except SystemExit as e: code = e.code
    out, err = capsys.readouterr()
    assert [str(w.message) for w in caught] == [], 'warnings reach the terminal'
    assert code == 2, f'exit {code}\n{err[-3000:]}'
    assert err.count('\n') == 1 and err.endswith('\n'), f'not one line:\n{err[-3000:]}'
    assert err.startswith('big-mood: error: '), err
    assert not [c for c in err[:-1] if not c.isprintable()], f'raw control characters reach the terminal: {err!r}'
    assert all(w in err for w in words), f'message lacks {words}: {err}'
    assert not (inputs / 'PWNED_pkl').exists() and not (inputs / 'PWNED_pt').exists() and not (tmp_path / 'PWNED').exists(), 'code from data ran'
    after = snapshot()
    assert sorted(map(str, set(after) - set(before))) == [], 'partial output left behind'
    assert sorted(map(str, set(before) - set(after))) == [], 'files that were there are gone'
    assert [str(p) for p in before if after[p] != before[p]] == [], 'files that were there changed'


def test_the_table_covers_every_command():
    "Each subcommand (and action) of the parser has cases in the table, grouped by command."
    import argparse
    def leaves(parser, prefix=()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs: return [prefix]
        return [leaf for name, p in subs[0].choices.items() for leaf in leaves(p, (*prefix, name))]
    covered = {tuple(a for a in p.values[0][:2] if not a.startswith('{')) for p in CASES}
    missing = [' '.join(c) for c in leaves(build_parser()) if not any(cov[:len(c)] == c for cov in covered)]
    assert missing == [], f'commands without bad-input cases: {missing}'
    assert len(CASES) >= 270, len(CASES)
