"""PAT in tf_keras, built from the published architecture (../shared/reference/PAT.md sections 1-2), as the baseline of
bench/pat_vs_keras.py: what a user running the official Keras model would get.

Written for this project from the architecture's facts (layer names follow the official weight files, so that the
shared fixtures load name by name); it runs only in the optional Keras environment (`make bench-keras` builds
.venv-keras from requirements-keras.txt) with TF_USE_LEGACY_KERAS=1. Before anything is timed,
`check_fixtures` compares it with the official code's own outputs in ../shared/fixtures/pat_keras:

    TF_USE_LEGACY_KERAS=1 .venv-keras/bin/python bench/keras_pat.py      # prints the largest differences
"""
import math, os, sys
from pathlib import Path

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import h5py, numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

SIZES = {'S': dict(patch_size=18, num_heads=6, num_layers=1), 'M': dict(patch_size=18, num_heads=12, num_layers=2),
         'L': dict(patch_size=9, num_heads=12, num_layers=4), 'H': dict(patch_size=5, num_heads=12, num_layers=8)}
EMBED, FF, DROPOUT, MINUTES = 96, 256, 0.1, 10080


def position_table(num_patches: int, embed_dim: int = EMBED) -> tf.Tensor:
    "[num_patches, embed_dim] = [sin(pos * f) | cos(pos * f)], f = 10000^(-2i/embed_dim), in TensorFlow float32."
    pos = tf.range(num_patches, dtype=tf.float32)[:, None]
    freq = tf.exp(tf.range(0, embed_dim, 2, dtype=tf.float32) * (-math.log(10000.0) / embed_dim))
    return tf.concat([tf.sin(pos * freq), tf.cos(pos * freq)], axis=-1)


def transformer_block(name: str, num_heads: int) -> keras.Model:
    "Post-norm block as a nested model `{name}_transformer`: MHA (key_dim 96 per head), dropout, LayerNorm(1e-6), FFN."
    x = keras.Input((None, EMBED))
    a = layers.MultiHeadAttention(num_heads, key_dim=EMBED, name=f'{name}_attention')(x, x)
    x1 = layers.LayerNormalization(epsilon=1e-6, name=f'{name}_norm1')(x + layers.Dropout(DROPOUT)(a))
    f = layers.Dense(EMBED, name=f'{name}_ff2')(layers.Dense(FF, activation='relu', name=f'{name}_ff1')(x1))
    out = layers.LayerNormalization(epsilon=1e-6, name=f'{name}_norm2')(x1 + layers.Dropout(DROPOUT)(f))
    return keras.Model(x, out, name=f'{name}_transformer')


def encoder(size: str) -> keras.Model:
    "Minutes [B, 10080] -> patch tokens [B, N, 96]."
    p = SIZES[size]
    n = MINUTES // p['patch_size']
    x = keras.Input((MINUTES,))
    h = layers.Dense(EMBED, name='dense')(layers.Reshape((n, p['patch_size']))(x)) + position_table(n)
    for i in range(p['num_layers']): h = transformer_block(f'encoder_layer_{i + 1}', p['num_heads'])(h)
    return keras.Model(x, h, name='encoder')


class MaskLayer(layers.Layer):
    "Holds the mask token; returns one random patch order per call, shared by the batch (masked patches first)."
    def __init__(self, num_patches: int, **kw):
        super().__init__(**kw)
        self.num_patches, self.fixed = num_patches, None

    def build(self, input_shape):
        self.mask_token = self.add_weight(name='mask_token', shape=(1, 1, EMBED), initializer=keras.initializers.RandomNormal(stddev=0.05))

    def call(self, x):
        return tf.random.shuffle(tf.range(self.num_patches)) if self.fixed is None else tf.constant(self.fixed)


