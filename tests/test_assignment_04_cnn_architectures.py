"""Assignment 4 (CNN architectures, detection, segmentation): the reference against torch, and the
misconceptions.

The generic checks (reference passes, blank scores zero, points add up, the independent solution
earns full marks) run in tests/test_assignments.py. Here: the reference solutions against
torchvision.ops (box_iou, nms, batched_nms), F.conv_transpose2d with autograd, F.interpolate and
torchvision's BasicBlock and published counts, on shapes beyond the test cells'; the mean average
precision against COCO's evaluator (pycocotools, the test extra); the table of mistakes a teacher
expects with the phrase the visible test must name each by; the shortcuts the notebook's metadata
rules out; and the isolation of the test cells (a wrong upstream function costs only its own points).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision

from autograder.shortcuts import reached_shortcuts
from harness import Assignment, Misconception, from_source, mutate, solution_sources
from utils.references import architectures as ref

A = Assignment("04_cnn_architectures")
pytestmark = A.marks
SOLUTIONS = solution_sources(A)


@pytest.fixture(scope="module")
def ns() -> dict:
    return A.reference()


# --- the reference solutions against torch -----------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_reference_boxes_against_torchvision(ns, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    boxes = ref.random_boxes(rng, n, size=25, degenerate=0.15)
    other = ref.random_boxes(rng, int(rng.integers(0, 20)), size=25)
    np.testing.assert_allclose(ns["box_iou"](boxes, other), ref.box_iou(boxes, other), rtol=1e-12, atol=1e-14)
    for scores in (rng.random(n), rng.integers(0, 4, n).astype(float)):
        classes = rng.integers(0, 3, n)
        for thr in (0.0, 0.25, 0.5, 0.9):
            np.testing.assert_array_equal(ns["nms"](boxes, scores, thr), ref.nms(boxes, scores, thr))
            np.testing.assert_array_equal(
                ns["batched_nms"](boxes, scores, classes, thr), ref.batched_nms(boxes, scores, classes, thr)
            )


def test_reference_ties_follow_the_stated_rule(ns):
    """Equal scores: the lower index is kept first, and torchvision's order is made to agree."""
    boxes = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
    assert ns["nms"](boxes, np.ones(3), 0.5).tolist() == [0] == ref.nms(boxes, np.ones(3), 0.5).tolist()
    assert ns["top_k_error"](np.zeros((2, 3)), np.array([0, 2]), 1) == 0.5
    tied = np.random.default_rng(0).integers(0, 3, (200, 30)).astype(float)
    labels = np.random.default_rng(1).integers(0, 30, 200)
    for k in (1, 5):
        assert ns["top_k_error"](tied, labels, k) == ref.torch_top_k_error(tied, labels, k)


