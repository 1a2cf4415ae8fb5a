"""Topic 4 helpers shared by the lecture and the seminar: tiny versions of the classic
architectures for 8x8 digits, a parameter / multiply-add table, generated-shapes data for
segmentation and detection, and pictures of boxes and masks.

Everything is small on purpose: each model trains on the digits in seconds on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn


# -- tiny architectures (input (N, 1, 8, 8), 10 classes unless said otherwise) --------------------
def lenet(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5's pattern at 8x8: conv 3x3 -> tanh -> 2x2 pool (stride 2), twice, then two dense layers."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2, 2),  # 6 x 4 x 4
        nn.Conv2d(6, 16, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2, 2),  # 16 x 2 x 2
        nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, num_classes),
    )  # fmt: skip


def mini_vgg(num_classes: int = 10, width: int = 16) -> nn.Sequential:
    """VGG's pattern: stacks of two 3x3 convolutions with ReLU, then 2x2 max pooling."""

    def stage(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2)]  # fmt: skip

    return nn.Sequential(
        *stage(1, width), *stage(width, 2 * width), nn.Flatten(), nn.Linear(2 * width * 4, num_classes)
    )


class InceptionBlock(nn.Module):
    """GoogLeNet's module: 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and 3x3 max-pool -> 1x1 branches, concatenated
    along the channels. The 1x1 convolutions in front reduce the channels the big kernels see."""

    def __init__(self, c_in: int, c1: int, c3: tuple[int, int], c5: tuple[int, int], c_pool: int):
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(c_in, c1, 1), nn.ReLU())
        self.branch3 = nn.Sequential(
            nn.Conv2d(c_in, c3[0], 1), nn.ReLU(), nn.Conv2d(c3[0], c3[1], 3, padding=1), nn.ReLU()
        )
        self.branch5 = nn.Sequential(
            nn.Conv2d(c_in, c5[0], 1), nn.ReLU(), nn.Conv2d(c5[0], c5[1], 5, padding=2), nn.ReLU()
        )
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(c_in, c_pool, 1), nn.ReLU())
        self.out_channels = c1 + c3[1] + c5[1] + c_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([b(x) for b in branches], dim=1)


def mini_inception(num_classes: int = 10) -> nn.Sequential:
    """A stem, one Inception block and global average pooling (GoogLeNet's head, no big dense layer)."""
    block = InceptionBlock(16, 8, (8, 16), (4, 8), 8)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), block, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(block.out_channels, num_classes),
    )  # fmt: skip


class Block(nn.Module):
    """Two 3x3 conv + BatchNorm layers, with (``residual=True``) or without the identity shortcut."""

    def __init__(self, channels: int, residual: bool, batchnorm: bool = True):
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(channels)) if batchnorm else nn.Identity
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=not batchnorm), norm(), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=not batchnorm), norm(),
        )  # fmt: skip
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return torch.relu(out + x if self.residual else out)


