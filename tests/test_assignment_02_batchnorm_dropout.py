"""Assignment 2 (BatchNorm and Dropout): the reference solutions against PyTorch, and honest tests.

The reference solutions are loaded from the source notebook (every non-test cell) and compared
with ``torch.nn.BatchNorm1d`` / ``BatchNorm2d`` / ``LayerNorm`` / dropout in float64 on random inputs. Then each
typical wrong implementation is swapped in and the visible part of the relevant test cell must
fail with a message that names the mistake: a check that cannot fail is a defect.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness import Assignment, Misconception
from utils import assert_close
from utils.references import batchnorm as bn_refs
from utils.references.batchnorm import torch_batchnorm_layer

A = Assignment("02_batchnorm_dropout")
pytestmark = A.marks
TIGHT = dict(rtol=1e-9, atol=1e-11)


@pytest.fixture(scope="module")
def ns():
    return A.reference()


def bn1d(gamma, beta, momentum=0.1, eps=1e-5):
    return torch_batchnorm_layer(gamma, beta, momentum, eps=eps)


def bn2d(gamma, beta, momentum=0.1, eps=1e-5):
    return torch_batchnorm_layer(gamma, beta, momentum, eps=eps, spatial=True)


def check_layer_against_torch(forward, backward, layer, shape, momentum, rng, steps=3):
    """Train steps (out, running statistics, gradients), then eval, of numpy layer vs torch layer."""
    gamma, beta = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    bn_param = {"mode": "train", "momentum": momentum, "eps": layer.eps}
    for step in range(steps):
        x = rng.normal(rng.normal(), rng.uniform(0.5, 3.0), size=shape)
        dout = rng.normal(size=shape)
        xt = torch.tensor(x, requires_grad=True)
        layer.zero_grad()
        y = layer.train()(xt)
        (y * torch.tensor(dout)).sum().backward()
        out, cache = forward(x, gamma, beta, bn_param)
        dx, dgamma, dbeta = backward(dout, cache)
        where = f"shape {shape}, momentum {momentum}, step {step + 1}"
        assert_close(out, y, f"out, {where}", **TIGHT)
        assert_close(bn_param["running_mean"], layer.running_mean, f"running_mean, {where}", **TIGHT)
        assert_close(bn_param["running_var"], layer.running_var, f"running_var, {where}", **TIGHT)
        assert_close(dx, xt.grad, f"dx, {where}", rtol=1e-8, atol=1e-10 * max(1.0, float(xt.grad.abs().max())))
        assert_close(dgamma, layer.weight.grad, f"dgamma, {where}", **TIGHT)
        assert_close(dbeta, layer.bias.grad, f"dbeta, {where}", **TIGHT)
    bn_param["mode"] = "eval"
    stored = bn_param["running_mean"].copy(), bn_param["running_var"].copy()
    for n in (1, 3):
        x = rng.normal(size=(n,) + tuple(shape[1:]))
        with torch.no_grad():
            expected = layer.eval()(torch.tensor(x))
        assert_close(forward(x, gamma, beta, bn_param)[0], expected, f"eval out, batch of {n}", **TIGHT)
    assert np.array_equal(bn_param["running_mean"], stored[0]) and np.array_equal(bn_param["running_var"], stored[1])


# --- the reference solutions against torch -------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.0, 0.1, 0.37, 1.0])
@pytest.mark.parametrize("shape", [(2, 1), (2, 7), (5, 1), (16, 1000), (9, 4)], ids=str)
def test_batchnorm_1d_matches_torch(ns, shape, momentum):
    rng = np.random.default_rng([shape[0], shape[1], int(momentum * 100)])
    layer = bn1d(rng.normal(size=shape[1]), rng.normal(size=shape[1]), momentum)
    check_layer_against_torch(ns["batchnorm_forward"], ns["batchnorm_backward"], layer, shape, momentum, rng)


@pytest.mark.parametrize(
    "eps, scale, offset", [(1e-5, 1000.0, 1e4), (0.1, 1e-3, 5.0), (1.0, 1.0, 0.0), (1e-3, 1e-2, -3.0)]
)
def test_batchnorm_1d_eps_and_scales(ns, eps, scale, offset):
    rng = np.random.default_rng(5)
    N, D = 6, 3
    x = offset + scale * rng.normal(size=(N, D))
    gamma, beta, dout = rng.normal(size=D), rng.normal(size=D), rng.normal(size=(N, D))
    layer = bn1d(gamma, beta, eps=eps)
    xt = torch.tensor(x, requires_grad=True)
    y = layer.train()(xt)
    (y * torch.tensor(dout)).sum().backward()
    bn_param = {"mode": "train", "eps": eps}
    out, cache = ns["batchnorm_forward"](x, gamma, beta, bn_param)
    dx, dgamma, dbeta = ns["batchnorm_backward"](dout, cache)
    assert_close(out, y, "out", **TIGHT)
    assert_close(bn_param["running_var"], layer.running_var, "running_var", rtol=1e-9, atol=1e-9)
    assert_close(dx, xt.grad, "dx", rtol=1e-7, atol=1e-9 * max(1.0, float(xt.grad.abs().max())))
    assert_close(dgamma, layer.weight.grad, "dgamma", rtol=1e-8, atol=1e-10)
    assert_close(dbeta, layer.bias.grad, "dbeta", **TIGHT)


def test_batchnorm_running_statistics_live_in_bn_param(ns):
    rng = np.random.default_rng(6)
    x, gamma, beta = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3)
    bn_param = {"mode": "train"}
    ns["batchnorm_forward"](x, gamma, beta, bn_param)
    mean_array = bn_param["running_mean"]
    assert_close(mean_array, 0.1 * x.mean(0), "running_mean after one step from zeros")
    assert_close(bn_param["running_var"], 0.9 + 0.1 * x.var(0, ddof=1), "running_var after one step from ones")
    ns["batchnorm_forward"](x, gamma, beta, bn_param)
    assert bn_param["running_mean"] is mean_array, "the running mean should be updated in place"
    with pytest.raises(ValueError):
        ns["batchnorm_forward"](x, gamma, beta, {"mode": "test"})


def test_torch_standins_agree_with_reference(ns):
    """The spatial test cells swap these in for the student's 1-d functions; they must be faithful."""
    rng = np.random.default_rng(7)
    x, gamma, beta, dout = rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=4), rng.normal(size=(6, 4))
    p_ref, p_torch = {"mode": "train", "momentum": 0.3}, {"mode": "train", "momentum": 0.3}
    out_ref, cache_ref = ns["batchnorm_forward"](x, gamma, beta, p_ref)
    out_torch, cache_torch = ns["torch_batchnorm_forward"](x, gamma, beta, p_torch)
    assert_close(out_torch, out_ref, "stand-in out", **TIGHT)
    for key in ("running_mean", "running_var"):
        assert_close(p_torch[key], p_ref[key], f"stand-in {key}", **TIGHT)
    for got, ref in zip(ns["torch_batchnorm_backward"](dout, cache_torch), ns["batchnorm_backward"](dout, cache_ref)):
        assert_close(got, ref, "stand-in gradient", rtol=1e-8, atol=1e-10)
    p_ref["mode"] = p_torch["mode"] = "eval"
    assert_close(
        ns["torch_batchnorm_forward"](x, gamma, beta, p_torch)[0],
        ns["batchnorm_forward"](x, gamma, beta, p_ref)[0],
        "stand-in eval out",
        **TIGHT,
    )


