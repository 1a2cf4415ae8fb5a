"""Assignment 2, solved independently from the released notebook (docstrings and text only).

Style on purpose unlike a first solution: the backward pass follows the
three paths (direct, through the variance, through the mean) term by term, the spatial versions
move the channel axis with np.moveaxis, and dropout draws Bernoulli keeps with rng.binomial.
Layer normalisation takes its row statistics with np.einsum, and its backward pass transposes the
problem (features become the "batch" axis of a column-wise normalisation) and reuses
batchnorm_backward above on it, with gamma folded into the upstream gradient.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.1)
    n, d = x.shape
    running_mean = bn_param.setdefault("running_mean", np.zeros(d))
    running_var = bn_param.setdefault("running_var", np.ones(d))
    if mode == "eval":
        return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta, None
    if mode != "train":
        raise ValueError(f"unknown mode {mode!r}")
    mu = np.sum(x, axis=0) / n
    centred = x - mu
    var = np.sum(centred**2, axis=0) / n
    std = np.sqrt(var + eps)
    x_hat = centred / std
    running_mean *= 1 - momentum
    running_mean += momentum * mu
    running_var *= 1 - momentum
    running_var += momentum * var * n / (n - 1)
    return gamma * x_hat + beta, (x_hat, gamma, 1.0 / std)


def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    std = 1.0 / inv_std
    centred = x_hat * std
    m = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * centred, axis=0) * (-0.5) / std**3
    dmu = -np.sum(dx_hat, axis=0) / std - 2.0 * dvar * np.sum(centred, axis=0) / m
    dx = dx_hat / std + dvar * 2.0 * centred / m + dmu / m
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    n, c, h, w = x.shape
    rows = np.moveaxis(x, 1, -1).reshape(n * h * w, c)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = np.moveaxis(out_rows.reshape(n, h, w, c), -1, 1)
    return out, {"inner": cache, "shape": (n, c, h, w)}


def spatial_batchnorm_backward(dout, cache):
    n, c, h, w = cache["shape"]
    rows = np.moveaxis(dout, 1, -1).reshape(n * h * w, c)
    dx_rows, dgamma, dbeta = batchnorm_backward(rows, cache["inner"])
    return np.moveaxis(dx_rows.reshape(n, h, w, c), -1, 1), dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    d = x.shape[1]
    mu = np.einsum("nd->n", x) / d
    centred = x - mu[:, None]
    var = np.einsum("nd,nd->n", centred, centred) / d
    inv_std = (1.0 / np.sqrt(var + eps))[:, None]
    x_hat = centred * inv_std
    out = np.einsum("nd,d->nd", x_hat, gamma) + beta
    return out, (x_hat, gamma, inv_std)


def layernorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, x_hat)
    # Each row of x is a batch-normalisation problem with its D features as the examples: transpose,
    # let batchnorm_backward (gamma = 1, upstream gradient dL/dx_hat) differentiate down the columns.
    n = x_hat.shape[0]
    dx_t, _, _ = batchnorm_backward((dout * gamma).T, (x_hat.T, np.ones(n), np.ravel(inv_std)))
    return dx_t.T, dgamma, dbeta


def dropout_forward(x, p, mode, seed=None):
    if mode == "eval":
        return np.copy(x), ("eval", None)
    if mode != "train":
        raise ValueError(f"unknown mode {mode!r}")
    keep = np.random.default_rng(seed).binomial(1, 1.0 - p, size=np.shape(x)).astype(float)
    scale = np.zeros_like(keep) if p >= 1 else keep / (1.0 - p)
    return x * scale, ("train", scale)


def dropout_backward(dout, cache):
    mode, scale = cache
    if scale is None:
        return np.copy(dout)
    return dout * scale
