"""Fine-tuning: the linear probe freezes the encoder, LoRA trains only its adapters and the head, pos_weight weighs
the rare class up, and no participant is ever on two sides of a split or fold."""
import numpy as np
import pandas as pd
import pytest
import torch

from big_mood.core import DataError
from big_mood.data.splits import check_splits, clip_splits, make_splits, participant_folds, split_arrays, split_rows
from big_mood.data.weeks import Weeks
from big_mood.models.pat import PATClassifier, PATConfig
from big_mood.train.finetune import finetune, pos_weight, prepare, trainable, weighted_bce

CFG = PATConfig(patch_size=18, num_heads=2, input_size=360)


def planted(n, seed, prevalence=0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    x = rng.standard_normal((n, 360)).astype(np.float32)
    x[:, 180:270] += 1.0 * y[:, None]
    return x, y


def fresh(seed=0):
    torch.manual_seed(seed)
    return PATClassifier(CFG)


def test_linear_probe_leaves_encoder_weights_unchanged():
    model = fresh()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    (xt, yt), (xv, yv) = planted(48, 1), planted(24, 2)
    model, hist = finetune(model, xt, yt, xv, yv, mode='linear', lr=1e-2, epochs=2, batch_size=16, log=lambda s: None)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith('encoder.'))
    assert not all(torch.equal(before[k], after[k]) for k in before if not k.startswith('encoder.')), 'the head did not train'


def test_lora_trains_only_adapters_and_head():
    model = prepare(fresh(), 'lora', lora_r=4)
    names = trainable(model)
    assert names and all('lora_A' in n or 'lora_B' in n or '.dense_128.' in n or '.output.' in n for n in names), names
    assert {n.split('.attention.')[1].split('.')[0] for n in names if 'lora_' in n} == {'query', 'key', 'value', 'attention_output'}
    base = fresh()
    (xt, yt), (xv, yv) = planted(48, 1), planted(24, 2)
    merged, _ = finetune(fresh(), xt, yt, xv, yv, mode='lora', lr=1e-2, epochs=2, batch_size=16, lora_r=4, log=lambda s: None)
    b, m = base.state_dict(), merged.state_dict()
    assert set(b) == set(m), 'the merged model is not a plain PATClassifier'
    projections = ('attention.query.weight', 'attention.key.weight', 'attention.value.weight', 'attention.attention_output.weight')
    for k in b:
        if k.startswith('encoder.') and not k.endswith(projections):
            assert torch.equal(b[k], m[k]), f'{k} changed under LoRA'
    assert all(not torch.equal(b[f'encoder.blocks.0.{p}'], m[f'encoder.blocks.0.{p}']) for p in projections), 'an adapter did not train'


def test_pos_weight_is_negatives_over_positives_and_weighs_positives_up():
    y = np.array([0] * 90 + [1] * 10)
    assert pos_weight(y) == 9.0
    loss = weighted_bce(y)
    missed_positive, missed_negative = loss(torch.tensor([-1.]), torch.tensor([1.])), loss(torch.tensor([1.]), torch.tensor([0.]))
    assert abs(missed_positive / missed_negative - 9.0) < 1e-5
    # Nothing to learn (all-zero features), the head starting at the prevalence 0.1: the weighted loss pulls the
    # prediction up towards 0.5 (about 0.2 after this epoch). No weight leaves it at 0.1; the inverted weight of the
    # earlier port (0.11) pushes it down to about 0.03.
    rng = np.random.default_rng(0)
    y, yv = (rng.random(400) < 0.1).astype(int), np.r_[1, 1, np.zeros(38, int)]
    feats = (np.zeros((400, 96), np.float32), np.zeros((40, 96), np.float32))
    model = fresh()
    with torch.no_grad(): model.output.bias.fill_(float(np.log(0.1 / 0.9)) - (model.output.weight @ torch.relu(model.dense_128.bias)).item())
    model, _ = finetune(model, np.zeros((400, 360), np.float32), y, np.zeros((40, 360), np.float32), yv, mode='linear', lr=2e-2, epochs=1,
                        batch_size=4, features=feats, log=lambda s: None)
    p = torch.sigmoid(model.head(torch.as_tensor(feats[0]))).mean().item()
    assert p > 0.15, p


def test_no_participant_in_two_splits_or_folds():
    rng = np.random.default_rng(0)
    labels = pd.DataFrame({'id': [f'p{i}' for i in range(40)], 'depression': (rng.random(40) < 0.4).astype(int)})
    for scheme in ('lopo', 'kfold'):
        folds = participant_folds(labels, 'depression', scheme=scheme, k=5, seed=3)
        tested = folds[folds.split == 'test'].id
        assert tested.is_unique and set(tested) == set(labels.id), scheme
    splits, _ = make_splits(labels, ['depression'], seed=1, n_test=10, train_sizes=(10,), val_frac=0.2)
    assert splits[splits.split == 'test'].groupby('size').id.apply(frozenset).nunique() == 1   # one test set for every size
    clipped = clip_splits(splits, labels, 'depression', max_train=8, max_eval=4, seed=0)
    full = splits[splits['size'] == 'full'].set_index('id').split
    assert (clipped.set_index('id').split == full[clipped.id]).all(), 'clipping moved a participant'
    # several weeks per participant: every week of a person lands on the person's side
    meta = pd.DataFrame({'id': np.repeat(labels.id, 3), 'cohort': 'toy', 'week': np.tile([0, 1, 2], 40), 'weekday': 0}).reset_index(drop=True)
    weeks = Weeks(meta, rng.gamma(2, 1, (120, 10080)).astype(np.float32), np.ones((120, 10080), np.uint8))
    rows = split_rows(weeks, folds, 'depression', fold=0)
    sides = {s: set(meta.id[r]) for s, r in rows.items()}
    assert not (sides['train'] & sides['val'] or sides['train'] & sides['test'] or sides['val'] & sides['test'])
    assert sum(len(r) for r in rows.values()) == 120
    data = split_arrays(weeks, labels, folds, 'depression', fold=0)
    assert all(np.array_equal(data[s].ids, meta.id.to_numpy()[rows[s]]) for s in rows)
