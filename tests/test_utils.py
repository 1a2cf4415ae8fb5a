"""The shared library: each helper does what its docstring says, and its checks can fail."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
import torch

import utils

matplotlib.use("Agg")


# -- gradients ---------------------------------------------------------------------------------
def test_numeric_gradient_matches_analytic_and_restores_input():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    grad = utils.numeric_gradient(lambda a: np.sum(np.sin(a) * a**2), x)
    assert utils.relative_error(grad, np.cos(x) * x**2 + 2 * x * np.sin(x)) < 1e-7
    np.testing.assert_array_equal(x, before)


def test_numeric_gradient_weights_by_dout():
    rng = np.random.default_rng(1)
    x, W, dout = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    grad = utils.numeric_gradient(lambda a: a @ W, x, dout)
    assert utils.relative_error(grad, dout @ W.T) < 1e-7


def test_numeric_gradient_rejects_integer_input():
    with pytest.raises(TypeError, match="float"):
        utils.numeric_gradient(lambda a: a.sum(), np.arange(3))


def test_relative_error_properties():
    a = np.array([1.0, 2.0, -3.0])
    assert utils.relative_error(a, a) == 0
    assert utils.relative_error(a, 2 * a) == pytest.approx(1 / 3)
    assert utils.relative_error(a, 2 * a) == utils.relative_error(2 * a, a)
    assert utils.relative_error(np.zeros(2), np.zeros(2)) == 0
    with pytest.raises(ValueError, match="shapes differ"):
        utils.relative_error(np.zeros(3), np.zeros((3, 1)))


# -- comparing with torch ----------------------------------------------------------------------
def test_torch_reference_returns_output_and_gradients():
    rng = np.random.default_rng(2)
    x, W, dout = rng.normal(size=(5, 3)), rng.normal(size=(3, 2)), rng.normal(size=(5, 2))
    out, (dx, dW) = utils.torch_reference(lambda a, b: a @ b, x, W, dout=dout)
    np.testing.assert_allclose(out, x @ W)
    np.testing.assert_allclose(dx, dout @ W.T)
    np.testing.assert_allclose(dW, x.T @ dout)


def test_torch_reference_passes_integer_labels_through():
    rng = np.random.default_rng(3)
    scores, y = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    loss, (dscores, dy) = utils.torch_reference(torch.nn.functional.cross_entropy, scores, y)
    assert loss.shape == () and dy is None
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = p.copy()
    expected[np.arange(4), y] -= 1
    np.testing.assert_allclose(dscores, expected / 4, atol=1e-12)


def test_assert_close_accepts_equal_values_and_tensors():
    utils.assert_close(np.array([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64), "x")
    utils.assert_close(3.0, 3.0 + 1e-12, "scalar")


@pytest.mark.parametrize(
    "actual, expected, message",
    [
        (None, np.zeros(2), "forget to `return`"),
        ((np.zeros(2), np.zeros(2)), np.zeros(2), "is a tuple"),
        (np.zeros(3), np.zeros((3, 1)), "has shape (3,), expected (3, 1)"),
        (np.array([np.nan, 1.0]), np.array([0.5, 1.0]), "numerically stable"),
        (np.array([1.0, -2.0]), np.array([-1.0, 2.0]), "opposite sign"),
        (np.arange(6.0).reshape(2, 3).T, np.arange(6.0).reshape(2, 3), "transpose"),
        (np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]), "times a constant, 2"),
        (np.array([1.0, 2.5]), np.array([1.0, 2.0]), "at index (1,): got 2.5, expected 2"),
        ("abc", np.zeros(1), "not numeric"),
    ],
)
def test_assert_close_explains_what_is_wrong(actual, expected, message):
    with pytest.raises(AssertionError) as info:
        utils.assert_close(actual, expected, "dx")
    assert message in str(info.value)
    assert str(info.value).startswith("dx")


def test_assert_close_names_a_known_mistake_and_adds_the_hint():
    expected = np.array([1.0, 2.0, 3.0])
    wrong = np.array([1.0, 2.0, 3.5])
    with pytest.raises(AssertionError) as info:
        utils.assert_close(
            wrong, expected, "out", mistakes={"divided by m-1 instead of m": wrong}, hint="see the derivation"
        )
    assert "Likely mistake: divided by m-1 instead of m" in str(info.value)
    assert "Hint: see the derivation" in str(info.value)


def test_assert_shapes_names_the_wrong_array():
    utils.assert_shapes([np.zeros((2, 3))], [(2, 3)], ["dx"])
    with pytest.raises(AssertionError, match="dW has shape"):
        utils.assert_shapes([np.zeros((2, 3)), np.zeros(4)], [(2, 3), (4, 1)], ["dx", "dW"])
    with pytest.raises(AssertionError, match="db is None"):
        utils.assert_shapes([None], [(4,)], ["db"])


# -- data --------------------------------------------------------------------------------------
def test_load_digits_split_is_stratified_normalised_and_reproducible():
    s = utils.load_digits(seed=0)
    n = len(s.X_train) + len(s.X_val) + len(s.X_test)
    assert n == 1797 and s.X_train.shape[1] == 64
    assert s.X_train.dtype == np.float64 and s.y_train.dtype == np.int64
    assert abs(s.X_train.mean()) < 1e-12 and abs(s.X_train.std() - 1) < 1e-12
    assert len(s.X_test) == pytest.approx(0.2 * 1797, abs=1)
    for y in (s.y_train, s.y_val, s.y_test):
        assert set(np.unique(y)) == set(range(10))
    np.testing.assert_array_equal(utils.load_digits(seed=0).X_val, s.X_val)
    assert not np.array_equal(utils.load_digits(seed=1).y_val, s.y_val)


def test_load_digits_images_small_train_and_raw_pixels():
    s = utils.load_digits(images=True, train_size=100, normalise=False, val_size=0)
    assert s.X_train.shape == (100, 1, 8, 8) and len(s.X_val) == 0
    assert s.X_train.min() >= 0 and s.X_train.max() <= 1


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_load_sample_image(name):
    gray = utils.load_sample_image(name)
    assert gray.shape == (427, 640) and 0 <= gray.min() and gray.max() <= 1
    color = utils.load_sample_image(name, gray=False, scale=0.5)
    assert color.shape == (213, 320, 3)
    with pytest.raises(ValueError):
        utils.load_sample_image(name, scale=2)


def test_minibatches_cover_the_data_once():
    X, y = np.arange(10.0)[:, None], np.arange(10)
    batches = list(utils.minibatches(X, y, 4, np.random.default_rng(0)))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb[:, 0], yb)
    with pytest.raises(ValueError):
        list(utils.minibatches(X, y[:5], 4))


# -- training ----------------------------------------------------------------------------------
def test_fit_reduces_loss_and_logs_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    w = np.zeros(3)

    def step(Xb, yb):
        nonlocal w
        err = Xb @ w - yb
        w -= 0.1 * Xb.T @ err / len(Xb)
        return float(np.mean(err**2))

    history = utils.fit(
        step,
        X,
        y,
        epochs=5,
        batch_size=32,
        progress=False,
        evaluate=lambda: {"w_error": float(np.abs(w - [1, -2, 0.5]).max())},
    )
    assert len(history["train_loss"]) == 5 and len(history["w_error"]) == 5
    assert history["train_loss"][-1] < 0.1 * history["train_loss"][0]
    assert history.best_epoch("w_error", mode="min") == 4
    assert history.last("w_error") == history["w_error"][-1]


def test_fit_torch_learns_the_digits():
    s = utils.load_digits()
    utils.seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).double()
    history = utils.fit_torch(
        model,
        s.X_train,
        s.y_train,
        epochs=3,
        progress=False,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
        val=(s.X_val, s.y_val),
    )
    assert set(history) == {"train_loss", "val_loss", "val_acc"}
    assert history.last("val_acc") > 0.85
    assert not model.training


def test_accuracy_numpy_and_torch():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = np.array([1, 1, 1])
    assert utils.accuracy(scores, y) == pytest.approx(2 / 3)
    assert utils.accuracy(torch.tensor(scores), torch.tensor(y)) == pytest.approx(2 / 3)


# -- plotting and set-up -----------------------------------------------------------------------
def test_plot_history_draws_one_line_per_run():
    h1, h2 = {"train_loss": [3, 2, 1], "val_acc": [0.5, 0.6, 0.7]}, {"train_loss": [3, 1, 0.5]}
    axes = utils.plot_history({"a": h1, "b": h2})
    assert len(axes) == 2
    assert len(axes[0].lines) == 2 and len(axes[1].lines) == 1
    assert len(utils.plot_history(h1)[0].lines) == 1


def test_show_images_grid():
    fig = utils.show_images(np.zeros((5, 1, 8, 8)), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6
    assert sum(1 for ax in fig.axes if ax.images) == 5
    fig = utils.show_images(np.random.default_rng(0).normal(size=(2, 3, 3)), symmetric=True)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi


def test_seeding_makes_runs_repeatable():
    a = (utils.seed_everything(7).normal(), np.random.rand(), torch.rand(1).item())
    b = (utils.seed_everything(7).normal(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert utils.device().type in {"cpu", "cuda"}


def test_setup_notebook_shows_warnings_on_stdout_and_sets_threads(capsys):
    """Students see their warnings; nbgrader, which fails a test cell with stderr output, does not."""
    threads, showwarning = torch.get_num_threads(), warnings.showwarning
    try:
        with warnings.catch_warnings():
            utils.setup_notebook(seed=0, torch_threads=1)
            with np.errstate(divide="warn"):
                np.log(np.zeros(1))
            captured = capsys.readouterr()
            assert "RuntimeWarning" in captured.out and "divide by zero" in captured.out
            assert captured.err == ""
            utils.setup_notebook(seed=0, quiet=True)
            warnings.warn("silenced", stacklevel=1)
            assert capsys.readouterr() == ("", "")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
        warnings.showwarning = showwarning


def test_float32_perturbation_changes_float32_products_only():
    from utils import core

    a, b = torch.randn(20, 30), torch.randn(30, 10)
    exact, exact64 = a @ b, a.double() @ b.double()
    mode = core._Float32Perturbation(1e-3)
    with mode:
        noisy, noisy64 = a @ b, a.double() @ b.double()
    relative = ((noisy - exact) / exact).abs()
    assert 1e-4 < float(relative.median()) < 1e-2, "about 1e-3 relative noise on float32 products"
    assert torch.equal(noisy64, exact64), "float64 is left alone"


def test_expect_failure_prints_the_message_and_refuses_a_passing_check(capsys):
    message = utils.expect_failure(utils.assert_close, np.array([1.0, 2.0]), np.array([1.0, 3.0]), "wrong")
    assert "wrong is wrong at index (1,)" in message
    assert "fails, as it should" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="should have failed"):
        utils.expect_failure(utils.assert_close, np.ones(3), np.ones(3), "right")
    with pytest.raises(RuntimeError):
        utils.expect_failure(lambda: None)


def test_seminar_answers_are_reported_until_given_then_checked(capsys):
    assert not utils.answered("ex", None, 1.0)
    assert "ex: not attempted yet" in capsys.readouterr().out
    utils.check_answer("ex", None, 1.0)
    assert "not attempted" in capsys.readouterr().out
    utils.check_answer("ex", 1.0, 1.0)
    assert "ex: correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="Likely mistake: the sign"):
        utils.check_answer("ex", -1.0, 1.0, mistakes={"the sign": -1.0})