@pytest.mark.parametrize("momentum", [0.1, 0.5])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 3), (4, 1, 1, 1), (3, 8, 5, 5), (2, 4, 1, 6)], ids=str)
def test_spatial_batchnorm_matches_batchnorm2d(ns, shape, momentum):
    rng = np.random.default_rng([*shape, int(momentum * 10)])
    layer = bn2d(rng.normal(size=shape[1]), rng.normal(size=shape[1]), momentum)
    check_layer_against_torch(
        ns["spatial_batchnorm_forward"], ns["spatial_batchnorm_backward"], layer, shape, momentum, rng
    )


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(100_000,), (200, 500), (8, 16, 25, 32)], ids=str)
def test_dropout_statistics_and_backward(ns, shape, p):
    rng = np.random.default_rng(8)
    x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    n = x.size
    out, cache = ns["dropout_forward"](x, p, "train", seed=3)
    zeroed = float(np.mean(out == 0))
    assert abs(zeroed - p) < 6 * np.sqrt(p * (1 - p) / n), f"fraction zeroed {zeroed} for p={p}"
    torch_scale = F.dropout(torch.ones(10_000, dtype=torch.float64), p=p).max().item()
    kept = out != 0
    assert_close(out[kept], x[kept] * torch_scale, "kept units", **TIGHT)
    assert abs(out.mean() - x.mean()) < 6 * np.sqrt(np.sum(x**2) * p / (1 - p)) / n
    dout = rng.normal(size=shape)
    assert_close(ns["dropout_backward"](dout, cache), dout * out / x, "dx", **TIGHT)
    np.random.seed(123)  # the global numpy state must not matter
    assert np.array_equal(ns["dropout_forward"](x, p, "train", seed=3)[0], out)
    assert not np.array_equal(ns["dropout_forward"](x, p, "train", seed=4)[0] == 0, kept == 0)
    out_eval, cache_eval = ns["dropout_forward"](x, p, "eval", seed=3)
    assert np.array_equal(out_eval, x) and np.array_equal(ns["dropout_backward"](dout, cache_eval), dout)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_dropout_edge_probabilities(ns, p):
    rng = np.random.default_rng(9)
    x, dout = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    with np.errstate(all="raise"):  # p = 1 must not divide by zero
        out, cache = ns["dropout_forward"](x, p, "train", seed=0)
        dx = ns["dropout_backward"](dout, cache)
    assert np.array_equal(out, x * (1 - p)) and np.array_equal(dx, dout * (1 - p))


