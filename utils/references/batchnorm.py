"""Torch references for assignment 2 (BatchNorm and Dropout), imported by its locked test cells.

Arrays are float64 numpy: ``x`` (N, D) or (N, C, H, W), ``gamma`` and ``beta`` (D,) or (C,).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def torch_batchnorm_layer(gamma, beta, momentum=0.1, running_mean=None, running_var=None, eps=1e-5, spatial=False):
    """A float64 ``torch.nn.BatchNorm1d`` (``BatchNorm2d`` if ``spatial``) with weight ``gamma``,
    bias ``beta`` and, optionally, the given running statistics."""
    cls = torch.nn.BatchNorm2d if spatial else torch.nn.BatchNorm1d
    layer = cls(len(gamma), eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(gamma))
        layer.bias.copy_(torch.tensor(beta))
        if running_mean is not None:
            layer.running_mean.copy_(torch.tensor(running_mean))
            layer.running_var.copy_(torch.tensor(running_var))
    return layer


def torch_batchnorm_forward(x, gamma, beta, bn_param):
    """Stand-in for batchnorm_forward built on torch (same arguments, shapes and bn_param rules):
    x (N, D) -> (out (N, D), cache). The running statistics in bn_param are updated in place."""
    if np.ndim(x) != 2 or np.shape(x)[1] != len(gamma):
        raise ValueError(
            f"batchnorm_forward got x of shape {np.shape(x)} and gamma of shape {np.shape(gamma)}: x must be a matrix "
            "with one column per feature (for images, one column per channel: shape (N*H*W, C)), as many columns as "
            "gamma has entries"
        )
    D = x.shape[1]
    bn_param.setdefault("running_mean", np.zeros(D))
    bn_param.setdefault("running_var", np.ones(D))
    xt, g, b = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, gamma, beta))
    # torch.from_numpy shares memory, so torch updates bn_param's arrays in place.
    out = F.batch_norm(
        xt,
        torch.from_numpy(bn_param["running_mean"]),
        torch.from_numpy(bn_param["running_var"]),
        g,
        b,
        training=bn_param["mode"] == "train",
        momentum=bn_param.get("momentum", 0.1),
        eps=bn_param.get("eps", 1e-5),
    )
    return out.detach().numpy(), (xt, g, b, out)


def torch_batchnorm_backward(dout, cache):
    """Stand-in for batchnorm_backward built on torch autograd: returns (dx, dgamma, dbeta)."""
    if not (isinstance(cache, tuple) and len(cache) == 4 and isinstance(cache[0], torch.Tensor)):
        raise ValueError(
            f"batchnorm_backward got a cache that batchnorm_forward did not return (a {type(cache).__name__}"
            + (f" of {len(cache)} items" if isinstance(cache, (tuple, list)) else "")
            + "): pass it the cache of its own forward call, the 1-d cache, not the spatial cache that holds it"
        )
    xt, g, b, out = cache
    grads = torch.autograd.grad((out * torch.tensor(dout, dtype=torch.float64)).sum(), (xt, g, b))
    return tuple(grad.numpy() for grad in grads)


def batchnorm_cache(x, gamma, eps=1e-5):
    """The cache batchnorm_forward stores in train mode, built by torch: ``(x_hat, gamma, inv_std)``.

    x: (N, D); gamma: (D,). x_hat (N, D) is the normalised batch, inv_std (D,) is 1 / sqrt(var + eps)
    with the biased batch variance. A backward test built on it does not depend on the student's forward.
    """
    xt = torch.tensor(x, dtype=torch.float64)
    var = xt.var(dim=0, unbiased=False)
    x_hat = F.batch_norm(xt, None, None, training=True, eps=eps)
    return x_hat.numpy(), np.asarray(gamma, dtype=np.float64), (1 / torch.sqrt(var + eps)).numpy()


def dropout_cache(shape, p, rng):
    """A train-mode dropout cache ``("train", mask)``: mask has x's shape, 0 for a dropped unit and
    1 / (1 - p) for a kept one (all zeros for p = 1)."""
    keep = rng.random(shape) >= p
    mask = keep / (1 - p) if p < 1 else np.zeros(shape)
    return "train", mask


# --- LayerNorm (statistics over the features of each example) and the slides' m - 1 backward -------

# Mistakes the LayerNorm tests recognise, as torch computations. Forward: statistics over the wrong
# axis, the unbiased variance, eps outside the square root, gamma applied before normalising, the
# variance as mean(x**2) - mean**2 (which cancels for a large offset).
LAYERNORM_FORWARD_VARIANTS = (None, "batch-axis", "unbiased", "eps-outside", "gamma-first", "naive-var")
# Backward: autograd of a layer with a path cut or the slides' m - 1 (here D - 1) derivative, and
# BatchNorm's closed form with its sums over the batch (axis 0) and/or its count N not adapted.
LAYERNORM_BACKWARD_VARIANTS = (
    None,
    "m-1",
    "constant",
    "no-mean",
    "no-var",
    "batchnorm-unchanged",
    "count-N",
    "sums-over-batch",
    "var-sign",
)


def _t(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def _normalise(xt, dim, eps, variant=None):
    """x standardised along ``dim`` (its mean and biased variance) with one mistake switched on:
    "m-1" keeps the biased variance's value and takes the unbiased one's derivative (the slides'
    backward), "constant" / "no-mean" / "no-var" cut the paths through the mean and/or variance, "var-sign" keeps
    the variance's value and flips the sign of its path (the variance term of dx added, not subtracted)."""
    mean = xt.mean(dim=dim, keepdim=True)
    var = ((xt - mean) ** 2).mean(dim=dim, keepdim=True)
    if variant == "m-1":
        unbiased = xt.var(dim=dim, keepdim=True, unbiased=True)
        var = var.detach() + (unbiased - unbiased.detach())
    if variant in ("constant", "no-mean"):
        mean = mean.detach()
    if variant in ("constant", "no-var"):
        var = var.detach()
    if variant == "var-sign":
        var = 2 * var.detach() - var
    return (xt - mean) / torch.sqrt(var + eps)


