"""Transfer learning without a download.

The source task is printed characters: letters and digits rendered from the fonts that matplotlib
ships (DejaVu, STIX, Computer Modern), warped at random and reduced to 8x8 the way scikit-learn's
handwritten digits were made (32x32 binary bitmaps, counted in 4x4 blocks). The target task is
those handwritten digits. Everything is generated in seconds, offline, and seeded.

Arrays: images are float32 ``(N, 1, H, W)`` with values in ``[0, 1]``; labels are int64 ``(N,)``.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from . import sequences

CHARACTERS = string.digits + string.ascii_uppercase + string.ascii_lowercase
# matplotlib's text faces: DejaVu Sans, Sans Mono and Serif in four styles, STIX General in four,
# five Computer Modern faces (the symbol, display and fallback fonts are left out).
FONT_FILES = (
    *(f"DejaVuSans{s}.ttf" for s in ("", "-Bold", "-Oblique", "-BoldOblique")),
    *(f"DejaVuSansMono{s}.ttf" for s in ("", "-Bold", "-Oblique", "-BoldOblique")),
    *(f"DejaVuSerif{s}.ttf" for s in ("", "-Bold", "-Italic", "-BoldItalic")),
    *(f"STIXGeneral{s}.ttf" for s in ("", "Bol", "Italic", "BolIta")),
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmti10.ttf",
    "cmtt10.ttf",
)
STRATEGIES = ("scratch", "frozen", "fine-tune")


def font_paths(names: Iterable[str] = FONT_FILES) -> list[Path]:
    """Paths of fonts bundled with matplotlib (``matplotlib/mpl-data/fonts/ttf``); missing ones are skipped."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [folder / name for name in names if (folder / name).exists()]


def render_glyph(font: ImageFont.FreeTypeFont, char: str, size: int = 32) -> np.ndarray:
    """One character, cropped to its ink, centred and scaled so that its longer side fills ``size``
    (the aspect ratio is kept: a "1" stays narrow). Returns ``(size, size)`` float32 in ``[0, 1]``."""
    left, top, right, bottom = font.getbbox(char)
    canvas = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), char, fill=255, font=font)
    ink = np.asarray(canvas, dtype=np.float32) / 255
    rows, cols = np.nonzero(ink > 0.1)
    if len(rows) == 0:
        raise ValueError(f"{font.getname()} has no ink for {char!r}")
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = ink.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = ink
    resized = Image.fromarray((square * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255


def render_glyphs(chars: str = CHARACTERS, fonts: Sequence[Path | str] | None = None, size: int = 32) -> np.ndarray:
    """Every character in every font: ``(len(fonts), len(chars), size, size)`` float32 in ``[0, 1]``."""
    fonts = font_paths() if fonts is None else fonts
    loaded = [ImageFont.truetype(str(path), 2 * size) for path in fonts]
    return np.stack([np.stack([render_glyph(font, c, size) for c in chars]) for font in loaded])


def random_affine(glyphs: torch.Tensor, generator: torch.Generator, rotation: float = 0.25, shear: float = 0.3,
                  scale: tuple[float, float] = (0.8, 1.15), aspect: tuple[float, float] = (0.75, 1.25),
                  shift: float = 0.12) -> torch.Tensor:  # fmt: skip
    """Warp each image by its own random affine map (bilinear sampling, zeros outside).

    Args:
        glyphs: ``(N, 1, S, S)`` images.
        rotation: largest angle in radians; shear: largest horizontal shear; scale, aspect: ranges
            of the size and of the width-to-height ratio; shift: largest translation as a fraction
            of the half-width.

    Returns:
        ``(N, 1, S, S)`` warped images.
    """
    n = len(glyphs)

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator)

    angle, skew = uniform(-rotation, rotation), uniform(-shear, shear)
    sy = uniform(*scale)
    sx = sy * uniform(*aspect)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)  # maps output coordinates to input coordinates
    theta[:, 0, 0], theta[:, 0, 1] = cos / sx, (skew - sin) / sx
    theta[:, 1, 0], theta[:, 1, 1] = sin / sy, cos / sy
    theta[:, 0, 2], theta[:, 1, 2] = uniform(-shift, shift), uniform(-shift, shift)
    grid = F.affine_grid(theta, list(glyphs.shape), align_corners=False)
    return F.grid_sample(glyphs, grid, align_corners=False)


