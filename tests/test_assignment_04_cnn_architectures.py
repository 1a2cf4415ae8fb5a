"""Assignment 4 (CNN architectures, detection, segmentation): the reference against torch, and the
misconceptions.

The generic checks (reference passes, blank scores zero, points add up, the independent solution
earns full marks) run in tests/test_assignments.py. Here: the reference solutions against
torchvision.ops (box_iou, nms, batched_nms), F.conv_transpose2d with autograd, F.interpolate and
torchvision's BasicBlock and published counts, on shapes beyond the test cells'; the table of
mistakes a teacher expects with the phrase the visible test must name each by; and the isolation
of the test cells (a wrong upstream function costs only its own points).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision

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


@pytest.mark.parametrize("seed", range(3))
def test_reference_top_k_against_torch_topk(ns, seed):
    rng = np.random.default_rng(seed)
    scores, labels = rng.standard_normal((200, 20)), rng.integers(0, 20, 200)
    for k in (1, 5, 20):
        top = torch.topk(torch.from_numpy(scores), k).indices.numpy()  # no ties in continuous scores
        expected = 1 - np.mean([labels[i] in top[i] for i in range(200)])
        assert ns["top_k_error"](scores, labels, k) == pytest.approx(expected, abs=1e-12)


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


def wrong_variants(solutions: dict[str, str]) -> list[tuple[str, str, str, str | None]]:
    """(id, test cell, source of the wrong version, the phrase its visible message must contain)."""
    topk, iou, nms = solutions["top_k_error"], solutions["box_iou"], solutions["nms"]
    batched, fwd = solutions["batched_nms"], solutions["conv_transpose_forward"]
    back, bil = solutions["conv_transpose_backward"], solutions["bilinear_upsample"]
    block, count = solutions["ResidualBlock"], solutions["count_params_macs"]
    stable = 'np.argsort(-scores, axis=1, kind="stable")[:, :k]'
    nms_order = 'order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")'
    offset_w = 'np.einsum("nchw,cd->ndhw", x, w[:, :, u, v])'
    return [
        # -- top-k error
        ("topk-accuracy", "top_k_error", mutate(topk, "float(1.0 - hit.mean())", "float(hit.mean())"), "accuracy"),
        ("topk-ascending", "top_k_error", mutate(topk, stable, stable.replace("-scores", "scores")), "LOWEST"),
        ("topk-top1", "top_k_error", mutate(topk, stable, stable.replace(":k]", ":1]")), "only the best guess"),
        (
            "topk-first-label-only",
            "top_k_error",
            mutate(
                topk,
                "correct = labels.astype(bool)",
                "correct = np.eye(scores.shape[1], dtype=bool)[labels.argmax(axis=1)]",
            ),
            "first correct label",
        ),
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
            None,
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
            "bias=False",
        ),
        (
            "block-stride-on-conv2",
            "ResidualBlock",
            mutate(
                mutate(block, "3, stride=stride, padding=1", "3, padding=1"),
                "nn.Conv2d(out_channels, out_channels, 3, padding=1",
                "nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1",
            ),
            "stride on conv1",
        ),
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
            "state dict does not match",
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
            "frozen parameters count too",
        ),
        ("count-hooks-left", "count_params_macs", mutate(count, "handle.remove()", "pass"), "still registered"),
        (
            "count-mode-changed",
            "count_params_macs",
            mutate(count, "model.train(training)", "pass"),
            "training mode it had",
        ),
        (
            "count-no-linear",
            "count_params_macs",
            mutate(count, "isinstance(m, (nn.Conv2d, nn.Linear))]", "isinstance(m, nn.Conv2d)]"),
            None,
        ),
    ]


MISCONCEPTIONS = [
    Misconception(name, test, from_source(source), phrase) for name, test, source, phrase in wrong_variants(SOLUTIONS)
]


@pytest.mark.parametrize("mistake", MISCONCEPTIONS, ids=str)
def test_misconception_is_caught_and_named(mistake):
    A.check_misconception(mistake)


def test_every_issue_example_is_in_the_table():
    """The issue names these mistakes; each must have a row."""
    names = {m.name for m in MISCONCEPTIONS}
    assert {"iou-plus-one", "nms-unsorted", "batched-agnostic", "tconv-assign", "bilinear-align-corners"} <= names


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