def torch_layernorm(x, gamma, beta, eps=1e-5, variant=None):
    """LayerNorm of each row, by torch: x (N, D), gamma and beta (D,) -> out (N, D) numpy, float64.

    ``variant=None`` is ``torch.nn.functional.layer_norm``; the others (LAYERNORM_FORWARD_VARIANTS)
    reproduce a recognisable mistake, for the tests' messages.
    """
    if variant not in LAYERNORM_FORWARD_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {LAYERNORM_FORWARD_VARIANTS}")
    xt, g, b = _t(x), _t(gamma), _t(beta)
    D = xt.shape[1]
    if variant is None:
        out = F.layer_norm(xt, (D,), g, b, eps=eps)
    elif variant == "batch-axis":
        out = g * _normalise(xt, 0, eps) + b
    elif variant == "gamma-first":
        out = F.layer_norm(g * xt, (D,), None, None, eps=eps) + b
    else:
        mean = xt.mean(dim=1, keepdim=True)
        if variant == "unbiased":
            var = xt.var(dim=1, keepdim=True, unbiased=True)
        elif variant == "naive-var":
            var = (xt**2).mean(dim=1, keepdim=True) - mean**2
        else:
            var = xt.var(dim=1, keepdim=True, unbiased=False)
        if variant == "eps-outside":
            out = g * (xt - mean) / (torch.sqrt(var) + eps) + b
        else:
            out = g * (xt - mean) / torch.sqrt(var + eps) + b
    return out.numpy()


def layernorm_inputs(rng, N, D, offset=0.0, scale=1.0):
    """Inputs for the LayerNorm tests, x (N, D): every row (example) has a mean and a spread of its
    own, as a hidden layer's rows do, so statistics over the wrong axis give other values;
    ``offset`` is added to every entry and ``scale`` multiplies the rows before it."""
    row_mean = rng.normal(0.0, 3.0, size=(N, 1))
    row_spread = rng.uniform(0.5, 3.0, size=(N, 1))
    return offset + scale * (row_mean + row_spread * rng.normal(size=(N, D)))


def layernorm_cache(x, gamma, eps=1e-5):
    """The cache layernorm_forward returns, built by torch: ``(x_hat, gamma, inv_std)``.

    x: (N, D); gamma: (D,). x_hat (N, D) is each row standardised, inv_std (N, 1) is
    1 / sqrt(var + eps) with each row's biased variance. A backward test built on it does not
    depend on the student's forward pass.
    """
    xt = _t(x)
    var = xt.var(dim=1, keepdim=True, unbiased=False)
    x_hat = F.layer_norm(xt, (xt.shape[1],), eps=eps)
    return x_hat.numpy(), np.asarray(gamma, dtype=np.float64), (1 / torch.sqrt(var + eps)).numpy()


def _batchnorm_closed_form_on_rows(dout, x_hat, gamma, inv_std, dim, count):
    """BatchNorm's closed-form dx (part 2's result) applied to LayerNorm's cache with its sums taken
    along ``dim`` and divided by ``count``: a mistake unless dim is the features' and count is D."""
    g = dout * gamma
    total = g.sum(dim=dim, keepdim=True)
    projection = (g * x_hat).sum(dim=dim, keepdim=True)
    return inv_std * (g - total / count - x_hat * projection / count)


