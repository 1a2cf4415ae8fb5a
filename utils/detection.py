"""A small detection task for assignment 4: generated shapes, a tiny YOLO-style detector, and its
seeded training.

The detector follows the lecture's YOLOv3 head (Redmon and Farhadi 2018, section 2) at one scale:
a fully convolutional network maps a ``(1, SIZE, SIZE)`` image to an ``S x S`` grid (``S = SIZE /
STRIDE``) and, in each cell, ``B`` anchors each predict ``5 + C`` numbers ``t_x, t_y, t_w, t_h,
t_o`` and ``C`` class logits. Its raw output for a batch is ``(N, B * (5 + C), S, S)``: channel
``b * (5 + C) + j`` holds quantity ``j`` of anchor ``b``, as in the lecture. Decoded,
``b_x = (sigmoid(t_x) + c_x) * STRIDE``, ``b_w = p_w * exp(t_w)`` with the anchor ``(p_w, p_h)``
in pixels, and a box's score for class ``k`` is ``sigmoid(t_o) * sigmoid(t_k)``.

Everything is small so that the whole thing trains in a few seconds on one CPU core:
:func:`trained_detector` builds the data, trains the network with a fixed seed and returns it with
a held-out set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASS_NAMES = ("square", "disc", "triangle")
SIZE = 32  # image side, pixels
STRIDE = 4  # pixels per grid cell
GRID = SIZE // STRIDE  # S


# -- generated shapes -------------------------------------------------------------------------------
def _shape_mask(kind: int, cy: int, cx: int, r: int, size: int) -> np.ndarray:
    """Boolean ``(size, size)`` mask of one shape centred at pixel ``(cy, cx)`` with half-side ``r``:
    0 a square, 1 a disc, 2 a triangle pointing up (apex on the top row, base on the bottom row)."""
    rows, cols = np.mgrid[:size, :size]
    dy, dx = rows - cy, cols - cx
    if kind == 0:
        return (np.abs(dy) <= r) & (np.abs(dx) <= r)
    if kind == 1:
        return dy**2 + dx**2 <= r * r + r  # a rounder digital disc than <= r^2
    # the half-width grows from 0 at the apex (dy = -r) to r at the base (dy = r)
    return (np.abs(dy) <= r) & (2 * np.abs(dx) <= dy + r)


def shapes_detection(
    n: int,
    seed: int = 0,
    size: int = SIZE,
    objects: tuple[int, int] = (1, 3),
    radius: tuple[int, int] = (2, 6),
    noise: float = 0.1,
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """``n`` noisy images of squares, discs and triangles, with their boxes and classes.

    Args:
        n: number of images.
        seed: fixes everything (the same seed gives the same images).
        size: image side in pixels.
        objects: the least and the most objects per image.
        radius: the least and the most half-side of a shape, in pixels (a shape spans
            ``2 * radius + 1`` pixels).
        noise: standard deviation of the Gaussian pixel noise.

    Returns:
        images: ``(n, 1, size, size)`` float32, shapes of brightness 0.6 to 1 on a dark background.
        boxes: list of ``n`` arrays ``(k_i, 4)`` float64, the tight box of each object's pixels as
            ``(x1, y1, x2, y2)`` in continuous pixel coordinates (pixel ``(r, c)`` covers
            ``[c, c + 1] x [r, r + 1]``).
        labels: list of ``n`` int64 arrays ``(k_i,)``, indices into :data:`CLASS_NAMES`.
    Objects do not overlap (their boxes are at least one pixel apart), so every box is visible.
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    boxes, labels = [], []
    for i in range(n):
        wanted = int(rng.integers(objects[0], objects[1] + 1))
        image_boxes, image_labels, attempts = [], [], 0
        while len(image_boxes) < wanted and attempts < 50:
            attempts += 1
            kind = int(rng.integers(0, len(CLASS_NAMES)))
            r = int(rng.integers(radius[0], radius[1] + 1))
            cy, cx = (int(v) for v in rng.integers(r, size - r, 2))
            box = np.array([cx - r, cy - r, cx + r + 1, cy + r + 1], dtype=np.float64)
            apart = all(box[0] > b[2] or b[0] > box[2] or box[1] > b[3] or b[1] > box[3] for b in image_boxes)
            if not apart:
                continue
            mask = _shape_mask(kind, cy, cx, r, size)
            images[i, 0][mask] = rng.uniform(0.6, 1.0)
            image_boxes.append(box)
            image_labels.append(kind)
        boxes.append(np.array(image_boxes, dtype=np.float64).reshape(-1, 4))
        labels.append(np.array(image_labels, dtype=np.int64))
    images += noise * rng.standard_normal(images.shape).astype(np.float32)
    return images, boxes, labels


