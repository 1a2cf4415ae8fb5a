"""Assignment 1 (backpropagation): the reference against torch, and the misconceptions.

The generic checks (the reference passes every test cell, the blank release scores zero, the points
add up, the independent solution earns full marks) run in tests/test_assignments.py. Here:

* the reference layers, loss and MLP match torch autograd on random float64 inputs of several
  shapes, including a batch of one and extreme magnitudes; the reference optimisers match
  torch.optim.SGD(momentum=...) and torch.optim.Adam step by step;
* the torch-built variants that the optimiser tests name (utils.references.backprop) are the
  mistakes they claim to be: each equals a numpy implementation of that mistake;
* test cells are independent: a missing layer costs only that layer's test;
* the table of mistakes a teacher expects, each with the test whose visible message names it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.notebooks import TEST_HEADER
from autograder.replay import names_in
from harness import Assignment, Misconception, from_source, mutate, solution_sources
from utils import numeric_gradient, torch_reference
from utils.references import backprop as refs

A = Assignment("01_backprop")
pytestmark = A.marks

LAYER_TESTS = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax_cross_entropy"]
OPTIMISER_TESTS = ["sgd_momentum", "adam"]
ALL_TESTS = [*LAYER_TESTS, "mlp_init_predict", "mlp_gradients", *OPTIMISER_TESTS, "mlp_training"]
TORCH_ACT = {"relu": F.relu, "leaky_relu": F.leaky_relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@pytest.fixture(scope="module")
def ns() -> dict:
    """The reference namespace, with the notebook's training cell run (``test_accuracy``, ``history``)."""
    return A.reference()


@pytest.fixture(scope="module")
def trained(ns) -> dict:
    return ns


