"""utils.detection: the generated shapes, the anchors, the targets (decoded back by the lecture's
decoding), the tiny detector and its seeded training, as assignment 4 uses them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from utils import detection as D
from utils.references import architectures as ref


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    return D.trained_detector(seed=0)


def test_shapes_are_seeded_apart_and_tightly_boxed():
    images, boxes, labels = D.shapes_detection(40, seed=3, noise=0.0)
    again, boxes_again, _ = D.shapes_detection(40, seed=3, noise=0.0)
    assert np.array_equal(images, again) and all(np.array_equal(a, b) for a, b in zip(boxes, boxes_again))
    assert images.shape == (40, 1, D.SIZE, D.SIZE) and images.dtype == np.float32
    for image, b, c in zip(images[:, 0], boxes, labels):
        assert 1 <= len(b) <= 3 and b.shape == (len(b), 4) and c.dtype == np.int64 and set(c) <= {0, 1, 2}
        assert np.all(b[:, 2:] - b[:, :2] >= 5) and np.all(b[:, 2:] - b[:, :2] <= 13)
        # the boxes are apart (at least a pixel between them): no overlap, IoU 0
        iou = ref.box_iou(b, b + np.array([-1, -1, 1, 1]))
        assert np.allclose(iou - np.diag(np.diag(iou)), 0)
        lit = image > 0
        for x1, y1, x2, y2 in b.astype(int):
            inside = lit[y1:y2, x1:x2]
            # tight: a lit pixel on each of the four edges of the box, nothing lit just outside
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
        covered = np.zeros_like(lit)
        for x1, y1, x2, y2 in b.astype(int):
            covered[y1:y2, x1:x2] = True
        assert not (lit & ~covered).any()


@pytest.mark.parametrize("kind", range(3))
def test_each_shape_fills_its_box_to_the_edges(kind):
    for r in range(2, 7):
        mask = D._shape_mask(kind, 10, 12, r, 24)
        rows, cols = np.nonzero(mask)
        assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10 - r, 10 + r, 12 - r, 12 + r)
    areas = [D._shape_mask(k, 10, 10, 5, 24).sum() for k in range(3)]
    assert areas[0] > areas[1] > areas[2]  # square, disc, triangle


def test_wh_iou_is_the_iou_of_centred_boxes():
    rng = np.random.default_rng(0)
    wh1, wh2 = rng.uniform(1, 10, (6, 2)), rng.uniform(1, 10, (4, 2))
    centred = lambda wh: torch.as_tensor(np.c_[-wh / 2, wh / 2])  # noqa: E731
    np.testing.assert_allclose(
        D.wh_iou(wh1, wh2), torchvision.ops.box_iou(centred(wh1), centred(wh2)).numpy(), rtol=1e-12
    )


def test_kmeans_anchors_are_sorted_seeded_and_in_range():
    _, boxes, _ = D.shapes_detection(300, seed=1)
    anchors = D.kmeans_anchors(boxes, 3, seed=0)
    assert anchors.shape == (3, 2) and np.all(np.diff(anchors.prod(axis=1)) > 0)
    assert np.array_equal(anchors, D.kmeans_anchors(boxes, 3, seed=0))
    sizes = np.concatenate([b[:, 2:] - b[:, :2] for b in boxes])
    assert sizes.min() <= anchors.min() and anchors.max() <= sizes.max()


def test_the_targets_decode_back_to_the_true_boxes():
    """Each object's targets, turned into raw logits (logit of the offsets, the log-scales, confident
    objectness and class), give back its box and class through the lecture's decoding."""
    _, boxes, labels = D.shapes_detection(30, seed=2)
    anchors = D.kmeans_anchors(boxes, 2)
    target, responsible = D.encode_targets(boxes, labels, anchors)
    assert responsible.sum() == sum(map(len, boxes))  # objects apart: no two share a cell and an anchor
    for i in range(len(boxes)):
        t = target[i].astype(np.float64)  # (B, S, S, 5 + C)
        offsets = np.clip(t[..., :2], 1e-9, 1 - 1e-9)
        raw = np.concatenate(
            [np.log(offsets / (1 - offsets)), t[..., 2:4], np.where(t[..., 4:] > 0, 30.0, -30.0)], axis=-1
        )
        raw = raw.transpose(0, 3, 1, 2).reshape(-1, D.GRID, D.GRID)
        got, scores, classes = ref.yolo_decode(raw, anchors, D.STRIDE, 0.5)
        order = np.lexsort(boxes[i].T[::-1])
        mine = np.lexsort(np.round(got, 3).T[::-1])
        np.testing.assert_allclose(got[mine], boxes[i][order], atol=1e-6)
        assert classes[mine].tolist() == labels[i][order].tolist()


