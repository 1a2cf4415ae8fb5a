"""utils.sequences and utils.figures.rnn: data, models, training loop, gradients over time, pictures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import sequences as seq  # noqa: E402
from utils.training import History  # noqa: E402


def test_adding_problem_marks_one_value_in_each_half():
    x, y = seq.adding_problem(500, 20, np.random.default_rng(0))
    assert x.shape == (20, 500, 2) and y.shape == (500,) and x.dtype == np.float32
    marks = x[:, :, 1]
    assert np.all(marks.sum(axis=0) == 2)
    assert np.all(marks[:10].sum(axis=0) == 1) and np.all(marks[10:].sum(axis=0) == 1)
    np.testing.assert_allclose(y, (x[:, :, 0] * marks).sum(axis=0), rtol=1e-6)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] < 1))
    # predicting the mean, 1, costs 1/6 (the variance of a sum of two uniforms)
    _, y_big = seq.adding_problem(200_000, 4, np.random.default_rng(1))
    assert abs(np.mean((y_big - 1) ** 2) - 1 / 6) < 0.003
    with pytest.raises(ValueError):
        seq.adding_problem(3, 1, np.random.default_rng(0))


def test_adding_example_puts_the_markers_where_asked():
    x = seq.adding_example(12, 2, 9)
    assert x.shape == (12, 1, 2)
    assert np.flatnonzero(x[:, 0, 1]).tolist() == [2, 9]


def test_set_forget_bias_touches_only_the_forget_block():
    lstm = torch.nn.LSTM(3, 4, num_layers=2)
    before = {n: p.detach().clone() for n, p in lstm.named_parameters()}
    seq.set_forget_bias(lstm, 2.5)
    for name, p in lstm.named_parameters():
        if name.startswith("bias"):
            total = p.detach().clone()
            expected = before[name].clone()
            expected[4:8] = 2.5 if name.startswith("bias_ih") else 0.0
            torch.testing.assert_close(total, expected)
        else:
            torch.testing.assert_close(p.detach(), before[name])
    # the forget gates of a fresh input now start near sigmoid(2.5)
    gates = seq.lstm_gates(torch.nn.LSTM(3, 4), torch.zeros(2, 1, 3))
    assert gates["f"].shape == (2, 1, 4)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_sequence_regressor_reads_the_last_state(kind):
    torch.manual_seed(0)
    model = seq.SequenceRegressor(kind, 8, forget_bias=1.0)
    x = torch.randn(6, 5, 2)
    y = model(x)
    assert y.shape == (5,)
    out, _ = model.rnn(x)
    torch.testing.assert_close(y, model.head(out[-1]).squeeze(-1))
    if kind == "lstm":
        b = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
        torch.testing.assert_close(b[8:16], torch.ones(8))


def test_lstm_gates_reproduce_the_layer():
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 5)
    x = torch.randn(7, 2, 3)
    gates = seq.lstm_gates(lstm, x)
    with torch.no_grad():
        out, (h, c) = lstm(x)
    np.testing.assert_allclose(gates["h"], out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gates["c"][-1], c[0].numpy(), rtol=1e-5, atol=1e-6)
    for k in "ifo":
        assert np.all((gates[k] > 0) & (gates[k] < 1))


def test_state_gradient_norms_match_autograd_by_hand():
    torch.manual_seed(2)
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    for cls in (torch.nn.RNN, torch.nn.GRU, torch.nn.LSTM):
        rnn = cls(2, 4, dtype=torch.float64)
        norms = seq.state_gradient_norms(rnn, x, seed=3)
        assert norms.shape == (5,) and np.all(norms > 0)
        u = torch.randn(4, generator=torch.Generator().manual_seed(3)).double()
        u = u / u.norm()
        h0 = torch.zeros(1, 3, 4, dtype=torch.float64, requires_grad=True)
        state = (h0, torch.zeros_like(h0, requires_grad=True)) if cls is torch.nn.LSTM else h0
        out, _ = rnn(x, state)
        leaves = state if isinstance(state, tuple) else (state,)
        grads = torch.autograd.grad((out[2] @ u).sum(), leaves)
        expected = torch.cat([g[0] for g in grads], dim=1).norm(dim=1).mean().item()
        assert norms[2] == pytest.approx(expected, rel=1e-10)


def test_a_contracting_linear_recurrence_has_geometric_gradient_norms():
    """With W_hh = a Q (Q orthogonal) and the identity activation, |d h_t / d h_0| u = a^t exactly."""
    H, a = 6, 0.8
    rnn = torch.nn.RNN(1, H, nonlinearity="relu", bias=False, dtype=torch.float64)
    q = torch.roll(torch.eye(H, dtype=torch.float64), 1, dims=0)  # a cyclic permutation: orthogonal, >= 0
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(a * q)
        rnn.weight_ih_l0.fill_(1.0)
    # positive inputs and a nonnegative W_hh keep every unit positive: the ReLU acts as the identity
    norms = seq.state_gradient_norms(rnn, torch.ones(8, 1, 1, dtype=torch.float64))
    np.testing.assert_allclose(norms, a ** np.arange(1, 9), rtol=1e-9)


def test_stdlib_corpus_vocabulary_and_batches():
    text = seq.stdlib_corpus(["json", "textwrap"])
    assert len(text) > 2000 and set(text) <= set(chr(c) for c in range(32, 127)) | {"\n"}
    assert "JSON" in text
    assert seq.stdlib_corpus(["json", "textwrap"]) == text  # deterministic
    vocab = seq.Vocabulary(text)
    ids = vocab.encode(text[:500])
    assert ids.dtype == np.int64 and vocab.decode(ids) == text[:500]
    data = vocab.encode(text)
    inputs, targets = seq.char_batch(data, 16, 4, np.random.default_rng(0))
    assert inputs.shape == targets.shape == (16, 4)
    torch.testing.assert_close(inputs[1:], targets[:-1])
    entropy = seq.text_entropy(data, len(vocab))
    assert 0 < entropy < np.log(len(vocab))


def test_char_lm_trains_and_samples_reproducibly():
    text = seq.stdlib_corpus(["json"])
    vocab = seq.Vocabulary(text)
    data = vocab.encode(text)
    torch.manual_seed(0)
    model = seq.CharLM(len(vocab), hidden=16, kind="gru", embed=8)
    rng = np.random.default_rng(0)
    reports = []
    history = seq.train_steps(
        model,
        lambda: seq.char_batch(data, 20, 8, rng),
        seq.char_loss,
        torch.optim.Adam(model.parameters(), lr=0.01),
        30,
        clip=1.0,
        every=10,
        report=lambda step, h: reports.append(step) or None,
        progress=False,
    )
    assert len(history["loss"]) == 30 and len(history["grad_norm"]) == 30
    assert reports == [10, 20, 30]
    assert np.mean(history["loss"][-5:]) < history["loss"][0]
    a = seq.sample(model, vocab, "The ", 40, temperature=0.8, generator=torch.Generator().manual_seed(1))
    b = seq.sample(model, vocab, "The ", 40, temperature=0.8, generator=torch.Generator().manual_seed(1))
    assert a == b and a.startswith("The ") and len(a) == 44
    assert model.training


def test_train_steps_clips_and_keeps_non_finite_values():
    model = torch.nn.Linear(2, 1)
    x, y = torch.ones(4, 2), torch.zeros(4, 1)

    def loss_fn(m, xb, yb):
        return 1e3 * ((m(xb) - yb) ** 2).mean()

    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    history = seq.train_steps(model, lambda: (x, y), loss_fn, opt, 3, clip=1e-3, progress=False)
    # lr 0: nothing moves, and the logged norm is the one before clipping
    assert history["grad_norm"][0] > 1e-3
    assert model.weight.grad.norm().item() <= 1e-3 * (1 + 1e-5)

    model_bad = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model_bad.weight.fill_(float("inf"))
    h = seq.train_steps(
        model_bad, lambda: (x, y), loss_fn, torch.optim.SGD(model_bad.parameters(), lr=0.1), 2, progress=False
    )
    assert not np.isfinite(h["loss"]).all()


def test_plots_draw_on_agg():
    gates = {k: np.random.default_rng(0).random((12, 6)) for k in "ifo"}
    fig = seq.plot_gates(
        gates,
        t=4,
        inputs=np.random.default_rng(1).random((12, 2)),
        units=3,
        title="gates",
        traces={"c": np.random.default_rng(2).normal(size=(12, 2))},
        trace_labels=["unit 1", "unit 5"],
    )
    assert len(fig.axes) >= 5
    assert [line.get_label() for line in fig.axes[4].get_lines()][:2] == ["unit 1", "unit 5"]
    assert "t = 4" in fig._suptitle.get_text()
    plt.close(fig)
    fig = seq.plot_gates({"f": np.ones((5, 2))})
    plt.close(fig)
    h1, h2 = History(), History()
    for v in (1.0, 0.5, float("inf"), float("nan")):
        h1.log(loss=v)
    for v in (1.0, 0.5, 0.25, 0.2):
        h2.log(loss=v)
    ax = seq.plot_steps({"no clip": h1, "clip": h2}, baseline=1 / 6, smooth=1, title="loss")
    assert len(ax.get_lines()) >= 3
    plt.close(ax.figure)
    ax = seq.plot_steps({"clip": h2}, smooth=2, logy=False)
    plt.close(ax.figure)
    ax = seq.plot_gradient_by_lag({"rnn": np.array([1.0, 0.1, 0.0]), "lstm": np.array([1.0, 0.9, 0.8])})
    assert ax.get_yscale() == "log"
    plt.close(ax.figure)
