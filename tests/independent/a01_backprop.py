"""Assignment 1, solved independently from the released notebook (docstrings and text only).

Style on purpose unlike a first solution: caches are dicts, activations are written with np.where
and explicit masks, the loss uses log-sum-exp written out, the MLP keeps a list of layers. The optimisers never mutate
the config they are given: each returns a fresh dict (the docstrings allow "It may be the dict that
was passed in", so need not). SGD starts its velocity from the first gradient, as torch starts
momentum_buffer (the same v when v_0 = 0); Adam updates its moments in torch's lerp form and takes
the step in the folded form of Kingma and Ba's section 2, with the step size
lr * sqrt(1 - beta2**t) / (1 - beta1**t) and epsilon * sqrt(1 - beta2**t) added to sqrt(v), which is
Algorithm 1's m_hat / (sqrt(v_hat) + epsilon) rearranged exactly (not the paper's epsilon-hat).
"""

import numpy as np


def linear_forward(x, W, b):
    out = np.einsum("nd,dm->nm", x, W) + b[None, :]
    return out, {"x": x, "W": W}


def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    dx = np.einsum("nm,dm->nd", dout, W)
    dW = np.einsum("nd,nm->dm", x, dout)
    db = dout.sum(axis=0)
    return dx, dW, db


def relu_forward(x):
    positive = x > 0
    return np.where(positive, x, 0.0), {"positive": positive}


def relu_backward(dout, cache):
    return np.where(cache["positive"], dout, 0.0)


def leaky_relu_forward(x, negative_slope=0.01):
    positive = x > 0
    return np.where(positive, x, negative_slope * x), {"positive": positive, "slope": negative_slope}


def leaky_relu_backward(dout, cache):
    return np.where(cache["positive"], dout, cache["slope"] * dout)


def sigmoid_forward(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out, {"s": out}


def sigmoid_backward(dout, cache):
    s = cache["s"]
    return dout * s * (1.0 - s)


def tanh_forward(x):
    t = np.tanh(x)
    return t, {"t": t}


def tanh_backward(dout, cache):
    return dout * (1.0 - cache["t"] ** 2)


def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    row_max = scores.max(axis=1, keepdims=True)
    shifted = scores - row_max
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm
    loss = -log_probs[np.arange(n), y].mean()
    onehot = np.zeros_like(scores)
    onehot[np.arange(n), y] = 1.0
    dscores = (np.exp(log_probs) - onehot) / n
    return float(loss), dscores


class MLP:
    ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")

    def __init__(self, sizes, activation="relu", weight_scale=None, seed=0):
        self.sizes = list(sizes)
        self.activation = activation
        self.params = {}
        rng = np.random.default_rng(seed)
        for layer, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            if weight_scale is not None:
                std = weight_scale
            elif activation in ("relu", "leaky_relu"):
                std = np.sqrt(2.0 / fan_in)
            else:
                std = np.sqrt(2.0 / (fan_in + fan_out))
            self.params[f"W{layer}"] = std * rng.standard_normal((fan_in, fan_out))
            self.params[f"b{layer}"] = np.zeros(fan_out)

    def _activation(self):
        return {
            "relu": (relu_forward, relu_backward),
            "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
            "sigmoid": (sigmoid_forward, sigmoid_backward),
            "tanh": (tanh_forward, tanh_backward),
        }[self.activation]

    def _scores(self, X, keep=None):
        forward, _ = self._activation()
        n_layers = len(self.sizes) - 1
        h = X
        for layer in range(1, n_layers + 1):
            h, lin_cache = linear_forward(h, self.params[f"W{layer}"], self.params[f"b{layer}"])
            act_cache = None
            if layer < n_layers:
                h, act_cache = forward(h)
            if keep is not None:
                keep.append((lin_cache, act_cache))
        return h

    def loss(self, X, y):
        caches = []
        scores = self._scores(X, caches)
        loss, dh = softmax_cross_entropy(scores, y)
        _, backward = self._activation()
        grads = {}
        for layer in range(len(caches), 0, -1):
            lin_cache, act_cache = caches[layer - 1]
            if act_cache is not None:
                dh = backward(dh, act_cache)
            dh, grads[f"W{layer}"], grads[f"b{layer}"] = linear_backward(dh, lin_cache)
        return loss, grads

    def predict(self, X):
        return np.argmax(self._scores(X), axis=1)


_SGD_DEFAULTS = {"learning_rate": 1e-2, "momentum": 0.9}
_ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def sgd_momentum(w, dw, config=None):
    state = {**_SGD_DEFAULTS, **(config or {})}
    previous = state.get("velocity")
    if previous is None:  # no step yet: torch's momentum_buffer begins as the gradient itself
        velocity = np.array(dw, dtype=float, copy=True)
    else:
        velocity = np.multiply(state["momentum"], previous) + dw
    state["velocity"] = velocity
    return np.subtract(w, state["learning_rate"] * velocity), state


def adam(w, dw, config=None):
    state = {**_ADAM_DEFAULTS, **(config or {})}
    beta1, beta2, eps = state["beta1"], state["beta2"], state["epsilon"]
    m = state.get("m")
    v = state.get("v")
    m = np.zeros_like(w, dtype=float) if m is None else np.asarray(m, dtype=float)
    v = np.zeros_like(w, dtype=float) if v is None else np.asarray(v, dtype=float)
    t = int(state.get("t", 0)) + 1
    m = m + (1.0 - beta1) * (dw - m)  # lerp towards g: beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * np.square(dw)
    root_c2 = np.sqrt(1.0 - beta2**t)
    step_size = state["learning_rate"] * root_c2 / (1.0 - beta1**t)
    next_w = w - step_size * m / (np.sqrt(v) + eps * root_c2)
    state.update(m=m, v=v, t=t)
    return next_w, state