@pytest.mark.parametrize("seed", range(3))
def test_reference_top_k_against_torch_topk(ns, seed):
    rng = np.random.default_rng(seed)
    scores, labels = rng.standard_normal((200, 20)), rng.integers(0, 20, 200)
    for k in (1, 5, 20):
        top = torch.topk(torch.from_numpy(scores), k).indices.numpy()  # no ties in continuous scores
        expected = 1 - np.mean([labels[i] in top[i] for i in range(200)])
        assert ns["top_k_error"](scores, labels, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_reference_map_against_cocos_evaluator(ns, seed):
    """The all-point mAP equals pycocotools' COCOeval run with the recall points j / L (to rounding)."""
    rng = np.random.default_rng(100 + seed)
    for trial in range(25):
        thr = [0.5, 0.3, 0.75, 0.5, 0.1][trial % 5]
        case = ref.random_detections(rng, images=6, classes=4, max_gt=6, max_pred=12, iou_threshold=thr)
        got, coco = ns["mean_average_precision"](*case, iou_threshold=thr), ref.coco_all_point_map(*case, thr)
        assert (np.isnan(got) and np.isnan(coco)) or got == pytest.approx(coco, abs=1e-12), (seed, trial)


def test_the_hidden_map_values_are_cocos():
    """COCO's evaluator, handed in as the student's function, passes the whole test cell: the numbers the
    test quotes (visible and hidden) are what pycocotools computes."""
    outcome = A.run_test("mean_average_precision", replace={"mean_average_precision": ref.coco_all_point_map})
    assert outcome, outcome.message


def test_cocos_default_101_point_ap_is_named():
    """torchmetrics' MeanAveragePrecision(iou_thresholds=[0.5]) and COCOeval by default average the envelope at
    101 recall points: a different number, which the visible test names."""
    points = np.linspace(0.0, 1.0, 101)

    def coco_ap50(*args, iou_threshold=0.5):
        return ref.coco_all_point_map(*args, iou_threshold, recall_points=points)

    outcome = A.run_test("mean_average_precision", replace={"mean_average_precision": coco_ap50}, hidden=False)
    assert not outcome and "101-point" in outcome.message, outcome.message


@pytest.mark.parametrize("x_shape, w_shape, param", ref.random_transpose_configs(np.random.default_rng(7), 10))
def test_reference_transpose_against_autograd(ns, x_shape, w_shape, param):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1])
    out, cache = ns["conv_transpose_forward"](x, w, b, param)
    np.testing.assert_allclose(out, ref.conv_transpose(x, w, b, param), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for got, expected in zip(
        ns["conv_transpose_backward"](dout, cache), ref.conv_transpose_grads(x, w, b, param, dout)
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_reference_bilinear_against_interpolate(ns):
    rng = np.random.default_rng(2)
    for _ in range(20):
        x = rng.standard_normal((2, 2, int(rng.integers(1, 12)), int(rng.integers(1, 12))))
        size = (int(rng.integers(1, 30)), int(rng.integers(1, 30)))
        np.testing.assert_allclose(ns["bilinear_upsample"](x, size), ref.bilinear(x, size), rtol=1e-12, atol=1e-12)


def test_reference_block_and_counts_against_torchvision(ns):
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).double().eval()
    block = resnet.layer2[0]  # the projection block of a real ResNet-18
    mine = ns["ResidualBlock"](64, 128, stride=2).double().eval()
    mine.load_state_dict(block.state_dict(), strict=True)
    x = torch.randn(2, 64, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(mine(x).numpy(), block(x).numpy(), rtol=1e-12, atol=1e-12)
    params, macs = ns["count_params_macs"](resnet.float(), (3, 224, 224))
    assert (params, round(macs / 1e9, 3)) == ref.published_counts("resnet18")


# --- the visible tests name the typical mistakes -------------------------------------------------------

IOU_XYWH = """
def box_iou(boxes1, boxes2):
    b1 = np.asarray(boxes1, dtype=float).reshape(-1, 4)
    b2 = np.asarray(boxes2, dtype=float).reshape(-1, 4)
    return BOX_IOU(np.c_[b1[:, :2], b1[:, :2] + b1[:, 2:]], np.c_[b2[:, :2], b2[:, :2] + b2[:, 2:]])
"""

IOU_LOOPS = """
def box_iou(boxes1, boxes2):
    out = np.zeros((len(boxes1), len(boxes2)))
    for i in range(len(boxes1)):
        for j in range(len(boxes2)):
            out[i, j] = BOX_IOU(boxes1[i:i + 1], boxes2[j:j + 1])[0, 0]
    return out
"""

NMS_MASK = """
def nms(boxes, scores, iou_threshold):
    mask = np.zeros(len(boxes), dtype=bool)
    mask[NMS(boxes, scores, iou_threshold)] = True
    return mask
"""

NMS_BOXES = """
def nms(boxes, scores, iou_threshold):
    return np.asarray(boxes)[NMS(boxes, scores, iou_threshold)]
"""

BATCHED_AGNOSTIC = """
def batched_nms(boxes, scores, classes, iou_threshold):
    return nms(boxes, scores, iou_threshold)
"""

BILINEAR_ALIGN_CORNERS = """
def bilinear_upsample(x, out_size):
    H, W = x.shape[2:]

    def axis(n_in, n_out):
        src = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        low = np.minimum(np.floor(src).astype(int), n_in - 1)
        return low, np.minimum(low + 1, n_in - 1), src - low

    (r0, r1, a), (c0, c1, g) = axis(H, out_size[0]), axis(W, out_size[1])
    rows = (1 - a)[:, None] * x[:, :, r0, :] + a[:, None] * x[:, :, r1, :]
    return (1 - g) * rows[:, :, :, c0] + g * rows[:, :, :, c1]
"""

BILINEAR_NEAREST = """
def bilinear_upsample(x, out_size):
    H, W = x.shape[2:]
    rows = np.floor(np.arange(out_size[0]) * H / out_size[0]).astype(int)
    cols = np.floor(np.arange(out_size[1]) * W / out_size[1]).astype(int)
    return x[:, :, rows][:, :, :, cols]
"""

COUNT_WEIGHTS = """
def count_params_macs(model, input_shape):
    params = int(sum(p.numel() for p in model.parameters()))
    macs = int(sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))))
    return params, macs
"""


COUNT_COURSE_COUNTER = """
def count_params_macs(model, input_shape):
    from utils.architectures import macs

    return sum(p.numel() for p in model.parameters()), macs(model, input_shape)
"""

COUNT_FLOP_COUNTER = """
def count_params_macs(model, input_shape):
    from torch.utils.flop_counter import FlopCounterMode

    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_shape))
    for m, training in modes.items():
        m.training = training
    return int(sum(p.numel() for p in model.parameters())), int(counter.get_total_flops()) // 2
"""

BLOCK_SUBCLASS = """
from torchvision.models.resnet import BasicBlock


class ResidualBlock(BasicBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(out_channels))
        super().__init__(in_channels, out_channels, stride=stride, downsample=downsample)
"""

BLOCK_BORROWED_FORWARD = """
import torchvision


class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    forward = torchvision.models.resnet.BasicBlock.forward
"""

MAP_AGNOSTIC = """
def mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, iou_threshold=0.5):
    zeros = lambda labels: [np.zeros(np.size(l), dtype=np.int64) for l in labels]
    return MAP_REF(pred_boxes, pred_scores, zeros(pred_labels), gt_boxes, zeros(gt_labels), iou_threshold)
"""

MAP_OVER_IMAGES = """
def mean_average_precision(pred_boxes, pred_scores, pred_labels, gt_boxes, gt_labels, iou_threshold=0.5):
    one = lambda i: ([pred_boxes[i]], [pred_scores[i]], [pred_labels[i]], [gt_boxes[i]], [gt_labels[i]])
    per_image = [MAP_REF(*one(i), iou_threshold) for i in range(len(gt_boxes)) if np.size(gt_labels[i])]
    return float(np.mean(per_image)) if per_image else float("nan")
"""


def wrong_variants(solutions: dict[str, str]) -> list[tuple[str, str, str, str | None]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain)."""
    topk, iou, nms = solutions["top_k_error"], solutions["box_iou"], solutions["nms"]
    batched, fwd = solutions["batched_nms"], solutions["conv_transpose_forward"]
    back, bil = solutions["conv_transpose_backward"], solutions["bilinear_upsample"]
    block, count = solutions["ResidualBlock"], solutions["count_params_macs"]
    mean_ap = solutions["mean_average_precision"]
    ap_line = "average_precisions.append(np.sum(np.diff(recall, prepend=0.0) * envelope))"
    envelope = "envelope = np.maximum.accumulate(precision[::-1])[::-1]"
    ranking = 'ranked = hits[np.argsort(-scores, kind="stable")]'
    take = "taken[np.argmax(free)] = hits[k] = True"
    map_ref = mean_ap.replace("def mean_average_precision(", "def MAP_REF(")
    t_pad = "_, D, HH, WW = w.shape\n"
    pad_input = t_pad + "    np.pad(x, ((0, 0), (0, 0), (HH - 1 - ph,) * 2, (WW - 1 - pw,) * 2))\n"

    def interpolated(points):
        envelope_at = f"[precision[recall >= t].max(initial=0.0) for t in np.linspace(0, 1, {points})]"
        return f"average_precisions.append(np.mean({envelope_at}))"

    stable = 'np.argsort(-scores, axis=1, kind="stable")[:, :k]'
    nms_order = 'order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")'
    offset_w = 'np.einsum("nchw,cd->ndhw", x, w[:, :, u, v])'
    return [
        # -- top-k error
        ("topk-accuracy", "top_k_error", mutate(topk, "float(1.0 - hit.mean())", "float(hit.mean())"), "accuracy"),
        ("topk-ascending", "top_k_error", mutate(topk, stable, stable.replace("-scores", "scores")), "LOWEST"),
        ("topk-top1", "top_k_error", mutate(topk, stable, stable.replace(":k]", ":1]")), "only the best guess"),
        (
            "topk-count",
            "top_k_error",
            mutate(topk, "float(1.0 - hit.mean())", "float((~hit).sum())"),
            "number of misses",
        ),
        (
            "topk-ties-to-higher-index",
            "top_k_error",
            mutate(topk, stable, 'np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]'),
            "lower class index",
        ),
        (
            "topk-default-argsort",
            "top_k_error",
            mutate(topk, stable, "np.argsort(-scores, axis=1)[:, :k]"),
            "lower class index first",
        ),
        ("topk-empty", "top_k_error", mutate(topk, "        return 0.0\n", "        return float('nan')\n"), None),
        # -- IoU
        (
            "iou-plus-one",
            "box_iou",
            mutate(
                mutate(
                    mutate(iou, "(boxes1[:, 3] - boxes1[:, 1])", "(boxes1[:, 3] - boxes1[:, 1] + 1)"),
                    "(boxes1[:, 2] - boxes1[:, 0])",
                    "(boxes1[:, 2] - boxes1[:, 0] + 1)",
                )
                .replace("(boxes2[:, 2] - boxes2[:, 0])", "(boxes2[:, 2] - boxes2[:, 0] + 1)")
                .replace("(boxes2[:, 3] - boxes2[:, 1])", "(boxes2[:, 3] - boxes2[:, 1] + 1)"),
                "np.clip(bottom_right - top_left, 0, None)",
                "np.clip(bottom_right - top_left + 1, 0, None)",
            ),
            '"+1" pixel convention',
        ),
        (
            "iou-no-clamp",
            "box_iou",
            mutate(iou, "np.clip(bottom_right - top_left, 0, None)", "(bottom_right - top_left)"),
            "not clamped at 0",
        ),
        (
            "iou-clamp-area",
            "box_iou",
            mutate(
                mutate(iou, "np.clip(bottom_right - top_left, 0, None)", "(bottom_right - top_left)"),
                "inter = sides[..., 0] * sides[..., 1]",
                "inter = np.maximum(sides[..., 0] * sides[..., 1], 0)",
            ),
            "the area is clamped instead of each side",
        ),
        (
            "iou-union-double",
            "box_iou",
            mutate(iou, "area2[None, :] - inter", "area2[None, :]"),
            "counts the overlap twice",
        ),
        (
            "iou-min-area",
            "box_iou",
            mutate(iou, "area1[:, None] + area2[None, :] - inter", "np.minimum(area1[:, None], area2[None, :])"),
            "smaller area",
        ),
        ("iou-xywh", "box_iou", iou.replace("def box_iou(", "def BOX_IOU(") + IOU_XYWH, "(x, y, width, height)"),
        ("iou-loops", "box_iou", iou.replace("def box_iou(", "def BOX_IOU(") + IOU_LOOPS, "not vectorised"),
        (
            "iou-nan-for-empty-union",
            "box_iou",
            mutate(iou, "np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)", "inter / union"),
            None,
        ),
        # -- NMS
        (
            "nms-unsorted",
            "nms",
            mutate(nms, nms_order, "order = np.arange(len(boxes))"),
            "sort them by decreasing score",
        ),
        (
            "nms-ascending",
            "nms",
            mutate(nms, nms_order, nms_order.replace("-np.asarray", "np.asarray")),
            "lowest-scoring",
        ),
        ("nms-greater-equal", "nms", mutate(nms, "iou[i] > iou_threshold", "iou[i] >= iou_threshold"), "exactly equal"),
        (
            "nms-removed-boxes-suppress",
            "nms",
            mutate(
                nms,
                "        if removed[i]:\n            continue\n        kept.append(i)\n",
                "        if not removed[i]:\n            kept.append(i)\n",
            ),
            "already removed",
        ),
        (
            "nms-index-order",
            "nms",
            mutate(nms, "keep = np.array(kept, dtype=np.int64)", "keep = np.array(sorted(kept), dtype=np.int64)"),
            "kept indices are in index order",
        ),
        (
            "nms-ties-higher-index-first",
            "nms",
            mutate(
                nms,
                nms_order,
                "order = len(boxes) - 1 - np.argsort(-np.asarray(scores, dtype=float)[::-1], kind='stable')",
            ),
            "visit the higher index first",
        ),
        (
            "nms-default-argsort",
            "nms",
            mutate(nms, nms_order, "order = np.argsort(-np.asarray(scores, dtype=float))"),
            "not stable",
        ),
        ("nms-mask", "nms", nms.replace("def nms(", "def NMS(") + NMS_MASK, "boolean mask"),
        ("nms-boxes", "nms", nms.replace("def nms(", "def NMS(") + NMS_BOXES, "indices, not the boxes"),
        ("nms-empty-float", "nms", mutate(nms, "np.array(kept, dtype=np.int64)", "np.array(kept)"), None),
        # -- per-class NMS
        ("batched-agnostic", "batched_nms", BATCHED_AGNOSTIC, "different classes suppress each other"),
        (
            "batched-grouped-by-class",
            "batched_nms",
            mutate(
                batched,
                "keep = kept[np.lexsort((kept, -scores[kept]))].astype(np.int64)",
                "keep = kept.astype(np.int64)",
            ),
            "grouped by class",
        ),
        (
            "batched-index-order",
            "batched_nms",
            mutate(batched, "keep = kept[np.lexsort((kept, -scores[kept]))].astype(np.int64)", "keep = np.sort(kept)"),
            "index order",
        ),
        (
            "batched-ties-by-class",
            "batched_nms",
            mutate(batched, "np.lexsort((kept, -scores[kept]))", 'np.argsort(-scores[kept], kind="stable")'),
            None,
        ),
        # -- mean average precision
        ("map-11-point", "mean_average_precision", mutate(mean_ap, ap_line, interpolated(11)), "11-point"),
        ("map-101-point", "mean_average_precision", mutate(mean_ap, ap_line, interpolated(101)), "101-point"),
        (
            "map-no-envelope",
            "mean_average_precision",
            mutate(mean_ap, envelope, "envelope = precision"),
            "envelope is missing",
        ),
        (
            "map-envelope-from-the-start",
            "mean_average_precision",
            mutate(mean_ap, envelope, "envelope = np.maximum.accumulate(precision)"),
            "envelope runs the wrong way",
        ),
        ("map-gt-matched-twice", "mean_average_precision", mutate(mean_ap, take, "hits[k] = True"), "matched twice"),
        (
            "map-iou-strictly-greater",
            "mean_average_precision",
            mutate(mean_ap, "free.max() >= iou_threshold", "free.max() > iou_threshold"),
            "not >",
        ),
        ("map-ranked-per-image", "mean_average_precision", mutate(mean_ap, ranking, "ranked = hits"), "image by image"),
        (
            "map-ties-later-first",
            "mean_average_precision",
            mutate(mean_ap, ranking, 'ranked = hits[::-1][np.argsort(-scores[::-1], kind="stable")]'),
            "later prediction first",
        ),
        (
            "map-first-free-box",
            "mean_average_precision",
            mutate(mean_ap, take, "taken[np.argmax(free >= iou_threshold)] = hits[k] = True"),
            "FIRST free ground-truth box",
        ),
        (
            "map-best-box-or-nothing",
            "mean_average_precision",
            mutate(
                mean_ap,
                "free = np.where(taken, -1.0, iou[k])",
                "free = np.where(taken[np.argmax(iou[k])], -1.0, iou[k]) if len(gt) else iou[k]",
            ),
            "best box is already taken",
        ),
        ("map-classes-ignored", "mean_average_precision", map_ref + MAP_AGNOSTIC, "classes are ignored"),
        ("map-mean-over-images", "mean_average_precision", map_ref + MAP_OVER_IMAGES, "mean over images"),
        (
            "map-classes-without-ground-truth",
            "mean_average_precision",
            mutate(
                mutate(
                    mean_ap,
                    "[np.zeros(0, dtype=np.int64)] + gt_labels))",
                    "[np.zeros(0, dtype=np.int64)] + gt_labels + [np.asarray(l, dtype=np.int64).reshape(-1) "
                    "for l in pred_labels]))",
                ),
                "recall = true_positives / num_gt",
                "recall = true_positives / max(num_gt, 1)",
            ),
            "without ground truth",
        ),
        (
            "map-classes-without-predictions-dropped",
            "mean_average_precision",
            mutate(mean_ap, "        " + ap_line, "        if len(ranked): " + ap_line),
            "left out",
        ),
        (
            "map-no-nan",
            "mean_average_precision",
            mutate(mean_ap, 'else float("nan")', "else 0.0"),
            "is nan",
        ),
        # -- transposed convolution, forward
        (
            "tconv-assign",
            "conv_transpose_forward",
            mutate(fwd, "] += np.einsum(", "] = np.einsum("),
            "overwrite each other",
        ),
        (
            "tconv-no-crop",
            "conv_transpose_forward",
            mutate(fwd, "out = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw] +", "out = full +"),
            "padding is not removed",
        ),
        (
            "tconv-flipped",
            "conv_transpose_forward",
            mutate(fwd, offset_w, offset_w.replace("[:, :, u, v]", "[:, :, HH - 1 - u, WW - 1 - v]")),
            "kernel is flipped",
        ),
        (
            "tconv-pad-input",
            "conv_transpose_forward",
            mutate(fwd, t_pad, pad_input),
            "larger than the kernel minus one",
        ),
        ("tconv-no-bias", "conv_transpose_forward", mutate(fwd, " + b.reshape(1, D, 1, 1)", ""), "bias is missing"),
        (
            "tconv-weight-layout",
            "conv_transpose_forward",
            mutate(fwd, offset_w, offset_w.replace("[:, :, u, v]", "[:, :, u, v].T")),
            "(C_out, C_in, HH, WW)",
        ),
        # -- transposed convolution, backward
        (
            "tconv-db-mean",
            "conv_transpose_backward",
            mutate(back, "dout.sum(axis=(0, 2, 3))", "dout.mean(axis=(0, 2, 3))"),
            "mean of dout",
        ),
        (
            "tconv-db-shape",
            "conv_transpose_backward",
            mutate(back, "dout.sum(axis=(0, 2, 3))", "dout.sum(axis=0)"),
            "over the batch AND",
        ),
        (
            "tconv-dw-flipped",
            "conv_transpose_backward",
            mutate(back, "dw[:, :, u, v] =", "dw[:, :, HH - 1 - u, WW - 1 - v] ="),
            "dw is flipped",
        ),
        (
            "tconv-dw-mean",
            "conv_transpose_backward",
            mutate(back, 'np.einsum("nchw,ndhw->cd", x, window)', 'np.einsum("nchw,ndhw->cd", x, window) / N'),
            "averaged over the batch",
        ),
        (
            "tconv-dx-flipped",
            "conv_transpose_backward",
            mutate(back, "window, w[:, :, u, v])", "window, w[:, :, HH - 1 - u, WW - 1 - v])"),
            "flipped kernel",
        ),
        (
            "tconv-back-pad-input",
            "conv_transpose_backward",
            mutate(back, t_pad, pad_input),
            "larger than the kernel minus one",
        ),
        # -- bilinear upsampling
        ("bilinear-align-corners", "bilinear_upsample", BILINEAR_ALIGN_CORNERS, "align_corners=True"),
        ("bilinear-nearest", "bilinear_upsample", BILINEAR_NEAREST, "nearest-neighbour"),
        (
            "bilinear-no-half-pixel",
            "bilinear_upsample",
            mutate(bil, "(np.arange(n_out) + 0.5) * n_in / n_out - 0.5", "np.arange(n_out) * n_in / n_out"),
            "half-pixel",
        ),
        (
            "bilinear-no-clamp",
            "bilinear_upsample",
            mutate(bil, "np.maximum((np.arange", "((np.arange").replace(" - 0.5, 0.0)", " - 0.5)"),
            "floor gives -1",
        ),
        # -- the residual block
        (
            "block-no-final-relu",
            "ResidualBlock",
            mutate(block, "out = self.relu(out + identity)", "out = out + identity"),
            "final ReLU is missing",
        ),
        (
            "block-relu-before-add",
            "ResidualBlock",
            mutate(block, "out = self.relu(out + identity)", "out = self.relu(out) + identity"),
            "before the addition",
        ),
        (
            "block-no-shortcut",
            "ResidualBlock",
            mutate(block, "out = self.relu(out + identity)", "out = self.relu(out)"),
            "shortcut is missing",
        ),
        (
            "block-conv-bias",
            "ResidualBlock",
            mutate(block, "padding=1, bias=False)\n        self.bn1", "padding=1, bias=True)\n        self.bn1"),
            "The convolutions have no bias",
        ),
        (
            "block-stride-on-conv2",
            "ResidualBlock",
            mutate(
                mutate(block, "3, stride=stride, padding=1", "3, padding=1"),
                "nn.Conv2d(out_channels, out_channels, 3, padding=1",
                "nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1",
            ),
            "the stride is on conv2",
        ),
        (
            "block-bn-momentum",
            "ResidualBlock",
            mutate(
                block,
                "self.bn1 = nn.BatchNorm2d(out_channels)",
                "self.bn1 = nn.BatchNorm2d(out_channels, momentum=0.01)",
            ),
            "running_mean after a forward pass in training mode",
        ),
        ("block-torchvision-subclass", "ResidualBlock", BLOCK_SUBCLASS, "uses torchvision's BasicBlock"),
        ("block-torchvision-forward", "ResidualBlock", BLOCK_BORROWED_FORWARD, "uses torchvision's BasicBlock"),
        (
            "block-always-project",
            "ResidualBlock",
            mutate(block, "if stride != 1 or in_channels != out_channels:", "if True:"),
            "downsample = None",
        ),
        (
            "block-never-project",
            "ResidualBlock",
            mutate(block, "if stride != 1 or in_channels != out_channels:", "if False:"),
            "needs a projection shortcut",
        ),
        (
            "block-projection-without-bn",
            "ResidualBlock",
            mutate(
                block,
                "stride=stride, bias=False),\n" + " " * 44 + "nn.BatchNorm2d(out_channels))",
                "stride=stride, bias=False))",
            ),
            "missing: ['downsample.1.bias'",
        ),
        (
            "block-3x3-projection",
            "ResidualBlock",
            mutate(
                block,
                "out_channels, 1, stride=stride, bias=False",
                "out_channels, 3, stride=stride, padding=1, bias=False",
            ),
            "downsample.0.weight has shape",
        ),
        # -- counting
        (
            "count-flops",
            "count_params_macs",
            mutate(count, "macs = int(sum(counts))", "macs = int(2 * sum(counts))"),
            "FLOPs",
        ),
        (
            "count-ignore-groups",
            "count_params_macs",
            mutate(count, "(module.in_channels // module.groups)", "module.in_channels"),
            "grouped convolutions",
        ),
        ("count-weights-only", "count_params_macs", COUNT_WEIGHTS, "number of weights"),
        (
            "count-trainable-only",
            "count_params_macs",
            mutate(
                count,
                "p.numel() for p in model.parameters())",
                "p.numel() for p in model.parameters() if p.requires_grad)",
            ),
            "frozen parameters (requires_grad=False) are left out",
        ),
        (
            "count-state-dict",
            "count_params_macs",
            mutate(
                count,
                "params = int(sum(p.numel() for p in model.parameters()))",
                "params = int(sum(v.numel() for v in model.state_dict().values()))",
            ),
            "buffers are counted (model.buffers() or model.state_dict()",
        ),
        ("count-hooks-left", "count_params_macs", mutate(count, "handle.remove()", "pass"), "still registered"),
        (
            "count-mode-not-restored",
            "count_params_macs",
            mutate(count, "            module.training = training\n", "            pass\n"),
            "leave the model in the training mode it had",
        ),
        (
            "count-mode-of-the-whole-model",
            "count_params_macs",
            mutate(
                count,
                "        for module, training in modes.items():\n            module.training = training\n",
                "        model.train(modes[model])\n",
            ),
            "put each one back in its own mode",
        ),
        (
            "count-in-training-mode",
            "count_params_macs",
            mutate(count, "    model.eval()\n", ""),
            "running statistics",
        ),
        ("count-course-counter", "count_params_macs", COUNT_COURSE_COUNTER, "without a forward hook"),
        ("count-flop-counter-mode", "count_params_macs", COUNT_FLOP_COUNTER, "without a forward hook"),
        (
            "count-exact-types",
            "count_params_macs",
            mutate(count, "if isinstance(m, (nn.Conv2d, nn.Linear))]", "if type(m) in (nn.Conv2d, nn.Linear)]"),
            "without a forward hook",
        ),
        (
            "count-no-linear",
            "count_params_macs",
            mutate(count, "isinstance(m, (nn.Conv2d, nn.Linear))]", "isinstance(m, nn.Conv2d)]"),
            None,
        ),
    ]


DECODE_LOOPS = """
def decode_predictions(raw, anchors, stride, score_threshold):
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    B, (S_h, S_w) = len(anchors), raw.shape[1:]
    t = raw.reshape(B, -1, S_h, S_w)
    boxes, scores, labels = [], [], []
    for b in range(B):
        for r in range(S_h):
            for c in range(S_w):
                v = t[b, :, r, c]
                p = 1 / (1 + np.exp(-v[4])) / (1 + np.exp(-v[5:]))
                if p.max() > score_threshold:
                    x, y = (1 / (1 + np.exp(-v[0])) + c) * stride, (1 / (1 + np.exp(-v[1])) + r) * stride
                    w, h = anchors[b, 0] * np.exp(v[2]), anchors[b, 1] * np.exp(v[3])
                    boxes.append([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
                    scores.append(p.max())
                    labels.append(int(p.argmax()))
    return np.array(boxes).reshape(-1, 4), np.array(scores), np.array(labels, dtype=np.int64)
"""


def decode_variants(solutions: dict[str, str]) -> list[tuple[str, str, str, str | None]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain) for
    decode_predictions: one row for each mistake ``ref.DECODE_MISTAKES`` computes, and a few more."""
    decode = solutions["decode_predictions"]
    x_line, y_line = "centre_x = (sigmoid(t[:, 0]) + cols) * stride", "centre_y = (sigmoid(t[:, 1]) + rows) * stride"
    w_line = "width = anchors[:, 0, None, None] * np.exp(t[:, 2])"
    h_line = "height = anchors[:, 1, None, None] * np.exp(t[:, 3])"
    score_line = "class_scores = sigmoid(t[:, 4:5]) * sigmoid(t[:, 5:])"
    corners = "corners = [centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2]"
    kept = "boxes = np.stack(corners, axis=-1)[keep]\n    scores, labels = scores[keep], labels[keep].astype(np.int64)"
    cell_first = (
        "keep = keep.transpose(1, 2, 0)\n    boxes = np.stack(corners, axis=-1).transpose(1, 2, 0, 3)[keep]\n"
        "    scores, labels = scores.transpose(1, 2, 0)[keep], labels.transpose(1, 2, 0)[keep].astype(np.int64)"
    )

    def both(source, pairs):
        for old, new in pairs:
            source = mutate(source, old, new)
        return source

    cell = "decode_predictions"
    return [
        (
            "decode-offsets-without-sigmoid",
            cell,
            both(
                decode,
                [
                    (x_line, x_line.replace("sigmoid(t[:, 0])", "t[:, 0]")),
                    (y_line, y_line.replace("sigmoid(t[:, 1])", "t[:, 1]")),
                ],
            ),
            "centre offsets have no sigmoid",
        ),
        (
            "decode-scale-without-exp",
            cell,
            both(
                decode,
                [
                    (w_line, w_line.replace("np.exp(t[:, 2])", "t[:, 2]")),
                    (h_line, h_line.replace("np.exp(t[:, 3])", "t[:, 3]")),
                ],
            ),
            "scaled by t_w itself",
        ),
        (
            "decode-rows-and-columns-swapped",
            cell,
            mutate(decode, "rows, cols = np.meshgrid", "cols, rows = np.meshgrid"),
            "x and y of the cells are swapped",
        ),
        (
            "decode-anchors-times-stride",
            cell,
            both(
                decode,
                [
                    (w_line, w_line.replace("width = ", "width = stride * ")),
                    (h_line, h_line.replace("height = ", "height = stride * ")),
                ],
            ),
            "anchors are multiplied by the stride",
        ),
        (
            "decode-centre-in-grid-units",
            cell,
            both(decode, [(x_line, x_line.replace(" * stride", "")), (y_line, y_line.replace(" * stride", ""))]),
            "centres are in cells, not pixels",
        ),
        (
            "decode-cell-centre-added",
            cell,
            both(
                decode,
                [
                    (x_line, x_line.replace("+ cols)", "+ cols + 0.5)")),
                    (y_line, y_line.replace("+ rows)", "+ rows + 0.5)")),
                ],
            ),
            "half a cell is added",
        ),
        (
            "decode-score-is-objectness",
            cell,
            mutate(decode, "scores = class_scores.max(axis=1)", "scores = sigmoid(t[:, 4])"),
            "score is the objectness alone",
        ),
        (
            "decode-score-is-class-probability",
            cell,
            mutate(decode, score_line, "class_scores = sigmoid(t[:, 5:])"),
            "score is the class probability alone",
        ),
        (
            "decode-softmax-classes",
            cell,
            mutate(
                decode,
                score_line,
                score_line.replace(
                    "sigmoid(t[:, 5:])", "np.exp(t[:, 5:]) / np.exp(t[:, 5:]).sum(axis=1, keepdims=True)"
                ),
            ),
            "softmax",
        ),
        (
            "decode-objectness-without-sigmoid",
            cell,
            mutate(decode, score_line, score_line.replace("sigmoid(t[:, 4:5])", "t[:, 4:5]")),
            "used as it is",
        ),
        (
            "decode-centre-and-size",
            cell,
            mutate(decode, corners, "corners = [centre_x, centre_y, width, height]"),
            "(centre x, centre y, width, height)",
        ),
        (
            "decode-channels-class-first",
            cell,
            mutate(decode, ".reshape(B, -1, S_h, S_w)", ".reshape(-1, B, S_h, S_w).transpose(1, 0, 2, 3)"),
            "read as (5 + C, B)",
        ),
        (
            "decode-kept-at-threshold",
            cell,
            mutate(decode, "keep = scores > score_threshold", "keep = scores >= score_threshold"),
            "equals the threshold is kept",
        ),
        ("decode-cell-then-anchor-order", cell, mutate(decode, kept, cell_first), "cell by cell"),
        (
            "decode-float-labels",
            cell,
            mutate(decode, "labels[keep].astype(np.int64)", "labels[keep].astype(float)"),
            "must be integers",
        ),
        (
            "decode-lists",
            cell,
            mutate(decode, "return boxes, scores, labels", "return boxes.tolist(), scores.tolist(), labels.tolist()"),
            "three numpy arrays",
        ),
        ("decode-loops", cell, DECODE_LOOPS, "not vectorised"),
        (
            "decode-ties-to-the-higher-class",
            cell,
            mutate(
                decode,
                "labels = class_scores.argmax(axis=1)",
                "labels = class_scores.shape[1] - 1 - class_scores[:, ::-1].argmax(axis=1)",
            ),
            None,
        ),
    ]


BATCHED_FIXED_OFFSET = """
def batched_nms(boxes, scores, classes, iou_threshold):
    shifted = np.asarray(boxes, dtype=float) + 10.0 * np.asarray(classes, dtype=float)[:, None]
    return nms(shifted, scores, iou_threshold)
"""


def blind_variants(solutions: dict[str, str]) -> list[tuple[str, str, str, str | None]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain) for the
    mistakes of the blind catalogue (tests/blind/a04_cnn_architectures.py) that the test cells once caught
    without naming, or let through: each written here as an edit of the reference solution."""
    topk, iou, nms = solutions["top_k_error"], solutions["box_iou"], solutions["nms"]
    batched, fwd = solutions["batched_nms"], solutions["conv_transpose_forward"]
    back, bil = solutions["conv_transpose_backward"], solutions["bilinear_upsample"]
    block, count, mean_ap = (
        solutions["ResidualBlock"],
        solutions["count_params_macs"],
        solutions["mean_average_precision"],
    )
    decode = solutions["decode_predictions"]
    stable = 'np.argsort(-scores, axis=1, kind="stable")[:, :k]'
    pairs = 'pair(param.get("stride", 1)), pair(param.get("pad", 0))'
    padded = "full = np.pad(dout, ((0, 0), (0, 0), (ph, ph), (pw, pw)))"
    source = "np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)"
    w_line = "width = anchors[:, 0, None, None] * np.exp(t[:, 2])"
    h_line = "height = anchors[:, 1, None, None] * np.exp(t[:, 3])"
    corners = "corners = [centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2]"

    def edits(text, *changes):
        for old, new in changes:
            text = mutate(text, old, new)
        return text

    return [
        # -- top-k error
        ("topk-k-plus-one", "top_k_error", mutate(topk, stable, stable.replace(":k]", ":k + 1]")), "k + 1 best"),
        (
            "topk-sorted-over-images",
            "top_k_error",
            mutate(topk, stable, stable.replace("axis=1", "axis=0")),
            "sorted down the columns",
        ),
        # -- IoU
        (
            "iou-enclosing-box",
            "box_iou",
            edits(
                iou,
                ("top_left = np.maximum(", "top_left = np.minimum("),
                ("bottom_right = np.minimum(", "bottom_right = np.maximum("),
            ),
            "min and max are swapped",
        ),
        (
            "iou-matching-pairs-only",
            "box_iou",
            edits(
                iou,
                ("boxes1[:, None, :2], boxes2[None, :, :2]", "boxes1[:, :2], boxes2[:, :2]"),
                ("boxes1[:, None, 2:], boxes2[None, :, 2:]", "boxes1[:, 2:], boxes2[:, 2:]"),
                ("area1[:, None] + area2[None, :]", "area1 + area2"),
            ),
            "compare every pair with broadcasting",
        ),
        (
            "iou-area-typo",
            "box_iou",
            edits(
                iou,
                ("(boxes1[:, 3] - boxes1[:, 1])", "(boxes1[:, 3] - boxes1[:, 0])"),
                ("(boxes2[:, 3] - boxes2[:, 1])", "(boxes2[:, 3] - boxes2[:, 0])"),
            ),
            "the areas of the boxes are not",
        ),
        # -- NMS
        ("nms-inverted", "nms", mutate(nms, "iou[i] > iou_threshold", "iou[i] < iou_threshold"), "is inverted"),
        (
            "nms-overwrites-scores",
            "nms",
            mutate(nms, "        kept.append(i)\n", "        kept.append(i)\n        scores[i] = -np.inf\n"),
            "changed its inputs",
        ),
        (
            "batched-subset-positions",
            "batched_nms",
            mutate(
                batched,
                "kept.append(members[nms(boxes[members], scores[members], iou_threshold)])",
                "kept.append(nms(boxes[members], scores[members], iou_threshold))",
            ),  # fmt: skip
            "inside each class's subset",
        ),
        ("batched-fixed-offset", "batched_nms", BATCHED_FIXED_OFFSET, "fixed offset of 10 per class"),
        # only the hidden part has no boxes: HIDDEN_PHRASES holds what its message must say
        ("batched-empty", "batched_nms", mutate(batched, "kept = [np.zeros(0, dtype=np.int64)]", "kept = []"), None),
        # -- mean average precision
        (
            "map-found-objects-only",
            "mean_average_precision",
            mutate(
                mean_ap,
                "recall = true_positives / num_gt",
                "recall = true_positives / max(true_positives[-1] if len(ranked) else 0, 1)",
            ),
            "no prediction finds does not lower",
        ),
        # -- transposed convolution, forward
        (
            "tconv-crop-minus-p",
            "conv_transpose_forward",
            mutate(fwd, "full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]", "full[:, :, ph:-ph, pw:-pw]"),
            "0:-0",
        ),
        (
            "tconv-int-stride-and-pad",
            "conv_transpose_forward",
            mutate(
                fwd,
                f"(sh, sw), (ph, pw) = {pairs}",
                'sh = sw = param.get("stride", 1)\n    ph = pw = param.get("pad", 0)',
            ),
            "stride and pad may be pairs",
        ),
        (
            "tconv-bias-last-axis",
            "conv_transpose_forward",
            mutate(fwd, " + b.reshape(1, D, 1, 1)", " + b"),
            "added along the last axis",
        ),
        (
            "tconv-row-stride-for-columns",
            "conv_transpose_forward",
            mutate(fwd, f"(sh, sw), (ph, pw) = {pairs}", f"(sh, sw), (ph, pw) = {pairs}\n    sw = sh"),
            "the columns use the row stride",
        ),
        # -- transposed convolution, backward
        ("tconv-back-not-padded", "conv_transpose_backward", mutate(back, padded, "full = dout"), "cropped output"),
        (
            "tconv-back-top-left",
            "conv_transpose_backward",
            mutate(back, padded, "full = np.pad(dout, ((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw)))"),
            "top-left corner",
        ),
        (
            "tconv-back-empty-slice",
            "conv_transpose_backward",
            mutate(
                back,
                padded,
                "full = np.zeros((N, D, (H - 1) * sh + HH, (W - 1) * sw + WW))\n    full[:, :, ph:-ph, pw:-pw] = dout",
            ),
            "0:-0",
        ),
        (
            "tconv-back-layout",
            "conv_transpose_backward",
            mutate(back, '"ndhw,cd->nchw"', '"ndhw,dc->nchw"'),
            "first call with C_in != C_out",
        ),
        (
            "tconv-back-dx-overwritten",
            "conv_transpose_backward",
            mutate(back, "dx += np.einsum(", "dx = np.einsum("),
            "last kernel offset's term",
        ),
        (
            "tconv-back-stride-ignored",
            "conv_transpose_backward",
            mutate(
                back,
                "window = full[:, :, u:u + sh * (H - 1) + 1:sh, v:v + sw * (W - 1) + 1:sw]",
                "window = full[:, :, u:u + H, v:v + W]",
            ),
            "contiguous slices of dout",
        ),
        # -- bilinear upsampling
        (
            "bilinear-no-clamp-truncated",
            "bilinear_upsample",
            edits(
                bil,
                (source, source.replace("np.maximum(", "(").replace(", 0.0)", ")")),
                ("np.floor(src).astype(int)", "src.astype(int)"),
            ),  # fmt: skip
            "truncated toward 0",
        ),
        (
            "bilinear-scale-inverted",
            "bilinear_upsample",
            edits(
                bil,
                (source, source.replace("* n_in / n_out", "* n_out / n_in")),
                ("np.floor(src).astype(int)", "np.minimum(np.floor(src).astype(int), n_in - 1)"),
            ),
            "scale is inverted",
        ),
        ("bilinear-columns-from-rows", "bilinear_upsample", mutate(bil, "axis(W, W_out)", "axis(H, W_out)"), "size H"),
        (
            "bilinear-weights-swapped",
            "bilinear_upsample",
            mutate(bil, "return low, high, src - low", "return low, high, 1 - (src - low)"),
            "weights are swapped",
        ),
        (
            "bilinear-upper-neighbour-unclamped",
            "bilinear_upsample",
            mutate(bil, "high = np.minimum(low + 1, n_in - 1)", "high = low + 1"),
            "pixel after the last one",
        ),
        # -- the residual block
        (
            "block-bn-after-relu",
            "ResidualBlock",
            mutate(block, "out = self.relu(self.bn1(self.conv1(x)))", "out = self.bn1(self.relu(self.conv1(x)))"),
            "BatchNorm after the ReLU",
        ),
        (
            "block-bn1-twice",
            "ResidualBlock",
            mutate(block, "out = self.bn2(self.conv2(out))", "out = self.bn1(self.conv2(out))"),
            "bn1 normalises the second convolution",
        ),
        (
            "block-shortcut-in-place",
            "ResidualBlock",
            mutate(block, "out = self.relu(out + identity)", "identity += out\n        out = self.relu(identity)"),
            "changed the x it was given",
        ),
        (
            "block-detached-shortcut",
            "ResidualBlock",
            mutate(block, "identity = x if self.downsample", "identity = x.detach() if self.downsample"),
            "a path is cut from autograd",
        ),
        # -- counting
        (
            "count-linear-weights-once",
            "count_params_macs",
            mutate(
                count,
                "counts.append(output.numel() * module.in_features)",
                "counts.append(module.in_features * module.out_features)",
            ),
            "applied to T positions",
        ),
        (
            "count-top-level-children",
            "count_params_macs",
            mutate(count, "for m in model.modules() if isinstance(", "for m in model.children() if isinstance("),
            "direct children",
        ),
        (
            "count-square-kernel",
            "count_params_macs",
            mutate(count, "module.kernel_size[0] * module.kernel_size[1]", "module.kernel_size[0] ** 2"),
            "counted as square",
        ),
        # -- decoding
        (
            "decode-anchors-swapped",
            "decode_predictions",
            edits(
                decode,
                (w_line, w_line.replace("anchors[:, 0", "anchors[:, 1")),
                (h_line, h_line.replace("anchors[:, 1", "anchors[:, 0")),
            ),
            "read as (p_h, p_w)",
        ),
        (
            "decode-corners-full-size",
            "decode_predictions",
            mutate(decode, corners, corners.replace(" / 2", "")),
            "a whole width and height",
        ),
        (
            "decode-meshgrid-xy",
            "decode_predictions",
            mutate(decode, ', indexing="ij")', ")"),
            "indexes 'xy' by default",
        ),
    ]


MISCONCEPTIONS = [
    Misconception(name, test, from_source(source), phrase)
    for name, test, source, phrase in wrong_variants(SOLUTIONS) + decode_variants(SOLUTIONS) + blind_variants(SOLUTIONS)
]

# Mistakes that only the hidden part can catch (the visible part has no such input), and what its message must say.
HIDDEN_PHRASES = {
    "batched-empty": "nothing to concatenate",
}


# np.argsort's default sort is not stable, but where it happens to give the stable order on the visible
# inputs (another numpy, another CPU) there is no mistake to catch.
MACHINE_DEPENDENT = {"topk-default-argsort", "nms-default-argsort"}


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught_and_named(mistake):
    if mistake.name in MACHINE_DEPENDENT and A.run_test(mistake.test, replace=mistake.replace, hidden=False):
        pytest.skip("numpy's default sort gives the stable order on these inputs here")
    A.check_misconception(mistake)


@pytest.mark.parametrize("name", sorted(HIDDEN_PHRASES))
def test_a_mistake_only_the_hidden_part_catches_is_named_there(name):
    mistake = next(m for m in MISCONCEPTIONS if m.name == name)
    full = A.run_test(mistake.test, replace=mistake.replace)
    assert not full and full.kind == "AssertionError", (name, full.kind, full.message)
    assert HIDDEN_PHRASES[name].lower() in full.message.lower(), (name, full.message)


def test_a_wrong_scalar_is_not_called_a_constant_factor():
    """Any wrong number is the right one times a constant: assert_close says so only across several elements."""
    for name in ("topk-k-plus-one", "topk-sorted-over-images", "map-found-objects-only"):
        mistake = next(m for m in MISCONCEPTIONS if m.name == name)
        message = A.run_test(mistake.test, replace=mistake.replace, hidden=False).message
        assert "times a constant" not in message, (name, message)


# Raising mistakes planted in functions the test cells call directly (not only through a check of utils): each
# message names the call with its inputs, the student's line and the likely cause, never a bare traceback.
RAISING = {
    "top_k_error": (
        mutate(SOLUTIONS["top_k_error"], "(top == labels[:, None])", "(top == labels)"),
        [
            "top_k_error(scores of shape (50, 10), labels of shape (50,), k=2) raised ValueError",
            "It was raised in your code, in top_k_error (line",
            "Likely cause: numpy cannot combine arrays of shapes (50, 2) (made inside your function) and (50,) (the "
            "shape of labels)",
        ],
    ),
    "ResidualBlock": (
        mutate(
            SOLUTIONS["ResidualBlock"],
            "identity = x if self.downsample is None else self.downsample(x)",
            "identity = x",
        ),
        [
            "the forward pass of ResidualBlock(4, 8, stride=2) in eval mode on x of shape (2, 4, 7, 7) raised "
            "RuntimeError",
            "It was raised in your code, in forward (line",
            "Likely cause: the residual and x have different shapes here",
            "the shortcut is downsample(x), not x",
        ],
    ),
    "count_params_macs": (
        mutate(SOLUTIONS["count_params_macs"], "        if isinstance(module, nn.Conv2d):\n", "        if True:\n"),
        [
            "count_params_macs on a small CNN on 8x8 images (in training mode) with input_shape=(1, 8, 8) raised "
            "AttributeError: 'Linear' object has no attribute 'in_channels'",
            "It was raised in your code, in hook (line",
        ],
    ),
    "mean_average_precision": (
        mutate(SOLUTIONS["mean_average_precision"], "gt_labels, iou_threshold=0.5):", "gt_labels, threshold=0.5):"),
        [
            "mean_average_precision of one perfect detection (1 image(s), 1 prediction(s), 1 ground-truth box(es), "
            "iou_threshold=0.5) raised TypeError",
            "Likely cause: the threshold is passed by name, iou_threshold=...",
        ],
    ),
}


@pytest.mark.parametrize("function", list(RAISING))
def test_a_direct_call_that_raises_names_the_call_the_line_and_the_cause(function):
    source, words = RAISING[function]
    outcome = A.run_test(function, replace=from_source(source), hidden=False)
    assert not outcome and outcome.kind == "AssertionError", (outcome.kind, outcome.message)
    for text in words:
        assert text in outcome.message, (text, outcome.message)
    assert "Traceback" not in outcome.message


def test_an_error_from_the_graders_clean_room_keeps_its_words_hidden():
    """Outside the kernel the grader brings a student's exception back from the clean room with ``raised_in`` set;
    checked_call names such an error without its words (they could carry a hidden input), and words only the errors
    raised in the student's own kernel."""
    from utils.references import checked_call

    def from_the_room(boxes):
        error = ValueError("the hidden boxes were [[1.0, 2.0, 3.0, 4.0]]")
        error.raised_in = "nms()"
        raise error

    with pytest.raises(AssertionError) as raised:
        checked_call(from_the_room, np.zeros((1, 4)), what="nms(boxes of shape (1, 4))")
    message = str(raised.value)
    assert "hidden boxes" not in message and "nms(boxes of shape (1, 4)) raised ValueError where" in message, message
    with pytest.raises(AssertionError, match=r"nms\(boxes of shape \(1, 4\)\) raised IndexError: index 5"):
        checked_call(lambda boxes: boxes[5], np.zeros((1, 4)), what="nms(boxes of shape (1, 4))")


def test_a_parameter_count_is_explained_only_by_its_own_difference():
    """The count cell adds param_mistake's line under a wrong parameter count (the frozen parameters, the buffers:
    rows of the table above); a count off by an amount no counting mistake explains gets no 'Likely mistake' line."""
    one_more = mutate(
        SOLUTIONS["count_params_macs"],
        "params = int(sum(p.numel() for p in model.parameters()))",
        "params = int(sum(p.numel() for p in model.parameters())) + 1",
    )
    outcome = A.run_test("count_params_macs", replace=from_source(one_more), hidden=False)
    assert not outcome and "539 parameters, expected 538." in outcome.message, outcome.message
    assert "Likely mistake" not in outcome.message, outcome.message


def test_a_raised_error_names_the_call_the_line_and_the_cause():
    """A numpy error inside the student's function becomes a message: which call, which of their lines, and why."""
    mistake = next(m for m in MISCONCEPTIONS if m.name == "iou-matching-pairs-only")
    message = A.run_test(mistake.test, replace=mistake.replace, hidden=False).message
    assert "box_iou(boxes1 of shape (2, 4), boxes2 of shape (4, 4)) raised ValueError" in message, message
    assert "It was raised in your code, in box_iou (line" in message, message
    assert "Likely cause: boxes1 and boxes2 hold different numbers of boxes (2 and 4)" in message, message


# Answers that two mistakes give alike, where the message rightly names both: 0.0 for no ground truth at all is
# a mean over nothing taken as 0, or a class without ground truth counted as AP 0.
# NMS visiting the boxes in index order and returning sorted indices keep the same boxes in one example.
AMBIGUOUS = {
    frozenset(("map-no-nan", "map-classes-without-ground-truth")),
    frozenset(("nms-unsorted", "nms-index-order")),
}


@pytest.mark.parametrize("mistake", [m for m in MISCONCEPTIONS if m.phrase], ids=str)
def test_a_hint_fires_only_for_its_own_mistake(mistake):
    """The visible message of one mistake names no other mistake of the same test cell."""
    if mistake.name in MACHINE_DEPENDENT:
        pytest.skip("machine-dependent")
    message = A.run_test(mistake.test, replace=mistake.replace, hidden=False).message.lower()
    others = {
        m.phrase.lower()
        for m in MISCONCEPTIONS
        if m.test == mistake.test
        and m.phrase
        and m.phrase != mistake.phrase
        and frozenset((m.name, mistake.name)) not in AMBIGUOUS
    }
    wrong = sorted(p for p in others if p in message and p not in mistake.phrase.lower())
    assert not wrong, f"{mistake}: the message also names {wrong}:\n{message}"


def test_the_stride_hint_needs_a_misplaced_stride():
    """ "torchvision puts the stride on conv1" only when the stride is on conv2, and never for stride 1."""
    for mistake in MISCONCEPTIONS:
        if mistake.test == "ResidualBlock" and mistake.name != "block-stride-on-conv2":
            message = A.run_test(mistake.test, replace=mistake.replace).message
            assert "stride is on conv2" not in message, (mistake.name, message)


def test_every_issue_example_is_in_the_table():
    """The issue names these mistakes; each must have a row."""
    names = {m.name for m in MISCONCEPTIONS}
    assert {"iou-plus-one", "nms-unsorted", "batched-agnostic", "tconv-assign", "bilinear-align-corners"} <= names
    # issue 20: mAP, the bypasses of the torch parts, BatchNorm momentum, counting in training mode, area clamping,
    # ties, padding larger than the kernel
    assert {
        "map-11-point",
        "map-no-envelope",
        "map-gt-matched-twice",
        "map-classes-ignored",
        "map-mean-over-images",
        "map-iou-strictly-greater",
        "map-ranked-per-image",
        "count-course-counter",
        "count-flop-counter-mode",
        "count-in-training-mode",
        "count-mode-of-the-whole-model",
        "block-bn-momentum",
        "block-torchvision-subclass",
        "iou-clamp-area",
        "topk-default-argsort",
        "nms-default-argsort",
        "tconv-pad-input",
    } <= names


WRONG_UPSTREAM = {
    "box_iou": mutate(SOLUTIONS["box_iou"], "area2[None, :] - inter", "area2[None, :]"),
    "nms": mutate(
        SOLUTIONS["nms"],
        'order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")',
        "order = np.arange(len(boxes))",
    ),
}


@pytest.mark.parametrize("upstream", list(WRONG_UPSTREAM))
def test_a_wrong_upstream_function_costs_only_its_own_points(upstream):
    """nms runs with torchvision's box_iou, batched_nms with torchvision's nms."""
    failing = A.failing_tests(from_source(WRONG_UPSTREAM[upstream]))
    assert failing == [upstream], f"a wrong {upstream} fails the test cells {failing}"


def test_the_counts_match_every_published_figure_we_quote():
    """The lecture and the test quote torchvision's published parameters and GMACs; the hook count agrees."""
    for name in ("resnet18", "mobilenet_v2"):
        model = torchvision.models.get_model(name, weights=None)
        params, macs = ref.count_by_flop_counter(model, (3, 224, 224))
        assert (params, round(macs / 1e9, 3)) == ref.published_counts(name)
    assert isinstance(nn.Module(), nn.Module)


# -- the shortcuts the notebook rules out (metadata dl_course.forbidden) -----------------------------------
# The grader reads the student's cells for these (autograder.shortcuts) and zeroes the test; the in-process
# harness cannot see those rules, so here they are checked on the source, as the grader reads it. Where a
# bypass also behaves differently (the counters do not hook, torchvision's block is a BasicBlock), a row of
# the table above shows the test cell failing it with a message.
RULES = dict(A.source.metadata["dl_course"]["forbidden"])
BYPASSES = {
    "count_params_macs": [
        COUNT_COURSE_COUNTER,
        COUNT_FLOP_COUNTER,
        "import utils.architectures\n\ndef count_params_macs(model, input_shape):\n"
        "    return utils.architectures.param_table({'m': model}, input_shape)[0][1:]\n",
        "from utils.references.architectures import count_by_flop_counter as count\n\n"
        "def count_params_macs(model, input_shape):\n    return count(model, input_shape)\n",
    ],
    "ResidualBlock": [
        BLOCK_SUBCLASS,
        BLOCK_BORROWED_FORWARD,
        "from torchvision.models import resnet\n\nclass ResidualBlock(resnet.Bottleneck):\n    pass\n",
        # torchvision's forward called inside one's own: the test cell cannot tell; the grader's reading can.
        BLOCK_BORROWED_FORWARD.replace(
            "    forward = torchvision.models.resnet.BasicBlock.forward\n",
            "    def forward(self, x):\n        return torchvision.models.resnet.BasicBlock.forward(self, x)\n",
        ),
    ],
    "mean_average_precision": [
        "def mean_average_precision(*args, iou_threshold=0.5):\n"
        "    from pycocotools.cocoeval import COCOeval\n    return COCOeval\n",
        "from utils.references.architectures import coco_all_point_map\n\n"
        "def mean_average_precision(*args, iou_threshold=0.5):\n    return coco_all_point_map(*args, iou_threshold)\n",
    ],
}


def _blocks(functions: dict[str, str]) -> list:
    from autograder.cleanroom import student_blocks

    return student_blocks(A.student_notebook(functions), A.source)


def test_the_rules_name_every_shortcut_the_issue_lists():
    assert set(RULES["count_params_macs"]) == {
        "utils.architectures.macs",
        "utils.architectures.param_table",
        "utils.references.architectures.count_by_flop_counter",
        "torch.utils.flop_counter.FlopCounterMode",
    }
    assert set(RULES["ResidualBlock"]) == {
        "torchvision.models.resnet.BasicBlock",
        "torchvision.models.resnet.Bottleneck",
    }
    assert set(RULES["mean_average_precision"]) == {
        "pycocotools.cocoeval.COCOeval",
        "utils.references.architectures.coco_all_point_map",
    }


def test_the_reference_and_the_release_reach_no_ruled_out_shortcut():
    """The given code, and code as the reference writes it (model.eval(), model.modules()), reaches nothing."""
    assert reached_shortcuts(_blocks(SOLUTIONS), RULES) == {}
    assert reached_shortcuts(_blocks({}), RULES) == {}


@pytest.mark.parametrize("function, index", [(f, i) for f, sources in BYPASSES.items() for i in range(len(sources))])
def test_each_bypass_is_ruled_out_by_the_grader(function, index):
    found = reached_shortcuts(_blocks({function: BYPASSES[function][index]}), RULES)
    assert function in found and "rules out" in found[function], found


# -- decoding a detector's head (part 5) ----------------------------------------------------------------------


def test_reference_decode_is_the_lectures_decoding():
    """yolo_decode, the decode test's reference, gives the lecture's three boxes on the lecture's head output
    (lecture 4, the YOLOv3 head at stride 32: a 13 x 13 grid, the three largest COCO anchors, 80 classes)."""
    S, B, C, stride = 13, 3, 80, 32
    anchors = np.array([(116.0, 90.0), (156.0, 198.0), (373.0, 326.0)])
    t = np.zeros((B, 5 + C, S, S))
    t[:, 4] = -8.0
    found = [(0, 4, 3, (0.4, -0.3, 0.2, 0.1), 3.0), (1, 8, 9, (-0.5, 0.6, -0.2, 0.3), 2.0),
             (2, 6, 6, (0.0, 0.2, -0.6, -0.5), 1.0)]  # fmt: skip
    for b, row, col, txywh, objectness in found:
        t[b, :4, row, col], t[b, 4, row, col] = txywh, objectness
    # class logits 0: every class has probability 1/2, so the lecture's objectness > 0.5 is a score > 0.25
    boxes, scores, labels = ref.yolo_decode(t.reshape(B * (5 + C), S, S), anchors, stride, 0.25)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    expected = []
    for b, row, col, (tx, ty, tw, th), _ in found:
        cx, cy = (sigmoid(tx) + col) * stride, (sigmoid(ty) + row) * stride
        w, h = anchors[b, 0] * np.exp(tw), anchors[b, 1] * np.exp(th)
        expected.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    np.testing.assert_allclose(boxes, expected, rtol=1e-12)
    np.testing.assert_allclose(scores, [sigmoid(o) / 2 for *_, o in found], rtol=1e-12)
    assert labels.tolist() == [0, 0, 0]  # every class ties: the lower index
    centre = (boxes[0, 0] + boxes[0, 2]) / 2
    assert centre == pytest.approx((sigmoid(0.4) + 3) * 32) and boxes[0, 2] - boxes[0, 0] == pytest.approx(
        116 * np.exp(0.2)
    )


@pytest.mark.parametrize("seed", range(3))
def test_reference_decode_solution_against_torch(ns, seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        B, C, S_h, S_w = (int(v) for v in rng.integers(1, 7, 4))
        raw, anchors = ref.random_head(rng, B, C, S_h, S_w), rng.uniform(1, 50, (B, 2))
        stride, threshold = int(rng.choice([2, 8, 32])), float(rng.choice([0.0, 0.05, 0.3]))
        got, expected = (
            ns["decode_predictions"](raw, anchors, stride, threshold),
            ref.yolo_decode(raw, anchors, stride, threshold),
        )
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        assert got[2].dtype.kind == "i"


def test_every_decode_mistake_the_reference_computes_has_a_row():
    names = {m.name for m in MISCONCEPTIONS}
    assert {f"decode-{key}" for key in ref.DECODE_MISTAKES} <= names
    # the brief's examples: the sigmoid forgotten on the offsets, no exp on the scale, x/y swapped, anchors in
    # pixels taken for cells, the objectness not multiplied by the class probability
    assert {
        "decode-offsets-without-sigmoid",
        "decode-scale-without-exp",
        "decode-rows-and-columns-swapped",
        "decode-anchors-times-stride",
        "decode-score-is-objectness",
    } <= names


def test_the_decode_test_takes_only_numpy_arrays():
    """decode_predictions is numpy-only: its test cell hands it numpy arrays and Python numbers, never a tensor."""
    seen = []

    def spy(raw, anchors, stride, score_threshold):
        seen.append((type(raw), type(anchors), type(stride), type(score_threshold)))
        return ref.yolo_decode(raw, anchors, stride, score_threshold)

    assert A.run_test("decode_predictions", replace={"decode_predictions": spy})
    assert seen and all(
        r is np.ndarray and a is np.ndarray and issubclass(s, (int, np.integer)) and t is float
        for r, a, s, t in {x for x in seen}
    ), set(seen)


def test_a_wrong_count_is_explained_by_its_difference():
    """mac_mistake and param_mistake name each planted counting mistake from the difference alone, and nothing for
    the right count or for an unrelated one."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(4, 6, (3, 1), groups=2), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 6, 5)
    )
    shape = (4, 6, 6)
    right_params = sum(p.numel() for p in model.parameters())
    conv, bn, linear = model[0], model[1], model[4]
    outputs = 6 * 4 * 6
    right_macs = outputs * 2 * 3 + 5 * 144
    assert ref.mac_mistake(model, shape, right_macs) is None
    planted_macs = {
        "the groups are ignored": outputs * 4 * 3 + 5 * 144,
        "counted as square": outputs * 2 * 9 + 5 * 144,
        "bias additions are counted": right_macs + outputs + 5,
    }
    for phrase, macs in planted_macs.items():
        assert phrase in (ref.mac_mistake(model, shape, macs) or ""), (phrase, ref.mac_mistake(model, shape, macs))
    assert ref.mac_mistake(model, shape, right_macs + 7) is None
    assert ref.param_mistake(model, right_params) is None
    planted_params = {
        "the biases are left out": right_params - conv.bias.numel() - linear.bias.numel(),
        "BatchNorm's weight and bias": right_params - 12,
        "buffers are counted": right_params + 12,
        "num_batches_tracked": right_params + 13,
        "counted as square": right_params + 6 * 2 * 6,
        "the groups are ignored": right_params + conv.weight.numel(),
    }
    for phrase, params in planted_params.items():
        assert phrase in (ref.param_mistake(model, params) or ""), (phrase, ref.param_mistake(model, params))
    conv.weight.requires_grad_(False)
    assert "frozen" in ref.param_mistake(model, right_params - conv.weight.numel())
    assert ref.param_mistake(model, right_params + 1) is None
    assert bn.weight.numel() == 6
