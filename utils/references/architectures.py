"""Torch references for assignment 4 (CNN architectures, segmentation, detection), imported by its
locked test cells.

Every function takes and returns float64 numpy arrays in the assignment's layouts:
boxes ``(N, 4)`` as ``(x1, y1, x2, y2)`` in continuous coordinates (area ``(x2 - x1) * (y2 - y1)``,
no "+1"); scores ``(N,)``; a transposed convolution's ``x`` ``(N, C_in, H, W)``, ``w``
``(C_in, C_out, HH, WW)`` (torch's layout for ``conv_transpose2d``), ``b`` ``(C_out,)`` and
``param = {"stride": s, "pad": p}`` (int or pair each).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from ..checks import torch_reference
from ..diagnose import PREFIX as MISTAKE
from . import broadcast_error, checked_call  # noqa: F401 (shared by every topic; the test cells import them from here)


def _pair(value):
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


# -- top-k error -----------------------------------------------------------------------------------
def torch_top_k_error(scores, labels, k):
    """Fraction of rows whose k best classes (stable descending sort: ties go to the lower class
    index) miss every correct label. ``labels`` is ``(N,)`` ints or an ``(N, C)`` boolean mask."""
    scores = torch.as_tensor(np.array(scores, dtype=np.float64, copy=True))
    if scores.shape[0] == 0:
        return 0.0
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    labels = np.asarray(labels)
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    if labels.ndim == 1:
        mask[torch.arange(scores.shape[0]), torch.as_tensor(labels, dtype=torch.long)] = True
    else:
        mask = torch.as_tensor(np.array(labels, dtype=bool, copy=True))
    hit = torch.gather(mask, 1, order).any(dim=1)
    return float(1.0 - hit.double().mean())


def top_k_error_tie_range(scores, labels, k):
    """``(lowest, highest)`` top-k error over every order of the tied scores: the label ranks after
    the classes with a higher score and, depending on the order, before or after those with an equal
    one. ``labels`` is ``(N,)`` ints."""
    scores = torch.as_tensor(np.array(scores, dtype=np.float64, copy=True))
    if scores.shape[0] == 0:
        return 0.0, 0.0
    own = scores.gather(1, torch.as_tensor(np.asarray(labels, dtype=np.int64)).reshape(-1, 1))
    above, level = (scores > own).sum(dim=1), (scores == own).sum(dim=1) - 1
    return float((above >= k).double().mean()), float((above + level >= k).double().mean())


# -- boxes -----------------------------------------------------------------------------------------
def box_iou(boxes1, boxes2):
    """torchvision.ops.box_iou, ``(N, M)``; 0 where the union is empty (two degenerate boxes)."""
    a = torch.as_tensor(np.asarray(boxes1, dtype=np.float64).reshape(-1, 4))
    b = torch.as_tensor(np.asarray(boxes2, dtype=np.float64).reshape(-1, 4))
    return torch.nan_to_num(torchvision.ops.box_iou(a, b), nan=0.0).numpy()


def _ranks(scores):
    """Scores replaced by their rank (higher is better), ties broken toward the lower index: the
    order the assignment specifies, fed to torchvision, whose own tie order is unspecified."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(len(scores), 0, -1)
    return torch.as_tensor(ranks)


def nms(boxes, scores, iou_threshold):
    """torchvision.ops.nms: kept indices (int64), by decreasing score, ties to the lower index."""
    boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    return torchvision.ops.nms(boxes, _ranks(scores), float(iou_threshold)).numpy()


def batched_nms(boxes, scores, classes, iou_threshold):
    """torchvision.ops.batched_nms: NMS inside each class; kept indices by decreasing score."""
    boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    classes = torch.as_tensor(np.asarray(classes, dtype=np.int64))
    return torchvision.ops.batched_nms(boxes, _ranks(scores), classes, float(iou_threshold)).numpy()


def random_boxes(rng, n, size=20.0, max_side=8.0, degenerate=0.0):
    """``n`` random boxes inside a ``size`` square; a fraction ``degenerate`` has zero width or height."""
    xy = rng.uniform(0, size - max_side, (n, 2))
    wh = rng.uniform(0.5, max_side, (n, 2))
    flat = rng.random(n) < degenerate
    wh[flat, rng.integers(0, 2, flat.sum())] = 0.0
    return np.concatenate([xy, xy + wh], axis=1)


