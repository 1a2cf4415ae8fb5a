"""Assignment 5, solved independently from the released notebook (docstrings and text only).

Style on purpose unlike a first solution: every pre-activation comes from one product of the
concatenated input [x, h_prev] with the concatenated weights [w_ih | w_hh]; products and sums over
the batch are einsums; the logistic function is written through tanh; the sequence functions build
the step caches in one place and walk the time steps with explicit indices, and the sequence
backward passes accumulate into a dict of gradients.
"""

import numpy as np


def _logistic(a):
    # sigma(a) = (1 + tanh(a / 2)) / 2: no exp, so no overflow for large |a|
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _joint(x, h_prev, w_ih, w_hh):
    """[x, h_prev] (N, D + H) and [w_ih | w_hh] (rows, D + H)."""
    return np.hstack([x, h_prev]), np.hstack([w_ih, w_hh])


def _split_joint(d_joint, D):
    """The gradient of [x, h_prev] split back into (dx, dh_prev)."""
    return d_joint[:, :D], d_joint[:, D:]


def rnn_step_forward(x, h_prev, w_ih, w_hh, b):
    xh, w = _joint(x, h_prev, w_ih, w_hh)
    h = np.tanh(np.einsum("nk,jk->nj", xh, w) + b)
    return h, (x, h_prev, w_ih, w_hh, h)


def rnn_step_backward(dh, cache):
    x, h_prev, w_ih, w_hh, h = cache
    xh, w = _joint(x, h_prev, w_ih, w_hh)
    g = (1.0 - h * h) * dh
    d_xh = np.einsum("nj,jk->nk", g, w)
    d_w = np.einsum("nj,nk->jk", g, xh)
    D = x.shape[1]
    dx, dh_prev = _split_joint(d_xh, D)
    return dx, dh_prev, d_w[:, :D], d_w[:, D:], np.einsum("nj->j", g)


def rnn_forward(x, h0, w_ih, w_hh, b):
    states, caches = [], []
    h = h0
    t = 0
    while t < x.shape[0]:
        h, c = rnn_step_forward(x[t], h, w_ih, w_hh, b)
        states.append(h)
        caches.append(c)
        t += 1
    return np.stack(states), caches


def rnn_backward(dh, cache):
    T = len(cache)
    x0, _, w_ih, w_hh, _ = cache[0]
    total = {"w_ih": 0.0 * w_ih, "w_hh": 0.0 * w_hh, "b": np.zeros(w_ih.shape[0])}
    dxs = [None] * T
    from_later = 0.0 * dh[-1]
    for t in range(T - 1, -1, -1):
        dxs[t], from_later, a, bb, c = rnn_step_backward(from_later + dh[t], cache[t])
        for key, value in zip(("w_ih", "w_hh", "b"), (a, bb, c)):
            total[key] = total[key] + value
    return np.stack(dxs), from_later, total["w_ih"], total["w_hh"], total["b"]


def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    xh, w = _joint(x, h_prev, w_ih, w_hh)
    pre = np.einsum("nk,jk->nj", xh, w) + b
    a_i, a_f, a_g, a_o = np.split(pre, 4, axis=1)
    i, f, o = _logistic(a_i), _logistic(a_f), _logistic(a_o)
    g = np.tanh(a_g)
    c = i * g + f * c_prev
    h = np.tanh(c) * o
    return h, c, (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c)


def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, c = cache
    squashed = np.tanh(c)
    grad_c = dc + dh * o * (1.0 - squashed * squashed)
    grads_of_gates = [grad_c * g, grad_c * c_prev, grad_c * i, dh * squashed]  # i, f, g, o
    slopes = [i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)]
    g_pre = np.concatenate([u * s for u, s in zip(grads_of_gates, slopes)], axis=1)
    xh, w = _joint(x, h_prev, w_ih, w_hh)
    d_xh = np.einsum("nj,jk->nk", g_pre, w)
    d_w = np.einsum("nj,nk->jk", g_pre, xh)
    D = x.shape[1]
    dx, dh_prev = _split_joint(d_xh, D)
    return dx, dh_prev, grad_c * f, d_w[:, :D], d_w[:, D:], np.einsum("nj->j", g_pre)


