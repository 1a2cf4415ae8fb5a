"""Offline data: what scikit-learn ships (the 8x8 digits, two photographs), split and normalised."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    """Train, validation and test arrays.

    ``X_*`` are float64: ``(N, 64)`` when flat, ``(N, 1, 8, 8)`` as images.
    ``y_*`` are int64 class labels ``(N,)`` in ``0..9``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def __repr__(self) -> str:
        return f"Split(train={self.X_train.shape}, val={self.X_val.shape}, test={self.X_test.shape})"


def load_digits(
    val_size: float = 0.15,
    test_size: float = 0.2,
    seed: int = 0,
    images: bool = False,
    normalise: bool = True,
    train_size: int | None = None,
) -> Split:
    """scikit-learn's 1797 handwritten digits (8x8, 10 classes), split with stratification.

    Args:
        val_size, test_size: fractions of the whole set held out.
        seed: fixes the split.
        images: ``(N, 1, 8, 8)`` arrays instead of ``(N, 64)``.
        normalise: standardise with the training set's mean and standard deviation
            (one scalar each, so images stay images); otherwise pixels are in ``[0, 1]``.
        train_size: keep only this many training examples (to provoke overfitting).

    Returns:
        A :class:`Split`.
    """
    from sklearn.datasets import load_digits as _load
    from sklearn.model_selection import train_test_split

    bunch = _load()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    val_frac = val_size / (1.0 - test_size)
    if val_size > 0:
        X_train, X_val, y_train, y_val = train_test_split(
            X_rest, y_rest, test_size=val_frac, random_state=seed, stratify=y_rest
        )
    else:
        X_train, y_train = X_rest, y_rest
        X_val, y_val = X_rest[:0], y_rest[:0]
    if train_size is not None:
        X_train, y_train = X_train[:train_size], y_train[:train_size]
    if normalise:
        mean, std = X_train.mean(), X_train.std()
        X_train, X_val, X_test = ((a - mean) / std for a in (X_train, X_val, X_test))
    if images:
        X_train, X_val, X_test = (a.reshape(-1, 1, 8, 8) for a in (X_train, X_val, X_test))
    return Split(X_train, y_train, X_val, y_val, X_test, y_test)


def load_sample_image(name: str = "china.jpg", gray: bool = True, scale: float = 1.0) -> np.ndarray:
    """One of the photographs scikit-learn ships (``"china.jpg"`` or ``"flower.jpg"``, 427x640).

    Args:
        gray: average the colour channels (ITU-R 601 luma weights).
        scale: shrink factor in ``(0, 1]`` (block averaging), for faster experiments.

    Returns:
        float64 in ``[0, 1]``: ``(H, W)`` when gray, else ``(H, W, 3)``.
    """
    from sklearn.datasets import load_sample_image as _load

    img = _load(name).astype(np.float64) / 255.0
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114])
    if scale != 1.0:
        if not 0 < scale <= 1:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        step = int(round(1 / scale))
        h, w = (img.shape[0] // step) * step, (img.shape[1] // step) * step
        img = img[:h, :w]
        img = img.reshape(h // step, step, w // step, step, *img.shape[2:]).mean(axis=(1, 3))
    return img


def minibatches(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs covering the data once, shuffled when ``rng`` is given.

    ``X``: ``(N, ...)``, ``y``: ``(N, ...)``; the last batch may be smaller.
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    order = rng.permutation(len(X)) if rng is not None else np.arange(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]