def random_detections(rng, images=4, classes=3, size=12, max_gt=5, max_pred=8, iou_threshold=0.5):
    """Random ground truth and predictions for mean average precision, as lists of one array per
    image: ``(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels)`` with boxes ``(P_i, 4)``
    and ``(G_i, 4)``. 1 to ``images`` images, up to ``classes`` classes; corners on an integer grid
    (IoUs are exact fractions, some exactly at the threshold), scores with one decimal (many ties),
    most predictions a ground-truth box with corners moved by at most one unit. Drawn again until no prediction
    has two ground-truth boxes of its class tied for its highest IoU at or above ``iou_threshold``
    (COCO's evaluator then takes the later box, the assignment the lower index)."""
    while True:
        pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels = [], [], [], [], []
        for _ in range(int(rng.integers(1, images + 1))):
            n_gt, n_pred = int(rng.integers(0, max_gt + 1)), int(rng.integers(0, max_pred + 1))
            corner = rng.integers(0, size - 3, (n_gt, 2))
            gt = np.concatenate([corner, corner + rng.integers(2, 6, (n_gt, 2))], axis=1)
            gt_labels.append(rng.integers(0, classes, n_gt))
            corner = rng.integers(0, size - 3, (n_pred, 2))
            boxes = np.concatenate([corner, corner + rng.integers(1, 5, (n_pred, 2))], axis=1)
            labels = rng.integers(0, classes, n_pred)
            if n_gt:
                near = rng.random(n_pred) < 0.7
                source = rng.integers(0, n_gt, n_pred)
                boxes[near] = gt[source[near]] + rng.choice([-1, 0, 1], (int(near.sum()), 4), p=[0.15, 0.7, 0.15])
                same = near & (rng.random(n_pred) < 0.8)
                labels[same] = gt_labels[-1][source[same]]
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
            gt_boxes.append(gt.astype(np.float64))
            pred_boxes.append(boxes.astype(np.float64))
            pred_scores.append(np.round(rng.random(n_pred), 1))
            pred_labels.append(labels)
        if not _tied_best_match(pred_boxes, pred_labels, gt_boxes, gt_labels, iou_threshold):
            return pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels


def _tied_best_match(pred_boxes, pred_labels, gt_boxes, gt_labels, iou_threshold):
    """Whether a prediction has two ground-truth boxes of its class (in its image) with the same IoU
    at or above the threshold."""
    for boxes, labels, gt, classes in zip(pred_boxes, pred_labels, gt_boxes, gt_labels):
        for c in np.unique(labels):
            iou = box_iou(boxes[labels == c], gt[classes == c])
            for row in iou:
                above = row[row >= iou_threshold]
                if len(np.unique(above)) < len(above):
                    return True
    return False


