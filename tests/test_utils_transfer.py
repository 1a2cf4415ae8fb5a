"""utils.transfer: glyphs from matplotlib's fonts, the sklearn-like 8x8 characters, the small CNN,
its training loop and the transfer experiment's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils import transfer


@pytest.fixture(scope="module")
def glyphs():
    return transfer.render_glyphs("01lW", transfer.font_paths()[:3])


def test_the_fonts_ship_with_matplotlib():
    paths = transfer.font_paths()
    assert len(paths) >= 10 and all(p.exists() and p.suffix == ".ttf" for p in paths)


def test_glyphs_fill_the_box_and_keep_their_aspect(glyphs):
    assert glyphs.shape == (3, 4, 32, 32) and glyphs.dtype == np.float32
    assert glyphs.min() >= 0 and glyphs.max() <= 1
    for font in glyphs:
        for glyph in font:  # the longer side spans the box
            rows, cols = np.nonzero(glyph > 0.1)
            assert max(rows.max() - rows.min(), cols.max() - cols.min()) >= 28
        width = {c: np.ptp(np.nonzero(g.max(0) > 0.1)[0]) for c, g in zip("01lW", font)}
        assert width["l"] < width["0"] < width["W"] + 1


def test_an_identity_warp_changes_nothing(glyphs):
    x = torch.as_tensor(glyphs[0])[:, None]
    warped = transfer.random_affine(
        x, torch.Generator().manual_seed(0), rotation=0, shear=0, scale=(1, 1), aspect=(1, 1), shift=0
    )
    torch.testing.assert_close(warped, x, atol=1e-5, rtol=0)


def test_printed_characters_look_like_sklearn_digits(glyphs):
    X, y = transfer.printed_characters(50, chars="01lW", glyphs=glyphs, seed=3, noise=0.0)
    assert X.shape == (50, 1, 8, 8) and X.dtype == np.float32 and y.shape == (50,) and y.dtype == np.int64
    assert set(np.unique(y)) <= {0, 1, 2, 3}
    np.testing.assert_allclose(X * 16, np.round(X * 16), atol=1e-5)  # ink counted in 4x4 blocks, as 0..16
    assert (X.reshape(50, -1).max(1) > 0).all()


def test_printed_characters_are_seeded(glyphs):
    a, ya = transfer.printed_characters(20, chars="01lW", glyphs=glyphs, seed=1)
    b, yb = transfer.printed_characters(20, chars="01lW", glyphs=glyphs, seed=1)
    c, _ = transfer.printed_characters(20, chars="01lW", glyphs=glyphs, seed=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)
    assert 0 <= a.min() and a.max() <= 1


def test_glyphs_and_characters_must_agree(glyphs):
    with pytest.raises(ValueError, match="characters"):
        transfer.printed_characters(5, chars="012", glyphs=glyphs)


def test_small_cnn_shapes():
    model = transfer.SmallCNN(7, width=4, features=16)
    x = torch.zeros(3, 1, 8, 8)
    assert model.backbone(x).shape == (3, 16) and model(x).shape == (3, 7)
    assert (model.width, model.features) == (4, 16)


def test_train_steps_is_seeded_and_learns():
    def run():
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 2)
        X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
        y = torch.tensor([0, 1, 0, 1])
        return transfer.train_steps(model, X, y, 30, torch.optim.SGD(model.parameters(), lr=0.5), batch=2), model

    losses, model = run()
    again, _ = run()
    assert losses.shape == (30,)
    np.testing.assert_array_equal(losses, again)
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()
    assert transfer.accuracy(model, torch.eye(2), torch.tensor([0, 1])) == 1.0


def test_labelled_subset():
    y = np.repeat(np.arange(3), 5)
    idx = transfer.labelled_subset(y, 2, seed=0)
    assert idx.shape == (6,) and np.array_equal(np.bincount(y[idx]), [2, 2, 2]) and len(set(idx)) == 6
    np.testing.assert_array_equal(idx, transfer.labelled_subset(y, 2, seed=0))
    np.testing.assert_array_equal(transfer.labelled_subset(y, None, seed=0), np.arange(15))


def test_transfer_experiment_bookkeeping():
    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 8, 8)).astype(np.float32)
    y = np.repeat(np.arange(4), 10)
    torch.manual_seed(0)
    source = transfer.SmallCNN(5, width=2, features=8)
    before = {k: v.clone() for k, v in source.state_dict().items()}
    results = transfer.transfer_experiment(
        source, X, y, X, y, labels_per_class=(1, None), draws=(2, 1), steps=(2, 2), progress=False
    )
    assert list(results) == [1, None]
    assert all(list(row) == list(transfer.STRATEGIES) for row in results.values())
    assert [len(row["frozen"]) for row in results.values()] == [2, 1]
    assert all(0 <= a <= 1 for row in results.values() for accs in row.values() for a in accs)
    assert all(torch.equal(before[k], v) for k, v in source.state_dict().items()), "the source was modified"
    means = transfer.mean_table(results)
    assert means[1]["scratch"] == pytest.approx(np.mean(results[1]["scratch"]))
    table = transfer.describe(results, all_label="all 10").splitlines()
    assert len(table) == 4 and table[0].startswith("| labels per class") and table[3].startswith("| all 10 | 1 |")