def torch_layernorm_layer(gamma, beta, eps=1e-5):
    layer = torch.nn.LayerNorm(len(gamma), eps=eps, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(gamma))
        layer.bias.copy_(torch.tensor(beta))
    return layer


@pytest.mark.parametrize(
    "eps, offset, scale", [(1e-5, 0.0, 1.0), (1e-3, 1e5, 1.0), (0.1, 0.0, 1e-3), (1.0, -3.0, 1e3)], ids=str
)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (2, 1), (3, 3), (6, 5), (16, 1000), (64, 10)], ids=str)
def test_layernorm_matches_torch(ns, shape, eps, offset, scale):
    """Forward, cache and backward (fed the reference's own cache) against nn.LayerNorm's autograd,
    in both modes; nothing is stored in ln_param and x is left alone."""
    rng = np.random.default_rng([*shape, int(-np.log10(eps)), int(scale * 1000)])
    N, D = shape
    x = bn_refs.layernorm_inputs(rng, N, D, offset=offset, scale=scale)
    gamma, beta, dout = rng.normal(size=D), rng.normal(size=D), rng.normal(size=shape)
    layer = torch_layernorm_layer(gamma, beta, eps)
    xt = torch.tensor(x, requires_grad=True)
    y = layer(xt)
    (y * torch.tensor(dout)).sum().backward()
    x_before = x.copy()
    for mode in ("train", "eval"):
        ln_param = {"eps": eps, "mode": mode}
        out, cache = ns["layernorm_forward"](x, gamma, beta, ln_param)
        assert ln_param == {"eps": eps, "mode": mode} and np.array_equal(x, x_before)
        assert_close(out, y, f"out, {mode}", rtol=1e-9, atol=1e-9)
        for got, want in zip(cache, bn_refs.layernorm_cache(x, gamma, eps)):
            assert np.shape(got) == np.shape(want)
            assert_close(got, want, "cache", rtol=1e-9, atol=1e-9)
        dx, dgamma, dbeta = ns["layernorm_backward"](dout, cache)
        atol = 1e-10 * max(1.0, float(xt.grad.abs().max()))
        assert_close(dx, xt.grad, "dx", rtol=1e-8, atol=atol)
        assert_close(dgamma, layer.weight.grad, "dgamma", rtol=1e-9, atol=1e-9)
        assert_close(dbeta, layer.bias.grad, "dbeta", **TIGHT)


def test_layernorm_needs_no_batch(ns):
    """One example works (where train-mode BatchNorm refuses), and one feature gives beta and dx = 0."""
    rng = np.random.default_rng(11)
    x, gamma, beta = rng.normal(size=(1, 6)), rng.normal(size=6), rng.normal(size=6)
    with pytest.raises(ValueError):
        ns["batchnorm_forward"](x, gamma, beta, {"mode": "train"})
    out, _ = ns["layernorm_forward"](x, gamma, beta, {})
    assert_close(out, torch_layernorm_layer(gamma, beta)(torch.tensor(x)), "N = 1", **TIGHT)
    x, gamma, beta, dout = rng.normal(size=(4, 1)), rng.normal(size=1), rng.normal(size=1), rng.normal(size=(4, 1))
    out, cache = ns["layernorm_forward"](x, gamma, beta, {"eps": 1e-5})
    assert_close(out, np.broadcast_to(beta, (4, 1)), "D = 1: out is beta", **TIGHT)
    assert np.array_equal(ns["layernorm_backward"](dout, cache)[0], np.zeros((4, 1)))