def _mlp_torch(params: dict, X: np.ndarray, y: np.ndarray, activation: str):
    """Loss and gradients of the MLP with these parameters, by torch autograd."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    n_layers = len(params) // 2
    h = torch.tensor(X, dtype=torch.float64)
    for l in range(1, n_layers + 1):
        h = F.linear(h, tensors[f"W{l}"].T, tensors[f"b{l}"])
        if l < n_layers:
            h = TORCH_ACT[activation](h)
    loss = F.cross_entropy(h, torch.tensor(y))
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in tensors.items()}


# -- the reference against torch ---------------------------------------------------------------
@pytest.mark.parametrize("N,D,M", [(1, 1, 1), (1, 7, 3), (5, 1, 4), (6, 4, 1), (32, 64, 10)])
def test_linear_matches_torch(ns, N, D, M) -> None:
    rng = np.random.default_rng(N * 100 + D * 10 + M)
    x, W, b, dout = (rng.normal(size=s) for s in [(N, D), (D, M), (M,), (N, M)])
    out_t, grads_t = torch_reference(lambda x, W, b: F.linear(x, W.T, b), x, W, b, dout=dout)
    out, cache = ns["linear_forward"](x, W, b)
    np.testing.assert_allclose(out, out_t, rtol=1e-12, atol=1e-12)
    for got, expected in zip(ns["linear_backward"](dout, cache), grads_t):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


ACTIVATION_CASES = [
    ("relu", {}, F.relu),
    ("leaky_relu", {}, F.leaky_relu),
    ("leaky_relu", {"negative_slope": 0.3}, lambda t: F.leaky_relu(t, 0.3)),
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
]


@pytest.mark.parametrize("name,kwargs,torch_fn", ACTIVATION_CASES, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("shape", [(1,), (1, 1), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
def test_activations_match_torch(ns, name, kwargs, torch_fn, shape, scale) -> None:
    rng = np.random.default_rng(len(shape) * 7 + int(scale))
    x, dout = scale * rng.normal(size=shape), rng.normal(size=shape)
    out_t, (dx_t,) = torch_reference(torch_fn, x, dout=dout)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, cache = ns[f"{name}_forward"](x.copy(), **kwargs)
        dx = ns[f"{name}_backward"](dout.copy(), cache)
    np.testing.assert_allclose(out, out_t, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-15)


def test_sigmoid_extremes(ns) -> None:
    x = np.array([-1e3, -745.0, -709.0, -40.0, 0.0, 40.0, 709.0, 745.0, 1e3])
    with np.errstate(all="raise", under="ignore"):
        out, cache = ns["sigmoid_forward"](x)
        dx = ns["sigmoid_backward"](np.ones_like(x), cache)
    out_t, (dx_t,) = torch_reference(torch.sigmoid, x, dout=np.ones_like(x))
    np.testing.assert_allclose(out, out_t, rtol=1e-12, atol=1e-300)  # exp(-745) is subnormal
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-300)
    assert out[0] == 0.0 and out[-1] == 1.0 and out[4] == 0.5


@pytest.mark.parametrize("N,C", [(1, 1), (1, 2), (4, 3), (64, 10), (3, 50)])
@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
def test_softmax_cross_entropy_matches_torch(ns, N, C, scale) -> None:
    rng = np.random.default_rng(N * 1000 + C)
    scores, y = scale * rng.normal(size=(N, C)), rng.integers(0, C, size=N)
    loss_t, (dscores_t, _) = torch_reference(F.cross_entropy, scores, y)
    loss, dscores = ns["softmax_cross_entropy"](scores.copy(), y)
    assert np.ndim(loss) == 0 and np.isfinite(loss)
    np.testing.assert_allclose(loss, loss_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dscores, dscores_t, rtol=1e-8, atol=1e-14)


MLP_CASES = [
    ([3, 4, 2], "relu", 1),
    ([5, 3], "tanh", 4),
    ([7, 5, 4, 6], "leaky_relu", 5),
    ([4, 8, 3], "sigmoid", 6),
    ([6, 3, 5, 4, 3], "tanh", 2),
    ([64, 32, 10], "relu", 16),
]


@pytest.mark.parametrize("sizes,activation,N", MLP_CASES)
def test_mlp_gradients_match_torch(ns, sizes, activation, N) -> None:
    rng = np.random.default_rng(len(sizes) * 10 + N)
    model = ns["MLP"](sizes, activation=activation, weight_scale=0.7, seed=2)
    X, y = rng.normal(size=(N, sizes[0])), rng.integers(0, sizes[-1], size=N)
    loss_t, grads_t = _mlp_torch(model.params, X, y, activation)
    loss, grads = model.loss(X, y)
    np.testing.assert_allclose(loss, loss_t, rtol=1e-10)
    assert sorted(grads) == sorted(model.params)
    for key, expected in grads_t.items():
        np.testing.assert_allclose(grads[key], expected, rtol=1e-8, atol=1e-12, err_msg=key)
    scores_argmax = model.predict(X)
    assert scores_argmax.shape == (N,)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_mlp_gradients_match_numeric(ns, activation) -> None:
    model = ns["MLP"]([4, 5, 3, 3], activation=activation, weight_scale=0.6, seed=1)
    X, y = np.random.default_rng(3).normal(size=(5, 4)), np.array([0, 1, 2, 2, 1])
    _, grads = model.loss(X, y)
    for key, param in model.params.items():
        numeric = numeric_gradient(lambda _: model.loss(X, y)[0], param)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


@pytest.mark.parametrize(
    "activation,rule",
    [
        ("relu", lambda i, o: np.sqrt(2 / i)),
        ("leaky_relu", lambda i, o: np.sqrt(2 / i)),
        ("sigmoid", lambda i, o: np.sqrt(2 / (i + o))),
        ("tanh", lambda i, o: np.sqrt(2 / (i + o))),
    ],
)
def test_mlp_default_initialisation(ns, activation, rule) -> None:
    sizes = [500, 400, 300]
    model = ns["MLP"](sizes, activation=activation, seed=0)
    for l in (1, 2):
        assert abs(model.params[f"W{l}"].std() / rule(sizes[l - 1], sizes[l]) - 1) < 0.03
        assert np.all(model.params[f"b{l}"] == 0)
    same = ns["MLP"](sizes, activation=activation, seed=0)
    assert np.array_equal(model.params["W2"], same.params["W2"])


def test_reference_training_reaches_the_threshold(trained) -> None:
    assert trained["test_accuracy"] >= 0.96  # margin above the test's 0.95
    assert trained["history"]["train_loss"][-1] < 0.1


# -- the optimisers against torch.optim ----------------------------------------------------------
def _grads(rng, shape, scales):
    return [scale * rng.normal(size=shape) for scale in scales]


@pytest.mark.parametrize("shape", [(1,), (6,), (4, 3), (2, 3, 4)])
@pytest.mark.parametrize(
    "rates,momentum", [([1e-2] * 8, 0.9), ([0.3] * 4 + [0.03] * 4, 0.5), ([0.1] * 8, 0.0), ([1e-3] * 8, 0.99)]
)
def test_sgd_momentum_matches_torch(ns, shape, rates, momentum) -> None:
    rng = np.random.default_rng(len(shape) * 31 + int(100 * momentum))
    w = rng.normal(size=shape)
    grads = _grads(rng, shape, [1.0, 1e-4, 1e3, 0.0, 1.0, 2.0, 1e-6, 1.0])
    p = torch.nn.Parameter(torch.tensor(w))
    opt = torch.optim.SGD([p], lr=rates[0], momentum=momentum)
    config = {"learning_rate": rates[0], "momentum": momentum}
    for g, lr in zip(grads, rates):
        opt.param_groups[0]["lr"] = config["learning_rate"] = lr
        p.grad = torch.tensor(g)
        opt.step()
        w_before = w.copy()
        w, config = ns["sgd_momentum"](w, g, config)
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-14)
        buffer = opt.state[p].get("momentum_buffer")
        np.testing.assert_allclose(config["velocity"], g if buffer is None else buffer.numpy(), rtol=1e-12, atol=1e-14)
        assert not np.shares_memory(w, w_before)


@pytest.mark.parametrize("shape", [(1,), (6,), (4, 3), (2, 3, 4)])
@pytest.mark.parametrize(
    "hyper",
    [
        {},
        {"learning_rate": 0.1, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3},
        {"learning_rate": 0.01, "beta1": 0.0, "beta2": 0.9, "epsilon": 1e-6},
        {"learning_rate": 0.3, "beta1": 0.95, "beta2": 0.9999, "epsilon": 0.1},
    ],
    ids=["defaults", "a", "b", "c"],
)
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e3])
def test_adam_matches_torch(ns, shape, hyper, scale) -> None:
    rng = np.random.default_rng(len(shape) * 17 + len(hyper))
    w = rng.normal(size=shape)
    grads = _grads(rng, shape, [scale] * 3 + [0.0] + [scale] * 4)
    defaults = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    h = {**defaults, **hyper}
    p = torch.nn.Parameter(torch.tensor(w))
    opt = torch.optim.Adam([p], lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]), eps=h["epsilon"])
    config = dict(hyper) if hyper else None
    for t, g in enumerate(grads, start=1):
        p.grad = torch.tensor(g)
        opt.step()
        w, config = ns["adam"](w, g, config)
        state = opt.state[p]
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(config["m"], state["exp_avg"].numpy(), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(config["v"], state["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-300)
        assert config["t"] == t == int(state["step"])
    assert {k: config[k] for k in defaults} == h


def _sgd_momentum(kind=None):
    """sgd_momentum written in numpy with one mistake (``kind``, a variant of refs.SGD_MOMENTUM_VARIANTS or
    a contract slip), or correct but in another style (``"fresh_dict"``: never changes the config passed in)."""

    def sgd_momentum(w, dw, config=None):
        config = {} if config is None else config
        if kind == "fresh_dict":
            config = dict(config)
        config.setdefault("learning_rate", 1e-2)
        config.setdefault("momentum", 0.9)
        lr, mu = config["learning_rate"], config["momentum"]
        v = np.zeros_like(w) if kind in ("forgotten", "not_stored") else config.get("velocity", np.zeros_like(w))
        if kind == "momentum_on_gradient":
            v = mu * dw + dw
            next_w = w - lr * v
        elif kind in ("cs231n", "cs231n_subtracted"):
            v = mu * v - lr * dw
            next_w = w + v if kind == "cs231n" else w - v
        elif kind == "lr_in_velocity":
            v = mu * v + lr * dw
            next_w = w - v
        elif kind == "dampened":
            v = mu * v + (1 - mu) * dw
            next_w = w - lr * v
        else:
            v = mu * v + dw
            next_w = {"plain": w - lr * dw, "uphill": w + lr * v, "nesterov": w - lr * (dw + mu * v)}.get(
                kind, w - lr * v
            )
        if kind == "in_place":
            w -= lr * v
            next_w = w
        if kind == "not_stored":
            config.setdefault("velocity", np.zeros_like(w))
        else:
            config["velocity"] = v
        return next_w if kind == "no_config" else (next_w, config)

    return sgd_momentum


def _adam(kind=None):
    """adam written in numpy with one mistake (``kind``, a variant of refs.ADAM_VARIANTS or another slip),
    or correct but in another style (``"fresh_dict"``)."""

    def adam(w, dw, config=None):
        config = {} if config is None else config
        if kind == "fresh_dict":
            config = dict(config)
        for key, default in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)):
            config.setdefault(key, default)
        config.setdefault("t", 0)
        lr, b1, b2, eps = (config[k] for k in ("learning_rate", "beta1", "beta2", "epsilon"))
        if kind == "betas_swapped":
            b1, b2 = b2, b1
        m_beta = b2 if kind == "m_with_beta2" else b1
        fresh = kind in ("moments_forgotten", "moments_not_stored")
        m = np.zeros_like(w) if fresh else config.get("m", np.zeros_like(w))
        v = np.zeros_like(w) if fresh else config.get("v", np.zeros_like(w))
        t = config["t"] + 1
        used = {"t_before_increment": t - 1, "t_stays_1": 1, "t_from_2": t + 1}.get(kind, t)
        m = m_beta * m + (1 - m_beta) * dw
        v = b2 * v + (1 - b2) * (dw if kind == "v_of_dw" else dw**2)
        with np.errstate(all="ignore"):  # some mistakes divide by zero or take the root of a negative
            m_hat, v_hat = m / (1 - b1**used), v / (1 - b2**used)
            if kind == "no_bias_correction":
                step = m / (np.sqrt(v) + eps)
            elif kind == "eps_in_sqrt":
                step = m_hat / np.sqrt(v_hat + eps)
            elif kind == "eps_before_correction":
                step = np.sqrt(1 - b2**used) / (1 - b1**used) * m / (np.sqrt(v) + eps)
            else:
                step = m_hat / (np.sqrt(v_hat) + eps)
        if kind == "in_place":
            w -= lr * step
            next_w = w
        else:
            next_w = w - lr * step
        if kind == "moments_not_stored":
            config.setdefault("m", np.zeros_like(w))
            config.setdefault("v", np.zeros_like(w))
        else:
            config["m"], config["v"] = m, v
        if kind != "t_not_stored":
            config["t"] = t
        return next_w, config

    return adam


def _run(optimiser, w, grads, config, learning_rates=None):
    steps = []
    for k, g in enumerate(grads):
        if learning_rates is not None:
            config["learning_rate"] = learning_rates[k]
        w, config = optimiser(w, g, config)
        steps.append(
            {"w": w, **{key: np.copy(value) for key, value in config.items() if key in ("velocity", "m", "v")}}
        )
    return steps


@pytest.mark.parametrize("variant", refs.SGD_MOMENTUM_VARIANTS)
def test_the_named_sgd_momentum_variants_are_the_mistakes_they_name(variant) -> None:
    rng = np.random.default_rng(5)
    w, grads, rates = rng.normal(size=(3, 2)), _grads(rng, (3, 2), [1.0] * 7), [0.2] * 3 + [0.05] * 4
    expected = refs.sgd_momentum_steps(w, grads, rates, 0.7, variant=variant)
    got = _run(_sgd_momentum(variant), w, grads, {"momentum": 0.7}, rates)
    correct = refs.sgd_momentum_steps(w, grads, rates, 0.7)
    for step, (g, e) in enumerate(zip(got, expected)):
        for key in ("w", "velocity"):
            np.testing.assert_allclose(g[key], e[key], rtol=1e-12, atol=1e-14, err_msg=f"{key} at step {step + 1}")
    assert any(
        not np.allclose(e["w"], c["w"]) or not np.allclose(e["velocity"], c["velocity"])
        for e, c in zip(expected, correct)
    )


@pytest.mark.parametrize("variant", refs.ADAM_VARIANTS)
def test_the_named_adam_variants_are_the_mistakes_they_name(variant) -> None:
    rng = np.random.default_rng(6)
    w, grads = rng.normal(size=(3, 2)), _grads(rng, (3, 2), [1.0] * 7)
    hyper = {"learning_rate": 0.1, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3}
    expected = refs.adam_steps(w, grads, **hyper, variant=variant)
    got = _run(_adam(variant), w, grads, dict(hyper))
    for step, (g, e) in enumerate(zip(got, expected)):
        for key in ("w", "m", "v"):
            np.testing.assert_allclose(g[key], e[key], rtol=1e-12, atol=1e-14, err_msg=f"{key} at step {step + 1}")
    correct = refs.adam_steps(w, grads, **hyper)
    assert any(not np.allclose(e[k], c[k]) for e, c in zip(expected, correct) for k in ("w", "m", "v"))


@pytest.mark.parametrize("test,make", [("sgd_momentum", _sgd_momentum), ("adam", _adam)])
def test_an_optimiser_that_returns_a_new_config_passes_too(test, make) -> None:
    """The docstring lets the config passed in be changed or not; both styles earn the points."""
    assert A.run_test(test, replace={test: make("fresh_dict")})
    assert A.run_test(test, replace={test: make()})


# -- the test cells are independent ------------------------------------------------------------
LAYER_FUNCTIONS = {
    "linear": {"linear_forward", "linear_backward"},
    "relu": {"relu_forward", "relu_backward"},
    "leaky_relu": {"leaky_relu_forward", "leaky_relu_backward"},
    "sigmoid": {"sigmoid_forward", "sigmoid_backward"},
    "tanh": {"tanh_forward", "tanh_backward"},
    "softmax_cross_entropy": {"softmax_cross_entropy"},
    "sgd_momentum": {"sgd_momentum"},
    "adam": {"adam"},
}


@pytest.mark.parametrize("test", ALL_TESTS)
def test_each_test_cell_calls_only_its_own_solutions(test) -> None:
    solution_names = set(A.graded_functions())
    assert solution_names == {*set().union(*LAYER_FUNCTIONS.values()), "MLP"}
    assert {"sgd_momentum", "adam"} <= solution_names
    # Names the cell's code reads (a message that mentions a function does not call it).
    bound, read = names_in(A.test_source(test))
    used = (read - bound) & solution_names
    # The MLP cells call the layers only through MLP, as its docstring says they must.
    expected = LAYER_FUNCTIONS.get(test, {"MLP"})
    assert used == expected, f"test cell {test} uses {sorted(used)}, expected {sorted(expected)}"


def test_a_missing_layer_costs_only_its_own_test() -> None:
    def stub(*args, **kwargs):
        raise NotImplementedError()

    # mlp_training grades the notebook's trained network, which depends on every layer by design.
    for layer in ("linear", "sigmoid", "relu"):
        replace = {f"{layer}_forward": stub, f"{layer}_backward": stub}
        failing = A.failing_tests(replace, skip=("mlp_training",))
        assert failing == [layer], f"a missing {layer} layer fails {failing}"


# -- honest visible tests: typical mistakes, and the message that must name them ----------------
def _linear_backward(dx=None, dW=None, db=None):
    def backward(dout, cache):
        x, W = cache[0], cache[1]
        grads = {"dx": dout @ W.T, "dW": x.T @ dout, "db": dout.sum(axis=0)}
        for key, fn in (("dx", dx), ("dW", dW), ("db", db)):
            if fn is not None:
                grads[key] = fn(x, W, dout)
        return grads["dx"], grads["dW"], grads["db"]

    return backward


def _sigmoid_naive(x):
    out = 1 / (1 + np.exp(-x))
    return out, out


def _sigmoid_where(x):
    out = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
    return out, out


def _ce(scale_loss=1.0, divide=True, subtract=True, shift=True, log_of_probs=False, reduce=True):
    def ce(scores, y):
        N, rows = len(y), np.arange(len(y))
        s = scores - scores.max(axis=1, keepdims=True) if shift else scores
        with np.errstate(all="ignore"):  # these mistakes overflow on purpose
            probs = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
            log_p = np.log(probs) if (log_of_probs or not shift) else s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        per_example = -log_p[rows, y]
        loss = per_example.mean() * scale_loss if reduce else per_example
        d = probs.copy()
        if subtract:
            d[rows, y] -= 1
        d = d / N if divide else d
        return loss, d * scale_loss

    return ce


def _ce_global_max(scores, y):
    """Log-sum-exp shifted by one maximum for the whole batch instead of each row's."""
    shifted = scores - scores.max()
    with np.errstate(all="ignore"):
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        probs = np.exp(log_probs)
    n = len(y)
    onehot = np.eye(scores.shape[1])[y]
    return -log_probs[np.arange(n), y].mean(), (probs - onehot) / n