def deep_net(
    blocks: int, residual: bool, width: int = 16, num_classes: int = 10, batchnorm: bool = True
) -> nn.Sequential:
    """A stem, ``blocks`` blocks of two conv layers (2 * blocks + 2 weight layers in all) and a
    global-average-pooled head: the plain and the residual networks of the degradation experiment."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
        *[Block(width, residual, batchnorm) for _ in range(blocks)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes),
    )  # fmt: skip


class DenseBlock(nn.Module):
    """DenseNet's block: layer ``i`` sees the concatenation of the input and all earlier outputs,
    and adds ``growth`` channels (BN -> ReLU -> 3x3 conv)."""

    def __init__(self, c_in: int, growth: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(c_in + i * growth), nn.ReLU(), nn.Conv2d(c_in + i * growth, growth, 3, padding=1)
            )
            for i in range(layers)
        )
        self.out_channels = c_in + layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)
        return x


def mini_densenet(num_classes: int = 10) -> nn.Sequential:
    block = DenseBlock(8, 8, 4)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), block, nn.BatchNorm2d(block.out_channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(block.out_channels, num_classes),
    )  # fmt: skip


# -- counting --------------------------------------------------------------------------------------
def macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass on ``(1, *input_shape)``, from torch's FlopCounterMode
    (2 FLOPs per multiply-add of convolutions and matrix products)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def param_table(models: dict[str, nn.Module], input_shape: tuple[int, ...]) -> list[tuple[str, int, int]]:
    """``[(name, parameters, multiply-adds), ...]`` for each model on one input of ``input_shape``."""
    return [(name, sum(p.numel() for p in m.parameters()), macs(m, input_shape)) for name, m in models.items()]


def format_table(rows: list[tuple], header: tuple[str, ...]) -> str:
    """A markdown table of ``rows`` (ints get thousands separators)."""

    def cell(v):
        return f"{v:,}" if isinstance(v, (int, np.integer)) else (f"{v:.3g}" if isinstance(v, float) else str(v))

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# -- generated shapes -------------------------------------------------------------------------------
SHAPE_NAMES = ("background", "square", "disc")


def _draw(canvas: np.ndarray, mask: np.ndarray, kind: int, y: int, x: int, r: int) -> tuple[float, ...]:
    size = canvas.shape[0]
    rows, cols = np.mgrid[:size, :size]
    if kind == 1:
        inside = (np.abs(rows - y) <= r) & (np.abs(cols - x) <= r)
    else:
        inside = (rows - y) ** 2 + (cols - x) ** 2 <= r * r
    canvas[inside] = 1.0
    mask[inside] = kind
    return (float(x - r), float(y - r), float(x + r + 1), float(y + r + 1))


def shapes_segmentation(n: int, size: int = 16, seed: int = 0, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images ``(n, 1, size, size)`` float32 with one square and one disc each, and their
    masks ``(n, size, size)`` int64 with 0 background, 1 square, 2 disc (the later shape on top)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        for kind in (1, 2):
            r = int(rng.integers(2, size // 4 + 1))
            y, x = (int(v) for v in rng.integers(r, size - r, 2))
            _draw(images[i, 0], masks[i], kind, y, x, r)
    images += noise * rng.standard_normal(images.shape).astype(np.float32)
    return images, masks


def shapes_detection(n: int, size: int = 32, max_objects: int = 3, seed: int = 0):
    """``n`` images ``(n, 1, size, size)`` with 1 to ``max_objects`` squares and discs, and per image
    an array of boxes ``(k, 4)`` as (x1, y1, x2, y2) and of classes ``(k,)`` (0 square, 1 disc)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    boxes, classes = [], []
    for i in range(n):
        mask = np.zeros((size, size), dtype=np.int64)
        b, c = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            kind = int(rng.integers(1, 3))
            r = int(rng.integers(2, size // 6 + 2))
            y, x = (int(v) for v in rng.integers(r, size - r, 2))
            b.append(_draw(images[i, 0], mask, kind, y, x, r))
            c.append(kind - 1)
        boxes.append(np.array(b))
        classes.append(np.array(c, dtype=np.int64))
    return images, boxes, classes


# -- pictures ---------------------------------------------------------------------------------------
def draw_boxes(ax, boxes, labels=None, color="tab:red", scores=None, linestyle="-"):
    """Draw boxes ``(k, 4)`` (x1, y1, x2, y2, in pixel units of an imshow) on ``ax``."""
    from matplotlib.patches import Rectangle

    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=float).reshape(-1, 4)):
        # imshow puts pixel (r, c) centred at (c, r): its box edges are at -0.5 offsets
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color=color, lw=1.5, ls=linestyle))
        text = [] if labels is None else [str(labels[i])]
        text += [] if scores is None else [f"{scores[i]:.2f}"]
        if text:
            ax.text(x1 - 0.5, y1 - 0.7, " ".join(text), color=color, fontsize=7, va="bottom")
    return ax


def show_masks(images, masks, predictions=None, n: int = 4):
    """A figure of the first ``n`` images, their masks and (optionally) predicted masks."""
    import matplotlib.pyplot as plt

    rows = 2 if predictions is None else 3
    fig, axes = plt.subplots(rows, n, figsize=(1.6 * n, 1.6 * rows), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(np.asarray(images)[j, 0], cmap="gray")
        axes[1, j].imshow(np.asarray(masks)[j], cmap="viridis", vmin=0, vmax=2)
        if predictions is not None:
            axes[2, j].imshow(np.asarray(predictions)[j], cmap="viridis", vmin=0, vmax=2)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("image"), axes[1, 0].set_ylabel("mask")
    if predictions is not None:
        axes[2, 0].set_ylabel("predicted")
    fig.tight_layout()
    return fig


# -- a YOLO-style grid --------------------------------------------------------------------------------
def encode_grid(boxes, classes, S: int, size: int, num_classes: int) -> np.ndarray:
    """The target of a one-box-per-cell YOLO grid: ``(S, S, 5 + num_classes)`` float64.

    For each box, the cell containing its centre gets ``(x, y, w, h, objectness=1, one-hot class)``:
    ``x, y`` the centre's offset inside the cell in ``[0, 1)`` (in cell units), ``w, h`` the size
    relative to the image. Cells without a box are all zero. ``boxes``: ``(k, 4)`` (x1, y1, x2, y2)
    in pixels of a ``size x size`` image.
    """
    grid = np.zeros((S, S, 5 + num_classes))
    cell = size / S
    for (x1, y1, x2, y2), c in zip(np.asarray(boxes, dtype=float).reshape(-1, 4), classes):
        cx, cy = (x1 + x2) / 2 / cell, (y1 + y2) / 2 / cell
        col, row = min(int(cx), S - 1), min(int(cy), S - 1)
        grid[row, col, :5] = (cx - col, cy - row, (x2 - x1) / size, (y2 - y1) / size, 1.0)
        grid[row, col, 5 + int(c)] = 1.0
    return grid