def test_layernorm_references_are_faithful(ns):
    """The torch references the LayerNorm test cells use: the exact answer agrees with the reference
    solution, and each variant is what its mistake computes in numpy (so the named checks are right)."""
    rng = np.random.default_rng(12)
    N, D = 5, 4
    x = bn_refs.layernorm_inputs(rng, N, D)
    gamma, beta, dout = rng.normal(size=D), rng.normal(size=D), rng.normal(size=(N, D))
    out, cache = ns["layernorm_forward"](x, gamma, beta, {})
    assert_close(bn_refs.torch_layernorm(x, gamma, beta), out, "torch_layernorm", **TIGHT)
    for variant in bn_refs.LAYERNORM_FORWARD_VARIANTS[1:]:
        wrong = ln_forward_variant(**FORWARD_VARIANT_ARGS[variant])(x, gamma, beta, {})[0]
        assert_close(bn_refs.torch_layernorm(x, gamma, beta, variant=variant), wrong, variant, **TIGHT)
    for ref, got in zip(bn_refs.torch_layernorm_grads(x, gamma, beta, dout), ns["layernorm_backward"](dout, cache)):
        assert_close(ref, got, "torch_layernorm_grads", rtol=1e-9, atol=1e-11)
    for variant, wrong_backward in BACKWARD_VARIANTS.items():
        wrong = wrong_backward(dout, cache)
        for ref, got in zip(bn_refs.torch_layernorm_grads(x, gamma, beta, dout, variant=variant), wrong):
            assert_close(ref, got, variant, rtol=1e-9, atol=1e-11)
        assert np.max(np.abs(wrong[0] - ns["layernorm_backward"](dout, cache)[0])) > 1e-3, variant
    with pytest.raises(ValueError):
        bn_refs.torch_layernorm(x, gamma, beta, variant="no-such-mistake")


def test_slides_backward_error_measures_the_m_minus_1_gradient(ns):
    """The figures assignment 2 prints beside its text on m - 1: the torch variant is the slides'
    formula, and the error it measures is large for small batches and shrinks."""
    rng = np.random.default_rng(13)
    x, gamma, beta, dout = rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(6, 3))
    _, cache = ns["batchnorm_forward"](x, gamma, beta, {"mode": "train"})
    slides = bn_backward_slides(dout, cache)
    for ref, got in zip(bn_refs.torch_batchnorm_grads(x, gamma, beta, dout, variant="m-1"), slides):
        assert_close(ref, got, "m-1 variant", rtol=1e-9, atol=1e-11)
    for ref, got in zip(bn_refs.torch_batchnorm_grads(x, gamma, beta, dout), ns["batchnorm_backward"](dout, cache)):
        assert_close(ref, got, "exact", rtol=1e-9, atol=1e-11)
    errors = bn_refs.slides_backward_error([5, 64], draws=5, seed=1)
    assert errors.shape == (2,) and errors[0] > 0.05 and 1e-4 < errors[1] < 1e-2, errors


def test_layernorm_is_graded_as_numpy_and_repeated_outside_the_kernel():
    """numpy_only is true in the metadata: every solution cell's function, LayerNorm's included, is
    graded as numpy, and its test cells are run again in the clean room."""
    from autograder import replay
    from autograder.execute import grading_rules

    new = {"layernorm_forward", "layernorm_backward"}
    rules = grading_rules(A.path)
    assert new <= set(rules["numpy_only"])
    _, tests, _, functions = replay.plan(A.source, set(rules["numpy_only"]))
    assert new <= functions
    repeated = {c.metadata["nbgrader"]["grade_id"] for c in tests}
    assert {"test-layernorm_forward", "test-layernorm_backward"} <= repeated


# --- the misconceptions: each is caught, and the visible test names it -------------------------------


def bn_forward_variant(
    *,
    swap=False,
    biased_running=False,
    reversed_momentum=False,
    not_stored=False,
    eval_batch_stats=False,
    eps_outside=False,
):
    """batchnorm_forward with one typical mistake switched on."""

    def forward(x, gamma, beta, bn_param):
        mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
        N, D = x.shape
        running_mean = bn_param.setdefault("running_mean", np.zeros(D))
        running_var = bn_param.setdefault("running_var", np.ones(D))
        if mode == "train" or eval_batch_stats:
            mean, var = x.mean(axis=0), x.var(axis=0)
        else:
            mean, var = running_mean, running_var
        if mode == "train":
            weight = 1 - momentum if reversed_momentum else momentum
            sample_var = var if biased_running else var * N / (N - 1)
            new_mean = (1 - weight) * running_mean + weight * mean
            new_var = (1 - weight) * running_var + weight * sample_var
            if not not_stored:
                running_mean[...], running_var[...] = new_mean, new_var
        inv_std = 1 / (np.sqrt(var) + eps) if eps_outside else 1 / np.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        out = beta * x_hat + gamma if swap else gamma * x_hat + beta
        return out, (x_hat, gamma, inv_std)

    return forward


