"""Assignment 3, solved independently from the released notebook (docstrings and text only).

Style on purpose unlike a first solution: index arrays built once and used for gathering
(im2col) and scattering with np.add.at (col2im), einsum for the products, and pooling written
as a loop over window offsets rather than over output positions.
"""

import numpy as np


def _pair(value):
    return (value, value) if np.isscalar(value) else tuple(value)


def conv_output_size(L, k, stride=1, pad=0, dilation=1):
    span = dilation * (k - 1) + 1
    if L + 2 * pad < span:
        raise ValueError(f"a kernel spanning {span} does not fit an input of {L} padded by {pad}")
    return (L + 2 * pad - span) // stride + 1


def _geometry(x_shape, w_shape, conv_param):
    sh, sw = _pair(conv_param.get("stride", 1))
    ph, pw = _pair(conv_param.get("pad", 0))
    dh, dw = _pair(conv_param.get("dilation", 1))
    return (sh, sw), (ph, pw), (dh, dw)


def conv_forward_naive(x, w, b, conv_param):
    (sh, sw), (ph, pw), (dh, dw) = _geometry(x.shape, w.shape, conv_param)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    h_out, w_out = conv_output_size(h, kh, sh, ph, dh), conv_output_size(wd, kw, sw, pw, dw)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, f, h_out, w_out))
    for img in range(n):
        for filt in range(f):
            for i in range(h_out):
                for j in range(w_out):
                    window = padded[
                        img, :, i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw
                    ]
                    out[img, filt, i, j] = np.sum(window * w[filt]) + b[filt]
    return out, (x, w, b, conv_param)


def _indices(x_shape, kernel_size, stride, pad, dilation):
    _, c, h, wd = x_shape
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    ph, pw = _pair(pad)
    dh, dw = _pair(dilation)
    h_out, w_out = conv_output_size(h, kh, sh, ph, dh), conv_output_size(wd, kw, sw, pw, dw)
    # rows: (C*kh*kw,) channel and offsets; columns: (h_out*w_out,) window corners
    ch = np.repeat(np.arange(c), kh * kw)
    du = np.tile(np.repeat(np.arange(kh) * dh, kw), c)
    dv = np.tile(np.arange(kw) * dw, c * kh)
    corner_i = np.repeat(np.arange(h_out) * sh, w_out)
    corner_j = np.tile(np.arange(w_out) * sw, h_out)
    rows = du[:, None] + corner_i[None, :]
    cols = dv[:, None] + corner_j[None, :]
    return ch[:, None], rows, cols, (ph, pw)


def im2col(x, kernel_size, stride=1, pad=0, dilation=1):
    ch, rows, cols, (ph, pw) = _indices(x.shape, kernel_size, stride, pad, dilation)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return padded[:, ch, rows, cols]


def conv_forward_im2col(x, w, b, conv_param):
    f, _, kh, kw = w.shape
    cols = im2col(x, (kh, kw), conv_param.get("stride", 1), conv_param.get("pad", 0), conv_param.get("dilation", 1))
    (sh, sw), (ph, pw), (dh, dw) = _geometry(x.shape, w.shape, conv_param)
    h_out = conv_output_size(x.shape[2], kh, sh, ph, dh)
    w_out = conv_output_size(x.shape[3], kw, sw, pw, dw)
    out = np.einsum("fk,nkp->nfp", w.reshape(f, -1), cols) + b[None, :, None]
    return out.reshape(x.shape[0], f, h_out, w_out), (x, w, b, conv_param, cols)


def col2im(dcols, x_shape, kernel_size, stride=1, pad=0, dilation=1):
    n, c, h, wd = x_shape
    ch, rows, cols, (ph, pw) = _indices(x_shape, kernel_size, stride, pad, dilation)
    padded = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    np.add.at(padded, (slice(None), ch, rows, cols), dcols)
    return padded[:, :, ph : ph + h, pw : pw + wd]


def conv_backward(dout, cache):
    x, w, b, conv_param, cols = cache
    n, f = dout.shape[:2]
    d = dout.reshape(n, f, -1)
    db = d.sum(axis=(0, 2))
    dw = np.einsum("nfp,nkp->fk", d, cols).reshape(w.shape)
    dcols = np.einsum("fk,nfp->nkp", w.reshape(f, -1), d)
    dx = col2im(
        dcols,
        x.shape,
        w.shape[2:],
        conv_param.get("stride", 1),
        conv_param.get("pad", 0),
        conv_param.get("dilation", 1),
    )
    return dx, dw, db


def _windows(x, pool_param):
    kh, kw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out = (x.shape[2] - kh) // s + 1
    w_out = (x.shape[3] - kw) // s + 1
    # stack every window offset: (kh*kw, N, C, h_out, w_out), offsets in row-major order
    stack = np.stack(
        [
            x[:, :, u : u + s * (h_out - 1) + 1 : s, v : v + s * (w_out - 1) + 1 : s]
            for u in range(kh)
            for v in range(kw)
        ]
    )
    return stack, kh, kw, s


def max_pool_forward(x, pool_param):
    stack, *_ = _windows(x, pool_param)
    return stack.max(axis=0), (x, pool_param)


def max_pool_backward(dout, cache):
    x, pool_param = cache
    stack, kh, kw, s = _windows(x, pool_param)
    first = np.argmax(stack, axis=0)  # argmax returns the first maximum: row-major order
    dx = np.zeros_like(x, dtype=float)
    h_out, w_out = dout.shape[2:]
    for offset in range(kh * kw):
        u, v = divmod(offset, kw)
        dx[:, :, u : u + s * (h_out - 1) + 1 : s, v : v + s * (w_out - 1) + 1 : s] += np.where(
            first == offset, dout, 0.0
        )
    return dx


def avg_pool_forward(x, pool_param):
    stack, *_ = _windows(x, pool_param)
    return stack.mean(axis=0), (x, pool_param)


def avg_pool_backward(dout, cache):
    x, pool_param = cache
    kh, kw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x, dtype=float)
    h_out, w_out = dout.shape[2:]
    for u in range(kh):
        for v in range(kw):
            dx[:, :, u : u + s * (h_out - 1) + 1 : s, v : v + s * (w_out - 1) + 1 : s] += dout / (kh * kw)
    return dx
