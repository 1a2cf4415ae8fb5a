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
    torch's own ``FlopCounterMode`` (see :func:`utils.architectures.macs`; for networks whose only
    products are Conv2d and Linear layers these are their multiply-adds)."""
    from ..architectures import macs

    return sum(p.numel() for p in model.parameters()), macs(model, input_shape)