def bn_backward_slides(dout, cache):
    """The source slides' backward formulas, which divide by m - 1 (reference cache layout)."""
    x_hat, gamma, inv_std = cache
    m = dout.shape[0]
    centred, var_eps = x_hat / inv_std, inv_std**-2.0
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * centred, axis=0) * -0.5 * var_eps**-1.5
    dmu = np.sum(-dx_hat * inv_std, axis=0) + dvar * np.sum(-2 * centred, axis=0) / (m - 1)
    dx = dx_hat * inv_std + dvar * 2 * centred / (m - 1) + dmu / m
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def spatial_forward_no_transpose(scope):
    def forward(x, gamma, beta, bn_param):
        out, cache = scope["batchnorm_forward"](x.reshape(-1, x.shape[1]), gamma, beta, bn_param)
        return out.reshape(x.shape), (cache, x.shape)

    return forward


def spatial_forward_correct(scope):
    """Correct spatial forward that looks up batchnorm_forward in ``scope`` (so the stand-in is used)."""

    def forward(x, gamma, beta, bn_param):
        N, C, H, W = x.shape
        out, cache = scope["batchnorm_forward"](x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta, bn_param)
        return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), (cache, x.shape)

    return forward


def spatial_backward_no_transpose(scope, undo_transpose=True):
    """Flattens dout without moving the channels last; dx is rearranged back as a correct forward
    pass would need (``undo_transpose``) or with a plain reshape, matching the wrong forward pass."""

    def backward(dout, cache):
        cache_1d, (N, C, H, W) = cache
        dx, dgamma, dbeta = scope["batchnorm_backward"](dout.reshape(-1, C), cache_1d)
        dx = dx.reshape(N, H, W, C).transpose(0, 3, 1, 2) if undo_transpose else dx.reshape(N, C, H, W)
        return dx, dgamma, dbeta

    return backward


def dropout_variant(*, keep_probability=False, eval_scale=False, shared_mask=False, global_rng=False):
    def forward(x, p, mode, seed=None):
        if mode == "eval":
            return (x * (1 - p) if eval_scale else x.copy()), ("eval", None)
        shape = x.shape[1:] if shared_mask else x.shape
        if global_rng:
            np.random.seed(seed)
            u = np.random.random_sample(shape)
        else:
            u = np.random.default_rng(seed).random(shape)
        if keep_probability:
            mask = (u < p) / p
        else:
            mask = (u >= p) / (1 - p) if p < 1 else np.zeros(shape)
        return x * mask, ("train", mask)

    return forward


def dropout_backward_unscaled(dout, cache):
    mode, mask = cache
    return dout * (mask != 0) if mode == "train" else dout


def ln_forward_variant(
    *, axis=1, ddof=0, eps_outside=False, gamma_first=False, naive_var=False, swap=False, running_stats=False
):
    """layernorm_forward with one typical mistake switched on (cache as the docstring says)."""

    def forward(x, gamma, beta, ln_param):
        eps = ln_param.get("eps", 1e-5)
        z = gamma * x if gamma_first else x
        if running_stats:  # batchnorm_forward's habits carried over: state in ln_param, used in eval
            D = x.shape[1]
            running = ln_param.setdefault("running_mean", np.zeros(D)), ln_param.setdefault("running_var", np.ones(D))
        mean = z.mean(axis=axis, keepdims=True)
        if naive_var:
            var = (z**2).mean(axis=axis, keepdims=True) - mean**2
        else:
            var = z.var(axis=axis, ddof=ddof, keepdims=True)
        if running_stats and ln_param.get("mode") == "eval":
            mean, var = running
        inv_std = 1 / (np.sqrt(var) + eps) if eps_outside else 1 / np.sqrt(var + eps)
        x_hat = (z - mean) * inv_std
        if gamma_first:
            out = x_hat + beta
        else:
            out = beta * x_hat + gamma if swap else gamma * x_hat + beta
        return out, (x_hat, gamma, inv_std)

    return forward


FORWARD_VARIANT_ARGS = {
    "batch-axis": {"axis": 0},
    "unbiased": {"ddof": 1},
    "eps-outside": {"eps_outside": True},
    "gamma-first": {"gamma_first": True},
    "naive-var": {"naive_var": True},
}