class MAE(keras.Model):
    "Official pretraining model: visible patches encoded, mask tokens appended, un-shuffled as the official code does, one decoder block, tanh x 2; add_loss = MSE over all minutes."
    def __init__(self, size: str, mask_ratio: float = 0.9):
        super().__init__(name='mae')
        p = SIZES[size]
        self.patch, self.n = p['patch_size'], MINUTES // p['patch_size']
        self.num_masked = round(mask_ratio * self.n)
        self.mask_layer = MaskLayer(self.n, name='mask_layer')
        self.embed = layers.Dense(EMBED, name='dense')
        self.blocks = [transformer_block(f'encoder_layer_{i + 1}', p['num_heads']) for i in range(p['num_layers'])]
        self.decoder = transformer_block('decoder_layer_1', p['num_heads'])
        self.decoder_dense = layers.Dense(self.patch, activation='tanh', name='decoder_dense')
        self.pe = position_table(self.n)

    def call(self, x, training=None):
        perm = self.mask_layer(x)
        patches = tf.reshape(x, (-1, self.n, self.patch))
        visible = perm[self.num_masked:]
        h = self.embed(tf.gather(patches, visible, axis=1)) + tf.gather(self.pe, visible)
        for blk in self.blocks: h = blk(h, training=training)
        tokens = tf.concat([h, tf.tile(self.mask_layer.mask_token, (tf.shape(h)[0], self.num_masked, 1))], axis=1)
        dec_in = tf.gather(tokens, tf.argsort(perm), axis=1) + self.pe       # [visible | mask] back through the inverse
        recon = tf.reshape(self.decoder_dense(self.decoder(dec_in, training=training)) * 2, (-1, MINUTES))
        self.add_loss(tf.reduce_mean(tf.square(recon - x)))
        return recon


def mae(size: str) -> MAE:
    "The pretraining model, built and compiled with the official Adam (lr 1e-3 S/M, 1e-4 L, 1e-5 H; eps 1e-7)."
    m = MAE(size)
    m(tf.zeros((1, MINUTES)))
    m.compile(optimizer=keras.optimizers.Adam({'S': 1e-3, 'M': 1e-3, 'L': 1e-4, 'H': 1e-5}[size], epsilon=1e-7))
    return m


def load_h5(model: keras.Model, path) -> int:
    "Set every weight of `model` from a legacy HDF5 file by name (the group above each layer dropped); the count set."
    with h5py.File(path, 'r') as f:
        arrays = {}
        f.visititems(lambda k, v: arrays.__setitem__(k.split('/', 1)[1], v[()]) if isinstance(v, h5py.Dataset) else None)
    weights = {w.name.removeprefix(f'{model.name}/'): w for w in model.weights}   # a subclassed model scopes its own
    if set(weights) != set(arrays):
        raise ValueError(f"{path}: weights differ by name: model only {sorted(set(weights) - set(arrays))[:3]}, file only {sorted(set(arrays) - set(weights))[:3]}")
    for name, w in weights.items(): w.assign(arrays[name])
    return len(weights)


def check_fixtures(fixtures) -> dict:
    "Largest absolute difference from the official outputs: PAT-S and PAT-M encoders, the PAT-S MAE (fixed permutation)."
    fixtures, out = Path(fixtures), {}
    for size, folder in (('S', 'pat_s'), ('M', 'pat_m')):
        enc, io = encoder(size), np.load(fixtures/folder/'io.npz')
        load_h5(enc, fixtures/folder/'encoder.h5')
        out[f'PAT-{size} enc_out'] = float(np.abs(enc(io['X'], training=False).numpy() - io['enc_out']).max())
    m, io = mae('S'), np.load(fixtures/'pat_s'/'mae_io.npz')
    load_h5(m, fixtures/'pat_s'/'mae.h5')
    m.mask_layer.fixed = io['perm']
    out['PAT-S MAE recon'] = float(np.abs(m(io['X'], training=False).numpy() - io['recon']).max())
    out['PAT-S MAE loss'] = abs(float(m.losses[-1]) - float(io['loss']))
    m.mask_layer.fixed = None
    return out


TOLERANCE = 2e-5   # the official model in float32 against this one in float32: same graph, same position table


if __name__ == '__main__':
    shared = Path(os.environ.get('BIG_MOOD_SHARED', Path(__file__).resolve().parents[1]/'..'/'shared'))
    diffs = check_fixtures(shared/'fixtures'/'pat_keras')
    print(diffs)
    sys.exit(0 if all(d <= TOLERANCE for d in diffs.values()) else 1)