def coco_all_point_map(
    pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, iou_threshold=0.5, recall_points=None
):
    """The all-point mAP of assignment 4, from COCO's evaluator (``pycocotools.cocoeval.COCOeval``,
    what torchmetrics' ``MeanAveragePrecision`` runs): for the tests only (``pycocotools`` is in the
    test extra). Arguments as in the assignment: lists of one array per image.

    COCO averages the precision envelope at its recall points (default: 101, 0 to 1); run with the
    points ``j / L``, ``j = 1..L``, for ``L`` the least common multiple of the classes' numbers of
    ground-truth boxes, the average is the all-point area exactly: the envelope is constant between
    consecutive multiples of ``1 / G_c``. One IoU threshold, every area, no limit on detections;
    classes without ground truth are left out (COCO marks them -1); ``nan`` without ground truth.
    ``recall_points`` replaces that grid (``np.linspace(0, 1, 101)``: COCO's own AP at this IoU).
    """
    import contextlib
    import io
    import math

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, truth, found, counts = [], [], [], {}
    for i in range(len(gt_boxes)):
        images.append({"id": i + 1})
        for box, c in zip(np.asarray(gt_boxes[i], dtype=float).reshape(-1, 4), np.asarray(gt_labels[i]).reshape(-1)):
            x1, y1, x2, y2 = (float(v) for v in box)
            w, h = x2 - x1, y2 - y1
            truth.append({"id": len(truth) + 1, "image_id": i + 1, "category_id": int(c) + 1,
                          "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})  # fmt: skip
            counts[int(c)] = counts.get(int(c), 0) + 1
        boxes = np.asarray(pred_boxes[i], dtype=float).reshape(-1, 4)
        for box, s, c in zip(
            boxes, np.asarray(pred_scores[i], dtype=float).reshape(-1), np.asarray(pred_labels[i]).reshape(-1)
        ):
            x1, y1, x2, y2 = (float(v) for v in box)
            w, h = x2 - x1, y2 - y1
            found.append({"id": len(found) + 1, "image_id": i + 1, "category_id": int(c) + 1, "bbox": [x1, y1, w, h],
                          "area": w * h, "iscrowd": 0, "score": float(s)})  # fmt: skip
    if not counts:
        return float("nan")
    classes = sorted(set(counts) | {d["category_id"] - 1 for d in found})
    categories = [{"id": c + 1} for c in classes]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_truth, coco_found = COCO(), COCO()
        coco_truth.dataset = {"images": images, "annotations": truth, "categories": categories}
        coco_found.dataset = {"images": images, "annotations": found, "categories": categories}
        coco_truth.createIndex()
        coco_found.createIndex()
        evaluation = COCOeval(coco_truth, coco_found, "bbox")
        L = math.lcm(*counts.values())
        evaluation.params.iouThrs = np.array([float(iou_threshold)])
        evaluation.params.recThrs = np.arange(1, L + 1) / L if recall_points is None else np.asarray(recall_points)
        evaluation.params.maxDets = [len(found) + 1]
        evaluation.params.areaRng, evaluation.params.areaRngLbl = [[0.0, 1e10]], ["all"]
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][0, :, :, 0, 0]  # (recall points, classes)
    return float(precision[:, [k for k, c in enumerate(classes) if c in counts]].mean())


# -- decoding a YOLOv3-style head -------------------------------------------------------------------
# The mistakes ``yolo_decode(..., mistake=key)`` can make, one key each; the test cell words them.
DECODE_MISTAKES = (
    "offsets-without-sigmoid",
    "scale-without-exp",
    "rows-and-columns-swapped",
    "anchors-times-stride",
    "centre-in-grid-units",
    "cell-centre-added",
    "score-is-objectness",
    "score-is-class-probability",
    "softmax-classes",
    "objectness-without-sigmoid",
    "centre-and-size",
    "channels-class-first",
    "kept-at-threshold",
    "cell-then-anchor-order",
    "anchors-swapped",
    "corners-full-size",
)


def yolo_decode(raw, anchors, stride, score_threshold, mistake=None):
    """The lecture's YOLOv3 decoding of one image's head output, in torch (float64).

    ``raw`` ``(B * (5 + C), S_h, S_w)``: channel ``b * (5 + C) + j`` holds quantity ``j`` of anchor
    ``b`` (``t_x, t_y, t_w, t_h, t_o``, then ``C`` class logits); ``anchors`` ``(B, 2)`` ``(p_w, p_h)``
    in pixels. The box of anchor ``b`` in the cell of row ``c_y`` and column ``c_x`` has its centre at
    ``((sigmoid(t_x) + c_x) * stride, (sigmoid(t_y) + c_y) * stride)`` and the size
    ``(p_w exp(t_w), p_h exp(t_h))``; its class is the one of highest ``sigmoid(t_o) * sigmoid(t_k)``
    (ties: the lower index) and that product is its score. Boxes with score ``> score_threshold`` are
    kept, anchor by anchor, then row by row, then column by column.

    Returns ``(boxes (K, 4) as (x1, y1, x2, y2), scores (K,), labels (K,) int64)``, numpy.
    ``mistake``: one of :data:`DECODE_MISTAKES`, to compute what that mistake gives instead.
    """
    if mistake is not None and mistake not in DECODE_MISTAKES:
        raise ValueError(f"unknown mistake {mistake!r}")
    raw = torch.as_tensor(np.array(raw, dtype=np.float64, copy=True))
    anchors = torch.as_tensor(np.array(anchors, dtype=np.float64, copy=True)).reshape(-1, 2)
    B, (S_h, S_w) = len(anchors), raw.shape[1:]
    if mistake == "channels-class-first":
        t = raw.view(-1, B, S_h, S_w).transpose(0, 1)  # read as (5 + C, B, S_h, S_w)
    else:
        t = raw.view(B, -1, S_h, S_w)  # (B, 5 + C, S_h, S_w)
    rows, cols = torch.meshgrid(torch.arange(S_h, dtype=torch.float64), torch.arange(S_w, dtype=torch.float64),
                                indexing="ij")  # fmt: skip
    if mistake == "rows-and-columns-swapped":
        rows, cols = cols, rows  # c_x read from the row index, c_y from the column index
    squash = (lambda z: z) if mistake == "offsets-without-sigmoid" else torch.sigmoid
    half = 0.5 if mistake == "cell-centre-added" else 0.0
    scale = 1.0 if mistake == "centre-in-grid-units" else float(stride)
    centre_x, centre_y = (squash(t[:, 0]) + cols + half) * scale, (squash(t[:, 1]) + rows + half) * scale
    grow = (lambda z: z) if mistake == "scale-without-exp" else torch.exp
    size = anchors * (float(stride) if mistake == "anchors-times-stride" else 1.0)
    if mistake == "anchors-swapped":
        size = size.flip(1)  # each anchor read as (p_h, p_w)
    width, height = size[:, 0, None, None] * grow(t[:, 2]), size[:, 1, None, None] * grow(t[:, 3])
    objectness = t[:, 4:5] if mistake == "objectness-without-sigmoid" else torch.sigmoid(t[:, 4:5])
    classes = torch.softmax(t[:, 5:], dim=1) if mistake == "softmax-classes" else torch.sigmoid(t[:, 5:])
    if mistake == "score-is-class-probability":
        objectness = torch.ones_like(objectness)
    probability = objectness * classes  # (B, C, S_h, S_w)
    scores, labels = probability.max(dim=1)  # the first maximum: ties go to the lower class index
    if mistake == "score-is-objectness":
        scores = objectness[:, 0]
        labels = classes.argmax(dim=1)
    keep = scores >= score_threshold if mistake == "kept-at-threshold" else scores > score_threshold
    if mistake == "centre-and-size":
        boxes = torch.stack([centre_x, centre_y, width, height], dim=-1)
    elif mistake == "corners-full-size":
        boxes = torch.stack([centre_x - width, centre_y - height, centre_x + width, centre_y + height], dim=-1)
    else:
        boxes = torch.stack([centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2],
                            dim=-1)  # fmt: skip
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if mistake == "cell-then-anchor-order":
        index = keep.nonzero()  # (K, 3): anchor, row, column
        order = np.lexsort((index[:, 0].numpy(), index[:, 2].numpy(), index[:, 1].numpy()))
        boxes, scores, labels = boxes[order], scores[order], labels[order]
    return boxes.numpy().reshape(-1, 4), scores.numpy().reshape(-1), labels.numpy().astype(np.int64).reshape(-1)


def random_head(rng, anchors_count, classes, rows, cols):
    """A random raw head output ``(B * (5 + C), rows, cols)`` float64 for one image: offsets and class
    logits of spread 2, log-scales of spread 0.5, objectness logits around -1 (most boxes unlikely)."""
    t = rng.standard_normal((anchors_count, 5 + classes, rows, cols)) * 2.0
    t[:, 2:4] *= 0.25
    t[:, 4] -= 1.0
    return t.reshape(anchors_count * (5 + classes), rows, cols)


# -- transposed convolution ------------------------------------------------------------------------
def conv_transpose(x, w, b, param):
    """F.conv_transpose2d in float64: ``(N, C_out, (H-1)*s - 2p + HH, (W-1)*s - 2p + WW)``."""
    return F.conv_transpose2d(
        torch.as_tensor(np.array(x, dtype=np.float64, copy=True)),
        torch.as_tensor(np.array(w, dtype=np.float64, copy=True)),
        torch.as_tensor(b),
        stride=_pair(param.get("stride", 1)),
        padding=_pair(param.get("pad", 0)),
    ).numpy()


def conv_transpose_grads(x, w, b, param, dout):
    """[dx, dw, db] from autograd through F.conv_transpose2d, in float64."""
    kwargs = {"stride": _pair(param.get("stride", 1)), "padding": _pair(param.get("pad", 0))}
    x, w, dout = (np.array(a, dtype=np.float64, copy=True) for a in (x, w, dout))
    _, grads = torch_reference(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs), x, w, b, dout=dout)
    return grads