def _mlp_variant(ns, kind: str):
    base = ns["MLP"]

    class Wrong(base):
        def __init__(self, sizes, activation="relu", weight_scale=None, seed=0):
            super().__init__(sizes, activation, weight_scale, seed)
            if kind == "unscaled":
                gen = np.random.default_rng(seed)
                for l in range(1, len(sizes)):
                    self.params[f"W{l}"] = gen.normal(size=(sizes[l - 1], sizes[l]))
            elif kind in ("lecun", "xavier_everywhere") and weight_scale is None:
                gen = np.random.default_rng(seed)
                for l in range(1, len(sizes)):
                    fan_in, fan_out = sizes[l - 1], sizes[l]
                    std = np.sqrt(1 / fan_in) if kind == "lecun" else np.sqrt(2 / (fan_in + fan_out))
                    self.params[f"W{l}"] = std * gen.normal(size=(fan_in, fan_out))
            elif kind == "global_rng":
                for l in range(1, len(sizes)):
                    self.params[f"W{l}"] = np.random.normal(0, weight_scale or 0.1, size=(sizes[l - 1], sizes[l]))
            elif kind == "transposed_W":
                for l in range(1, len(sizes)):
                    self.params[f"W{l}"] = self.params[f"W{l}"].T.copy()

        def predict(self, X):
            labels = super().predict(X)
            return labels.astype(float) if kind == "float_labels" else labels

        def loss(self, X, y):
            if kind not in ("act_on_last", "skip_act_backward", "zero_indexed"):
                return super().loss(X, y)
            fwd, bwd = self._activation()
            n = len(self.sizes) - 1
            h, caches = X, []
            for l in range(1, n + 1):
                h, lc = ns["linear_forward"](h, self.params[f"W{l}"], self.params[f"b{l}"])
                ac = None
                if l < n or kind == "act_on_last":
                    h, ac = fwd(h)
                caches.append((lc, ac))
            loss, dh = ns["softmax_cross_entropy"](h, y)
            grads = {}
            for l in range(n, 0, -1):
                lc, ac = caches[l - 1]
                if ac is not None and kind != "skip_act_backward":
                    dh = bwd(dh, ac)
                dh, dW, db = ns["linear_backward"](dh, lc)
                offset = 1 if kind == "zero_indexed" else 0
                grads[f"W{l - offset}"], grads[f"b{l - offset}"] = dW, db
            return loss, grads

    return Wrong