def ln_backward_variant(*, axis=1, count="D", params_axis=0, detach=False):
    """layernorm_backward with one typical mistake: batchnorm_backward's closed form with the axis of
    its sums and its count as given, dgamma/dbeta summed over ``params_axis``, or (``detach``) the
    row statistics treated as constants."""

    def backward(dout, cache):
        x_hat, gamma, inv_std = cache
        N, D = dout.shape
        m = D if count == "D" else N
        dx_hat = dout * gamma
        if detach:
            dx = dx_hat * inv_std
        else:
            total = dx_hat.sum(axis=axis, keepdims=True)
            projection = (dx_hat * x_hat).sum(axis=axis, keepdims=True)
            dx = inv_std / m * (m * dx_hat - total - x_hat * projection)
        return dx, (dout * x_hat).sum(axis=params_axis), dout.sum(axis=params_axis)

    return backward


def ln_backward_slides(dout, cache):
    """The source slides' backward formulas (m - 1) carried over to rows: D - 1 where D belongs."""
    x_hat, gamma, inv_std = cache
    D = dout.shape[1]
    centred, var_eps = x_hat / inv_std, inv_std**-2.0
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * centred, axis=1, keepdims=True) * -0.5 * var_eps**-1.5
    dmu = np.sum(-dx_hat * inv_std, axis=1, keepdims=True) + dvar * np.sum(-2 * centred, axis=1, keepdims=True) / (
        D - 1
    )
    dx = dx_hat * inv_std + dvar * 2 * centred / (D - 1) + dmu / D
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


BACKWARD_VARIANTS = {
    "batchnorm-unchanged": ln_backward_variant(axis=0, count="N"),
    "count-N": ln_backward_variant(count="N"),
    "sums-over-batch": ln_backward_variant(axis=0),
    "m-1": ln_backward_slides,
    "constant": ln_backward_variant(detach=True),
}


MISTAKES = {
    "beta-gamma-swapped": (
        "batchnorm_forward",
        lambda s: {"batchnorm_forward": bn_forward_variant(swap=True)},
        "beta * x_hat + gamma",
    ),
    "biased-running-var": (
        "batchnorm_running_stats",
        lambda s: {"batchnorm_forward": bn_forward_variant(biased_running=True)},
        "running_var was updated with the biased batch variance",
    ),
    "momentum-reversed": (
        "batchnorm_running_stats",
        lambda s: {"batchnorm_forward": bn_forward_variant(reversed_momentum=True)},
        "momentum applied the other way round",
    ),
    "running-not-stored": (
        "batchnorm_running_stats",
        lambda s: {"batchnorm_forward": bn_forward_variant(not_stored=True)},
        "Rebinding a local name",
    ),
    "eval-uses-batch-stats": (
        "batchnorm_running_stats",
        lambda s: {"batchnorm_forward": bn_forward_variant(eval_batch_stats=True)},
        "eval mode normalised with the statistics of the batch",
    ),
    "backward-m-minus-1": (
        "batchnorm_backward",
        lambda s: {"batchnorm_backward": bn_backward_slides},
        "m - 1 instead of m",
    ),
    "spatial-forward-no-transpose": (
        "spatial_batchnorm_forward",
        lambda s: {"spatial_batchnorm_forward": spatial_forward_no_transpose(s)},
        "without moving the channel axis last",
    ),
    "spatial-backward-no-transpose": (
        "spatial_batchnorm_backward",
        lambda s: {
            "spatial_batchnorm_forward": spatial_forward_correct(s),
            "spatial_batchnorm_backward": spatial_backward_no_transpose(s),
        },
        "dout was flattened with reshape(-1, C)",
    ),
    "spatial-both-no-transpose": (
        "spatial_batchnorm_backward",
        lambda s: {
            "spatial_batchnorm_forward": spatial_forward_no_transpose(s),
            "spatial_batchnorm_backward": spatial_backward_no_transpose(s, False),
        },
        "x and dout were flattened with reshape(-1, C)",
    ),
    "dropout-eval-scaled": (
        "dropout_forward",
        lambda s: {"dropout_forward": dropout_variant(eval_scale=True)},
        "eval mode scaled x by (1 - p)",
    ),
    "dropout-p-is-keep": (
        "dropout_forward",
        lambda s: {"dropout_forward": dropout_variant(keep_probability=True)},
        "p was read as the probability of KEEPING a unit",
    ),
    "dropout-shared-mask": (
        "dropout_forward",
        lambda s: {"dropout_forward": dropout_variant(shared_mask=True)},
        "one mask shared by the whole batch",
    ),
    "dropout-global-rng": (
        "dropout_forward",
        lambda s: {"dropout_forward": dropout_variant(global_rng=True)},
        "global random state",
    ),
    "eps-outside-sqrt": (
        "batchnorm_forward",
        lambda s: {"batchnorm_forward": bn_forward_variant(eps_outside=True)},
        "eps was added outside the square root",
    ),
    "dropout-backward-unscaled": (
        "dropout_backward",
        lambda s: {"dropout_backward": dropout_backward_unscaled},
        "the 1 / (1 - p) scale is missing from dx",
    ),
    "ln-batch-axis": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(axis=0)},
        "computed over the batch (axis 0), as batch normalisation does",
    ),
    "ln-unbiased-variance": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(ddof=1)},
        "unbiased variance (divided by D - 1)",
    ),
    "ln-eps-outside-sqrt": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(eps_outside=True)},
        "eps was added outside the square root",
    ),
    "ln-gamma-before-normalising": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(gamma_first=True)},
        "gamma was applied before normalising",
    ),
    "ln-beta-gamma-swapped": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(swap=True)},
        "beta * x_hat + gamma",
    ),
    "ln-naive-variance": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(naive_var=True)},
        "mean(x**2) - mean(x)**2",
    ),
    "ln-running-statistics": (
        "layernorm_forward",
        lambda s: {"layernorm_forward": ln_forward_variant(running_stats=True)},
        "keeps no running statistics",
    ),
    "ln-backward-batchnorm-unchanged": (
        "layernorm_backward",
        lambda s: {"layernorm_backward": BACKWARD_VARIANTS["batchnorm-unchanged"]},
        "batchnorm_backward's formula was reused unchanged",
    ),
    "ln-backward-count-N": (
        "layernorm_backward",
        lambda s: {"layernorm_backward": BACKWARD_VARIANTS["count-N"]},
        "the count is still the batch size N",
    ),
    "ln-backward-sums-over-batch": (
        "layernorm_backward",
        lambda s: {"layernorm_backward": BACKWARD_VARIANTS["sums-over-batch"]},
        "the sums still run over the batch (axis 0)",
    ),
    "ln-backward-m-minus-1": (
        "layernorm_backward",
        lambda s: {"layernorm_backward": ln_backward_slides},
        "D - 1 instead of D",
    ),
    "ln-backward-constant-statistics": (
        "layernorm_backward",
        lambda s: {"layernorm_backward": BACKWARD_VARIANTS["constant"]},
        "treated as constants",
    ),
    "ln-backward-params-over-features": (
        "layernorm_backward",
        lambda s: {"layernorm_backward": ln_backward_variant(params_axis=1)},
        "summed over the features (axis 1)",
    ),
}