def random_transpose_configs(rng, count):
    """``count`` random ``(x_shape, w_shape, param)`` with pairs for stride and padding; the
    output is at least one pixel along each axis."""
    configs = []
    while len(configs) < count:
        n, c_in, c_out = (int(v) for v in rng.integers(1, 4, 3))
        h, wd, kh, kw = (int(v) for v in rng.integers(1, 6, 4))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pad = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        if (h - 1) * stride[0] - 2 * pad[0] + kh >= 1 and (wd - 1) * stride[1] - 2 * pad[1] + kw >= 1:
            configs.append(((n, c_in, h, wd), (c_in, c_out, kh, kw), {"stride": stride, "pad": pad}))
    return configs


# -- bilinear upsampling ---------------------------------------------------------------------------
def bilinear(x, out_size, align_corners=False):
    """F.interpolate(mode="bilinear") to ``out_size = (H_out, W_out)``, in float64."""
    return F.interpolate(
        torch.as_tensor(np.asarray(x, dtype=np.float64)),
        size=tuple(int(v) for v in out_size),
        mode="bilinear",
        align_corners=align_corners,
    ).numpy()


def nearest(x, out_size):
    """F.interpolate(mode="nearest"), to name the nearest-neighbour mistake."""
    return F.interpolate(torch.as_tensor(np.asarray(x, dtype=np.float64)), size=tuple(out_size), mode="nearest").numpy()


# -- counting --------------------------------------------------------------------------------------
def published_counts(name):
    """``(parameters, GMACs at 224x224)`` torchvision publishes for model ``name``: read from the
    weights' metadata, which ships with torchvision (nothing is downloaded)."""
    weights = list(torchvision.models.get_model_weights(name))[0]
    return int(weights.meta["num_params"]), float(weights.meta["_ops"])


def count_by_flop_counter(model, input_shape):
    """``(parameters, multiply-adds)`` for one input ``(1, *input_shape)``, the multiply-adds from
    torch's own ``FlopCounterMode`` (2 FLOPs per multiply-add of every convolution and matrix
    product; for networks whose only products are Conv2d and Linear layers these are their
    multiply-adds). Runs in eval mode without gradients and gives every submodule its mode back."""
    from torch.utils.flop_counter import FlopCounterMode

    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *input_shape))
    finally:
        for module, training in modes.items():
            module.training = training
    return sum(p.numel() for p in model.parameters()), int(counter.get_total_flops()) // 2


