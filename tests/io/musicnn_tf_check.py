"""Every tensor auratag imported from a musicnn checkpoint equals TensorFlow's
own reading of it (its CheckpointReader), after the layout change the
importer documents (host/io/musicnn_import.h): conv kernels [time, freq, in,
out] -> [out, in, freq, time], the mid end's conv2d over (time, features)
[k, in, 1, out] -> conv1d [out, in, k], dense [in, out] -> [out, in], and the
permutations of the flat vectors (musicnn's back end interleaves each
feature's max and mean; the VGG flattens time-major). Bitwise: the import only
moves floats. Every float variable of the checkpoint that is not an optimiser
slot is used exactly once.

  python musicnn_tf_check.py [--foreign PREFIX] CHECKPOINT_PREFIX WEIGHTS.h5 musicnn|vgg...

Several checkpoints (a PREFIX WEIGHTS KIND triple each) are checked in one
process, so that TensorFlow starts once; a PASS or FAIL line each. --foreign
PREFIX also writes, there, a TensorFlow checkpoint of another architecture
(one 3x3 variable) for the importer's refusal test.
"""
import sys

import h5py
import numpy as np
import tensorflow as tf


def check(prefix, weights, kind):
    """Compares one imported file with TensorFlow's reading; prints PASS or FAIL, returns 0 or 1."""
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)  # the prefix itself: its `checkpoint` file names a path of its author
    shapes = reader.get_variable_to_shape_map()
    params = h5py.File(weights, "r")["params"]
    used, failures = set(), []

    def tf_tensor(name):
        used.add(name)
        return reader.get_tensor(name)

    def expect(layer, param, want):
        got = params[layer][param][()]
        if got.shape != want.shape or not np.array_equal(got, want):
            failures.append(f"{layer}.{param}: shape {got.shape} vs {want.shape}, "
                            f"largest difference {np.abs(got - want).max() if got.shape == want.shape else 'n/a'}")

    def batchnorm(scope, layer, order=None):
        for tf_name, ours in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                              ("moving_variance", "running_var")):
            v = tf_tensor(f"{scope}/{tf_name}")
            expect(layer, ours, v[order] if order is not None else v)

    def conv(scope, layer):
        k = tf_tensor(f"{scope}/kernel")
        expect(layer, "weight", k.transpose(3, 2, 1, 0))
        expect(layer, "bias", tf_tensor(f"{scope}/bias"))

    def conv1d(scope, layer):
        k = tf_tensor(f"{scope}/kernel")  # [k, in, 1, out]
        expect(layer, "weight", k[:, :, 0, :].transpose(2, 1, 0))
        expect(layer, "bias", tf_tensor(f"{scope}/bias"))

    def dense(scope, layer, order=None):
        k = tf_tensor(f"{scope}/kernel")  # [in, out]
        expect(layer, "weight", (k[order] if order is not None else k).T)
        expect(layer, "bias", tf_tensor(f"{scope}/bias"))

    if kind == "musicnn":
        batchnorm("batch_normalization", "input_bn")
        for i, (layer, bn) in enumerate([("timbral_74", "timbral_74_bn"), ("timbral_77", "timbral_77_bn"),
                                         ("temporal_128", "temporal_128_bn"), ("temporal_64", "temporal_64_bn"),
                                         ("temporal_32", "temporal_32_bn")]):
            conv("conv2d" if i == 0 else f"conv2d_{i}", layer)
            batchnorm(f"batch_normalization_{i + 1}", bn)
        for i, (layer, bn) in enumerate([("cnn1_conv", "cnn1"), ("cnn2_conv", "cnn2_bn"), ("cnn3_conv", "cnn3_bn")]):
            conv1d(f"conv2d_{5 + i}", layer)
            batchnorm(f"batch_normalization_{6 + i}", bn)
        n = shapes["batch_normalization_9/gamma"][0]
        batchnorm("batch_normalization_9", "pooled_bn", interleaved(n))
        dense("dense", "penultimate_dense", interleaved(n))
        batchnorm("batch_normalization_10", "penultimate")
        dense("dense_1", "output")
    else:
        batchnorm("batch_normalization", "input_bn")
        for i in range(1, 6):
            conv(f"{i}CNN", f"conv{i}")
            batchnorm(f"batch_normalization_{i}", f"bn{i}")
        dense("dense", "output", time_major(shapes["dense/kernel"][0], 2))

    slots = ("Adam", "beta1_power", "beta2_power", "global_step")
    left = sorted(v for v in shapes if v not in used and not any(s in v for s in slots))
    if left:
        failures.append(f"checkpoint variables not imported: {left}")
    if failures:
        print(f"FAIL {weights}: " + "; ".join(failures[:5]))
        return 1
    print(f"PASS {weights}: {len(used)} tensors equal TensorFlow's reading of {prefix}, bit for bit")
    return 0


def interleaved(n):  # auratag's index a (max block, then mean block) -> the package's 2 f + k
    f = n // 2
    a = np.arange(n)
    return 2 * (a % f) + a // f


def time_major(n, steps):  # auratag's c * steps + t -> the package's t * channels + c
    channels = n // steps
    a = np.arange(n)
    return (a % steps) * channels + a // steps


def main():
    args, foreign = sys.argv[1:], None
    if args[:1] == ["--foreign"] and len(args) > 1:
        foreign, args = args[1], args[2:]
    if (not args and not foreign) or len(args) % 3:
        sys.exit(__doc__)
    if foreign:
        tf.train.Checkpoint(w=tf.Variable(tf.zeros([3, 3]))).write(foreign)
    status = 0
    for i in range(0, len(args), 3):
        try:
            status |= check(*args[i:i + 3])
        except Exception as e:  # one broken file fails, the others are still checked
            print(f"FAIL {args[i + 1]}: {type(e).__name__}: {e}")
            status = 1
        sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