MISCONCEPTIONS = [Misconception(name, test, replace, phrase) for name, (test, replace, phrase) in MISTAKES.items()]


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught_and_named(mistake):
    A.check_misconception(mistake)
    assert "Likely mistake" in A.run_test(mistake.test, replace=mistake.replace, hidden=False).message


def test_slide_formulas_really_differ_from_torch(ns):
    """Erratum 001: the m - 1 backward is measurably wrong, so the named check is meaningful."""
    rng = np.random.default_rng(10)
    x, gamma, beta, dout = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(5, 3))
    _, cache = ns["batchnorm_forward"](x, gamma, beta, {"mode": "train"})
    dx_ref = ns["batchnorm_backward"](dout, cache)[0]
    dx_slides = bn_backward_slides(dout, cache)[0]
    assert np.max(np.abs(dx_slides - dx_ref)) > 1e-3 * np.max(np.abs(dx_ref))


@pytest.mark.parametrize(
    "wrong, replace, expected",
    [
        (
            "batchnorm_forward",
            {"batchnorm_forward": bn_forward_variant(swap=True)},
            ["batchnorm_forward", "batchnorm_running_stats"],
        ),
        ("dropout_forward", {"dropout_forward": dropout_variant(keep_probability=True)}, ["dropout_forward"]),
        ("layernorm_forward", {"layernorm_forward": ln_forward_variant(axis=0)}, ["layernorm_forward"]),
    ],
    ids=["batchnorm_forward", "dropout_forward", "layernorm_forward"],
)
def test_a_wrong_forward_pass_costs_no_backward_points(wrong, replace, expected):
    """Backward tests build their caches with torch; the spatial tests use torch stand-ins."""
    failing = A.failing_tests(replace)
    assert failing == expected, f"a wrong {wrong} fails {failing}"


