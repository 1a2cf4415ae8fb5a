# ruff: noqa: E501  (the entries are whole solution cells, kept as a student would write them)
"""A blind catalogue of plausible student mistakes for assignment 4 (CNN architectures).

Written from the RELEASED student notebook only (its markdown, docstrings and visible test cells),
before reading the assignment's test module, its source notebook, ``utils/references`` or
``utils/checks.py`` (see README.md in this folder).

Each entry replaces one solution cell: ``code`` is the complete cell (a full function or class) and runs in the
notebook's namespace (``np``, ``torch``, ``nn``, the given ``pair`` helper, and the graded functions that the test
swaps for torch stand-ins). Most mistakes are written as a small edit of a correct solution of the same function
(``_edit``): the edit is the mistake and everything else is right. ``kind`` is "mistake" or "correct" (a correct
solution in a style other than the base one; it must earn full marks).

``named`` is filled in after the measurement (step 2, at the end of this file): whether the failure message the test
gives would tell a teacher what to fix; None for correct entries. For an unnamed mistake, ``wanted`` is the message a
teacher would want; for a mistake that passes its test cell, ``gap`` says why it passes.
"""

from __future__ import annotations

from . import edit as _edit
from . import judge

ASSIGNMENT = "04_cnn_architectures"
ENTRIES: list[dict] = []


def _add(function: str, kind: str, description: str, code: str) -> None:
    ENTRIES.append({"function": function, "kind": kind, "description": description, "code": code, "named": None})


# ---------------------------------------------------------------------------------------------------------------
# top_k_error
# ---------------------------------------------------------------------------------------------------------------
TOP_K = """
def top_k_error(scores, labels, k=5):
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    N = scores.shape[0]
    if N == 0:
        return 0.0
    order = np.argsort(-scores, axis=1, kind="stable")
    top = order[:, :k]
    hit = (top == labels[:, None]).any(axis=1)
    error = float(1.0 - hit.mean())
    return error
"""
_add("top_k_error", "correct", "base solution: stable argsort of the negated scores", TOP_K)
_add(
    "top_k_error",
    "correct",
    "rank of the label counted directly: classes that beat it, ties to lower indices",
    """
def top_k_error(scores, labels, k=5):
    misses = 0
    for row, label in zip(scores, labels):
        beaten_by = int(np.sum(row > row[label])) + int(np.sum(row[:label] == row[label]))
        if beaten_by >= k:
            misses += 1
    return misses / len(scores) if len(scores) else 0.0
""",
)
_add(
    "top_k_error",
    "mistake",
    "np.argsort's default (unstable) sort: ties are not broken by lower class index",
    _edit(TOP_K, ('np.argsort(-scores, axis=1, kind="stable")', "np.argsort(-scores, axis=1)")),
)
_add(
    "top_k_error",
    "mistake",
    "sorted in increasing order: the k guesses are the k lowest scores",
    _edit(TOP_K, ('np.argsort(-scores, axis=1, kind="stable")', 'np.argsort(scores, axis=1, kind="stable")')),
)
_add(
    "top_k_error",
    "mistake",
    "the last k of an increasing sort: right set except on ties, where the higher index wins",
    _edit(TOP_K, ('np.argsort(-scores, axis=1, kind="stable")', 'np.argsort(scores, axis=1, kind="stable")[:, ::-1]')),
)
_add(
    "top_k_error",
    "mistake",
    "off by one: takes the k - 1 best classes",
    _edit(TOP_K, ("order[:, :k]", "order[:, :k - 1]")),
)
_add(
    "top_k_error",
    "mistake",
    "off by one: takes the k + 1 best classes",
    _edit(TOP_K, ("order[:, :k]", "order[:, :k + 1]")),
)
_add(
    "top_k_error",
    "mistake",
    "returns the top-k accuracy instead of the error",
    _edit(TOP_K, ("float(1.0 - hit.mean())", "float(hit.mean())")),
)
_add(
    "top_k_error",
    "mistake",
    "returns the number of misses, not the fraction",
    _edit(TOP_K, ("float(1.0 - hit.mean())", "float(np.sum(~hit))")),
)
_add(
    "top_k_error",
    "mistake",
    "no guard for N = 0: the mean of an empty array is nan",
    _edit(TOP_K, ("    if N == 0:\n        return 0.0\n", "")),
)
_add(
    "top_k_error",
    "mistake",
    "sorts along the wrong axis (over images, axis 0) instead of over classes",
    _edit(TOP_K, ('np.argsort(-scores, axis=1, kind="stable")', 'np.argsort(-scores, axis=0, kind="stable")')),
)
_add(
    "top_k_error",
    "mistake",
    "a hit when the label's score reaches the k-th best score: on ties more than k classes count",
    """
def top_k_error(scores, labels, k=5):
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if len(scores) == 0:
        return 0.0
    kth = np.sort(scores, axis=1)[:, -k]
    hit = scores[np.arange(len(scores)), labels] >= kth
    return float(1.0 - hit.mean())
""",
)

