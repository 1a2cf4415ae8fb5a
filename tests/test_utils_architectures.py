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
