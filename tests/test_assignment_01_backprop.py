"""Assignment 1 (backpropagation): the reference against torch, and the misconceptions.

The generic checks (the reference passes every test cell, the blank release scores zero, the points
add up, the independent solution earns full marks) run in tests/test_assignments.py. Here:

* the reference layers, loss and MLP match torch autograd on random float64 inputs of several
  shapes, including a batch of one and extreme magnitudes;
* test cells are independent: a missing layer costs only that layer's test;
* the table of mistakes a teacher expects, each with the test whose visible message names it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.notebooks import TEST_HEADER
from harness import Assignment, Misconception
from utils import numeric_gradient, torch_reference

A = Assignment("01_backprop")
pytestmark = A.marks

LAYER_TESTS = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax_cross_entropy"]
ALL_TESTS = [*LAYER_TESTS, "mlp_init_predict", "mlp_gradients", "mlp_training"]
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


# -- the test cells are independent ------------------------------------------------------------
LAYER_FUNCTIONS = {
    "linear": {"linear_forward", "linear_backward"},
    "relu": {"relu_forward", "relu_backward"},
    "leaky_relu": {"leaky_relu_forward", "leaky_relu_backward"},
    "sigmoid": {"sigmoid_forward", "sigmoid_backward"},
    "tanh": {"tanh_forward", "tanh_backward"},
    "softmax_cross_entropy": {"softmax_cross_entropy"},
}


@pytest.mark.parametrize("test", ALL_TESTS)
def test_each_test_cell_calls_only_its_own_solutions(test) -> None:
    solution_names = set(A.graded_functions())
    assert solution_names == {*set().union(*LAYER_FUNCTIONS.values()), "MLP"}
    used = {name for name in solution_names if re.search(rf"\b{name}\b", A.test_source(test))}
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