MISTAKES = [
    # (test cell, id, overrides built from the reference namespace, fragment the message must contain)
    (
        "linear",
        "forward without bias",
        lambda ns: {"linear_forward": lambda x, W, b: (x @ W, (x, W))},
        "bias b is not added",
    ),
    (
        "linear",
        "db not summed",
        lambda ns: {"linear_backward": _linear_backward(db=lambda x, W, d: d)},
        "db is not summed over the batch",
    ),
    (
        "linear",
        "db averaged",
        lambda ns: {"linear_backward": _linear_backward(db=lambda x, W, d: d.mean(axis=0))},
        "db is averaged over the batch",
    ),
    (
        "linear",
        "dW transposed",
        lambda ns: {"linear_backward": _linear_backward(dW=lambda x, W, d: d.T @ x)},
        "dW is transposed",
    ),
    (
        "linear",
        "dW averaged",
        lambda ns: {"linear_backward": _linear_backward(dW=lambda x, W, d: x.T @ d / len(x))},
        "dW is averaged over the batch",
    ),
    (
        "relu",
        "gradient passed where x < 0",
        lambda ns: {"relu_backward": lambda dout, cache: dout},
        "passed through where x < 0",
    ),
    (
        "relu",
        "mask without dout",
        lambda ns: {"relu_backward": lambda dout, cache: (cache > 0).astype(float)},
        "ignores the upstream gradient",
    ),
    (
        "relu",
        "dout times output",
        lambda ns: {"relu_backward": lambda dout, cache: dout * np.maximum(cache, 0)},
        "not the output",
    ),
    (
        "relu",
        "gradient passed at x = 0",
        lambda ns: {"relu_backward": lambda dout, x: dout * (x >= 0)},
        "derivative at 0 to be 0",
    ),
    (
        "leaky_relu",
        "slope 1 at x = 0",
        lambda ns: {"leaky_relu_backward": lambda dout, cache: np.where(cache[0] >= 0, dout, cache[1] * dout)},
        "the slope at x = 0 is 1",
    ),
    ("relu", "flipped mask", lambda ns: {"relu_forward": lambda x: (np.minimum(x, 0), x)}, "mask is flipped"),
    (
        "leaky_relu",
        "slope hard-coded in forward",
        lambda ns: {
            "leaky_relu_forward": lambda x, negative_slope=0.01: (np.where(x > 0, x, 0.01 * x), (x, negative_slope))
        },
        "negative_slope argument is ignored",
    ),
    (
        "leaky_relu",
        "slope hard-coded in backward",
        lambda ns: {"leaky_relu_backward": lambda dout, cache: np.where(cache[0] > 0, dout, 0.01 * dout)},
        "keep negative_slope in the cache",
    ),
    (
        "leaky_relu",
        "backward as relu",
        lambda ns: {"leaky_relu_backward": lambda dout, cache: dout * (cache[0] > 0)},
        "as in ReLU",
    ),
    ("sigmoid", "naive formula overflows", lambda ns: {"sigmoid_forward": _sigmoid_naive}, "sigmoid overflowed"),
    (
        "sigmoid",
        "np.where with both branches",
        lambda ns: {"sigmoid_forward": _sigmoid_where},
        "it evaluates both of its branches",
    ),
    (
        "sigmoid",
        "exponent sign flipped",
        lambda ns: {"sigmoid_forward": lambda x: (1 / (1 + np.exp(x)), 1 / (1 + np.exp(x)))},
        "sign of the exponent",
    ),
    (
        "sigmoid",
        "derivative written as s",
        lambda ns: {"sigmoid_backward": lambda dout, s: dout * s},
        "written as s; it is s * (1 - s)",
    ),
    (
        "sigmoid",
        "derivative at x",
        lambda ns: (
            lambda sigmoid: {
                "sigmoid_forward": lambda x: (sigmoid(x)[0], x),
                "sigmoid_backward": lambda dout, x: dout * x * (1 - x),
            }
        )(ns["sigmoid_forward"]),
        "uses x * (1 - x)",
    ),
    (
        "tanh",
        "derivative 1 - x^2",
        lambda ns: {"tanh_forward": lambda x: (np.tanh(x), x), "tanh_backward": lambda dout, x: dout * (1 - x**2)},
        "uses 1 - x**2",
    ),
    (
        "tanh",
        "derivative 1 - t",
        lambda ns: {"tanh_backward": lambda dout, t: dout * (1 - t)},
        "written as 1 - tanh(x);",
    ),
    (
        "tanh",
        "sigmoid instead of tanh",
        lambda ns: {"tanh_forward": lambda x: ns["sigmoid_forward"](x)},
        "this is the sigmoid",
    ),
    (
        "softmax_cross_entropy",
        "loss and gradient summed",
        lambda ns: {"softmax_cross_entropy": _ce(scale_loss=4.0)},
        "summed over the batch; it must be the mean",
    ),
    (
        "softmax_cross_entropy",
        "dscores not divided by N",
        lambda ns: {"softmax_cross_entropy": _ce(divide=False)},
        "not divided by N",
    ),
    (
        "softmax_cross_entropy",
        "one-hot not subtracted",
        lambda ns: {"softmax_cross_entropy": _ce(subtract=False)},
        "one-hot of y is not subtracted",
    ),
    (
        "softmax_cross_entropy",
        "no max shift",
        lambda ns: {"softmax_cross_entropy": _ce(shift=False)},
        "does not subtract each row's maximum",
    ),
    (
        "softmax_cross_entropy",
        "max over the whole batch",
        lambda ns: {"softmax_cross_entropy": _ce_global_max},
        "maximum is taken over the whole batch",
    ),
    (
        "softmax_cross_entropy",
        "log of probabilities",
        lambda ns: {"softmax_cross_entropy": _ce(log_of_probs=True)},
        "log is taken of the probabilities",
    ),
    (
        "softmax_cross_entropy",
        "loss not reduced",
        lambda ns: {"softmax_cross_entropy": _ce(reduce=False)},
        "must be a single number",
    ),
    (
        "mlp_init_predict",
        "weights not scaled",
        lambda ns: {"MLP": _mlp_variant(ns, "unscaled")},
        "no scaling at all (std 1) was used",
    ),
    (
        "mlp_init_predict",
        "LeCun initialisation",
        lambda ns: {"MLP": _mlp_variant(ns, "lecun")},
        "LeCun, sqrt(1 / fan_in) was used",
    ),
    (
        "mlp_init_predict",
        "Xavier for ReLU too",
        lambda ns: {"MLP": _mlp_variant(ns, "xavier_everywhere")},
        "Xavier, sqrt(2 / (fan_in + fan_out)) was used",
    ),
    (
        "mlp_init_predict",
        "global numpy generator",
        lambda ns: {"MLP": _mlp_variant(ns, "global_rng")},
        "np.random.default_rng(seed)",
    ),
    (
        "mlp_init_predict",
        "weights transposed",
        lambda ns: {"MLP": _mlp_variant(ns, "transposed_W")},
        "so it is (sizes[l-1], sizes[l])",
    ),
    (
        "mlp_init_predict",
        "float labels",
        lambda ns: {"MLP": _mlp_variant(ns, "float_labels")},
        "class labels are integers",
    ),
    (
        "mlp_gradients",
        "activation after the last layer",
        lambda ns: {"MLP": _mlp_variant(ns, "act_on_last")},
        "activation is applied after the last layer",
    ),
    (
        "mlp_gradients",
        "activation skipped in backward",
        lambda ns: {"MLP": _mlp_variant(ns, "skip_act_backward")},
        "grads['W1']",
    ),
    (
        "mlp_gradients",
        "keys numbered from 0",
        lambda ns: {"MLP": _mlp_variant(ns, "zero_indexed")},
        "expected the keys of params",
    ),
    ("mlp_training", "accuracy too low", lambda ns: {"test_accuracy": 0.9}, "below 0.95"),
    *[
        ("sgd_momentum", name, lambda ns, kind=kind: {"sgd_momentum": _sgd_momentum(kind)}, phrase)
        for name, kind, phrase in [
            ("the step uses the gradient, not the velocity", "plain", "the step uses the gradient"),
            ("velocity forgotten between steps", "forgotten", "the velocity is forgotten between steps"),
            ("velocity not stored in config", "not_stored", "the velocity is not stored"),
            ("momentum applied to the gradient", "momentum_on_gradient", "momentum is applied to the gradient"),
            ("CS231n's convention", "cs231n", "this is CS231n's convention"),
            ("CS231n's velocity subtracted like torch's", "cs231n_subtracted", "subtracted like torch's"),
            ("learning rate folded into the velocity", "lr_in_velocity", "learning rate is folded into"),
            ("velocity added: uphill", "uphill", "the velocity is added"),
            ("velocity as an average (dampening)", "dampened", "the velocity is an average"),
            ("w changed in place", "in_place", "changed the caller's w in place"),
            ("returns next_w alone", "no_config", "must return the pair (next_w, config)"),
        ]
    ],
    *[
        ("adam", name, lambda ns, kind=kind: {"adam": _adam(kind)}, phrase)
        for name, kind, phrase in [
            ("no bias correction", "no_bias_correction", "there is no bias correction"),
            ("bias correction with t = 0 (t used before its increment)", "t_before_increment", "used t = 0"),
            ("t not stored in config", "t_not_stored", "t is not stored in config"),
            ("the correction uses t = 1 at every step", "t_stays_1", "uses t = 1 at every step"),
            ("t starts at 2", "t_from_2", "the first step corrects with t = 2"),
            ("epsilon inside the square root", "eps_in_sqrt", "epsilon is inside the square root"),
            ("epsilon before the correction (the paper's reordering)", "eps_before_correction", "reordering"),
            ("beta1 and beta2 swapped", "betas_swapped", "beta1 and beta2 are swapped"),
            ("moments forgotten between steps", "moments_forgotten", "m and v restart from 0"),
            ("moments not stored in config", "moments_not_stored", "m and v are not stored"),
            ("v averages dw, not dw**2", "v_of_dw", "can never be negative"),
            ("w changed in place", "in_place", "changed the caller's w in place"),
        ]
    ],
    (
        "mlp_training",
        "sgd_momentum broken: the training cell cannot train",
        lambda ns: {"test_accuracy": 0.1},
        "sgd_momentum passes its test",
    ),
]