# --- the blind catalogue's mistakes (tests/blind/a02_batchnorm_dropout.py) that the test cells once let through or did
# not name: each planted through its real test cell, its message checked for its own words, and no other planted
# mistake of the same cell gets them.
BLIND = [
    # (id, test cell, the catalogue entry's description start, phrase of its message)
    ("bn-stats-over-features", "batchnorm_forward", "statistics over the features", "computed over the batch (axis 0)"),
    ("bn-cache-std", "batchnorm_forward", "the cache holds the standard deviation", "is the standard deviation"),
    ("bn-cache-x", "batchnorm_forward", "the cache holds the raw input x", "is the input x itself"),
    ("bn-keepdims", "batchnorm_forward", "keepdims=True on the batch statistics", "without keepdims=True"),
    ("bn-divides-by-variance", "batchnorm_forward", "divides by the variance", "divided by the variance"),
    ("bn-float32", "batchnorm_forward", "computes in float32", "computes in float32"),
    ("bn-eval-no-eps", "batchnorm_running_stats", "eval mode forgets eps", "eval mode leaves eps out"),
    ("bn-bessel-inverted", "batchnorm_running_stats", "Bessel's correction inverted", "var * (m - 1) / m"),
    ("bn-new-arrays", "batchnorm_running_stats", "new running arrays stored", "stored new arrays in bn_param"),
    ("bn-back-no-gamma", "batchnorm_backward", "gamma forgotten in dx", "missing the factor gamma"),
    ("bn-back-feature-sums", "batchnorm_backward", "the two sums of dx over the features", "run over the features"),
    ("bn-back-var-sign", "batchnorm_backward", "sign error: the variance term", "has the wrong sign"),
    ("bn-back-divides-inv-std", "batchnorm_backward", "divides by inv_std", "dx is divided by inv_std"),
    ("spatial-not-moved-back", "spatial_batchnorm_forward", "channels moved last on the way in", "reshaped straight"),
    (
        "spatial-same-permutation",
        "spatial_batchnorm_forward",
        "the output rearranged back",
        "permuted with (0, 2, 3, 1) again",
    ),
    ("spatial-new-dict", "spatial_batchnorm_forward", "a new dict of settings", "pass bn_param itself"),
    ("spatial-rows-per-channel", "spatial_batchnorm_forward", "rearranged into (C, N*H*W)", "one column per channel"),
    ("spatial-gamma-last-axis", "spatial_batchnorm_forward", "normalised with gamma = 1", "reshape them to (C, 1, 1)"),
    (
        "spatial-per-position",
        "spatial_batchnorm_forward",
        "every (channel, row, column) position",
        "per (channel, row, column)",
    ),
    ("spatial-back-not-moved-back", "spatial_batchnorm_backward", "dx reshaped straight", "dx was reshaped straight"),
    ("spatial-back-whole-cache", "spatial_batchnorm_backward", "the whole spatial cache", "not the spatial cache"),
    (
        "spatial-back-swapped",
        "spatial_batchnorm_backward",
        "batchnorm_backward's result unpacked",
        "dgamma holds dbeta's",
    ),
    ("ln-no-keepdims", "layernorm_forward", "no keepdims: the row means", "lines up with the features"),
    ("ln-eps-key", "layernorm_forward", 'eps read as ln_param["eps"]', "dict.get('eps'"),
    ("ln-whole-batch", "layernorm_forward", "one mean and one variance for the whole batch", "for the whole batch"),
    ("ln-back-no-keepdims", "layernorm_backward", "no keepdims on the row sums", "lines up with the features"),
    ("ln-back-no-gamma", "layernorm_backward", "gamma forgotten in dx", "missing the factor gamma"),
    ("ln-back-var-sign", "layernorm_backward", "sign error: the variance term", "has the wrong sign"),
    ("dropout-seed-lost", "dropout_forward", "the seed never reaches", "the seed does not reach"),
    ("dropout-in-place", "dropout_forward", "x masked in place", "changed its input x in place"),
    ("dropout-back-no-eval", "dropout_backward", "no eval branch", "mask is None"),
    ("dropout-back-unpack-order", "dropout_backward", "the cache unpacked in the wrong order", "(mode, mask)"),
    ("dropout-back-unbound", "dropout_backward", "dx assigned only in the train branch", "one branch only"),
]


# One hint that names two mistakes of the same shape: the batch statistics of shape (N, 1) or (1, D), not (D,).
SHARED_HINTS = {frozenset({"bn-stats-over-features", "bn-keepdims"})}


@pytest.mark.parametrize(("name", "test", "start", "phrase"), BLIND, ids=[row[0] for row in BLIND])
def test_a_blind_mistake_is_caught_and_named(name, test, start, phrase):
    mistake = Misconception(name, test, A.blind_solution(start, test), phrase)
    A.check_misconception(mistake)
    others = [Misconception(n, t, A.blind_solution(s, t), p) for n, t, s, p in BLIND]
    assert not A.others_given_the_hint(mistake, others, SHARED_HINTS, hidden=True), name