# -- anchors ----------------------------------------------------------------------------------------
def wh_iou(wh1: np.ndarray, wh2: np.ndarray) -> np.ndarray:
    """IoU of boxes of sizes ``wh1`` ``(N, 2)`` and ``wh2`` ``(M, 2)`` placed on one centre, ``(N, M)``:
    how well an anchor's shape fits a box's, whatever their positions."""
    wh1, wh2 = np.asarray(wh1, dtype=np.float64), np.asarray(wh2, dtype=np.float64)
    inter = np.minimum(wh1[:, None, 0], wh2[None, :, 0]) * np.minimum(wh1[:, None, 1], wh2[None, :, 1])
    return inter / (wh1[:, None].prod(-1) + wh2[None, :].prod(-1) - inter)


def kmeans_anchors(boxes: list[np.ndarray], k: int, seed: int = 0, iterations: int = 50) -> np.ndarray:
    """``k`` anchors ``(k, 2)`` (width, height in pixels) by k-means on the boxes' sizes with the
    distance ``1 - IoU`` of YOLOv2 (Redmon and Farhadi 2017, section 2), sorted by area."""
    wh = np.concatenate([b[:, 2:] - b[:, :2] for b in boxes])
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), k, replace=False)]
    for _ in range(iterations):
        nearest = wh_iou(wh, centres).argmax(axis=1)
        centres = np.array([wh[nearest == j].mean(axis=0) if np.any(nearest == j) else centres[j] for j in range(k)])
    return np.round(centres[np.argsort(centres.prod(axis=1))], 1)