MISCONCEPTIONS = [
    Misconception(f"{test}: {mistake}", test, overrides, fragment) for test, mistake, overrides, fragment in MISTAKES
]


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught_and_named(mistake) -> None:
    A.check_misconception(mistake)


def test_training_test_asks_for_the_training_cell() -> None:
    outcome = A.run_test("mlp_training", namespace=A.blank(), hidden=False)
    assert not outcome and "run the training cell" in outcome.message


def test_every_test_cell_header_is_well_formed() -> None:
    assert A.test_names() == ALL_TESTS
    for name in ALL_TESTS:
        assert TEST_HEADER.match(A.test_source(name).split("\n", 1)[0])


# -- the diagnosis engine's relations, planted through the real test cells -------------------------------------------
# Mistakes no table row describes: the visible message names the relation (utils.diagnose) on one "Likely mistake: "
# line, in the student's terms, and not the other relations' words.
_SOURCES = solution_sources(A)
ENGINE = [
    (
        "engine-linear-dx-sign",
        "linear",
        mutate(_SOURCES["linear_forward"], "dx = dout @ W.T", "dx = -(dout @ W.T)"),
        "dx is the expected value with the opposite sign",
    ),
    (
        "engine-softmax-divided-by-n-twice",
        "softmax_cross_entropy",
        mutate(_SOURCES["softmax_cross_entropy"], "dscores /= N", "dscores /= N * N"),
        "dscores is the expected value times a constant",
    ),
]
ENGINE_MISCONCEPTIONS = [Misconception(name, test, from_source(src), phrase) for name, test, src, phrase in ENGINE]