def torch_layernorm_grads(x, gamma, beta, dout, eps=1e-5, variant=None):
    """(dx, dgamma, dbeta) of LayerNorm by torch, as numpy float64: x, dout (N, D); gamma, beta (D,).

    ``variant=None`` is autograd of ``torch.nn.functional.layer_norm``. The others
    (LAYERNORM_BACKWARD_VARIANTS) reproduce recognisable mistakes: "m-1" differentiates the unbiased
    variance (the source slides' m - 1, here D - 1); "constant", "no-mean" and "no-var" cut paths;
    "batchnorm-unchanged" is BatchNorm's backward applied as it is (sums over the batch, count N),
    "count-N" sums over the features but divides by N, "sums-over-batch" divides by D but sums
    over the batch. dgamma and dbeta are the right ones in every variant.
    """
    if variant not in LAYERNORM_BACKWARD_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {LAYERNORM_BACKWARD_VARIANTS}")
    xt, g, b = _t(x, True), _t(gamma, True), _t(beta, True)
    N, D = xt.shape
    if variant in (None, "batchnorm-unchanged", "count-N", "sums-over-batch"):
        y = F.layer_norm(xt, (D,), g, b, eps=eps)
    else:
        y = g * _normalise(xt, 1, eps, variant) + b
    (y * _t(dout)).sum().backward()
    dx, dgamma, dbeta = (t.grad.numpy() for t in (xt, g, b))
    if variant in ("batchnorm-unchanged", "count-N", "sums-over-batch"):
        dim, count = {"batchnorm-unchanged": (0, N), "count-N": (1, N), "sums-over-batch": (0, D)}[variant]
        x_hat, _, inv_std = (_t(a) for a in layernorm_cache(x, gamma, eps))
        dx = _batchnorm_closed_form_on_rows(_t(dout), x_hat, _t(gamma), inv_std, dim, count).numpy()
    return dx, dgamma, dbeta


def torch_batchnorm_grads(x, gamma, beta, dout, eps=1e-5, variant=None):
    """(dx, dgamma, dbeta) of train-mode BatchNorm by autograd, as numpy float64: x, dout (N, D).

    ``variant=None`` is ``torch.nn.functional.batch_norm``; "m-1" is the gradient the source
    slides' formulas give (the biased variance's value, the unbiased variance's derivative); "var-sign" flips the
    sign of the variance's path; "feature-sums" is the closed form with its two sums over the features (axis 1, as
    layer normalisation's) and the count N.
    """
    if variant not in (None, "m-1", "var-sign", "feature-sums"):
        raise ValueError(f"unknown variant {variant!r}")
    xt, g, b = _t(x, True), _t(gamma, True), _t(beta, True)
    if variant is None or variant == "feature-sums":
        y = F.batch_norm(xt, None, None, g, b, training=True, eps=eps)
    else:
        y = g * _normalise(xt, 0, eps, variant) + b
    (y * _t(dout)).sum().backward()
    grads = [t.grad.numpy() for t in (xt, g, b)]
    if variant == "feature-sums":
        x_hat, _, inv_std = (_t(a) for a in batchnorm_cache(x, gamma, eps))
        grads[0] = _batchnorm_closed_form_on_rows(_t(dout), x_hat, _t(gamma), inv_std, 1, xt.shape[0]).numpy()
    return tuple(grads)


def slides_backward_error(batch_sizes, n_features=4, draws=20, seed=0):
    """How wrong the source slides' m - 1 BatchNorm backward is: for each batch size m, the mean
    over ``draws`` random batches of ||dx_slides - dx|| / ||dx|| (Frobenius norms), with x, gamma,
    beta and dout standard normal and dx torch's autograd gradient. Returns an array, one value
    per batch size."""
    rng = np.random.default_rng(seed)
    errors = []
    for m in batch_sizes:
        runs = []
        for _ in range(draws):
            x, dout = rng.normal(size=(m, n_features)), rng.normal(size=(m, n_features))
            gamma, beta = rng.normal(size=n_features), rng.normal(size=n_features)
            right = torch_batchnorm_grads(x, gamma, beta, dout)[0]
            wrong = torch_batchnorm_grads(x, gamma, beta, dout, variant="m-1")[0]
            runs.append(np.linalg.norm(wrong - right) / np.linalg.norm(right))
        errors.append(np.mean(runs))
    return np.array(errors)
