"""utils.architectures: the tiny models run on 8x8 digits, the counts agree with torchvision's
published figures, the generated shapes are consistent with their masks and boxes."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import torchvision

from utils import architectures as arch
from utils.references.architectures import published_counts

matplotlib.use("Agg")


@pytest.mark.parametrize(
    "build", [arch.lenet, arch.mini_vgg, arch.mini_inception, arch.mini_densenet, lambda: arch.deep_net(3, True)]
)
def test_tiny_models_map_digits_to_ten_scores(build):
    model = build()
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 10)


def test_plain_and_residual_nets_have_the_same_parameters():
    plain, residual = arch.deep_net(4, False), arch.deep_net(4, True)
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in residual.parameters())


def test_counts_match_published_resnet18():
    rows = arch.param_table({"resnet18": torchvision.models.resnet18(weights=None)}, (3, 224, 224))
    name, params, macs = rows[0]
    assert (params, round(macs / 1e9, 3)) == published_counts("resnet18")
    assert "11,689,512" in arch.format_table(rows, ("model", "params", "MACs"))


def test_macs_of_a_conv_by_hand():
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    assert arch.macs(conv, (2, 5, 5)) == 25 * 4 * 2 * 9
    conv.train()
    arch.macs(conv, (2, 5, 5))
    assert conv.training


def test_segmentation_shapes_masks_match_pixels():
    images, masks = arch.shapes_segmentation(6, size=16, seed=1, noise=0.0)
    assert images.shape == (6, 1, 16, 16) and masks.shape == (6, 16, 16)
    np.testing.assert_array_equal(images[:, 0] > 0.5, masks > 0)
    assert set(np.unique(masks)) <= {0, 1, 2}


def test_detection_boxes_enclose_the_shapes():
    images, boxes, classes = arch.shapes_detection(5, size=32, seed=2)
    for image, b, c in zip(images, boxes, classes):
        assert b.shape == (len(c), 4) and set(c.tolist()) <= {0, 1}
        for x1, y1, x2, y2 in b:
            assert image[0, int(y1) : int(y2), int(x1) : int(x2)].mean() > 0.5


def test_pictures_draw():
    import matplotlib.pyplot as plt

    images, masks = arch.shapes_segmentation(4, seed=0)
    fig = arch.show_masks(images, masks, predictions=masks)
    fig2, ax = plt.subplots()
    arch.draw_boxes(ax, np.array([[1.0, 1.0, 4.0, 5.0]]), labels=["disc"], scores=[0.9])
    assert len(ax.patches) == 1
    plt.close(fig), plt.close(fig2)


def test_encode_grid_places_each_box_in_its_centre_cell():
    grid = arch.encode_grid(
        np.array([[0.0, 0.0, 8.0, 4.0], [20.0, 24.0, 32.0, 32.0]]), [1, 0], S=4, size=32, num_classes=2
    )
    assert grid.shape == (4, 4, 7) and grid[..., 4].sum() == 2
    np.testing.assert_allclose(grid[0, 0], [0.5, 0.25, 0.25, 0.125, 1, 0, 1])
    np.testing.assert_allclose(grid[3, 3], [0.25, 0.5, 0.375, 0.25, 1, 1, 0])


# -- the NMS test cells' helpers in utils.references.architectures ------------------------------------------------
# IoU(0, 1) = 0.5 exactly, IoU(0, 2) = 0.6, IoU(1, 2) = 0.2; box 3 overlaps nothing.
NMS_BOXES = np.array([[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 2.0, 1.0], [1.0, 0.0, 5.0, 1.0], [10.0, 10.0, 11.0, 11.0]])


@pytest.mark.parametrize(
    "mistake, scores, threshold, kept",
    [
        ("index-order", [0.3, 0.2, 0.9, 0.1], 0.55, [0, 1, 3]),  # 0 first removes 2, the best box
        ("suppress-at-threshold", [0.9, 0.3, 0.8, 0.1], 0.5, [0, 3]),  # IoU(0, 1) = 0.5 removes 1
        ("removed-still-suppress", [0.3, 0.2, 0.9, 0.1], 0.4, [2, 3]),  # 0, removed by 2, still removes 1
        ("lowest-score-first", [0.9, 0.3, 0.8, 0.1], 0.5, [3, 1, 2]),
        ("comparison-inverted", [0.9, 0.3, 0.8, 0.1], 0.5, [0, 2]),  # 0 removes 3 (IoU 0 < 0.5), 2 removes 1
        ("ties-higher-index-first", [0.5, 0.5, 0.5, 0.5], 0.4, [3, 2, 1]),
    ],
)
def test_nms_mistake_computes_each_mistake(mistake, scores, threshold, kept):
    from utils.references.architectures import nms, nms_mistake

    got = nms_mistake(NMS_BOXES, np.array(scores), threshold, mistake)
    assert got.dtype == np.int64 and got.tolist() == kept
    assert got.tolist() != nms(NMS_BOXES, np.array(scores), threshold).tolist()  # each is a wrong answer here


def test_nms_mistakes_agree_with_the_right_answer_where_they_make_no_difference():
    """Without ties, overlaps at the threshold or suppressed boxes overlapping others, every variant but those about
    the order keeps what torchvision keeps: a mistake is named only on an input where it shows."""
    from utils.references.architectures import NMS_MISTAKES, nms, nms_mistake

    far = np.array([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0], [10.0, 0.0, 11.0, 1.0]])
    scores = np.array([0.2, 0.9, 0.5])
    for mistake in NMS_MISTAKES:
        got = nms_mistake(far, scores, 0.5, mistake)
        if mistake == "index-order":
            assert got.tolist() == [0, 1, 2]
        elif mistake == "lowest-score-first":
            assert got.tolist() == [0, 2, 1]
        elif mistake == "comparison-inverted":
            assert got.tolist() == [1]  # every other box overlaps it less than the threshold
        else:
            assert got.tolist() == nms(far, scores, 0.5).tolist() == [1, 2, 0], mistake
    assert nms_mistake(np.zeros((0, 4)), np.zeros(0), 0.5, "index-order").shape == (0,)
    with pytest.raises(ValueError, match="unknown mistake"):
        nms_mistake(far, scores, 0.5, None)


def test_assert_kept_checks_the_contract_then_names_the_mistake():
    from utils.references.architectures import assert_kept

    expected = np.array([2, 0, 3])
    assert_kept(np.array([2, 0, 3]), expected, "nms")  # passes
    cases = [
        ([2, 0, 3], "must return a numpy array of indices, got list"),
        (np.array([True, False, True, True]), "returned a boolean mask"),
        (NMS_BOXES[[2, 0, 3]], "must return a 1-D integer array of indices, got shape (3, 4)"),
        (np.array([0, 2, 3]), "nms kept [0, 2, 3], expected [2, 0, 3]: the kept indices are sorted. Or: sorted again"),
        (np.array([3, 2, 0]), "kept the right boxes in the wrong order"),
        (np.array([2, 0]), "nms kept [2, 0], expected [2, 0, 3]."),
    ]
    mistakes = {"the kept indices are sorted.": np.array([0, 2, 3]), "sorted again": np.array([0, 2, 3])}
    for keep, words in cases:
        with pytest.raises(AssertionError) as raised:
            assert_kept(keep, expected, "nms", mistakes)
        assert words in str(raised.value), (words, str(raised.value))