# ---------------------------------------------------------------------------------------------------------------
# box_iou
# ---------------------------------------------------------------------------------------------------------------
IOU = """
def box_iou(boxes1, boxes2):
    b1 = np.asarray(boxes1, dtype=float)
    b2 = np.asarray(boxes2, dtype=float)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = np.maximum(b1[:, None, :2], b2[None, :, :2])
    rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou
"""
_add("box_iou", "correct", "base solution: broadcast corners, clamp each side, divide where the union is positive", IOU)
_add(
    "box_iou",
    "correct",
    "coordinates unpacked one by one, np.where for the empty union",
    """
def box_iou(boxes1, boxes2):
    x1, y1, x2, y2 = [boxes1[:, k][:, None] for k in range(4)]
    X1, Y1, X2, Y2 = [boxes2[:, k][None, :] for k in range(4)]
    iw = np.maximum(0.0, np.minimum(x2, X2) - np.maximum(x1, X1))
    ih = np.maximum(0.0, np.minimum(y2, Y2) - np.maximum(y1, Y1))
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (X2 - X1) * (Y2 - Y1) - inter
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, inter / safe, 0.0)
""",
)
_add(
    "box_iou",
    "mistake",
    'the VOC "+1" pixel convention: widths and heights are x2 - x1 + 1',
    _edit(
        IOU,
        (
            "area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])",
            "area1 = (b1[:, 2] - b1[:, 0] + 1) * (b1[:, 3] - b1[:, 1] + 1)",
        ),
        (
            "area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])",
            "area2 = (b2[:, 2] - b2[:, 0] + 1) * (b2[:, 3] - b2[:, 1] + 1)",
        ),
        ("np.clip(rb - lt, 0, None)", "np.clip(rb - lt + 1, 0, None)"),
    ),
)
_add(
    "box_iou",
    "mistake",
    "the overlap's sides are not clamped at 0: boxes apart get a positive or negative overlap",
    _edit(IOU, ("np.clip(rb - lt, 0, None)", "rb - lt")),
)
_add(
    "box_iou",
    "mistake",
    "the overlap area is clamped, not each side: two negative sides make a positive area",
    _edit(
        IOU,
        ("wh = np.clip(rb - lt, 0, None)", "wh = rb - lt"),
        ("inter = wh[..., 0] * wh[..., 1]", "inter = np.maximum(wh[..., 0] * wh[..., 1], 0)"),
    ),
)
_add(
    "box_iou",
    "mistake",
    "the union does not subtract the intersection",
    _edit(IOU, ("union = area1[:, None] + area2[None, :] - inter", "union = area1[:, None] + area2[None, :]")),
)
_add(
    "box_iou",
    "mistake",
    "boxes read as (x, y, width, height)",
    _edit(
        IOU,
        (
            "area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])",
            "b1 = np.c_[b1[:, :2], b1[:, :2] + b1[:, 2:]]\n    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])",
        ),
        (
            "area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])",
            "b2 = np.c_[b2[:, :2], b2[:, :2] + b2[:, 2:]]\n    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])",
        ),
    ),
)
_add(
    "box_iou",
    "mistake",
    "no guard for an empty union: two zero-area boxes give nan (0 / 0)",
    _edit(
        IOU,
        (
            "iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)",
            "with np.errstate(invalid='ignore', divide='ignore'):\n        iou = inter / union",
        ),
    ),
)
_add(
    "box_iou",
    "mistake",
    "min and max swapped: this is the smallest enclosing box, not the intersection",
    _edit(
        IOU,
        ("lt = np.maximum(b1[:, None, :2], b2[None, :, :2])", "lt = np.minimum(b1[:, None, :2], b2[None, :, :2])"),
        ("rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])", "rb = np.maximum(b1[:, None, 2:], b2[None, :, 2:])"),
    ),
)
_add(
    "box_iou",
    "mistake",
    "no broadcasting: the IoU of matching pairs boxes1[i], boxes2[i] instead of all pairs",
    _edit(
        IOU,
        ("lt = np.maximum(b1[:, None, :2], b2[None, :, :2])", "lt = np.maximum(b1[:, :2], b2[:, :2])"),
        ("rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])", "rb = np.minimum(b1[:, 2:], b2[:, 2:])"),
        ("union = area1[:, None] + area2[None, :] - inter", "union = area1 + area2 - inter"),
    ),
)
_add(
    "box_iou",
    "mistake",
    "a Python double loop over the boxes (right values, not vectorised as required)",
    """
def box_iou(boxes1, boxes2):
    iou = np.zeros((len(boxes1), len(boxes2)))
    for i, a in enumerate(boxes1):
        for j, c in enumerate(boxes2):
            w = max(0.0, min(a[2], c[2]) - max(a[0], c[0]))
            h = max(0.0, min(a[3], c[3]) - max(a[1], c[1]))
            inter = w * h
            union = (a[2] - a[0]) * (a[3] - a[1]) + (c[2] - c[0]) * (c[3] - c[1]) - inter
            iou[i, j] = inter / union if union > 0 else 0.0
    return iou
""",
)
_add(
    "box_iou",
    "mistake",
    "typo in the height: y2 - x1 instead of y2 - y1 in the areas",
    _edit(
        IOU,
        (
            "area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])",
            "area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 0])",
        ),
        (
            "area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])",
            "area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 0])",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# nms
# ---------------------------------------------------------------------------------------------------------------
NMS = """
def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float)
    scores = np.asarray(scores, dtype=float)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return np.array(keep, dtype=np.int64)
"""
_add("nms", "correct", "base solution: a suppressed mask and one loop over the boxes by decreasing score", NMS)
_add(
    "nms",
    "correct",
    "torchvision style: shrink the list of remaining candidates after each kept box",
    """
def nms(boxes, scores, iou_threshold):
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        if rest.size == 0:
            break
        overlaps = box_iou(boxes[i:i + 1], boxes[rest])[0]
        order = rest[overlaps <= iou_threshold]
    return np.array(keep, dtype=np.int64)
""",
)
_add(
    "nms",
    "mistake",
    "removes boxes with IoU >= threshold (torchvision keeps IoU exactly equal)",
    _edit(NMS, ("iou[i] > iou_threshold", "iou[i] >= iou_threshold")),
)
_add(
    "nms",
    "mistake",
    "np.argsort's default (unstable) sort: equal scores not visited lower index first",
    _edit(NMS, ('np.argsort(-scores, kind="stable")', "np.argsort(-scores)")),
)
_add(
    "nms",
    "mistake",
    "sorted in increasing score: the worst box is kept first",
    _edit(NMS, ('np.argsort(-scores, kind="stable")', 'np.argsort(scores, kind="stable")')),
)
_add(
    "nms",
    "mistake",
    "no sort at all: boxes visited in index order",
    _edit(NMS, ('np.argsort(-scores, kind="stable")', "np.arange(len(boxes))")),
)
_add(
    "nms",
    "mistake",
    "suppressed boxes still suppress others",
    _edit(
        NMS,
        (
            "        if suppressed[i]:\n            continue\n        keep.append(i)\n        suppressed |= iou[i] > iou_threshold",
            "        if not suppressed[i]:\n            keep.append(i)\n"
            "        suppressed |= (iou[i] > iou_threshold) & (np.arange(len(boxes)) != i)",
        ),
    ),
)
_add(
    "nms",
    "mistake",
    "returns the kept indices sorted by index instead of by decreasing score",
    _edit(NMS, ("return np.array(keep, dtype=np.int64)", "return np.sort(np.array(keep, dtype=np.int64))")),
)
_add(
    "nms",
    "mistake",
    "no dtype and no empty guard: for no boxes it returns a float64 array",
    _edit(
        NMS,
        ("    if len(boxes) == 0:\n        return np.zeros(0, dtype=np.int64)\n", ""),
        ("return np.array(keep, dtype=np.int64)", "return np.array(keep)"),
    ),
)
_add(
    "nms",
    "mistake",
    "the comparison is inverted: removes the boxes that overlap LESS than the threshold",
    _edit(NMS, ("suppressed |= iou[i] > iou_threshold", "suppressed |= iou[i] < iou_threshold")),
)
_add(
    "nms",
    "mistake",
    "returns a boolean keep-mask instead of the kept indices",
    _edit(
        NMS,
        (
            "return np.array(keep, dtype=np.int64)",
            "mask = np.zeros(len(boxes), dtype=bool)\n    mask[keep] = True\n    return mask",
        ),
    ),
)
_add(
    "nms",
    "mistake",
    "marks processed boxes by overwriting the caller's scores array with -inf (mutates the input)",
    """
def nms(boxes, scores, iou_threshold):
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    iou = box_iou(boxes, boxes)
    keep = []
    while np.isfinite(scores).any():
        i = int(np.argmax(scores))
        keep.append(i)
        scores[iou[i] > iou_threshold] = -np.inf
        scores[i] = -np.inf
    return np.array(keep, dtype=np.int64)
""",
)

# ---------------------------------------------------------------------------------------------------------------
# batched_nms
# ---------------------------------------------------------------------------------------------------------------
BATCHED = """
def batched_nms(boxes, scores, classes, iou_threshold):
    boxes = np.asarray(boxes, dtype=float)
    scores = np.asarray(scores, dtype=float)
    classes = np.asarray(classes)
    kept = [np.zeros(0, dtype=np.int64)]
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    keep = np.sort(np.concatenate(kept))
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return keep.astype(np.int64)
"""
_add(
    "batched_nms",
    "correct",
    "base solution: nms per class, then the kept indices by index, then a stable sort",
    BATCHED,
)
_add(
    "batched_nms",
    "correct",
    "a kept-mask filled class by class, read back with np.lexsort",
    """
def batched_nms(boxes, scores, classes, iou_threshold):
    mask = np.zeros(len(scores), dtype=bool)
    for c in set(np.asarray(classes).tolist()):
        members = np.nonzero(classes == c)[0]
        mask[members[nms(boxes[members], scores[members], iou_threshold)]] = True
    kept = np.nonzero(mask)[0]
    order = np.lexsort((kept, -scores[kept]))
    return kept[order].astype(np.int64)
""",
)
_add(
    "batched_nms",
    "mistake",
    "class-agnostic: one nms over all boxes, so a dog box removes a cat box",
    """
def batched_nms(boxes, scores, classes, iou_threshold):
    return nms(boxes, scores, iou_threshold)
""",
)
_add(
    "batched_nms",
    "mistake",
    "the kept indices left grouped class by class, not merged by decreasing score",
    _edit(
        BATCHED,
        (
            '    keep = np.sort(np.concatenate(kept))\n    keep = keep[np.argsort(-scores[keep], kind="stable")]\n',
            "    keep = np.concatenate(kept)\n",
        ),
    ),
)
_add(
    "batched_nms",
    "mistake",
    "the kept indices returned in index order",
    _edit(BATCHED, ('    keep = keep[np.argsort(-scores[keep], kind="stable")]\n', "")),
)
_add(
    "batched_nms",
    "mistake",
    "ties across classes broken by class order: the per-class lists are not re-sorted by index",
    _edit(BATCHED, ("keep = np.sort(np.concatenate(kept))", "keep = np.concatenate(kept)")),
)
_add(
    "batched_nms",
    "mistake",
    "returns nms's indices within the class subset, not mapped back to the original indices",
    _edit(
        BATCHED,
        (
            "kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])",
            "kept.append(nms(boxes[idx], scores[idx], iou_threshold))",
        ),
    ),
)
_add(
    "batched_nms",
    "mistake",
    "no empty guard: np.concatenate of no arrays raises for zero boxes",
    _edit(BATCHED, ("kept = [np.zeros(0, dtype=np.int64)]", "kept = []")),
)
_add(
    "batched_nms",
    "mistake",
    "the coordinate-offset trick with a fixed offset of 10 per class: too small for large boxes",
    """
def batched_nms(boxes, scores, classes, iou_threshold):
    shifted = boxes + 10.0 * np.asarray(classes, dtype=float)[:, None]
    return nms(shifted, scores, iou_threshold)
""",
)
_add(
    "batched_nms",
    "mistake",
    "np.argsort's default (unstable) sort for the final merge",
    _edit(BATCHED, ('keep = keep[np.argsort(-scores[keep], kind="stable")]', "keep = keep[np.argsort(-scores[keep])]")),
)
_add(
    "batched_nms",
    "mistake",
    "the final merge sorts in increasing score",
    _edit(
        BATCHED,
        (
            'keep = keep[np.argsort(-scores[keep], kind="stable")]',
            'keep = keep[np.argsort(scores[keep], kind="stable")]',
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# mean_average_precision
# ---------------------------------------------------------------------------------------------------------------
MAP = """
def mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, iou_threshold=0.5):
    n_images = len(gt_boxes)
    all_gt = np.concatenate([np.zeros(0, dtype=int)] + [np.asarray(l, dtype=int).reshape(-1) for l in gt_labels])
    classes = np.unique(all_gt)
    if len(classes) == 0:
        return float("nan")
    aps = []
    for c in classes:
        n_gt = int(np.sum(all_gt == c))
        scores_c, tp_c = [], []
        for i in range(n_images):
            pm = np.asarray(pred_labels[i]).reshape(-1) == c
            pb = np.asarray(pred_boxes[i], dtype=float).reshape(-1, 4)[pm]
            ps = np.asarray(pred_scores[i], dtype=float).reshape(-1)[pm]
            gm = np.asarray(gt_labels[i]).reshape(-1) == c
            gb = np.asarray(gt_boxes[i], dtype=float).reshape(-1, 4)[gm]
            tp = np.zeros(len(pb), dtype=bool)
            if len(pb) and len(gb):
                iou = box_iou(pb, gb)
                taken = np.zeros(len(gb), dtype=bool)
                for p in np.argsort(-ps, kind="stable"):
                    candidates = np.where(taken, -1.0, iou[p])
                    g = int(np.argmax(candidates))
                    if candidates[g] >= iou_threshold:
                        tp[p] = True
                        taken[g] = True
            scores_c.append(ps)
            tp_c.append(tp)
        scores_c = np.concatenate(scores_c)
        tp_c = np.concatenate(tp_c)
        order = np.argsort(-scores_c, kind="stable")
        tp_sorted = tp_c[order]
        tp_cum = np.cumsum(tp_sorted)
        precision = tp_cum / np.arange(1, len(tp_sorted) + 1)
        recall = tp_cum / n_gt
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        previous = np.concatenate([[0.0], recall[:-1]])
        ap = float(np.sum((recall - previous) * envelope))
        aps.append(ap)
    mAP = float(np.mean(aps))
    return mAP
"""
_add(
    "mean_average_precision",
    "correct",
    "base solution: match image by image, rank per class, area under the envelope",
    MAP,
)
_add(
    "mean_average_precision",
    "correct",
    "one global ranking first, matching in that order with a set of taken boxes, envelope at each true positive",
    """
def mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, iou_threshold=0.5):
    gt_classes = sorted({int(c) for labels in gt_labels for c in np.asarray(labels).ravel()})
    if not gt_classes:
        return float("nan")
    aps = []
    for c in gt_classes:
        gts = [np.asarray(b, dtype=float).reshape(-1, 4)[np.asarray(l).ravel() == c] for b, l in zip(gt_boxes, gt_labels)]
        n_gt = sum(len(g) for g in gts)
        dets = []
        for i in range(len(pred_boxes)):
            labels = np.asarray(pred_labels[i]).ravel()
            for j in range(len(labels)):
                if labels[j] == c:
                    dets.append((-float(pred_scores[i][j]), i, j))
        dets.sort()
        taken = [set() for _ in gts]
        hits = []
        for _, i, j in dets:
            hit = False
            if len(gts[i]):
                ious = box_iou(np.asarray(pred_boxes[i], dtype=float).reshape(-1, 4)[j:j + 1], gts[i])[0]
                best, best_iou = -1, -1.0
                for g, value in enumerate(ious):
                    if g not in taken[i] and value > best_iou:
                        best, best_iou = g, value
                if best >= 0 and best_iou >= iou_threshold:
                    taken[i].add(best)
                    hit = True
            hits.append(hit)
        precisions = [sum(hits[:k + 1]) / (k + 1) for k in range(len(hits))]
        ap = 0.0
        for k, hit in enumerate(hits):
            if hit:
                ap += max(precisions[k:]) / n_gt
        aps.append(ap)
    return float(sum(aps) / len(aps))
""",
)
_add(
    "mean_average_precision",
    "mistake",
    "the VOC2007 11-point interpolated AP instead of the all-point area",
    _edit(
        MAP,
        (
            "        previous = np.concatenate([[0.0], recall[:-1]])\n"
            "        ap = float(np.sum((recall - previous) * envelope))\n",
            "        ap = 0.0\n        for t in np.linspace(0, 1, 11):\n"
            "            above = precision[recall >= t]\n            ap += (above.max() if len(above) else 0.0) / 11\n",
        ),
    ),
)
_add(
    "mean_average_precision",
    "mistake",
    "no precision envelope: the raw precision is summed",
    _edit(MAP, ("envelope = np.maximum.accumulate(precision[::-1])[::-1]", "envelope = precision")),
)
_add(
    "mean_average_precision",
    "mistake",
    "duplicate detections all count: a matched ground-truth box is not marked taken",
    _edit(MAP, ("                        taken[g] = True\n", "")),
)
_add(
    "mean_average_precision",
    "mistake",
    "strict IoU > threshold: an IoU exactly at the threshold does not match",
    _edit(MAP, ("if candidates[g] >= iou_threshold:", "if candidates[g] > iou_threshold:")),
)
_add(
    "mean_average_precision",
    "mistake",
    "no global ranking: predictions ranked image after image (each image sorted)",
    _edit(
        MAP,
        (
            "            scores_c.append(ps)\n            tp_c.append(tp)\n",
            '            own = np.argsort(-ps, kind="stable")\n            scores_c.append(ps[own])\n'
            "            tp_c.append(tp[own])\n",
        ),
        ('        order = np.argsort(-scores_c, kind="stable")\n', "        order = np.arange(len(scores_c))\n"),
    ),
)
_add(
    "mean_average_precision",
    "mistake",
    "ranking by a reversed increasing sort: equal scores rank the LATER prediction first",
    _edit(MAP, ('order = np.argsort(-scores_c, kind="stable")', 'order = np.argsort(scores_c, kind="stable")[::-1]')),
)
_add(
    "mean_average_precision",
    "mistake",
    "a prediction takes the first free ground-truth box above the threshold, not the best",
    _edit(
        MAP,
        (
            "                    candidates = np.where(taken, -1.0, iou[p])\n"
            "                    g = int(np.argmax(candidates))\n",
            "                    candidates = np.where(taken, -1.0, iou[p])\n"
            "                    above = np.flatnonzero(candidates >= iou_threshold)\n"
            "                    g = int(above[0]) if len(above) else 0\n",
        ),
    ),
)
_add(
    "mean_average_precision",
    "mistake",
    "a prediction whose best box is already taken is a false positive (it does not fall back to the next free box)",
    _edit(
        MAP,
        (
            "                    candidates = np.where(taken, -1.0, iou[p])\n"
            "                    g = int(np.argmax(candidates))\n",
            "                    g = int(np.argmax(iou[p]))\n"
            "                    candidates = np.where(taken, -1.0, iou[p])\n",
        ),
    ),
)
_add(
    "mean_average_precision",
    "mistake",
    "AP averaged over the found objects only: missed ground truth does not lower it",
    _edit(
        MAP,
        (
            "        ap = float(np.sum((recall - previous) * envelope))\n",
            "        ap = float(envelope[tp_sorted].mean()) if tp_sorted.any() else 0.0\n",
        ),
    ),
)
_add(
    "mean_average_precision",
    "mistake",
    "classes taken from the predictions and ground truth: a class without ground truth counts as AP 0",
    _edit(
        MAP,
        (
            "    classes = np.unique(all_gt)\n",
            "    all_pred = np.concatenate([np.zeros(0, dtype=int)] + [np.asarray(l, dtype=int).reshape(-1) for l in pred_labels])\n"
            "    classes = np.unique(np.concatenate([all_gt, all_pred]))\n    if len(all_gt) == 0:\n        return float('nan')\n",
        ),
        (
            "        n_gt = int(np.sum(all_gt == c))\n",
            "        n_gt = int(np.sum(all_gt == c))\n        if n_gt == 0:\n            aps.append(0.0)\n            continue\n",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# conv_transpose_forward
# ---------------------------------------------------------------------------------------------------------------
CT_FWD = """
def conv_transpose_forward(x, w, b, param):
    (sh, sw), (ph, pw) = pair(param.get("stride", 1)), pair(param.get("pad", 0))
    N, C, H, W = x.shape
    _, D, HH, WW = w.shape
    Hf, Wf = (H - 1) * sh + HH, (W - 1) * sw + WW
    full = np.zeros((N, D, Hf, Wf))
    for u in range(HH):
        for v in range(WW):
            full[:, :, u:u + sh * (H - 1) + 1:sh, v:v + sw * (W - 1) + 1:sw] += np.einsum("nchw,cd->ndhw", x, w[:, :, u, v])
    out = full[:, :, ph:Hf - ph, pw:Wf - pw] + b.reshape(1, D, 1, 1)
    return out, (x, w, b, param)
"""
_add(
    "conv_transpose_forward",
    "correct",
    "base solution: loop over kernel offsets, paint strided slices, crop, add bias",
    CT_FWD,
)
_add(
    "conv_transpose_forward",
    "correct",
    "matrix product to columns, then scatter-add into the output with np.add.at",
    """
def conv_transpose_forward(x, w, b, param):
    sh, sw = pair(param.get("stride", 1))
    ph, pw = pair(param.get("pad", 0))
    N, C, H, W = x.shape
    D, HH, WW = w.shape[1:]
    cols = np.einsum("cduv,nchw->nhwduv", w, x)
    Hf, Wf = (H - 1) * sh + HH, (W - 1) * sw + WW
    full = np.zeros((N, D, Hf, Wf))
    rows = (np.arange(H)[:, None, None, None] * sh + np.arange(HH)[None, None, :, None])
    columns = (np.arange(W)[None, :, None, None] * sw + np.arange(WW)[None, None, None, :])
    rows, columns = np.broadcast_arrays(rows, columns)
    for n in range(N):
        for d in range(D):
            np.add.at(full[n, d], (rows, columns), cols[n, :, :, d])
    out = full[:, :, ph:Hf - ph, pw:Wf - pw] + b[None, :, None, None]
    return out, (x, w, b, param)
""",
)
_add(
    "conv_transpose_forward",
    "mistake",
    "overlapping kernel copies overwrite each other (= instead of +=)",
    _edit(CT_FWD, ("sw] += np.einsum", "sw] = np.einsum")),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "the kernel is flipped (the convolution habit): w[..., HH-1-u, WW-1-v]",
    _edit(
        CT_FWD,
        (
            'np.einsum("nchw,cd->ndhw", x, w[:, :, u, v])',
            'np.einsum("nchw,cd->ndhw", x, w[:, :, HH - 1 - u, WW - 1 - v])',
        ),
    ),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "the bias is forgotten",
    _edit(
        CT_FWD,
        (
            "out = full[:, :, ph:Hf - ph, pw:Wf - pw] + b.reshape(1, D, 1, 1)",
            "out = full[:, :, ph:Hf - ph, pw:Wf - pw]",
        ),
    ),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "weights read in conv2d's layout (C_out, C_in, HH, WW)",
    _edit(
        CT_FWD,
        ("_, D, HH, WW = w.shape", "D, _, HH, WW = w.shape"),
        ('np.einsum("nchw,cd->ndhw", x, w[:, :, u, v])', 'np.einsum("nchw,dc->ndhw", x, w[:, :, u, v])'),
    ),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "the padding is not cropped from the output",
    _edit(
        CT_FWD,
        ("out = full[:, :, ph:Hf - ph, pw:Wf - pw] + b.reshape(1, D, 1, 1)", "out = full + b.reshape(1, D, 1, 1)"),
    ),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "crops with full[ph:-ph]: for pad 0 the slice 0:-0 is empty",
    _edit(CT_FWD, ("out = full[:, :, ph:Hf - ph, pw:Wf - pw]", "out = full[:, :, ph:-ph, pw:-pw]")),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "the textbook route (dilate x, pad by HH-1-p, correlate with the flipped kernel): breaks for pad > HH - 1",
    """
def conv_transpose_forward(x, w, b, param):
    (sh, sw), (ph, pw) = pair(param.get("stride", 1)), pair(param.get("pad", 0))
    N, C, H, W = x.shape
    _, D, HH, WW = w.shape
    dilated = np.zeros((N, C, (H - 1) * sh + 1, (W - 1) * sw + 1))
    dilated[:, :, ::sh, ::sw] = x
    padded = np.pad(dilated, ((0, 0), (0, 0), (HH - 1 - ph, HH - 1 - ph), (WW - 1 - pw, WW - 1 - pw)))
    flipped = w[:, :, ::-1, ::-1]
    Ho, Wo = padded.shape[2] - HH + 1, padded.shape[3] - WW + 1
    out = np.zeros((N, D, Ho, Wo))
    for u in range(HH):
        for v in range(WW):
            out += np.einsum("nchw,cd->ndhw", padded[:, :, u:u + Ho, v:v + Wo], flipped[:, :, u, v])
    out += b.reshape(1, D, 1, 1)
    return out, (x, w, b, param)
""",
)
_add(
    "conv_transpose_forward",
    "mistake",
    "stride and pad assumed to be ints (the pair form is not handled)",
    _edit(
        CT_FWD,
        (
            '(sh, sw), (ph, pw) = pair(param.get("stride", 1)), pair(param.get("pad", 0))',
            's, p = param.get("stride", 1), param.get("pad", 0)\n    sh = sw = s\n    ph = pw = p',
        ),
    ),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "the bias added along the last axis (b broadcast over width) instead of channels",
    _edit(CT_FWD, ("+ b.reshape(1, D, 1, 1)", "+ b")),
)
_add(
    "conv_transpose_forward",
    "mistake",
    "the row stride used for the columns too (sh for both axes)",
    _edit(
        CT_FWD,
        (
            '(sh, sw), (ph, pw) = pair(param.get("stride", 1)), pair(param.get("pad", 0))',
            '(sh, _), (ph, pw) = pair(param.get("stride", 1)), pair(param.get("pad", 0))\n    sw = sh',
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# conv_transpose_backward
# ---------------------------------------------------------------------------------------------------------------
CT_BWD = """
def conv_transpose_backward(dout, cache):
    x, w, b, param = cache
    (sh, sw), (ph, pw) = pair(param.get("stride", 1)), pair(param.get("pad", 0))
    N, C, H, W = x.shape
    _, D, HH, WW = w.shape
    Hf, Wf = (H - 1) * sh + HH, (W - 1) * sw + WW
    dfull = np.zeros((N, D, Hf, Wf))
    dfull[:, :, ph:Hf - ph, pw:Wf - pw] = dout
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    for u in range(HH):
        for v in range(WW):
            patch = dfull[:, :, u:u + sh * (H - 1) + 1:sh, v:v + sw * (W - 1) + 1:sw]
            dx += np.einsum("ndhw,cd->nchw", patch, w[:, :, u, v])
            dw[:, :, u, v] = np.einsum("nchw,ndhw->cd", x, patch)
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
"""
_add(
    "conv_transpose_backward",
    "correct",
    "base solution: pad dout back to the full grid, read the strided slices",
    CT_BWD,
)
_add(
    "conv_transpose_backward",
    "correct",
    "loop over the input pixels: each reads the kernel-sized window it painted",
    """
def conv_transpose_backward(dout, cache):
    x, w, b, param = cache
    sh, sw = pair(param.get("stride", 1))
    ph, pw = pair(param.get("pad", 0))
    N, C, H, W = x.shape
    HH, WW = w.shape[2], w.shape[3]
    Hf, Wf = (H - 1) * sh + HH, (W - 1) * sw + WW
    g = np.pad(dout, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    assert g.shape[2:] == (Hf, Wf)
    dx = np.empty_like(x, dtype=float)
    dw = np.zeros_like(w, dtype=float)
    for i in range(H):
        for j in range(W):
            window = g[:, :, i * sh:i * sh + HH, j * sw:j * sw + WW]
            dx[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
            dw += np.einsum("nc,nduv->cduv", x[:, :, i, j], window)
    db = np.sum(dout, axis=(0, 2, 3))
    return dx, dw, db
""",
)
_add(
    "conv_transpose_backward",
    "mistake",
    "db is the mean of dout instead of the sum",
    _edit(CT_BWD, ("db = dout.sum(axis=(0, 2, 3))", "db = dout.mean(axis=(0, 2, 3))")),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "db summed over the batch only, not over the pixels",
    _edit(CT_BWD, ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=0)")),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dw stored flipped: dw[..., HH-1-u, WW-1-v]",
    _edit(CT_BWD, ("dw[:, :, u, v] = np.einsum", "dw[:, :, HH - 1 - u, WW - 1 - v] = np.einsum")),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dx uses the flipped kernel",
    _edit(
        CT_BWD,
        (
            'np.einsum("ndhw,cd->nchw", patch, w[:, :, u, v])',
            'np.einsum("ndhw,cd->nchw", patch, w[:, :, HH - 1 - u, WW - 1 - v])',
        ),
    ),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dout is not padded back to the full grid: the cropped border is ignored",
    _edit(
        CT_BWD,
        (
            "    dfull = np.zeros((N, D, Hf, Wf))\n    dfull[:, :, ph:Hf - ph, pw:Wf - pw] = dout\n",
            "    dfull = dout\n",
        ),
    ),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dout put back at the top-left corner of the full grid instead of offset by the pad",
    _edit(CT_BWD, ("dfull[:, :, ph:Hf - ph, pw:Wf - pw] = dout", "dfull[:, :, :Hf - 2 * ph, :Wf - 2 * pw] = dout")),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dx with the kernel's channel axes read in conv2d's (C_out, C_in) layout",
    _edit(
        CT_BWD, ('np.einsum("ndhw,cd->nchw", patch, w[:, :, u, v])', 'np.einsum("ndhw,dc->nchw", patch, w[:, :, u, v])')
    ),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dx overwritten at each kernel offset (= instead of +=): the last offset wins",
    _edit(CT_BWD, ('dx += np.einsum("ndhw,cd->nchw"', 'dx = np.einsum("ndhw,cd->nchw"')),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "dfull[ph:-ph] = dout: for pad 0 the slice 0:-0 is empty",
    _edit(CT_BWD, ("dfull[:, :, ph:Hf - ph, pw:Wf - pw] = dout", "dfull[:, :, ph:-ph, pw:-pw] = dout")),
)
_add(
    "conv_transpose_backward",
    "mistake",
    "the stride is ignored in the backward pass: contiguous slices are read",
    _edit(
        CT_BWD,
        (
            "patch = dfull[:, :, u:u + sh * (H - 1) + 1:sh, v:v + sw * (W - 1) + 1:sw]",
            "patch = dfull[:, :, u:u + H, v:v + W]",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# bilinear_upsample
# ---------------------------------------------------------------------------------------------------------------
BILINEAR = """
def bilinear_upsample(x, out_size):
    N, C, H, W = x.shape
    H_out, W_out = out_size

    def axis(n_in, n_out):
        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        src = np.maximum(src, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        lam = src - i0
        return i0, i1, lam

    r0, r1, a = axis(H, H_out)
    c0, c1, g = axis(W, W_out)
    rows = (1 - a)[:, None] * x[:, :, r0, :] + a[:, None] * x[:, :, r1, :]
    out = (1 - g) * rows[:, :, :, c0] + g * rows[:, :, :, c1]
    return out
"""
_add("bilinear_upsample", "correct", "base solution: indices and weights per axis, rows then columns", BILINEAR)
_add(
    "bilinear_upsample",
    "correct",
    "interpolation matrices for rows and columns, applied with einsum",
    """
def bilinear_upsample(x, out_size):
    def matrix(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, None)
        low = np.floor(src).astype(int).clip(max=n_in - 1)
        high = (low + 1).clip(max=n_in - 1)
        frac = src - low
        M = np.zeros((n_out, n_in))
        np.add.at(M, (np.arange(n_out), low), 1 - frac)
        np.add.at(M, (np.arange(n_out), high), frac)
        return M
    R = matrix(x.shape[2], out_size[0])
    Q = matrix(x.shape[3], out_size[1])
    return np.einsum("ih,nchw,jw->ncij", R, x, Q)
""",
)
_add(
    "bilinear_upsample",
    "mistake",
    "the align_corners=True grid: src = i (H - 1) / (H_out - 1)",
    _edit(
        BILINEAR,
        (
            "        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5\n",
            "        src = np.arange(n_out) * (n_in - 1) / max(n_out - 1, 1)\n",
        ),
    ),
)
_add(
    "bilinear_upsample",
    "mistake",
    "nearest neighbour: rounds the source coordinate and takes one pixel",
    _edit(
        BILINEAR,
        (
            "        lam = src - i0\n",
            "        i0 = np.minimum(np.round(src).astype(int), n_in - 1)\n"
            "        i1 = i0\n        lam = np.zeros_like(src)\n",
        ),
    ),
)
_add(
    "bilinear_upsample",
    "mistake",
    "no half-pixel offsets: src = i * H / H_out",
    _edit(
        BILINEAR,
        (
            "        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5\n",
            "        src = np.arange(n_out) * n_in / n_out\n",
        ),
    ),
)
_add(
    "bilinear_upsample",
    "mistake",
    "the source coordinate is not clamped at 0: floor(-0.25) = -1 wraps to the last row",
    _edit(BILINEAR, ("        src = np.maximum(src, 0.0)\n", "")),
)
_add(
    "bilinear_upsample",
    "mistake",
    "not clamped at 0 and truncated with astype(int): the border rows extrapolate",
    _edit(
        BILINEAR,
        ("        src = np.maximum(src, 0.0)\n", ""),
        ("i0 = np.minimum(np.floor(src).astype(int), n_in - 1)", "i0 = np.minimum(src.astype(int), n_in - 1)"),
    ),
)
_add(
    "bilinear_upsample",
    "mistake",
    "the scale inverted: src = (i + 0.5) H_out / H - 0.5",
    _edit(
        BILINEAR,
        (
            "        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5\n",
            "        src = (np.arange(n_out) + 0.5) * n_out / n_in - 0.5\n",
        ),
    ),
)
_add(
    "bilinear_upsample",
    "mistake",
    "the column weights computed from the row sizes (H used for the width)",
    _edit(BILINEAR, ("c0, c1, g = axis(W, W_out)", "c0, c1, g = axis(H, W_out)")),
)
_add(
    "bilinear_upsample",
    "mistake",
    "the two weights swapped: lambda on the lower pixel, 1 - lambda on the upper",
    _edit(
        BILINEAR,
        (
            "rows = (1 - a)[:, None] * x[:, :, r0, :] + a[:, None] * x[:, :, r1, :]",
            "rows = a[:, None] * x[:, :, r0, :] + (1 - a)[:, None] * x[:, :, r1, :]",
        ),
        (
            "out = (1 - g) * rows[:, :, :, c0] + g * rows[:, :, :, c1]",
            "out = g * rows[:, :, :, c0] + (1 - g) * rows[:, :, :, c1]",
        ),
    ),
)
_add(
    "bilinear_upsample",
    "mistake",
    "the upper neighbour is not clamped: i0 + 1 runs past the last row",
    _edit(BILINEAR, ("i1 = np.minimum(i0 + 1, n_in - 1)", "i1 = i0 + 1")),
)
_add(
    "bilinear_upsample",
    "mistake",
    "Python loops over the output pixels (right values, not vectorised as required)",
    """
def bilinear_upsample(x, out_size):
    N, C, H, W = x.shape
    H_out, W_out = out_size
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        sy = max((i + 0.5) * H / H_out - 0.5, 0.0)
        y0 = min(int(np.floor(sy)), H - 1)
        y1 = min(y0 + 1, H - 1)
        ly = sy - y0
        for j in range(W_out):
            sx = max((j + 0.5) * W / W_out - 0.5, 0.0)
            x0 = min(int(np.floor(sx)), W - 1)
            x1 = min(x0 + 1, W - 1)
            lx = sx - x0
            out[:, :, i, j] = ((1 - ly) * ((1 - lx) * x[:, :, y0, x0] + lx * x[:, :, y0, x1])
                               + ly * ((1 - lx) * x[:, :, y1, x0] + lx * x[:, :, y1, x1]))
    return out
""",
)

# ---------------------------------------------------------------------------------------------------------------
# ResidualBlock
# ---------------------------------------------------------------------------------------------------------------
BLOCK = """
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super(ResidualBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))
        else:
            self.downsample = None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = self.relu(out + identity)
        return out
"""
_add("ResidualBlock", "correct", "base solution: torchvision's layout written out", BLOCK)
_add(
    "ResidualBlock",
    "correct",
    "functional ReLU, the projection decided by a flag, no ReLU module",
    """
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        project = stride > 1 or in_channels != out_channels
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = (nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                                         nn.BatchNorm2d(out_channels)) if project else None)

    def forward(self, x):
        residual = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(residual + shortcut)
""",
)
_add(
    "ResidualBlock",
    "mistake",
    "the stride on conv2 instead of conv1",
    _edit(
        BLOCK,
        (
            "nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)",
            "nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=False)",
        ),
        (
            "nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)",
            "nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1, bias=False)",
        ),
    ),
)
_add(
    "ResidualBlock",
    "mistake",
    "no ReLU after the addition",
    _edit(BLOCK, ("out = self.relu(out + identity)", "out = out + identity")),
)
_add(
    "ResidualBlock",
    "mistake",
    "the ReLU applied to the residual before the addition",
    _edit(BLOCK, ("out = self.relu(out + identity)", "out = self.relu(out) + identity")),
)
_add(
    "ResidualBlock",
    "mistake",
    "the shortcut is never added",
    _edit(BLOCK, ("out = self.relu(out + identity)", "out = self.relu(out)")),
)
_add(
    "ResidualBlock",
    "mistake",
    "the 3x3 convolutions keep their default bias",
    _edit(
        BLOCK,
        (
            "nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)",
            "nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)",
        ),
        (
            "nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)",
            "nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1)",
        ),
    ),
)
_add(
    "ResidualBlock",
    "mistake",
    "BatchNorm momentum 0.9 (the Keras convention) instead of torch's 0.1",
    _edit(
        BLOCK,
        ("self.bn1 = nn.BatchNorm2d(out_channels)", "self.bn1 = nn.BatchNorm2d(out_channels, momentum=0.9)"),
        ("self.bn2 = nn.BatchNorm2d(out_channels)", "self.bn2 = nn.BatchNorm2d(out_channels, momentum=0.9)"),
    ),
)
_add(
    "ResidualBlock",
    "mistake",
    "BatchNorm after the ReLU (conv -> ReLU -> BN) in the first stage",
    _edit(BLOCK, ("out = self.relu(self.bn1(self.conv1(x)))", "out = self.bn1(self.relu(self.conv1(x)))")),
)
_add(
    "ResidualBlock",
    "mistake",
    "projection only when the stride changes, not when only the channels change",
    _edit(BLOCK, ("if stride != 1 or in_channels != out_channels:", "if stride != 1:")),
)
_add(
    "ResidualBlock",
    "mistake",
    "copy-paste: bn1 used in both stages (bn2 is created but never used)",
    _edit(BLOCK, ("out = self.bn2(self.conv2(out))", "out = self.bn1(self.conv2(out))")),
)
_add(
    "ResidualBlock",
    "mistake",
    "the shortcut added in place into the caller's x (x += out mutates the input)",
    _edit(
        BLOCK,
        ("        out = self.relu(out + identity)\n", "        identity += out\n        out = self.relu(identity)\n"),
    ),
)

# ---------------------------------------------------------------------------------------------------------------
# count_params_macs
# ---------------------------------------------------------------------------------------------------------------
COUNT = """
def count_params_macs(model, input_shape):
    params = sum(p.numel() for p in model.parameters())
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw
        else:
            total[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    modes = {m: m.training for m in model.modules()}
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes.items():
            m.train(training)
    return int(params), int(total[0])
"""
_add("count_params_macs", "correct", "base solution: hooks, eval pass, restore each module's mode", COUNT)
_add(
    "count_params_macs",
    "correct",
    "hooks that note outputs, costs from weight[0].numel(), modes restored by name",
    """
def count_params_macs(model, input_shape):
    seen = []
    handles = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(lambda m, i, o: seen.append((m, o.numel()))))
    was = {name: m.training for name, m in model.named_modules()}
    model.eval()
    try:
        with torch.inference_mode():
            first = next(iter(model.parameters()), None)
            model(torch.zeros((1,) + tuple(input_shape), dtype=first.dtype if first is not None else torch.float32))
    finally:
        for h in handles:
            h.remove()
        for name, m in model.named_modules():
            m.training = was[name]
    macs = sum(n * m.weight[0].numel() for m, n in seen)
    return sum(p.numel() for p in model.parameters()), int(macs)
""",
)
_add(
    "count_params_macs",
    "mistake",
    "FLOPs (2 per multiply-add) instead of multiply-adds",
    _edit(COUNT, ("return int(params), int(total[0])", "return int(params), 2 * int(total[0])")),
)
_add(
    "count_params_macs",
    "mistake",
    "only trainable parameters counted (frozen ones left out)",
    _edit(
        COUNT,
        (
            "params = sum(p.numel() for p in model.parameters())",
            "params = sum(p.numel() for p in model.parameters() if p.requires_grad)",
        ),
    ),
)
_add(
    "count_params_macs",
    "mistake",
    "counts each layer's weights once, not once per output position",
    _edit(
        COUNT,
        (
            "            kh, kw = module.kernel_size\n"
            "            total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw\n"
            "        else:\n            total[0] += output.numel() * module.in_features\n",
            "            total[0] += module.weight.numel()\n        else:\n            total[0] += module.weight.numel()\n",
        ),
    ),
)
_add(
    "count_params_macs",
    "mistake",
    "groups ignored: a grouped convolution counted as a full one",
    _edit(COUNT, ("(module.in_channels // module.groups) * kh * kw", "module.in_channels * kh * kw")),
)
_add(
    "count_params_macs",
    "mistake",
    "the hooks are never removed",
    _edit(COUNT, ("        for handle in handles:\n            handle.remove()\n", "")),
)
_add(
    "count_params_macs",
    "mistake",
    "the mode restored with model.train(previous): every submodule gets the model's mode",
    _edit(
        COUNT,
        (
            "        for m, training in modes.items():\n            m.train(training)\n",
            "        model.train(modes[model])\n",
        ),
    ),
)
_add(
    "count_params_macs",
    "mistake",
    "the counting pass runs in training mode: BatchNorm running statistics move",
    _edit(COUNT, ("        model.eval()\n", "")),
)
_add(
    "count_params_macs",
    "mistake",
    "a Linear layer costs in_features * out_features (its weights), whatever its input's shape",
    _edit(
        COUNT,
        ("total[0] += output.numel() * module.in_features", "total[0] += module.in_features * module.out_features"),
    ),
)
_add(
    "count_params_macs",
    "mistake",
    "hooks only on the top-level children (model.children()): nested layers are missed",
    _edit(
        COUNT,
        (
            "handles = [m.register_forward_hook(hook) for m in model.modules() if",
            "handles = [m.register_forward_hook(hook) for m in model.children() if",
        ),
    ),
)
_add(
    "count_params_macs",
    "mistake",
    "the kernel treated as square: kernel_size[0] ** 2",
    _edit(COUNT, ("kh, kw = module.kernel_size", "kh = kw = module.kernel_size[0]")),
)

# ---------------------------------------------------------------------------------------------------------------
# decode_predictions (part 5), added later, blind from the released notebook like the entries above
# ---------------------------------------------------------------------------------------------------------------
DECODE = """
def decode_predictions(raw, anchors, stride, score_threshold):
    B = anchors.shape[0]
    _, S_h, S_w = raw.shape
    C = raw.shape[0] // B - 5
    p = raw.reshape(B, 5 + C, S_h, S_w)

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    cy, cx = np.meshgrid(np.arange(S_h), np.arange(S_w), indexing="ij")
    bx = stride * (sigmoid(p[:, 0]) + cx)
    by = stride * (sigmoid(p[:, 1]) + cy)
    bw = anchors[:, 0, None, None] * np.exp(p[:, 2])
    bh = anchors[:, 1, None, None] * np.exp(p[:, 3])
    objectness = sigmoid(p[:, 4])
    class_scores = objectness[:, None] * sigmoid(p[:, 5:])
    labels = np.argmax(class_scores, axis=1)
    scores = np.max(class_scores, axis=1)
    boxes = np.stack([bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2], axis=-1)
    keep = scores > score_threshold
    return boxes[keep], scores[keep], labels[keep]
"""
_add(
    "decode_predictions",
    "correct",
    "base solution for decode_predictions: meshgrid(indexing='ij'), everything decoded on the grid, then masked",
    DECODE,
)
_add(
    "decode_predictions",
    "correct",
    "quantities on the last axis (B, S_h, S_w, 5 + C), meshgrid's default xy indexing called as (columns, rows), "
    "a tanh logistic, the class as the argmax of the logits",
    """
def decode_predictions(raw, anchors, stride, score_threshold):
    anchors = np.asarray(anchors, dtype=float)
    n_anchors = len(anchors)
    channels, rows, cols = raw.shape
    t = raw.reshape(n_anchors, channels // n_anchors, rows, cols).transpose(0, 2, 3, 1)  # (B, S_h, S_w, 5 + C)
    logistic = lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))
    gx, gy = np.meshgrid(np.arange(cols), np.arange(rows))  # xy indexing: both (S_h, S_w)
    centre = stride * (logistic(t[..., 0:2]) + np.stack([gx, gy], axis=-1))
    size = anchors[:, None, None, :] * np.exp(t[..., 2:4])
    corners = np.concatenate([centre - size / 2, centre + size / 2], axis=-1)
    labels = np.argmax(t[..., 5:], axis=-1)  # the sigmoid is increasing: the best logit is the best class
    best_logit = np.take_along_axis(t[..., 5:], labels[..., None], axis=-1)[..., 0]
    scores = logistic(t[..., 4]) * logistic(best_logit)
    keep = scores > score_threshold
    return corners[keep], scores[keep], labels[keep]
""",
)
_add(
    "decode_predictions",
    "mistake",
    "the centre offsets t_x, t_y used without their sigmoid",
    _edit(
        DECODE,
        ("bx = stride * (sigmoid(p[:, 0]) + cx)", "bx = stride * (p[:, 0] + cx)"),
        ("by = stride * (sigmoid(p[:, 1]) + cy)", "by = stride * (p[:, 1] + cy)"),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "the anchor scaled by t_w, t_h themselves (the exponential forgotten)",
    _edit(
        DECODE,
        ("bw = anchors[:, 0, None, None] * np.exp(p[:, 2])", "bw = anchors[:, 0, None, None] * p[:, 2]"),
        ("bh = anchors[:, 1, None, None] * np.exp(p[:, 3])", "bh = anchors[:, 1, None, None] * p[:, 3]"),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "np.meshgrid's default xy indexing with the rows first: grids of shape (S_w, S_h), rows and columns swapped "
    "(a broadcasting error on a grid that is not square)",
    _edit(
        DECODE,
        (
            'cy, cx = np.meshgrid(np.arange(S_h), np.arange(S_w), indexing="ij")',
            "cy, cx = np.meshgrid(np.arange(S_h), np.arange(S_w))",
        ),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "each anchor read as (p_h, p_w): its height stretches the width and its width the height",
    _edit(
        DECODE,
        ("bw = anchors[:, 0, None, None] * np.exp(p[:, 2])", "bw = anchors[:, 1, None, None] * np.exp(p[:, 2])"),
        ("bh = anchors[:, 1, None, None] * np.exp(p[:, 3])", "bh = anchors[:, 0, None, None] * np.exp(p[:, 3])"),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "the corners one whole width and height from the centre: (b_x - b_w, b_y - b_h, b_x + b_w, b_y + b_h)",
    _edit(
        DECODE,
        (
            "boxes = np.stack([bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2], axis=-1)",
            "boxes = np.stack([bx - bw, by - bh, bx + bw, by + bh], axis=-1)",
        ),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "the threshold applied to the objectness sigma(t_o), while the score returned is the product",
    _edit(DECODE, ("keep = scores > score_threshold", "keep = objectness > score_threshold")),
)
_add(
    "decode_predictions",
    "mistake",
    "a softmax over the classes instead of one sigmoid per class",
    _edit(
        DECODE,
        (
            "class_scores = objectness[:, None] * sigmoid(p[:, 5:])",
            "e = np.exp(p[:, 5:] - p[:, 5:].max(axis=1, keepdims=True))\n"
            "    class_scores = objectness[:, None] * e / e.sum(axis=1, keepdims=True)",
        ),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "a box kept when its score equals the threshold (>=)",
    _edit(DECODE, ("keep = scores > score_threshold", "keep = scores >= score_threshold")),
)
_add(
    "decode_predictions",
    "mistake",
    "the class taken as the last of an argsort: on equal scores the higher class index wins",
    _edit(
        DECODE,
        ("labels = np.argmax(class_scores, axis=1)", "labels = np.argsort(class_scores, axis=1)[:, -1]"),
    ),
)
_add(
    "decode_predictions",
    "mistake",
    "the sigmoids written back into the reshaped raw (a view): the caller's raw is changed",
    _edit(
        DECODE,
        (
            "    cy, cx = np.meshgrid(",
            "    p[:, :2] = sigmoid(p[:, :2])\n    p[:, 4:] = sigmoid(p[:, 4:])\n    cy, cx = np.meshgrid(",
        ),
        ("bx = stride * (sigmoid(p[:, 0]) + cx)", "bx = stride * (p[:, 0] + cx)"),
        ("by = stride * (sigmoid(p[:, 1]) + cy)", "by = stride * (p[:, 1] + cy)"),
        ("objectness = sigmoid(p[:, 4])", "objectness = p[:, 4]"),
        ("class_scores = objectness[:, None] * sigmoid(p[:, 5:])", "class_scores = objectness[:, None] * p[:, 5:]"),
    ),
)

FUNCTIONS = [
    "top_k_error",
    "box_iou",
    "nms",
    "batched_nms",
    "mean_average_precision",
    "conv_transpose_forward",
    "conv_transpose_backward",
    "bilinear_upsample",
    "ResidualBlock",
    "count_params_macs",
    "decode_predictions",
]


# ---------------------------------------------------------------------------------------------------------------
# Step 2, after the catalogue above was committed: the judgement of the messages (python -m tools.blind_report).
# ``named``: does the test's message name the mistake, so that a teacher reading it knows what to fix? Judged by
# reading each whole message (first lines in tools/blind_report.py's table). For an unnamed one, ``wanted`` is the
# message a teacher would want. ``gap``: a real mistake that passes the full test cell, and why.
# Each key is the start of one entry's description (checked to match exactly one entry).
# Step 3 (issues 20 and 23): the test cells were changed to name the 33 mistakes judged unnamed in step 2 (their
# ``wanted`` messages are in this file's history) and to catch the three gaps; each is now True, and a row of the
# misconception table in tests/test_assignment_04_cnn_architectures.py (``blind_variants``) checks its message.
# ---------------------------------------------------------------------------------------------------------------
NAMED = {
    # top_k_error
    "np.argsort's default (unstable) sort: ties": True,  # the tie hint names it
    "sorted in increasing order": True,
    "the last k of an increasing sort": True,
    "off by one: takes the k - 1": True,  # k = 2 in the first check: "only the best guess counts" is what it does
    "off by one: takes the k + 1": True,
    "returns the top-k accuracy": True,
    "returns the number of misses": True,
    "no guard for N = 0": True,
    "sorts along the wrong axis": True,
    "a hit when the label's score reaches": True,  # named as a tie-breaking mistake, which it is
    # box_iou
    'the VOC "+1" pixel convention': True,
    "the overlap's sides are not clamped": True,
    "the overlap area is clamped, not each side": True,
    "the union does not subtract": True,
    "boxes read as (x, y, width, height)": True,
    "no guard for an empty union": True,  # nan for the zero-area boxes it lists, "a division by zero"
    "min and max swapped": True,
    "no broadcasting": True,
    "a Python double loop over the boxes": True,
    "typo in the height": True,
    # nms
    "removes boxes with IoU >= threshold": True,
    "np.argsort's default (unstable) sort: equal scores not": True,
    "sorted in increasing score": True,
    "no sort at all": True,
    "suppressed boxes still suppress": True,
    "returns the kept indices sorted by index": True,
    "no dtype and no empty guard": True,
    "the comparison is inverted": True,
    "returns a boolean keep-mask": True,
    "marks processed boxes by overwriting": True,
    # batched_nms
    "class-agnostic: one nms": True,
    "the kept indices left grouped class by class": True,
    "the kept indices returned in index order": True,
    "ties across classes broken by class order": True,  # "right boxes, wrong order ... equal scores: lower index"
    "returns nms's indices within the class subset": True,
    "no empty guard: np.concatenate": True,
    "np.argsort's default (unstable) sort for the final merge": True,
    "the final merge sorts in increasing score": True,
    "the coordinate-offset trick with a fixed offset of 10": True,
    # mean_average_precision
    "the VOC2007 11-point": True,
    "no precision envelope": True,
    "duplicate detections all count": True,
    "strict IoU > threshold": True,
    "no global ranking": True,
    "ranking by a reversed increasing sort": True,
    "a prediction takes the first free": True,
    "a prediction whose best box is already taken": True,
    "AP averaged over the found objects only": True,
    "classes taken from the predictions and ground truth": True,
    # conv_transpose_forward
    "overlapping kernel copies overwrite": True,
    "the kernel is flipped (the convolution habit)": True,
    "the bias is forgotten": True,
    "weights read in conv2d's layout": True,
    "the padding is not cropped": True,
    "crops with full[ph:-ph]": True,
    "the textbook route": True,
    "stride and pad assumed to be ints": True,
    "the bias added along the last axis": True,
    "the row stride used for the columns too": True,
    # conv_transpose_backward
    "db is the mean of dout": True,
    "db summed over the batch only": True,
    "dw stored flipped": True,
    "dx uses the flipped kernel": True,
    "dout is not padded back": True,
    "dout put back at the top-left corner": True,
    "dx with the kernel's channel axes": True,
    "dx overwritten at each kernel offset": True,
    "dfull[ph:-ph] = dout": True,
    "the stride is ignored in the backward pass": True,
    # bilinear_upsample
    "the align_corners=True grid": True,
    "nearest neighbour": True,
    "no half-pixel offsets": True,
    "the source coordinate is not clamped at 0": True,
    "not clamped at 0 and truncated": True,
    "the scale inverted": True,
    "the column weights computed from the row sizes": True,
    "the two weights swapped": True,
    "the upper neighbour is not clamped": True,
    "Python loops over the output pixels": True,
    # ResidualBlock
    "the stride on conv2": True,
    "no ReLU after the addition": True,
    "the ReLU applied to the residual before": True,
    "the shortcut is never added": True,
    "the 3x3 convolutions keep their default bias": True,
    "BatchNorm momentum 0.9": True,
    "BatchNorm after the ReLU": True,
    "projection only when the stride changes": True,
    "the shortcut added in place into the caller's x": True,
    "copy-paste: bn1 used in both stages": True,
    # count_params_macs
    "FLOPs (2 per multiply-add)": True,
    "only trainable parameters": True,
    "counts each layer's weights once": True,
    "groups ignored": True,
    "the hooks are never removed": True,
    "the mode restored with model.train(previous)": True,
    "the counting pass runs in training mode": True,
    "a Linear layer costs in_features * out_features": True,
    "hooks only on the top-level children": True,
    "the kernel treated as square": True,
    # decode_predictions
    "the centre offsets t_x, t_y used without their sigmoid": True,
    "the anchor scaled by t_w, t_h themselves": True,
    "np.meshgrid's default xy indexing with the rows first": True,
    "each anchor read as (p_h, p_w)": True,
    "the corners one whole width and height from the centre": True,
    "the threshold applied to the objectness": True,  # "keep each box whose score, the objectness times ..."
    "a softmax over the classes": True,
    "a box kept when its score equals the threshold": True,
    "the class taken as the last of an argsort": True,  # the labels' tie hint: "equal scores: the lower class index"
    "the sigmoids written back into the reshaped raw": True,
}

GAPS: dict[str, str] = {}


judge(ENTRIES, NAMED, GAPS)