@pytest.mark.parametrize("mistake", ENGINE_MISCONCEPTIONS, ids=str)
def test_the_engine_names_a_relation_no_table_describes(mistake) -> None:
    A.check_misconception(mistake)
    message = A.run_test(mistake.test, replace=mistake.replace, hidden=False).message
    named = [line for line in message.splitlines() if line.startswith("Likely mistake: ")]
    assert len(named) == 1 and mistake.phrase in named[0], message
    for words in ("opposite sign", "times a constant", "transpose of", "shifted by one", "reversed along"):
        if words not in mistake.phrase:
            assert words not in message, (mistake.name, words, message)


# -- the blind catalogue's mistakes (tests/blind/a01_backprop.py) that the test cells once let through or did not
# name: each planted through its real test cell, and its message checked for its own words (and, below, that no other
# mistake of the same cell gets them).
BLIND = [
    # (id, test cell, the catalogue entry's description start, phrase of its message)
    ("db-wrong-axis", "linear", "db summed over the wrong axis", "db is summed over the wrong axis"),
    ("db-scalar", "linear", "db summed over everything", "db is a single number"),
    ("dx-transpose-forgotten", "linear", "dx = dout @ W: the transpose", "dx = dout @ W.T is an (N, M) @ (M, D)"),
    ("torch-layout", "linear", "torch's layout in the forward pass", "not torch's (M, D) layout"),
    ("bias-per-row", "linear", "the bias added per row", "b is added down the columns"),
    ("output-cached", "linear", "the output cached instead of the input", "computed from the layer's output"),
    ("relu-max-over-axis", "relu", "np.max(x, 0) instead of np.maximum", "np.max(x, 0) is a maximum over axis 0"),
    ("relu-in-place", "relu", "the forward pass zeroes the negatives", "changed the caller's x in place"),
    (
        "leaky-slope-without-dout",
        "leaky_relu",
        "the negative side's gradient is negative_slope",
        "is negative_slope alone",
    ),
    (
        "leaky-slope-as-floor",
        "leaky_relu",
        "the forward pass is max(negative_slope, x)",
        "become the constant negative_slope",
    ),
    ("leaky-derivative-is-function", "leaky_relu", "the negative side's derivative written as", "that is the function"),
    ("leaky-default-0.1", "leaky_relu", "the default negative_slope is 0.1", "the default negative_slope is 0.01"),
    ("sigmoid-negative-branch", "sigmoid", "the negative branch written as", "wrong for every x < 0"),
    ("sigmoid-tanh-derivative", "sigmoid", "tanh's derivative used", "tanh's derivative"),
    (
        "sigmoid-backward-overflow",
        "sigmoid",
        "x cached and the backward pass recomputes",
        "overflowed in the backward pass",
    ),
    ("tanh-square-of-difference", "tanh", "the derivative written as (1 - t)**2", "(1 - tanh(x))**2"),
    ("tanh-plus", "tanh", "the derivative written as 1 + t**2", "1 + tanh(x)**2: the sign is wrong"),
    ("tanh-twice", "tanh", "the output cached, then tanh applied to it again", "tanh is applied twice"),
    ("softmax-no-keepdims", "softmax_cross_entropy", "the max taken without keepdims", "without keepdims=True"),
    ("softmax-label-block", "softmax_cross_entropy", "the correct-class entries picked with [:, y]", "an (N, N) block"),
    (
        "softmax-label-columns",
        "softmax_cross_entropy",
        "the one-hot subtracted with dscores[:, y]",
        "label columns of every row",
    ),
    ("softmax-probs-aliased", "softmax_cross_entropy", "the gradient built in place", "no copy"),
    ("init-fans-swapped", "mlp_init_predict", "fan_in and fan_out swapped", "fan_in and fan_out swapped"),
    ("init-global-seed", "mlp_init_predict", "the legacy global generator", "changed numpy's global random state"),
    ("init-uniform", "mlp_init_predict", "Glorot's uniform distribution", "drawn from a uniform distribution"),
    ("predict-axis-0", "mlp_init_predict", "predict takes the argmax over axis 0", "the argmax is taken over axis 0"),
    ("predict-scores", "mlp_init_predict", "predict returns the scores", "predict returns the scores"),
    ("mlp-dscores-over-n-twice", "mlp_gradients", "dscores divided by N again", "divided by N twice"),
    ("mlp-l2-penalty", "mlp_gradients", "CS231n's habit: an L2 penalty", "an L2 penalty added"),
    (
        "mlp-backward-skips-activation",
        "mlp_gradients",
        "the backward pass skips the activations",
        "skips the activation",
    ),
    (
        "mlp-cache-overwritten",
        "mlp_gradients",
        "the activation's cache overwrites",
        "hand each backward function the cache",
    ),
    ("mlp-one-layer-short", "mlp_gradients", "the forward loop stops one layer early", "one dense layer too few"),
    ("training-pairs-saved", "mlp_training", "loss and predict use (W, b) pairs", "the training loss barely moved"),
    (
        "training-predict-saved",
        "mlp_training",
        "predict uses the weights saved at __init__",
        "predict does not use what",
    ),
    ("training-default-weight-scale", "mlp_training", "CS231n's default weight_scale=1e-3", "default of weight_scale"),
    ("training-uphill", "mlp_training", "the loss's gradient of the scores flipped", "the training loss rose"),
    ("sgd-nesterov", "sgd_momentum", "Nesterov's step", "this is Nesterov's step"),
    ("sgd-dw-aliased", "sgd_momentum", "the first gradient stored as the velocity", "changed the dw passed at step 1"),
    ("adam-corrected-stored", "adam", "the bias-corrected moments stored", "is the bias-corrected m_hat"),
    ("adam-product-for-power", "adam", "beta1**t typed as beta1 * t", "a product"),
    ("adam-m-with-beta2", "adam", "the first moment averages with beta2", "the first moment averages with beta2"),
]
# Only the hidden part can catch these (the visible inputs have no such case): the phrase is checked there.
BLIND_HIDDEN = {
    "relu-in-place",
    "predict-after-activation",
    "params-float32",
    "mlp-float32-input",
}
BLIND += [
    ("predict-after-activation", "mlp_init_predict", "predict applies the activation after", "after the last layer"),
    ("params-float32", "mlp_init_predict", "the weights stored as float32", "has dtype float32"),
    ("mlp-float32-input", "mlp_gradients", "the input cast to float32", "rounded to float32"),
]


@pytest.mark.parametrize(("name", "test", "start", "phrase"), BLIND, ids=[row[0] for row in BLIND])
def test_a_blind_mistake_is_caught_and_named(name, test, start, phrase) -> None:
    mistake = Misconception(name, test, A.blind_solution(start), phrase)
    if name in BLIND_HIDDEN:
        assert A.run_test(test, replace=mistake.replace, hidden=False), (
            f"{name}: the visible part was not expected to fail"
        )
        full = A.run_test(test, replace=mistake.replace)
        assert not full and full.kind == "AssertionError" and phrase in full.message, (name, full.kind, full.message)
    else:
        A.check_misconception(mistake)
    # The hint is its own mistake's: no other planted mistake of the same test cell gets its words.
    others = [Misconception(n, t, A.blind_solution(s), p) for n, t, s, p in BLIND]
    assert not A.others_given_the_hint(mistake, others, hidden=True), name