def lstm_forward(x, h0, c0, w_ih, w_hh, b):
    states, caches = [], []
    h, c = h0, c0
    for x_t in x:
        h, c, cache_t = lstm_step_forward(x_t, h, c, w_ih, w_hh, b)
        states.append(h)
        caches.append(cache_t)
    return np.stack(states), caches


def lstm_backward(dh, cache):
    T = len(cache)
    w_ih, w_hh = cache[0][3], cache[0][4]
    total = {"w_ih": 0.0 * w_ih, "w_hh": 0.0 * w_hh, "b": np.zeros(w_ih.shape[0])}
    dxs = [None] * T
    dh_later, dc_later = 0.0 * dh[-1], 0.0 * dh[-1]
    for t in range(T - 1, -1, -1):
        dxs[t], dh_later, dc_later, a, bb, c = lstm_step_backward(dh[t] + dh_later, dc_later, cache[t])
        for key, value in zip(("w_ih", "w_hh", "b"), (a, bb, c)):
            total[key] = total[key] + value
    return np.stack(dxs), dh_later, dc_later, total["w_ih"], total["w_hh"], total["b"]


def gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    gi_r, gi_z, gi_n = np.split(np.einsum("nd,jd->nj", x, w_ih) + b_ih, 3, axis=1)
    gh_r, gh_z, gh_n = np.split(np.einsum("nk,jk->nj", h_prev, w_hh) + b_hh, 3, axis=1)
    r = _logistic(gi_r + gh_r)
    z = _logistic(gi_z + gh_z)
    n = np.tanh(gi_n + r * gh_n)
    h = n + z * (h_prev - n)  # = (1 - z) n + z h_prev
    return h, (x, h_prev, w_ih, w_hh, r, z, n, gh_n)


def gru_step_backward(dh, cache):
    x, h_prev, w_ih, w_hh, r, z, n, hn = cache
    g_n = dh * (1 - z) * (1 - n * n)  # at n's pre-activation
    g_z = dh * (h_prev - n) * z * (1 - z)
    g_r = g_n * hn * r * (1 - r)
    g_i = np.hstack([g_r, g_z, g_n])
    g_h = np.hstack([g_r, g_z, g_n * r])
    dx = np.einsum("nj,jd->nd", g_i, w_ih)
    dh_prev = z * dh + np.einsum("nj,jk->nk", g_h, w_hh)
    return (
        dx,
        dh_prev,
        np.einsum("nj,nd->jd", g_i, x),
        np.einsum("nj,nk->jk", g_h, h_prev),
        g_i.sum(axis=0),
        g_h.sum(axis=0),
    )


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    states, caches = [], []
    h = h0
    for x_t in x:
        h, cache_t = gru_step_forward(x_t, h, w_ih, w_hh, b_ih, b_hh)
        states.append(h)
        caches.append(cache_t)
    return np.stack(states), caches


def gru_backward(dh, cache):
    T = len(cache)
    w_ih, w_hh = cache[0][2], cache[0][3]
    names = ("w_ih", "w_hh", "b_ih", "b_hh")
    total = dict(zip(names, (0.0 * w_ih, 0.0 * w_hh, np.zeros(w_ih.shape[0]), np.zeros(w_hh.shape[0]))))
    dxs = [None] * T
    later = 0.0 * dh[-1]
    for t in range(T - 1, -1, -1):
        dxs[t], later, *shares = gru_step_backward(dh[t] + later, cache[t])
        for key, value in zip(names, shares):
            total[key] = total[key] + value
    return (np.stack(dxs), later, *(total[k] for k in names))


def clip_grad_norm(grads, max_norm):
    flat = np.concatenate([np.ravel(g) for g in grads.values()]) if grads else np.zeros(0)
    total_norm = float(np.linalg.norm(flat))
    factor = max_norm / (total_norm + 1e-6)
    if factor > 1.0:
        factor = 1.0
    return {k: np.asarray(g) * factor for k, g in grads.items()}, total_norm