def test_the_network_and_its_loss():
    model = D.TinyYOLO(num_anchors=2)
    x = torch.from_numpy(D.shapes_detection(4, seed=0)[0])
    raw = model(x)
    assert raw.shape == (4, 2 * (5 + len(D.CLASS_NAMES)), D.GRID, D.GRID)
    _, boxes, labels = D.shapes_detection(4, seed=0)
    target, responsible = (
        torch.from_numpy(a) for a in D.encode_targets(boxes, labels, np.array([[5.0, 5.0], [9.0, 9.0]]))
    )
    loss = D.yolo_loss(raw, target, responsible)
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_training_is_seeded():
    first = D.trained_detector(seed=5, n_train=64, n_test=6, epochs=1)
    second = D.trained_detector(seed=5, n_train=64, n_test=6, epochs=1)
    assert np.array_equal(first.raw_outputs(), second.raw_outputs()) and first.losses == second.losses


def test_the_trained_detector_scores_well_with_the_references(trained):
    """The assignment's evaluation with the references: the lecture's decoding, torchvision's NMS and COCO's
    evaluator. Margins: seeds and CPUs give mAP@0.5 of about 0.93 to 0.97 with these settings."""
    raw = trained.raw_outputs()
    assert (
        raw.shape == (200, len(trained.anchors) * (5 + len(D.CLASS_NAMES)), D.GRID, D.GRID) and raw.dtype == np.float64
    )
    assert trained.losses[-1] < trained.losses[0] / 2
    kept = D.detect(raw, trained.anchors, trained.stride, ref.yolo_decode, ref.batched_nms)
    everything = D.detect(raw, trained.anchors, trained.stride, ref.yolo_decode)
    assert sum(map(len, kept[1])) < sum(map(len, everything[1]))
    coco = D.mean_over_classes(ref.coco_all_point_map, *kept, trained.boxes, trained.labels)
    assert coco > 0.8
    # and with the assignment's own reference solutions, through the same helper
    from harness import Assignment

    ns = Assignment("04_cnn_architectures").reference()
    theirs = D.detect(raw, trained.anchors, trained.stride, ns["decode_predictions"], ns["batched_nms"])
    assert ns["mean_average_precision"](*theirs, trained.boxes, trained.labels) == pytest.approx(coco, abs=1e-12)


def test_the_training_stays_within_its_budget(trained):
    """A few seconds of CPU on one core (about 5 s on this machine); generous: a slow or busy CPU is slower."""
    assert trained.seconds < 30


def test_coco_class_by_class_is_coco_all_point_map():
    """mean_over_classes(coco_all_point_map, ...): the same all-point mAP as COCO's evaluator on all the classes
    at once (where the least common multiple of the classes' counts is small enough to run)."""
    rng = np.random.default_rng(11)
    for _ in range(15):
        case = ref.random_detections(rng, images=4, classes=3, max_gt=4, max_pred=6)
        whole, by_class = ref.coco_all_point_map(*case), D.mean_over_classes(ref.coco_all_point_map, *case)
        assert (np.isnan(whole) and np.isnan(by_class)) or by_class == pytest.approx(whole, abs=1e-12)
    assert np.isnan(
        D.mean_over_classes(
            ref.coco_all_point_map,
            [np.zeros((0, 4))],
            [np.zeros(0)],
            [np.zeros(0, int)],
            [np.zeros((0, 4))],
            [np.zeros(0, int)],
        )
    )


def test_no_helper_gives_the_student_a_way_round_the_map_rules():
    """mean_over_classes takes the metric as an argument: a mean_average_precision that hands it COCO's evaluator
    names a function the rules forbid, and the grader's reading catches it."""
    import test_assignment_04_cnn_architectures as a04

    from autograder.shortcuts import reached_shortcuts

    bypass = (
        "from utils.detection import mean_over_classes\n"
        "from utils.references.architectures import coco_all_point_map\n\n"
        "def mean_average_precision(*args, iou_threshold=0.5):\n"
        "    return mean_over_classes(coco_all_point_map, *args, iou_threshold=iou_threshold)\n"
    )
    found = reached_shortcuts(a04._blocks({"mean_average_precision": bypass}), a04.RULES)
    assert "mean_average_precision" in found, found


def test_show_detections_draws_every_box(trained):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kept = D.detect(trained.raw_outputs()[:3], trained.anchors, trained.stride, ref.yolo_decode, ref.batched_nms)
    fig = D.show_detections(trained.images, *kept, trained.boxes, n=3)
    drawn = sum(len(ax.patches) for ax in fig.axes)
    assert drawn == sum(map(len, kept[0])) + sum(map(len, trained.boxes[:3]))
    plt.close(fig)