# -- named variants: what a mistake computes, so that a test can name it by its output ----------------
def top_k_error_sorted_over_images(scores, labels, k):
    """The top-k error with each COLUMN sorted (over the images, axis 0) and the first k columns of that
    order read as the k guesses of each row: what sorting along the wrong axis gives."""
    scores = torch.as_tensor(np.array(scores, dtype=np.float64, copy=True))
    if scores.shape[0] == 0:
        return 0.0
    order = torch.sort(scores, dim=0, descending=True, stable=True).indices[:, :k]
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64)).reshape(-1, 1)
    return float(1.0 - (order == labels).any(dim=1).double().mean())


def _intersections(boxes1, boxes2):
    a = torch.as_tensor(np.asarray(boxes1, dtype=np.float64).reshape(-1, 4))
    b = torch.as_tensor(np.asarray(boxes2, dtype=np.float64).reshape(-1, 4))
    sides = (torch.minimum(a[:, None, 2:], b[None, :, 2:]) - torch.maximum(a[:, None, :2], b[None, :, :2])).clamp(min=0)
    return a, b, sides.prod(-1)


def box_iou_area_typo(boxes1, boxes2, iou):
    """The IoU the student's ``iou`` reproduces when its intersections are right and its areas come from
    a typo in ``(x2 - x1) * (y2 - y1)`` (one coordinate read in place of another, in the areas of
    boxes1, of boxes2 or of both); ``None`` when no such typo gives ``iou``."""
    a, b, inter = _intersections(boxes1, boxes2)
    try:
        iou = np.asarray(iou, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if iou.shape != tuple(inter.shape):
        return None
    formula = (2, 0, 3, 1)  # (x2 - x1) * (y2 - y1)
    typos = [formula[:i] + (j,) + formula[i + 1 :] for i in range(4) for j in range(4) if j != formula[i]]
    for typo in typos:
        for first, second in ((typo, typo), (typo, formula), (formula, typo)):
            area1 = (a[:, first[0]] - a[:, first[1]]) * (a[:, first[2]] - a[:, first[3]])
            area2 = (b[:, second[0]] - b[:, second[1]]) * (b[:, second[2]] - b[:, second[3]])
            union = area1[:, None] + area2[None, :] - inter
            variant = torch.where(union > 0, inter / torch.where(union > 0, union, 1.0), 0.0).numpy()
            if np.allclose(variant, iou, rtol=1e-6, atol=1e-8):
                return variant
    return None


def box_iou_enclosing(boxes1, boxes2):
    """The "IoU" with the smallest box enclosing both in place of the intersection (min and max swapped),
    0 where that union is not positive."""
    a, b, inter = _intersections(boxes1, boxes2)
    sides = (torch.maximum(a[:, None, 2:], b[None, :, 2:]) - torch.minimum(a[:, None, :2], b[None, :, :2])).clamp(min=0)
    enclosing = sides.prod(-1)
    area1, area2 = (a[:, 2:] - a[:, :2]).prod(-1), (b[:, 2:] - b[:, :2]).prod(-1)
    union = area1[:, None] + area2[None, :] - enclosing
    return torch.where(union > 0, enclosing / torch.where(union > 0, union, 1.0), 0.0).numpy()


def batched_nms_fixed_offset(boxes, scores, classes, iou_threshold, offsets=(1, 2, 5, 8, 10, 16, 20, 32, 50, 64)):
    """``{offset: keep}``: what the coordinate-offset trick gives with a FIXED offset per class (boxes
    shifted by ``offset * class``, then one NMS), for the usual small constants."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    shift = np.asarray(classes, dtype=np.float64).reshape(-1, 1)
    return {offset: nms(boxes + offset * shift, scores, iou_threshold) for offset in offsets}


def batched_nms_subset_positions(boxes, scores, classes, iou_threshold):
    """The indices NMS keeps inside each class's subset of boxes, numbered from 0 within the subset and
    never mapped back to the original indices, sorted (their order is the student's)."""
    boxes, scores, classes = (np.asarray(v) for v in (boxes, scores, classes))
    kept = [nms(boxes[classes == c], scores[classes == c], iou_threshold) for c in np.unique(classes)]
    return np.sort(np.concatenate([np.zeros(0, dtype=np.int64)] + kept))


# the mistakes ``nms_mistake`` computes
NMS_MISTAKES = (
    "index-order",
    "suppress-at-threshold",
    "removed-still-suppress",
    "lowest-score-first",
    "comparison-inverted",
    "ties-higher-index-first",
    "unstable-sort",
)


def nms_mistake(boxes, scores, iou_threshold, mistake):
    """The indices greedy NMS keeps (int64, in the order it keeps them) when it makes one mistake, with
    torchvision's IoU; the NMS and per-class NMS test cells name a student's answer by them:

    - ``"index-order"``: the boxes visited in index order, not by decreasing score;
    - ``"suppress-at-threshold"``: a box whose IoU equals the threshold is removed too (``>=``);
    - ``"removed-still-suppress"``: a box already removed still removes others;
    - ``"lowest-score-first"``: the boxes visited by increasing score;
    - ``"comparison-inverted"``: the boxes that overlap the kept one LESS than the threshold are removed;
    - ``"ties-higher-index-first"``: equal scores visit the higher index first;
    - ``"unstable-sort"``: the order of ``np.argsort(-scores)``, numpy's default sort, which is not stable.

    ``boxes`` ``(N, 4)``, ``scores`` ``(N,)``. There is no ``mistake=None``: this computes wrong answers only
    (the right one is :func:`nms`)."""
    if mistake not in NMS_MISTAKES:
        raise ValueError(f"unknown mistake {mistake!r}; one of {NMS_MISTAKES}")
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = len(scores)
    orders = {
        "index-order": np.arange(n),
        "lowest-score-first": np.argsort(scores, kind="stable"),
        "ties-higher-index-first": n - 1 - np.argsort(-scores[::-1], kind="stable"),
        "unstable-sort": np.argsort(-scores),
    }
    order = orders.get(mistake, np.argsort(-scores, kind="stable"))
    compare = {"suppress-at-threshold": torch.ge, "comparison-inverted": torch.lt}.get(mistake, torch.gt)
    iou = torch.as_tensor(box_iou(boxes, boxes))
    others = ~torch.eye(n, dtype=torch.bool)
    removed, kept = torch.zeros(n, dtype=torch.bool), []
    for i in (int(i) for i in order):
        if removed[i] and mistake != "removed-still-suppress":
            continue
        if not removed[i]:
            kept.append(i)
        removed |= compare(iou[i], float(iou_threshold)) & others[i]
    return np.array(kept, dtype=np.int64)


def assert_kept(keep, expected, what, mistakes=None):
    """Raise ``AssertionError`` unless ``keep``, the indices an NMS function returned, equals ``expected``.

    The contract first: a numpy array (not a list, not a boolean mask), 1-D, of integers (indices, not the boxes).
    Then the values: where ``keep`` equals some of ``mistakes`` (``{description: indices}``) the message names all
    of them ("... Or: ..."); where it holds the right indices in another order it says so; otherwise it gives both
    lists.

    Args:
        keep: what the student's function returned.
        expected: the right indices ``(K,)``, in order.
        what: the call, as the message begins: ``"nms with iou_threshold=0.5 on 4 boxes"``.
        mistakes: ``{description: indices}``, what known mistakes keep.
    """
    assert isinstance(keep, np.ndarray), f"{what} must return a numpy array of indices, got {type(keep).__name__}."
    if keep.dtype == bool:
        raise AssertionError(
            f"{what} returned a boolean mask; return the kept indices (np.flatnonzero of the mask, ordered by "
            "decreasing score)."
        )
    assert keep.ndim == 1 and np.issubdtype(keep.dtype, np.integer), (
        f"{what} must return a 1-D integer array of indices, got shape {keep.shape} and dtype {keep.dtype}: "
        "indices, not the boxes themselves."
    )
    expected = np.asarray(expected)
    if np.array_equal(keep, expected):
        return
    named = [name for name, value in (mistakes or {}).items() if np.array_equal(keep, value)]
    if named:
        raise AssertionError(f"{what} kept {keep.tolist()}, expected {expected.tolist()}: " + " Or: ".join(named))
    if sorted(keep.tolist()) == sorted(expected.tolist()):
        raise AssertionError(
            f"{what} kept the right boxes in the wrong order: {keep.tolist()}, expected {expected.tolist()}, i.e. by "
            "decreasing score (equal scores: lower index first)."
        )
    raise AssertionError(f"{what} kept {keep.tolist()}, expected {expected.tolist()}.")


# the mistakes ``transpose_grads_mistake`` computes
TRANSPOSE_GRAD_MISTAKES = ("dout-at-top-left", "stride-ignored", "dx-last-offset-only")


def transpose_grads_mistake(x, w, b, param, dout, mistake):
    """``[dx, dw, db]`` of a transposed convolution computed with one mistake (torch, float64):

    - ``"dout-at-top-left"``: ``dout`` put back at the top-left corner of the full output grid instead of
      at the offset ``p`` the crop took it from;
    - ``"stride-ignored"``: contiguous slices of the full grid read where the forward pass wrote every
      s-th pixel;
    - ``"dx-last-offset-only"``: ``dx`` overwritten at each kernel offset, so it holds the last offset's
      term only (dw and db right).
    """
    (sh, sw), (ph, pw) = _pair(param.get("stride", 1)), _pair(param.get("pad", 0))
    x, w, dout = (np.array(a, dtype=np.float64, copy=True) for a in (x, w, dout))
    N, _, H, W = x.shape
    _, D, HH, WW = w.shape
    full_shape = (N, D, (H - 1) * sh + HH, (W - 1) * sw + WW)
    if mistake == "dout-at-top-left":
        full = np.zeros(full_shape)
        full[:, :, : dout.shape[2], : dout.shape[3]] = dout
        return conv_transpose_grads(x, w, b, {"stride": (sh, sw)}, full)
    full = F.pad(torch.as_tensor(dout), (pw, pw, ph, ph)).numpy()
    if mistake == "stride-ignored":
        return conv_transpose_grads(x, w, b, {"stride": 1}, full[:, :, : H - 1 + HH, : W - 1 + WW])
    if mistake == "dx-last-offset-only":
        grads = conv_transpose_grads(x, w, b, param, dout)
        window = torch.as_tensor(full)[:, :, HH - 1 :: sh, WW - 1 :: sw][:, :, :H, :W]
        grads[0] = torch.einsum("ndhw,cd->nchw", window, torch.as_tensor(w[:, :, HH - 1, WW - 1])).numpy()
        return grads
    raise ValueError(f"unknown mistake {mistake!r}")


# the mistakes ``bilinear_mistake`` computes
BILINEAR_MISTAKES = ("no-clamp-floor", "no-clamp-truncate", "scale-inverted", "columns-from-rows", "weights-swapped")


def bilinear_mistake(x, out_size, mistake):
    """Bilinear upsampling (``align_corners=False``) computed with one mistake, in torch (float64), with the
    indices of each axis kept inside the image (``min(i0, n - 1)``) as a student's code would:

    - ``"no-clamp-floor"``: the source coordinate not clamped at 0, so floor(-0.25) = -1 reads the LAST
      row (a negative index);
    - ``"no-clamp-truncate"``: not clamped and truncated toward 0 (``astype(int)``): the border extrapolates;
    - ``"scale-inverted"``: ``src = (i + 0.5) * n_out / n_in - 0.5``;
    - ``"columns-from-rows"``: the columns' indices and weights computed from the rows' input size H;
    - ``"weights-swapped"``: ``lambda`` on the lower pixel, ``1 - lambda`` on the upper one.
    """
    if mistake not in BILINEAR_MISTAKES:
        raise ValueError(f"unknown mistake {mistake!r}")
    x = torch.as_tensor(np.array(x, dtype=np.float64, copy=True))
    H, W = x.shape[2:]
    H_out, W_out = (int(v) for v in out_size)

    def axis(n_in, n_out):
        i = torch.arange(n_out, dtype=torch.float64)
        src = (i + 0.5) * (n_out / n_in if mistake == "scale-inverted" else n_in / n_out) - 0.5
        if not mistake.startswith("no-clamp"):
            src = src.clamp(min=0.0)
        low = torch.trunc(src) if mistake == "no-clamp-truncate" else torch.floor(src)
        low = low.clamp(max=n_in - 1).long()
        high = (low + 1).clamp(max=n_in - 1)
        lam = src - low
        if mistake == "weights-swapped":
            return low, high, 1 - lam
        return low, high, lam

    r0, r1, a = axis(H, H_out)
    c0, c1, g = axis(H if mistake == "columns-from-rows" else W, W_out)
    if mistake == "columns-from-rows" and (int(c0.max()) >= W or int(c1.max()) >= W):
        return None  # the student's code would raise an IndexError instead
    rows = (1 - a)[:, None] * x[:, :, r0, :] + a[:, None] * x[:, :, r1, :]
    return ((1 - g) * rows[:, :, :, c0] + g * rows[:, :, :, c1]).numpy()


# -- counting: the multiply-adds that the usual counting mistakes give ---------------------------------
def mac_mistake(model, input_shape, macs):
    """The counting mistake that gives ``macs`` multiply-adds for ``model`` on one ``(1, *input_shape)``
    input, worded for the student on one "Likely mistake: " line; ``None`` if none of these, alone or two of one sign
    together (:func:`utils.diagnose.explain_count`), gives it (or it is the right count):

    - hooks only on the model's direct children (``model.children()``): nested layers are missed;
    - each kernel counted as square (``kernel_size[0] ** 2``);
    - a Linear layer counted as ``in_features * out_features``, whatever the number of positions it is
      applied to (a ``(1, T, in)`` input costs ``T * in * out``);
    - the groups of a grouped convolution ignored;
    - the bias additions counted as multiply-adds.

    Runs the model once in eval mode without gradients, gives every submodule its mode back and removes
    its hooks. It names a wrong count; it cannot give the right one."""
    records = []
    children = set(model.children())

    def hook(module, inputs, output):
        records.append((module, output.numel()))

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    modes = {module: module.training for module in model.modules()}
    handles = [m.register_forward_hook(hook) for m in layers]
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training

    def cost(module, outputs, square=False, weights_only=False, full_groups=False):
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            c_in = module.in_channels if full_groups else module.in_channels // module.groups
            return outputs * c_in * kh * (kh if square else kw)
        return module.in_features * module.out_features if weights_only else outputs * module.in_features

    right = sum(cost(m, n) for m, n in records)
    odd_kernel = next(
        (
            f"{m.kernel_size[0]} x {m.kernel_size[1]}"
            for m, _ in records
            if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] != m.kernel_size[1]
        ),
        "another shape",
    )
    variants = {
        "only the model's direct children were hooked (model.children()): the layers nested inside its "
        "blocks (a Sequential inside the model, ResNet's layers) are missed; hook every Conv2d and Linear of "
        "model.modules().": sum(cost(m, n) for m, n in records if m in children),
        f"a kernel is counted as square (kernel_size[0] ** 2); this model has a kernel of {odd_kernel}: use "
        "kernel_size[0] * kernel_size[1].": sum(cost(m, n, square=True) for m, n in records),
        "a Linear layer is counted as in_features * out_features, once; it is applied at every position of "
        "its input (here a Linear acts on a (1, T, in_features) tensor), and a Linear applied to T positions "
        "costs T * in * out: count output.numel() * in_features.": sum(
            cost(m, n, weights_only=True) for m, n in records
        ),
        "the groups are ignored: the grouped convolutions are counted as full ones; a grouped convolution's dot "
        "products have length (C_in // groups) * HH * WW, not C_in * HH * WW.": sum(
            cost(m, n, full_groups=True) for m, n in records
        ),
        "the bias additions are counted as multiply-adds (one per output of each layer with a bias); count "
        "only the products.": right + sum(n for m, n in records if m.bias is not None),
    }
    if macs == right:
        return None
    from ..diagnose import explain_count

    terms = {text: value - right for text, value in variants.items() if value != right}
    found = explain_count(macs, right, terms, "multiply-add count")
    return MISTAKE + found if found else None


def param_mistake(model, params):
    """The counting mistake that gives ``params`` parameters for ``model``, worded for the student on one "Likely
    mistake: " line (the count test cell adds it under its message); ``None`` if none of these (alone or two together)
    gives it: the biases left out, BatchNorm's weight and bias left out, the frozen parameters left out, the buffers
    counted (BatchNorm's running statistics, or every buffer with num_batches_tracked, as ``model.state_dict()``
    holds them), each kernel counted as square, the groups ignored (a grouped convolution counted as a full one). It
    names a wrong count; it cannot give the right one."""
    from ..diagnose import explain_count

    right = sum(p.numel() for p in model.parameters())
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    terms = {
        "the biases are left out: a layer's bias has one parameter per output channel.": -sum(
            m.bias.numel()
            for m in model.modules()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None
        ),  # fmt: skip
        "BatchNorm's weight and bias (2 per channel) are left out.": -sum(
            p.numel()
            for m in model.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False)
        ),  # fmt: skip
        "the frozen parameters (requires_grad=False) are left out: they are parameters of the model too.": -sum(
            p.numel() for p in model.parameters() if not p.requires_grad
        ),
        "buffers are counted (BatchNorm's running mean and variance): count model.parameters() only.": sum(
            b.numel() for b in model.buffers() if b.is_floating_point()
        ),
        "buffers are counted (model.buffers() or model.state_dict(): BatchNorm's running mean and variance, and its "
        "num_batches_tracked): count model.parameters() only.": sum(b.numel() for b in model.buffers()),
        "a kernel is counted as square (kernel_size[0] ** 2): use kernel_size[0] * kernel_size[1].": sum(
            m.out_channels * (m.in_channels // m.groups) * (m.kernel_size[0] ** 2 - m.kernel_size[0] * m.kernel_size[1])
            for m in convs
        ),
        "the groups are ignored: a grouped convolution's weight is (C_out, C_in // groups, HH, WW).": sum(
            m.weight.numel() * (m.groups - 1) for m in convs
        ),
    }
    if params == right:
        return None
    found = explain_count(params, right, terms, "parameter count")
    return MISTAKE + found if found else None


def assigned_into_empty(error: BaseException) -> bool:
    """Whether ``error`` is numpy's "could not broadcast input array from shape ... into shape (...)" with
    an empty target (a zero in its shape): an assignment into an empty slice such as ``a[p:-p]`` for p = 0."""
    import re

    match = re.search(r"into shape \(([^)]*)\)", str(error))
    return bool(match) and "0" in [v.strip() for v in match.group(1).split(",")]


def one_past_the_end(error: BaseException) -> bool:
    """Whether ``error`` is numpy's IndexError for the index just past the end of an axis ("index 2 is out
    of bounds for axis 2 with size 2"): a neighbour i + 1 read after the last pixel."""
    import re

    match = re.search(r"index (\d+) is out of bounds for axis \d+ with size (\d+)", str(error))
    return isinstance(error, IndexError) and bool(match) and match.group(1) == match.group(2)
