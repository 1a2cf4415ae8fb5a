"""Sequences for topic 5: generated and shipped data, small recurrent models, a step-wise training
loop, and the pictures the notebooks share (gate activations, gradient norms over time).

Everything runs offline: the adding problem is generated, and the character-level corpus is the
documentation that ships inside Python's own standard library. Tensors are time first,
``(T, N, ...)``, torch's default layout.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .training import History

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# --- the adding problem ----------------------------------------------------------------------------


def adding_problem(n: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem of Hochreiter and Schmidhuber (1997): n sequences of length T.

    Each step carries two numbers: a value drawn uniformly from [0, 1) and a marker, 0 or 1. Exactly
    two steps are marked, one in the first half of the sequence and one in the second; the target is
    the sum of the two marked values. The network must remember the first marked value across up to
    T steps of distraction. Predicting the mean, 1, gives a mean squared error of 1/6.

    Returns:
        x: float32 array (T, n, 2): [:, :, 0] the values, [:, :, 1] the markers.
        y: float32 array (n,): the sums.
    """
    if T < 2:
        raise ValueError("the adding problem needs T >= 2")
    values = rng.random((T, n)).astype(np.float32)
    marks = np.zeros((T, n), dtype=np.float32)
    half = T // 2
    cols = np.arange(n)
    marks[rng.integers(0, half, n), cols] = 1.0
    marks[rng.integers(half, T, n), cols] = 1.0
    return np.stack([values, marks], axis=-1), (values * marks).sum(axis=0)


def adding_example(T: int, first: int, second: int, seed: int = 0) -> np.ndarray:
    """One adding-problem sequence (T, 1, 2) with its markers at steps ``first`` and ``second``."""
    rng = np.random.default_rng(seed)
    x = np.zeros((T, 1, 2), dtype=np.float32)
    x[:, 0, 0] = rng.random(T)
    x[[first, second], 0, 1] = 1.0
    return x


# --- models ----------------------------------------------------------------------------------------