# -- the detector -----------------------------------------------------------------------------------
class TinyYOLO(nn.Module):
    """A fully convolutional detector with a YOLOv3-style head at one scale.

    ``(N, 1, SIZE, SIZE)`` images -> raw head output ``(N, B * (5 + C), GRID, GRID)``: two 2x2
    max-poolings take the resolution to the grid (stride 4), and a 1x1 convolution predicts, for each
    of the ``B`` anchors in each cell, ``t_x, t_y, t_w, t_h, t_o`` and ``C`` class logits.
    """

    def __init__(self, num_anchors: int, num_classes: int = len(CLASS_NAMES), width: int = 16):
        super().__init__()
        self.num_anchors, self.num_classes = num_anchors, num_classes

        def conv(c_in, c_out, dilation=1):
            return [nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
                    nn.BatchNorm2d(c_out), nn.ReLU()]  # fmt: skip

        self.features = nn.Sequential(
            *conv(1, width // 2), nn.MaxPool2d(2),
            *conv(width // 2, width), nn.MaxPool2d(2),
            *conv(width, 2 * width),
            *conv(2 * width, 2 * width, dilation=2),
        )  # fmt: skip
        self.head = nn.Conv2d(2 * width, num_anchors * (5 + num_classes), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def encode_targets(
    boxes: list[np.ndarray], labels: list[np.ndarray], anchors: np.ndarray, num_classes: int = len(CLASS_NAMES)
) -> tuple[np.ndarray, np.ndarray]:
    """The training targets of the head, one anchor responsible for each object.

    The object's centre falls in cell ``(row, col)``; of that cell's anchors, the one whose shape fits
    the box best (:func:`wh_iou`) is responsible for it. Its targets are the centre's offset in the cell
    (``sigmoid(t_x)`` should reach it), ``log(w / p_w)``, ``log(h / p_h)`` (``t_w``, ``t_h``),
    objectness 1 and the one-hot class.

    Returns:
        target: ``(N, B, GRID, GRID, 5 + C)`` float32: offsets x, y, log-scales w, h, objectness,
            one-hot class.
        responsible: ``(N, B, GRID, GRID)`` bool, where an object is assigned.
    """
    B = len(anchors)
    target = np.zeros((len(boxes), B, GRID, GRID, 5 + num_classes), dtype=np.float32)
    responsible = np.zeros((len(boxes), B, GRID, GRID), dtype=bool)
    for i, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        if len(image_boxes) == 0:
            continue
        wh = image_boxes[:, 2:] - image_boxes[:, :2]
        centre = (image_boxes[:, :2] + image_boxes[:, 2:]) / 2 / STRIDE
        best = wh_iou(wh, anchors).argmax(axis=1)
        for (gx, gy), (w, h), b, c in zip(centre, wh, best, image_labels):
            col, row = min(int(gx), GRID - 1), min(int(gy), GRID - 1)
            target[i, b, row, col, :5] = (gx - col, gy - row, np.log(w / anchors[b, 0]), np.log(h / anchors[b, 1]), 1)
            target[i, b, row, col, 5 + c] = 1.0
            responsible[i, b, row, col] = True
    return target, responsible


def yolo_loss(raw: torch.Tensor, target: torch.Tensor, responsible: torch.Tensor) -> torch.Tensor:
    """A YOLO-style loss, summed and divided by the batch size: at the responsible anchors, binary
    cross-entropy for the centre offsets (through the sigmoid, as common YOLOv3 code does; the paper
    writes squared error), squared error for ``t_w, t_h`` (weight 2) and binary cross-entropy for each
    class (YOLOv3, section 2.2); binary cross-entropy for the objectness everywhere."""
    N, _, S, _ = raw.shape
    B = responsible.shape[1]
    t = raw.view(N, B, -1, S, S).permute(0, 1, 3, 4, 2)  # (N, B, S, S, 5 + C)
    mine, goal = t[responsible], target[responsible]
    centre = F.binary_cross_entropy_with_logits(mine[:, :2], goal[:, :2], reduction="sum")
    scale = F.mse_loss(mine[:, 2:4], goal[:, 2:4], reduction="sum")
    classes = F.binary_cross_entropy_with_logits(mine[:, 5:], goal[:, 5:], reduction="sum")
    objectness = F.binary_cross_entropy_with_logits(t[..., 4], target[..., 4], reduction="sum")
    return (centre + 2 * scale + classes + objectness) / N


@dataclass
class Detection:
    """A trained detector and its held-out set.

    Attributes:
        model: the trained :class:`TinyYOLO`, in eval mode.
        anchors: ``(B, 2)`` float64, the anchors' (width, height) in pixels.
        stride: pixels per grid cell.
        images: ``(n, 1, SIZE, SIZE)`` float32 held-out images (not seen in training).
        boxes, labels: their ground truth, lists of ``(k_i, 4)`` and ``(k_i,)`` arrays.
        seconds: the CPU time the training took (one thread: the time on one core).
        losses: the training loss of each epoch.
    """

    model: TinyYOLO
    anchors: np.ndarray
    stride: int
    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    seconds: float
    losses: list[float]

    def raw_outputs(self) -> np.ndarray:
        """The head's raw output on the held-out images, ``(n, B * (5 + C), S, S)`` float64."""
        parameter = next(self.model.parameters())
        with torch.no_grad():
            return self.model(torch.from_numpy(self.images).to(parameter.device)).double().cpu().numpy()


def trained_detector(
    seed: int = 0,
    n_train: int = 1500,
    n_test: int = 200,
    epochs: int = 10,
    num_anchors: int = 2,
    verbose: bool = False,
) -> Detection:
    """Generate the shapes, fit the anchors, train :class:`TinyYOLO` with a fixed seed, and return it
    with a held-out set (generated with another seed).

    Adam, learning rate 3e-3 with a cosine decay, batches of 32. A few seconds on one CPU core; on a
    GPU when one is present (:func:`utils.device`).
    """
    from .core import device, seed_everything

    images, boxes, labels = shapes_detection(n_train, seed=seed)
    test_images, test_boxes, test_labels = shapes_detection(n_test, seed=seed + 10_000)
    anchors = kmeans_anchors(boxes, num_anchors, seed=seed)
    target, responsible = encode_targets(boxes, labels, anchors)
    seed_everything(seed)
    model = TinyYOLO(num_anchors).to(device())
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps = epochs * int(np.ceil(n_train / 32))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    x, t, r = (torch.from_numpy(a).to(device()) for a in (images, target, responsible))
    generator = torch.Generator().manual_seed(seed)
    losses, start = [], time.process_time()
    for epoch in range(epochs):
        total = 0.0
        for batch in torch.randperm(n_train, generator=generator).to(device()).split(32):
            loss = yolo_loss(model(x[batch]), t[batch], r[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        losses.append(total / n_train)
        if verbose:
            print(f"epoch {epoch + 1}: loss {losses[-1]:.3f} ({time.process_time() - start:.1f} s of CPU)")
    model.eval()
    return Detection(model, anchors, STRIDE, test_images, test_boxes, test_labels, time.process_time() - start, losses)


# -- running a detector's post-processing ---------------------------------------------------------------
def detect(raw_outputs, anchors, stride, decode, batched_nms=None, score_threshold=0.05, iou_threshold=0.5):
    """Boxes, scores and labels of each image from the head's raw outputs: ``decode`` each image, then
    (unless ``batched_nms`` is None) keep what per-class non-maximum suppression keeps.

    Args:
        raw_outputs: ``(n, B * (5 + C), S_h, S_w)``, the head's output for ``n`` images.
        anchors: ``(B, 2)``, the anchors' (width, height) in pixels.
        stride: pixels per grid cell.
        decode: ``decode(raw, anchors, stride, score_threshold) -> (boxes, scores, labels)`` for one
            image's ``raw`` ``(B * (5 + C), S_h, S_w)``.
        batched_nms: ``batched_nms(boxes, scores, labels, iou_threshold) -> kept indices``, or None.

    Returns:
        ``(boxes, scores, labels)``: three lists of ``n`` arrays, ``(k_i, 4)``, ``(k_i,)``, ``(k_i,)``, the
        arguments ``mean_average_precision`` takes for the predictions.
    """
    all_boxes, all_scores, all_labels = [], [], []
    for raw in np.asarray(raw_outputs, dtype=np.float64):
        boxes, scores, labels = decode(raw, np.asarray(anchors, dtype=np.float64), stride, score_threshold)
        boxes, scores, labels = np.asarray(boxes).reshape(-1, 4), np.asarray(scores), np.asarray(labels)
        if batched_nms is not None:
            keep = np.asarray(batched_nms(boxes, scores, labels, iou_threshold), dtype=np.int64)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        all_boxes.append(boxes)
        all_scores.append(scores)
        all_labels.append(labels)
    return all_boxes, all_scores, all_labels


def mean_over_classes(metric, pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, **kwargs) -> float:
    """``metric`` run on each class alone, averaged over the classes that have ground truth.

    ``metric(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, **kwargs)`` takes lists of one
    array per image, as ``mean_average_precision`` does; here it sees the boxes of one class at a
    time, all labelled 0. For a mean over classes of per-class AP this changes nothing; it lets COCO's
    evaluator, run with all the recall points ``j / G_c`` of one class, give the all-point AP without
    the least common multiple of several classes' numbers of objects. ``nan`` without ground truth.
    """
    classes = np.unique(np.concatenate([np.zeros(0, dtype=np.int64)] + [np.asarray(g).reshape(-1) for g in gt_labels]))
    if len(classes) == 0:
        return float("nan")

    def of_class(c, boxes, labels):
        chosen = [np.asarray(l).reshape(-1) == c for l in labels]
        return [np.asarray(b, dtype=np.float64).reshape(-1, *np.shape(b)[1:])[m] for b, m in zip(boxes, chosen)]

    per_class = []
    for c in classes:
        found = of_class(c, pred_boxes, pred_labels), of_class(c, pred_scores, pred_labels)
        truth = of_class(c, gt_boxes, gt_labels)
        zeros = [np.zeros(len(b), dtype=np.int64) for b in found[0]], [np.zeros(len(b), dtype=np.int64) for b in truth]
        per_class.append(metric(found[0], found[1], zeros[0], truth, zeros[1], **kwargs))
    return float(np.mean(per_class))


def show_detections(images, boxes, scores, labels, truth, n: int = 8, min_score: float = 0.0, names=CLASS_NAMES):
    """A row of the first ``n`` images with their ground-truth boxes (dashed, grey) and the predicted
    ones with a score of at least ``min_score`` (solid, one colour per class, with class name and score)."""
    import matplotlib.pyplot as plt

    from .architectures import draw_boxes

    colours = ("tab:red", "tab:cyan", "tab:orange", "tab:green")
    fig, axes = plt.subplots(1, n, figsize=(1.9 * n, 2.2), squeeze=False)
    for ax, image, b, s, c, t in zip(axes[0], images, boxes, scores, labels, truth):
        ax.imshow(np.asarray(image)[0], cmap="gray", vmin=0, vmax=1)
        draw_boxes(ax, t, color="0.6", linestyle="--")
        for k in np.unique(c):
            mine = (np.asarray(c) == k) & (np.asarray(s) >= min_score)
            draw_boxes(ax, np.asarray(b)[mine], labels=[names[k]] * int(mine.sum()), scores=np.asarray(s)[mine],
                       color=colours[k % len(colours)])  # fmt: skip
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