def printed_characters(
    n: int,
    chars: str = CHARACTERS,
    seed: int = 0,
    glyphs: np.ndarray | None = None,
    block: int = 4,
    noise: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random printed characters, made like scikit-learn's digits.

    Each sample picks a font and a character, warps the ``32x32`` glyph (:func:`random_affine`),
    thickens the strokes of half of them (a 3x3 maximum), binarises at 0.5 and counts the ink in
    ``block x block`` blocks, as the UCI digits were made from 32x32 bitmaps; then adds Gaussian
    noise of standard deviation ``noise`` and clips to ``[0, 1]``.

    Args:
        glyphs: ``(F, len(chars), S, S)`` from :func:`render_glyphs` (rendered when ``None``).

    Returns:
        ``X`` float32 ``(n, 1, S / block, S / block)`` in ``[0, 1]`` (8x8 by default) and ``y`` int64
        ``(n,)``, the index of each character in ``chars``.
    """
    glyphs = render_glyphs(chars) if glyphs is None else glyphs
    if glyphs.shape[1] != len(chars):
        raise ValueError(f"glyphs has {glyphs.shape[1]} characters, chars has {len(chars)}")
    g = torch.Generator().manual_seed(seed)
    font = torch.randint(glyphs.shape[0], (n,), generator=g)
    label = torch.randint(len(chars), (n,), generator=g)
    x = torch.as_tensor(glyphs)[font, label][:, None]
    x = random_affine(x, g)
    thick = torch.rand(n, generator=g) < 0.5
    x = torch.where(thick[:, None, None, None], F.max_pool2d(x, 3, 1, 1), x)
    x = F.avg_pool2d((x > 0.5).float(), block)
    x = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return x.numpy(), label.numpy().astype(np.int64)


# -- the network and its training -------------------------------------------------------------------
class SmallCNN(nn.Module):
    """An 8x8 classifier in two parts, so that the head can be swapped:

    ``backbone``: three 3x3 conv-BN-ReLU layers (``width``, ``2 width``, ``4 width`` channels, a 2x2
    max-pool after the second and the third), then a dense layer to ``features`` units with BN and
    ReLU: ``(N, 1, 8, 8) -> (N, features)``. ``head``: ``nn.Linear(features, num_classes)``.
    """

    def __init__(self, num_classes: int, width: int = 16, features: int = 128):
        super().__init__()
        self.width, self.features = width, features

        def conv(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.backbone = nn.Sequential(
            *conv(1, width), *conv(width, 2 * width), nn.MaxPool2d(2), *conv(2 * width, 4 * width), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * width * 4, features), nn.BatchNorm1d(features), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def train_steps(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    optimizer: torch.optim.Optimizer,
    batch: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """``steps`` updates of ``model`` (in training mode) on cross-entropy, with the course's step loop
    (:func:`utils.sequences.train_steps`).

    Each step draws ``batch`` random rows of ``X`` ``(N, ...)`` and ``y`` ``(N,)`` (all of them, in
    order, when ``N <= batch``) from a generator seeded with ``seed``. Returns the ``(steps,)``
    minibatch losses.
    """
    g = torch.Generator().manual_seed(seed)

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(X), (batch,), generator=g) if len(X) > batch else torch.arange(len(X))
        return X[idx], y[idx]

    model.train()
    history = sequences.train_steps(model, draw, _cross_entropy, optimizer, steps, progress=False)
    return np.asarray(history["loss"])


def _cross_entropy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(X), y)


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``X`` ``(N, ...)`` that ``model`` (in eval mode) labels as ``y`` ``(N,)``."""
    model.eval()
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def labelled_subset(y: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random examples of every class in ``y`` ``(N,)`` (all when ``None``),
    class by class: ``(per_class * classes,)``."""
    if per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])


def transfer_experiment(
    source: SmallCNN,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    labels_per_class: Sequence[int | None] = (1, 3, 10, None),
    draws: Sequence[int] = (3, 3, 2, 1),
    steps: Sequence[int] = (100, 100, 100, 200),
    lr: float = 3e-3,
    finetune_lr: float = 1e-3,
    head_lr: float = 1e-2,
    seed: int = 0,
    progress: bool = True,
) -> dict[int | None, dict[str, list[float]]]:
    """Test accuracy of three ways to learn the target task from few labels, with Adam:

    * ``"scratch"``: a fresh :class:`SmallCNN`, all of it trained at ``lr``;
    * ``"frozen"``: ``source``'s backbone fixed (in eval mode), a new head trained at ``head_lr``;
    * ``"fine-tune"``: ``source``'s backbone and a new head, all trained at ``finetune_lr``.

    For each ``labels_per_class`` entry ``n`` (``None``: the whole training set), ``draws`` random
    labelled subsets (:func:`labelled_subset`), each trained for the matching ``steps`` with minibatches
    of 64. Each draw ``d`` seeds its subset, its fresh weights and its batches with ``seed + d``.

    Args:
        source: the pretrained network (left unchanged).
        X_train, X_test: ``(N, 1, 8, 8)`` images; y_train, y_test: ``(N,)`` labels.

    Returns:
        ``{n: {strategy: [accuracy of each draw]}}``.
    """
    X_train, X_test = (torch.as_tensor(a, dtype=torch.float32) for a in (X_train, X_test))
    y_train_t, y_test = torch.as_tensor(y_train), torch.as_tensor(y_test)
    classes = len(np.unique(y_train))
    backbone = copy.deepcopy(source.backbone).eval()
    with torch.no_grad():  # the frozen backbone's features, computed once
        train_features, test_features = backbone(X_train), backbone(X_test)
    features = train_features.shape[1]
    results: dict[int | None, dict[str, list[float]]] = {}
    bar = tqdm(total=sum(draws), desc="transfer runs", disable=not progress, leave=False)
    for n, n_draws, n_steps in zip(labels_per_class, draws, steps):
        results[n] = {strategy: [] for strategy in STRATEGIES}
        for d in range(n_draws):
            idx = torch.as_tensor(labelled_subset(y_train, n, seed + d))
            X, y = X_train[idx], y_train_t[idx]
            torch.manual_seed(seed + d)
            scratch = SmallCNN(classes, width=source.width, features=source.features)
            train_steps(scratch, X, y, n_steps, torch.optim.Adam(scratch.parameters(), lr=lr), seed=seed + d)
            torch.manual_seed(seed + d)
            head = nn.Linear(features, classes)
            train_steps(head, train_features[idx], y, n_steps, torch.optim.Adam(head.parameters(), lr=head_lr),
                        seed=seed + d)  # fmt: skip
            torch.manual_seed(seed + d)
            tuned = copy.deepcopy(source)
            tuned.head = nn.Linear(features, classes)
            train_steps(tuned, X, y, n_steps, torch.optim.Adam(tuned.parameters(), lr=finetune_lr), seed=seed + d)
            results[n]["scratch"].append(accuracy(scratch, X_test, y_test))
            results[n]["frozen"].append(accuracy(head, test_features, y_test))
            results[n]["fine-tune"].append(accuracy(tuned, X_test, y_test))
            bar.update()
    bar.close()
    return results


def mean_table(results: dict[int | None, dict[str, list[float]]]) -> dict[int | None, dict[str, float]]:
    """The mean over draws of each entry of :func:`transfer_experiment`'s result."""
    return {n: {s: float(np.mean(acc)) for s, acc in row.items()} for n, row in results.items()}


def describe(results: dict[int | None, dict[str, list[float]]], all_label: str = "all") -> str:
    """A markdown table of the mean (and, over several draws, the range) of each strategy's accuracy."""

    def cell(acc):
        return f"{np.mean(acc):.3f}" + (f" ({min(acc):.2f} to {max(acc):.2f})" if len(acc) > 1 else "")

    lines = ["| labels per class | draws | " + " | ".join(STRATEGIES) + " |", "|" + " --- |" * (2 + len(STRATEGIES))]
    for n, row in results.items():
        draws = len(next(iter(row.values())))
        lines.append(
            f"| {all_label if n is None else n} | {draws} | " + " | ".join(cell(row[s]) for s in STRATEGIES) + " |"
        )
    return "\n".join(lines)