def set_forget_bias(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """Make the forget gates of every layer start at sigmoid(value): the forget block (rows H:2H, torch's
    gate order i, f, g, o) of bias_ih is set to ``value`` and that of bias_hh to 0 (they add up)."""
    H = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_ih"):
                p[H : 2 * H] = value
            elif name.startswith("bias_hh"):
                p[H : 2 * H] = 0.0
    return lstm


class SequenceRegressor(nn.Module):
    """A recurrent layer that reads a sequence (T, N, D) and predicts one number per sequence from its
    last hidden state: many-to-one. ``kind`` is "rnn" (tanh), "lstm" or "gru"."""

    def __init__(self, kind: str, hidden: int, input_size: int = 2, forget_bias: float | None = None):
        super().__init__()
        self.kind = kind
        self.rnn = CELLS[kind](input_size, hidden)
        self.head = nn.Linear(hidden, 1)
        if forget_bias is not None and kind == "lstm":
            set_forget_bias(self.rnn, forget_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[-1]).squeeze(-1)


class CharLM(nn.Module):
    """A character-level language model: embedding, one recurrent layer, a linear read-out.

    forward(idx (T, N) int64, state=None) -> (logits (T, N, V), state).
    """

    def __init__(self, vocab_size: int, hidden: int = 64, kind: str = "lstm", embed: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = CELLS[kind](embed, hidden)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: torch.Tensor, state=None):
        out, state = self.rnn(self.embed(idx), state)
        return self.head(out), state


# --- a corpus that ships with Python ---------------------------------------------------------------

STDLIB_MODULES = (
    "collections", "functools", "itertools", "json", "textwrap", "string", "random", "statistics",
    "fractions", "heapq", "bisect", "pathlib", "argparse", "logging", "unittest", "dataclasses", "enum",
    "re", "csv", "shutil", "calendar", "difflib", "pprint", "copy", "contextlib", "inspect",
)  # fmt: skip


def stdlib_corpus(modules: Iterable[str] = STDLIB_MODULES) -> str:
    """English text from the standard library's own docstrings: each module's, and those of its public
    functions and classes, in a fixed order. Printable ASCII and newlines only. No download: the text
    is whatever this Python ships (so it differs a little between Python versions)."""
    parts = []
    for name in modules:
        module = importlib.import_module(name)
        doc = inspect.getdoc(module)
        if doc:
            parts.append(doc)
        for attr in sorted(vars(module)):
            obj = getattr(module, attr)
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                doc = inspect.getdoc(obj)
                if doc:
                    parts.append(doc)
    text = "\n\n".join(parts)
    return "".join(ch for ch in text if ch == "\n" or 32 <= ord(ch) < 127)


class Vocabulary:
    """The characters of a text, each with an integer id (in sorted order)."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """str -> int64 ids (len(text),)."""
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def char_batch(
    data: np.ndarray, seq_len: int, batch: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` random windows of ``data`` (int ids): inputs (T, N) and targets (T, N), the targets being
    the inputs shifted by one character."""
    starts = rng.integers(0, len(data) - seq_len - 1, batch)
    windows = torch.from_numpy(data[starts[None, :] + np.arange(seq_len + 1)[:, None]])
    return windows[:-1], windows[1:]


def char_loss(model: CharLM, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, in nats per character, of the model's next-character predictions."""
    logits, _ = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def text_entropy(data: np.ndarray, vocab_size: int) -> float:
    """Entropy (nats) of the character frequencies: the loss of the best model that ignores context."""
    p = np.bincount(data, minlength=vocab_size) / len(data)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@torch.no_grad()
def sample(
    model: CharLM,
    vocab: Vocabulary,
    prefix: str,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """Continue ``prefix`` by ``length`` characters drawn from softmax(logits / temperature)."""
    model.eval()
    device = next(model.parameters()).device
    idx = torch.from_numpy(vocab.encode(prefix))[:, None].to(device)
    logits, state = model(idx)
    out = []
    for _ in range(length):
        probs = torch.softmax(logits[-1, 0].double() / temperature, dim=-1).cpu()
        nxt = torch.multinomial(probs, 1, generator=generator)
        out.append(int(nxt))
        logits, state = model(nxt[:, None].to(device), state)
    model.train()
    return prefix + vocab.decode(out)


# --- training -----------------------------------------------------------------------------------------


def train_steps(
    model: nn.Module,
    batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    clip: float | None = None,
    every: int = 0,
    report: Callable[[int, History], str | None] | None = None,
    progress: bool = True,
    desc: str = "steps",
) -> History:
    """Train for ``steps`` minibatch steps and log, per step, ``loss`` and ``grad_norm`` (the global
    gradient norm before clipping; NaN and inf are kept, not skipped).

    Args:
        batch: returns (inputs, targets) for one step.
        loss_fn: ``loss_fn(model, inputs, targets)`` -> scalar tensor.
        clip: if given, gradients are clipped to this global norm (torch.nn.utils.clip_grad_norm_).
        every, report: every ``every`` steps ``report(step, history)`` is called; a string it returns
            is printed above the progress bar (e.g. a sample of generated text).
    """
    history = History()
    params = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        inputs, targets = batch()
        loss = loss_fn(model, inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf"))
        optimizer.step()
        history.log(loss=loss.item(), grad_norm=norm.item())
        if step % max(1, steps // 20) == 0:
            bar.set_postfix(loss=f"{loss.item():.4g}")
        if every and report is not None and step % every == 0:
            text = report(step, history)
            if text:
                tqdm.write(text)
    return history


# --- what the recurrent layers do inside -----------------------------------------------------------


@torch.no_grad()
def lstm_gates(lstm: nn.LSTM, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Run a one-layer ``nn.LSTM`` on x (T, N, D) step by step and keep its insides.

    Returns arrays (T, N, H): the gates "i", "f", "o", the candidate "g", the cell state "c" and the
    hidden state "h" (which equals the layer's own output).
    """
    H = lstm.hidden_size
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = x.new_zeros(x.shape[1], H)
    c = x.new_zeros(x.shape[1], H)
    kept = {k: [] for k in "ifgoch"}
    for x_t in x:
        a_i, a_f, a_g, a_o = (x_t @ w_ih.T + h @ w_hh.T + b).split(H, dim=1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            kept[k].append(v)
    return {k: torch.stack(v).cpu().numpy() for k, v in kept.items()}


def state_gradient_norms(rnn: nn.Module, x: torch.Tensor, seed: int = 0) -> np.ndarray:
    """How strongly the state at step t still depends on the initial state: for t = 1..T, the norm of
    d(u . h_t) / d(h_0) (for an LSTM, with respect to (h_0, c_0) together), u a fixed random unit
    vector, averaged over the batch. x: (T, N, D) -> array (T,)."""
    T, N = x.shape[:2]
    H = rnn.hidden_size
    u = torch.randn(H, generator=torch.Generator().manual_seed(seed)).to(x.device, x.dtype)
    u = u / u.norm()
    h0 = torch.zeros(1, N, H, device=x.device, dtype=x.dtype, requires_grad=True)
    if isinstance(rnn, nn.LSTM):
        c0 = torch.zeros_like(h0, requires_grad=True)
        out, _ = rnn(x, (h0, c0))
        leaves = (h0, c0)
    else:
        out, _ = rnn(x, h0)
        leaves = (h0,)
    norms = []
    for t in range(T):
        grads = torch.autograd.grad((out[t] @ u).sum(), leaves, retain_graph=t < T - 1)
        per_example = torch.cat([g[0] for g in grads], dim=1).norm(dim=1)
        norms.append(per_example.mean().item())
    return np.array(norms)


# --- pictures --------------------------------------------------------------------------------------


def plot_gates(
    gates: dict[str, np.ndarray],
    t: int | None = None,
    inputs: np.ndarray | None = None,
    input_labels: Sequence[str] = ("value", "marker"),
    units: int | None = None,
    title: str | None = None,
    traces: dict[str, np.ndarray] | None = None,
    trace_labels: Sequence[str] | None = None,
):
    """Heat maps of gate activations over time for one sequence, one row of panels per gate.

    Args:
        gates: {name: array (T, H)} (e.g. "i", "f", "o" of :func:`lstm_gates` for one sequence).
        t: a time step to mark with a vertical line, and whose values are printed in the title.
        inputs: (T, K) input features drawn above the gates (e.g. the adding problem's value and marker).
        units: show only the first ``units`` hidden units.
        traces: {name: array (T, k)} drawn as k lines below the heat maps (e.g. the cell state of a
            few chosen units), labelled by ``trace_labels``.
    Returns the figure.
    """
    names = list(gates)
    traces = traces or {}
    rows = len(names) + (inputs is not None) + len(traces)
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.1 + 1.3 * rows), sharex=True, squeeze=False)
    axes = axes[:, 0]
    T = next(iter(gates.values())).shape[0]
    k = 0
    if inputs is not None:
        ax = axes[0]
        for j in range(inputs.shape[1]):
            ax.step(np.arange(T), inputs[:, j], where="mid", label=input_labels[j] if j < len(input_labels) else str(j))
        ax.set_ylabel("input")
        ax.legend(loc="upper right", fontsize=8, ncol=inputs.shape[1])
        k = 1
    image = None
    for name, ax in zip(names, axes[k:]):
        values = gates[name][:, :units] if units else gates[name]
        lo, hi = (-1.0, 1.0) if name in ("g", "c", "h", "n") else (0.0, 1.0)
        image = ax.imshow(
            values.T,
            aspect="auto",
            cmap="RdBu_r" if lo < 0 else "viridis",
            vmin=lo,
            vmax=hi,
            interpolation="nearest",
            extent=(-0.5, T - 0.5, values.shape[1] - 0.5, -0.5),
        )
        ax.set_ylabel(f"{name}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
    for (name, values), ax in zip(traces.items(), axes[k + len(names) :]):
        values = np.asarray(values).reshape(T, -1)
        for j in range(values.shape[1]):
            label = trace_labels[j] if trace_labels is not None and j < len(trace_labels) else None
            ax.plot(np.arange(T), values[:, j], label=label)
        ax.set_ylabel(name)
        ax.axhline(0, color="gray", lw=0.5)
        if trace_labels is not None:
            ax.legend(loc="upper left", fontsize=8, ncol=values.shape[1])
    if t is not None:
        for ax in axes:
            ax.axvline(t, color="k", lw=1.5, ls="--")
    axes[-1].set_xlabel("time step")
    if title or t is not None:
        parts = [title] if title else []
        if t is not None:
            parts.append(f"t = {t}: " + ", ".join(f"mean {n} = {gates[n][t].mean():.2f}" for n in names))
        fig.suptitle("\n".join(parts), fontsize=10)
    fig.tight_layout()
    return fig


def plot_steps(
    histories: dict[str, History],
    key: str = "loss",
    logy: bool = True,
    ax=None,
    title: str | None = None,
    baseline: float | None = None,
    smooth: int = 1,
):
    """One line per run of ``history[key]`` against the step; non-finite values leave a gap and the first
    one is marked with a cross. ``smooth`` averages over that many steps."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, history in histories.items():
        y = np.asarray(history[key], dtype=float)
        if smooth > 1:
            kernel = np.ones(smooth) / smooth
            y = np.convolve(y, kernel, mode="valid")
        steps = np.arange(1, len(y) + 1) + (smooth - 1)
        (line,) = ax.plot(steps, np.where(np.isfinite(y), y, np.nan), label=name, lw=1.2)
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            first = bad[0]
            last_finite = y[:first][np.isfinite(y[:first])]
            ax.plot(
                steps[first], last_finite[-1] if len(last_finite) else 1.0, "x", ms=10, mew=2, color=line.get_color()
            )
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls=":", label="predict the mean")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_gradient_by_lag(curves: dict[str, np.ndarray], ax=None, title: str | None = None):
    """Semilog plot of gradient norms (e.g. from :func:`state_gradient_norms`) against the lag t."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, norms in curves.items():
        norms = np.asarray(norms, dtype=float)
        ax.semilogy(np.arange(1, len(norms) + 1), np.where(norms > 0, norms, np.nan), label=name)
    ax.set_xlabel("lag t (steps between the initial state and h_t)")
    ax.set_ylabel("gradient norm")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax
