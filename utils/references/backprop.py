"""Torch references for assignment 1 (backpropagation), imported by its locked test cells."""

from __future__ import annotations

import contextlib

import numpy as np

from ..checks import assert_close, torch_reference
from ..diagnose import context_from_name
from . import checked_call


def check_elementwise(
    forward, backward, torch_fn, name, rng, shapes, scales=(1.0,), slopes=(None,), strict_floats=False
):
    """An activation's forward and backward pass against torch autograd on random inputs.

    Every third input is exactly 0, where ReLU-like derivatives need a convention (torch's: the
    slope of the negative side). With ``slopes`` the functions get ``negative_slope=``; with
    ``strict_floats`` an overflow or an invalid operation inside them is an error.

    Args:
        forward, backward: the student's pair: forward(x) -> (out, cache), backward(dout, cache) -> dx.
        torch_fn: torch's activation (taking ``negative_slope`` second when slopes are given).
        name: the activation's name in messages, e.g. ``"relu"``.
        rng: numpy Generator; shapes, scales, slopes: what to try.
    """
    for shape in shapes:
        for scale in scales:
            for slope in slopes:
                x, dout = scale * rng.normal(size=shape), rng.normal(size=shape)
                x.flat[::3] = 0.0
                kwargs = {} if slope is None else {"negative_slope": slope}
                fn = torch_fn if slope is None else (lambda t, s=slope: torch_fn(t, s))
                expected_out, (expected_dx,) = torch_reference(fn, x, dout=dout)
                guard = (
                    np.errstate(over="raise", invalid="raise", divide="raise")
                    if strict_floats
                    else contextlib.nullcontext()
                )
                where = f"shape {shape}, scale {scale}" + ("" if slope is None else f", negative_slope {slope}")
                given = x.copy()
                with guard:
                    out, cache = checked_call(
                        lambda a, kw=kwargs: forward(a, **kw),
                        given,
                        what=f"{name}_forward(x of {where})",
                        names=["x"],
                    )
                    dx = checked_call(
                        backward, dout.copy(), cache, what=f"{name}_backward(dout of {where}, cache)", names=["dout"]
                    )
                assert np.array_equal(given, x), (
                    f"{name}_forward(x of {where}) changed the caller's x in place (out = x, then out[...] = ...): "
                    "the input belongs to the caller. Build out as a new array (np.maximum(x, 0), np.where, or a "
                    "copy of x)."
                )
                assert_close(out, expected_out, f"out from {name}_forward, {where}")
                signs = {"where x is nonzero": x != 0, "where x > 0": x > 0, "where x < 0": x < 0}
                assert_close(
                    dx,
                    expected_dx,
                    f"dx from {name}_backward, {where}",
                    context=context_from_name(f"dx from {name}_backward", masks=signs),
                    hint="some inputs are exactly 0: the derivative there is torch's, that of the negative side.",
                )


def _stand_in(torch_fn, n_inputs):
    """A (forward, backward) pair with the assignment's signatures, computed by torch autograd.

    forward(*arrays, **kwargs) -> (out, cache); backward(dout, cache) -> the input gradients (one
    array, or a tuple when there are several inputs). The cache is torch's own business."""
    import torch

    def forward(*args, **kwargs):
        inputs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in args[:n_inputs]]
        out = torch_fn(*inputs, *args[n_inputs:], **kwargs)
        return out.detach().numpy(), (inputs, out)

    def backward(dout, cache):
        inputs, out = cache
        grads = torch.autograd.grad(out, inputs, torch.tensor(np.asarray(dout, dtype=np.float64)), retain_graph=True)
        grads = tuple(g.numpy() for g in grads)
        return grads if len(grads) > 1 else grads[0]

    return forward, backward


def _layer_standins():
    import torch
    import torch.nn.functional as F

    linear = _stand_in(lambda x, W, b: x @ W + b, 3)
    relu = _stand_in(F.relu, 1)
    leaky = _stand_in(lambda x, negative_slope=0.01: F.leaky_relu(x, negative_slope), 1)
    sigmoid = _stand_in(torch.sigmoid, 1)
    tanh = _stand_in(torch.tanh, 1)

    def softmax_cross_entropy(scores, y):
        s = torch.tensor(np.asarray(scores, dtype=np.float64), requires_grad=True)
        loss = F.cross_entropy(s, torch.as_tensor(np.asarray(y), dtype=torch.long))
        (grad,) = torch.autograd.grad(loss, s)
        return float(loss.detach()), grad.numpy()

    return {
        "linear_forward": linear[0],
        "linear_backward": linear[1],
        "relu_forward": relu[0],
        "relu_backward": relu[1],
        "leaky_relu_forward": leaky[0],
        "leaky_relu_backward": leaky[1],
        "sigmoid_forward": sigmoid[0],
        "sigmoid_backward": sigmoid[1],
        "tanh_forward": tanh[0],
        "tanh_backward": tanh[1],
        "softmax_cross_entropy": softmax_cross_entropy,
    }


LAYER_STANDINS = _layer_standins()
"""Torch stand-ins for every layer function of assignment 1, by name: the MLP's test cells run the
student's MLP on them, so that a bug in a layer costs only that layer's points."""


# -- optimisers -------------------------------------------------------------------------------
# Each function below replays torch.optim on one float64 parameter, fed a given sequence of
# gradients, and reports after every step what the assignment's optimiser must return: the next
# weights and what its config keeps. With ``variant`` it reports what a recognisable mistake would
# give instead, from the same start and the same gradients, so a test can name the mistake.
# Because the gradients are given (they do not depend on the weights), a mistake's trajectory is
# the one a student with that mistake produces, step after step.

SGD_MOMENTUM_VARIANTS = (
    "plain",
    "forgotten",
    "not_stored",
    "momentum_on_gradient",
    "cs231n",
    "cs231n_subtracted",
    "lr_in_velocity",
    "uphill",
    "dampened",
    "nesterov",
)
"""The mistakes :func:`sgd_momentum_steps` can reproduce (``velocity`` is what config keeps):

* ``plain``: the velocity is kept, but the step uses the gradient (w - lr * dw);
* ``forgotten``: the velocity is not carried from one step to the next (it restarts at 0);
* ``not_stored``: the same steps, and config's velocity stays at 0 (the new one is never stored);
* ``momentum_on_gradient``: momentum multiplies the current gradient, v = mu * dw + dw;
* ``cs231n``: CS231n's convention, v = mu * v - lr * dw and w + v: the same steps while the learning
  rate stays constant, a different velocity, and different steps once the learning rate changes;
* ``cs231n_subtracted``: CS231n's velocity (already a step downhill) subtracted like torch's, w - v;
* ``lr_in_velocity``: the learning rate folded into torch's velocity, v = mu * v + lr * dw, w - v;
* ``uphill``: torch's velocity added instead of subtracted, w + lr * v;
* ``dampened``: the velocity as an average, v = mu * v + (1 - mu) * dw (torch's dampening = mu);
* ``nesterov``: Nesterov's step, w - lr * (dw + mu * v) with torch's velocity (torch's nesterov=True).
"""

ADAM_VARIANTS = (
    "no_bias_correction",
    "eps_in_sqrt",
    "eps_before_correction",
    "betas_swapped",
    "t_stays_1",
    "t_from_2",
    "moments_forgotten",
    "moments_not_stored",
    "m_with_beta2",
)
"""The mistakes :func:`adam_steps` can reproduce (``m``, ``v``, ``t`` are what config keeps):

* ``no_bias_correction``: m and v used as they are, w - lr * m / (sqrt(v) + eps);
* ``eps_in_sqrt``: w - lr * m_hat / sqrt(v_hat + eps);
* ``eps_before_correction``: eps added to sqrt(v) before its bias correction, the reordered form of
  Kingma and Ba (2015, end of section 2), whose epsilon-hat is not torch's eps;
* ``betas_swapped``: m averages with beta2 and v with beta1;
* ``t_stays_1``: the step count is not stored (or not incremented), so every step corrects with t = 1;
* ``t_from_2``: t starts at 1 and is incremented before use, so the first step corrects with t = 2;
* ``moments_forgotten``: m and v restart at 0 at every step (t is kept);
* ``moments_not_stored``: the same steps, and config's m and v stay at 0 (never stored);
* ``m_with_beta2``: the first moment averages with beta2 too, m = beta2 * m + (1 - beta2) * dw.
"""


def _parameter(w):
    import torch

    return torch.nn.Parameter(torch.tensor(np.array(w, dtype=np.float64)))


def _numpy(t):
    return t.detach().numpy().copy()


def sgd_momentum_steps(w, grads, learning_rates, momentum, variant=None):
    """What ``torch.optim.SGD(momentum=momentum)`` does to ``w`` over ``len(grads)`` steps.

    torch keeps a velocity (its ``momentum_buffer``) v = momentum * v + dw, starting from v = dw,
    and steps w - lr * v.

    Args:
        w: float64 array of any shape, the starting weights.
        grads: list of arrays of w's shape, the gradient at each step.
        learning_rates: list of floats, the learning rate of each step (a schedule may change it).
        momentum: float in [0, 1).
        variant: ``None`` for torch's own steps, or one of :data:`SGD_MOMENTUM_VARIANTS`.

    Returns:
        list of dicts, one per step: ``{"w": next weights, "velocity": what config["velocity"]
        holds after that step}``, float64 arrays of w's shape.
    """
    import torch

    if variant is not None and variant not in SGD_MOMENTUM_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {SGD_MOMENTUM_VARIANTS}")

    def run(
        lrs, scale=lambda k, lr: 1.0, maximize=False, dampening=0.0, start_at_zero=False, fresh=False, nesterov=False
    ):
        p, opt, out = _parameter(w), None, []
        for k, (g, lr) in enumerate(zip(grads, lrs)):
            if opt is None or fresh:
                opt = torch.optim.SGD(
                    [p], lr=lr, momentum=momentum, dampening=dampening, maximize=maximize, nesterov=nesterov
                )
                if start_at_zero and momentum:
                    opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
            opt.param_groups[0]["lr"] = lr
            p.grad = torch.tensor(scale(k, learning_rates[k]) * np.asarray(g, dtype=np.float64))
            opt.step()
            buffer = opt.state[p].get("momentum_buffer")
            out.append({"w": _numpy(p), "velocity": _numpy(p.grad) if buffer is None else _numpy(buffer)})
        return out

    lrs, ones = list(learning_rates), [1.0] * len(grads)
    if variant is None:
        return run(lrs)
    if variant == "plain":
        # The velocity is torch's, the step plain SGD's (torch's with momentum 0).
        return [{"w": s["w"], "velocity": c["velocity"]} for s, c in zip(_plain_sgd(w, grads, lrs), run(lrs))]
    if variant == "forgotten":
        return run(lrs, fresh=True)
    if variant == "not_stored":
        return [{"w": s["w"], "velocity": np.zeros(np.shape(w))} for s in _plain_sgd(w, grads, lrs)]
    if variant == "momentum_on_gradient":
        # v = (1 + mu) dw and w - lr v: plain SGD on the gradient (1 + mu) dw.
        scaled = [(1 + momentum) * np.asarray(g, dtype=np.float64) for g in grads]
        return [{"w": s["w"], "velocity": g} for s, g in zip(_plain_sgd(w, scaled, lrs), scaled)]
    if variant in ("cs231n", "lr_in_velocity"):
        # torch's velocity for the gradient lr * dw, stepped with lr = 1, is mu * v + lr * dw; CS231n's is minus it.
        steps = run(ones, scale=lambda k, lr: lr)
        sign = -1.0 if variant == "cs231n" else 1.0
        return [{"w": s["w"], "velocity": sign * s["velocity"]} for s in steps]
    if variant == "cs231n_subtracted":
        # CS231n's v = mu * v - lr * dw is torch's velocity for the gradient -lr * dw; w - v steps uphill.
        return run(ones, scale=lambda k, lr: -lr)
    if variant == "uphill":
        steps = run(lrs, maximize=True)
        return [{"w": s["w"], "velocity": -s["velocity"]} for s in steps]
    if variant == "nesterov":
        return run(lrs, nesterov=momentum > 0)
    # "dampened": torch's dampening = mu, from a velocity that starts at 0 (torch starts it at dw).
    return run(lrs, dampening=momentum, start_at_zero=True)


def _plain_sgd(w, grads, learning_rates):
    """Plain ``torch.optim.SGD`` (no momentum): ``[{"w": next weights}, ...]``, one per step."""
    import torch

    p = _parameter(w)
    opt = torch.optim.SGD([p], lr=learning_rates[0])
    out = []
    for g, lr in zip(grads, learning_rates):
        opt.param_groups[0]["lr"] = lr
        p.grad = torch.tensor(np.asarray(g, dtype=np.float64))
        opt.step()
        out.append({"w": _numpy(p)})
    return out


def adam_steps(w, grads, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, variant=None):
    """What ``torch.optim.Adam(lr, betas=(beta1, beta2), eps=epsilon)`` does to ``w`` over ``len(grads)`` steps.

    Args:
        w: float64 array of any shape, the starting weights.
        grads: list of arrays of w's shape, the gradient at each step.
        learning_rate, beta1, beta2, epsilon: Adam's hyperparameters.
        variant: ``None`` for torch's own steps, or one of :data:`ADAM_VARIANTS`.

    Returns:
        list of dicts, one per step: ``{"w": next weights, "m": first moment, "v": second moment,
        "t": steps taken}`` (torch's ``exp_avg``, ``exp_avg_sq`` and ``step``); a variant's ``t`` is
        what its config would hold.
    """
    import torch

    if variant is not None and variant not in ADAM_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {ADAM_VARIANTS}")

    def record(p, opt, t):
        state = opt.state[p]
        return {"w": _numpy(p), "m": _numpy(state["exp_avg"]), "v": _numpy(state["exp_avg_sq"]), "t": t}

    betas = {"betas_swapped": (beta2, beta1), "m_with_beta2": (beta2, beta2)}.get(variant, (beta1, beta2))
    p = _parameter(w)
    opt = torch.optim.Adam([p], lr=learning_rate, betas=betas, eps=epsilon)
    out = []
    for k, g in enumerate(grads, start=1):
        state = opt.state[p]
        if variant == "t_from_2" and k == 1:
            state.update(step=torch.tensor(1.0), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        if variant == "t_stays_1" and k > 1:
            state["step"] = torch.tensor(0.0)
        if variant in ("moments_forgotten", "moments_not_stored") and k > 1:
            state.update(exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        if variant == "eps_before_correction":
            # Kingma and Ba's reordering: lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps) is
            # torch's step with eps / sqrt(1 - beta2^t) in place of eps.
            opt.param_groups[0]["eps"] = epsilon / np.sqrt(1 - beta2**k)
        if variant == "m_with_beta2":
            # m averages with beta2, but its bias correction is still 1 - beta1^t: torch with betas (beta2, beta2)
            # corrects m with 1 - beta2^t, which the learning rate's factor turns into 1 - beta1^t.
            opt.param_groups[0]["lr"] = learning_rate * (1 - beta2**k) / (1 - beta1**k)
        w_before = _numpy(p)
        p.grad = torch.tensor(np.asarray(g, dtype=np.float64))
        opt.step()
        out.append(record(p, opt, k + 1 if variant == "t_from_2" else k))
        if variant == "moments_not_stored":
            out[-1].update(m=np.zeros(np.shape(w)), v=np.zeros(np.shape(w)))
        if variant in ("no_bias_correction", "eps_in_sqrt"):
            # The moments are torch's; only the step taken from them differs.
            m, v = opt.state[p]["exp_avg"].detach(), opt.state[p]["exp_avg_sq"].detach()
            if variant == "no_bias_correction":
                step = learning_rate * m / (v.sqrt() + epsilon)
            else:
                step = learning_rate * (m / (1 - beta1**k)) / (v / (1 - beta2**k) + epsilon).sqrt()
            with torch.no_grad():
                p.copy_(torch.tensor(w_before) - step)
            out[-1]["w"] = _numpy(p)
    return out


def optimiser_mistakes(variants, step, field, student, rtol=1e-9, atol=1e-12):
    """The values of ``field`` at ``step`` that known mistakes give, for :func:`utils.assert_close`'s
    ``mistakes=``: only those mistakes whose other fields agree with what the student returned.

    Two mistakes may give the same next weights and differ in what config keeps (or the other way
    round); matching every field names the one the student made.

    Args:
        variants: ``{description: steps}``, steps as returned by :func:`sgd_momentum_steps` or
            :func:`adam_steps` with that mistake's ``variant``.
        step: index into the steps (0 for the first).
        field: ``"w"``, ``"velocity"``, ``"m"``, ``"v"``...
        student: ``{field: value}``, what the student's function gave at this step.

    Returns:
        ``{description: value of field}``.
    """
    found = {}
    for description, steps in variants.items():
        expected = steps[step]
        others = [k for k in expected if k != field and k in student and k != "t"]
        if all(_agrees(student[k], expected[k], rtol, atol) for k in others):
            found[description] = expected[field]
    return found


def _agrees(actual, expected, rtol, atol):
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return actual.shape == np.shape(expected) and bool(np.allclose(actual, expected, rtol=rtol, atol=atol))


def check_optimiser_steps(
    fn,
    name,
    w,
    grads,
    expected,
    config,
    *,
    keys,
    state,
    where,
    variants=None,
    learning_rates=None,
    before_values=None,
    after_values=None,
    rtol=1e-9,
    atol=1e-12,
):
    """Call an optimiser step by step, as a training loop does, and compare every step with torch.

    Each call gets the weights and the config the previous call returned. The contract comes
    first at every step: a pair ``(next_w, config)``, ``next_w`` a float64 array of w's shape,
    ``w`` and ``dw`` left as they were, ``config`` a dict holding ``keys``. Then the values: the
    next weights, and each config entry in ``state``, against torch's, naming a known mistake
    when one reproduces the student's values (:func:`optimiser_mistakes`).

    Args:
        fn: the student's optimiser, ``fn(w, dw, config) -> (next_w, config)``.
        name: its name in messages (``"adam"``).
        w: float64 array, the starting weights; grads: list of arrays of w's shape, one per step.
        expected: torch's steps, from :func:`sgd_momentum_steps` or :func:`adam_steps`.
        config: the first call's config; ``None`` calls ``fn(w, dw)`` so that the defaults apply.
        keys: the config keys that must be there after every call.
        state: the config keys compared with torch's fields of the same name (``("velocity",)``).
        where: what this run is, for messages (``"w of shape (3,), lr 0.1"``).
        variants: ``{description: steps}`` of known mistakes (same format as ``expected``).
        learning_rates: a schedule: before step k the returned config's ``learning_rate`` is set
            to ``learning_rates[k]`` when it changes, as a learning-rate scheduler would.
        before_values, after_values: ``f(next_w, config, step, label)`` run before and after the
            comparisons of a step (more checks particular to one optimiser).
        rtol, atol: tolerances; everything is float64, so only rounding separates numpy from torch.

    Returns:
        the last ``(next_w, config)``.
    """
    total = len(grads)
    given = []  # (step, the array passed as dw, its values): the caller's gradients must stay as they were
    for k, dw in enumerate(grads, start=1):
        w_in, dw_in = np.array(w, copy=True), np.array(dw, copy=True)
        given.append((k, dw, dw_in))
        label = f"{name} at step {k} of {total} ({where})"
        args = (w, dw) if (config is None and k == 1) else (w, dw, config)
        result = checked_call(fn, *args, what=f"{label}, w of shape {np.shape(w)}", names=["w", "dw"])
        assert isinstance(result, (tuple, list)) and len(result) == 2, (
            f"{label} returned {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            + ": it must return the pair (next_w, config)."
        )
        next_w, config = result
        assert isinstance(next_w, np.ndarray), (
            f"next_w from {label} is a {type(next_w).__name__}: return a numpy array of w's shape {np.shape(w)}."
        )
        assert next_w.shape == np.shape(w), (
            f"next_w from {label} has shape {next_w.shape}, expected w's shape {np.shape(w)}."
        )
        assert next_w.dtype == np.float64, (
            f"next_w from {label} has dtype {next_w.dtype}; w is float64, and so must next_w be."
        )
        assert np.array_equal(w, w_in), (
            f"{label} changed the caller's w in place (w -= ..., or w[...] = ...). The docstring asks for "
            "a new array: compute next_w from w and leave w as it was."
        )
        assert np.array_equal(dw, dw_in), (
            f"{label} changed dw in place: the gradient belongs to the caller; compute with copies "
            "(an array stored in config may be the very array dw was)."
        )
        for j, old, values in given[:-1]:
            assert np.array_equal(old, values), (
                f"{label} changed the dw passed at step {j} in place. Likely mistake: config keeps the very array "
                f"dw was at step {j} (config[...] = dw, no copy), and a later step updates it in place (*=, +=), "
                "so the caller's gradient changes. Store a copy (dw.copy()), or build new arrays."
            )
        assert isinstance(config, dict), (
            f"the config returned by {label} is a {type(config).__name__}, not a dict: return config, "
            "holding what the next step needs."
        )
        missing = [key for key in keys if key not in config]
        assert not missing, (
            f"the config returned by {label} has no {', '.join(repr(key) for key in missing)}: it must "
            f"hold {', '.join(repr(key) for key in keys)} (the defaults filled in, and the state the next "
            "step needs)."
        )
        if before_values is not None:
            before_values(next_w, config, k, label)
        student = {"w": next_w, **{key: config[key] for key in state}}
        assert_close(
            next_w,
            expected[k - 1]["w"],
            f"next_w from {label}",
            rtol=rtol,
            atol=atol,
            mistakes=optimiser_mistakes(variants or {}, k - 1, "w", student, rtol, atol),
        )
        for key in state:
            assert_close(
                config[key],
                expected[k - 1][key],
                f"config[{key!r}] after {label}",
                rtol=rtol,
                atol=atol,
                mistakes=optimiser_mistakes(variants or {}, k - 1, key, student, rtol, atol),
            )
        if after_values is not None:
            after_values(next_w, config, k, label)
        w = next_w
        if learning_rates is not None and k < total and learning_rates[k] != learning_rates[k - 1]:
            config["learning_rate"] = learning_rates[k]
    return next_w, config


def check_adam_steps(adam, w, grads, config, *, where, mistakes=None, **hyper):
    """:func:`check_optimiser_steps` for ``adam``: torch.optim.Adam's steps, the moments ``m`` and ``v``,
    and the step count ``t``, which must equal the number of steps taken.

    ``hyper``: ``learning_rate``, ``beta1``, ``beta2``, ``epsilon`` as passed to :func:`adam_steps`
    (omitted ones take torch's defaults, which are the assignment's). ``mistakes``: ``{variant:
    description}`` for variants of :data:`ADAM_VARIANTS` that the messages should name.
    """
    variants = {text: adam_steps(w, grads, **hyper, variant=name) for name, text in (mistakes or {}).items()}
    expected = adam_steps(w, grads, **hyper)
    beta1 = hyper.get("beta1", 0.9)

    def finite(next_w, config, k, label):
        _corrected_moments_stored(config, expected[k - 1], k, label, beta1)
        if np.all(np.isfinite(next_w)):
            return
        v = np.asarray(config.get("v", 0.0), dtype=np.float64)
        if np.any(v < 0):
            raise AssertionError(
                f"next_w from {label} has NaN, and config['v'] has negative entries: v averages the squared "
                "gradient, v = beta2 * v + (1 - beta2) * dw**2, so it can never be negative."
            )
        if k > 1:
            raise AssertionError(
                f"next_w from {label} has {next_w[~np.isfinite(next_w)][0]}, after {k - 1} finite step(s), and v is "
                "not negative. Likely mistake: a bias correction that reaches 0 or turns negative as t grows, "
                "1 - beta * t (a product) where 1 - beta**t (a power) belongs: with beta2 = 0.999, 1 - beta2 * t is "
                "negative from t = 2, and the square root of v_hat is NaN."
            )
        raise AssertionError(
            f"next_w from {label} has {next_w[~np.isfinite(next_w)][0]}, which a division by zero gives. Likely "
            "mistake: the bias correction used t = 0 (1 - beta1**0 = 0). Increment t before using it, so that "
            "the first step corrects with t = 1."
        )

    def steps_counted(next_w, config, k, label):
        t = config["t"]
        assert np.ndim(t) == 0 and t == k, (
            f"config['t'] is {t!r} after {label}: t counts the steps taken, so it must be {k}. Likely mistake: t is "
            "not stored in config (or not incremented), and the bias correction of every step uses the same t."
        )

    return check_optimiser_steps(
        adam,
        "adam",
        w,
        grads,
        expected,
        config,
        keys=("learning_rate", "beta1", "beta2", "epsilon", "m", "v", "t"),
        state=("m", "v"),
        where=where,
        variants=variants,
        before_values=finite,
        after_values=steps_counted,
    )


def _corrected_moments_stored(config, expected, k, label, beta1):
    """Name the mistake of keeping the bias-corrected m_hat in config['m'] (m / (1 - beta1**t)) in place of m."""
    try:
        m = np.asarray(config.get("m"), dtype=np.float64)
    except (TypeError, ValueError):
        return
    right, corrected = expected["m"], expected["m"] / (1 - beta1**k) if beta1 else None
    if corrected is None or m.shape != right.shape or np.allclose(m, right, rtol=1e-9, atol=1e-12):
        return
    if np.allclose(m, corrected, rtol=1e-9, atol=1e-12) and np.count_nonzero(right) >= 1:
        raise AssertionError(
            f"config['m'] after {label} is the bias-corrected m_hat = m / (1 - beta1**t), not m. Likely mistake: "
            "the corrected moments are stored in config; store the raw moments m and v, and correct them only to "
            "take the step (each step's m and v build on the previous raw ones)."
        )


def check_sgd_momentum_steps(sgd_momentum, w, grads, learning_rates, momentum, config, *, where, mistakes=None):
    """:func:`check_optimiser_steps` for ``sgd_momentum``: torch.optim.SGD(momentum=...)'s steps and its
    velocity, with the learning rate of each step from ``learning_rates`` (set in config when it changes).
    ``mistakes``: ``{variant: description}`` for variants of :data:`SGD_MOMENTUM_VARIANTS` to name."""
    variants = {
        text: sgd_momentum_steps(w, grads, learning_rates, momentum, variant=name)
        for name, text in (mistakes or {}).items()
    }
    return check_optimiser_steps(
        sgd_momentum,
        "sgd_momentum",
        w,
        grads,
        sgd_momentum_steps(w, grads, learning_rates, momentum),
        config,
        keys=("learning_rate", "momentum", "velocity"),
        state=("velocity",),
        where=where,
        variants=variants,
        learning_rates=learning_rates,
    )
