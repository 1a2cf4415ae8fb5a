"""The grader's side of a torch room: the student's torch modules as objects that stay in the room.

Assignment 4 grades torch code (a ``ResidualBlock`` class, a ``count_params_macs`` function). Its
test cells run in the grader's process, as the numpy tests do (``autograder.replay``), with each
graded name answering from a *torch room*: a clean room (``autograder.cleanroom``) that can import
torch, has loaded the student's cells, and has no test in it. There:

- an object of a graded class stays in the room. The grader holds a ``RemoteObject``: its
  attributes, methods, calls, length, items and iteration are asked of the room. Tensors come back as
  values; any other object (a submodule, the module a method returned) as another ``RemoteObject``.
  ``isinstance`` sees the most derived of the torch and torchvision classes the room says the
  object's class derives from, taken from a fixed table (``placeholder``).
- a module of the grader's that a graded function receives (the test's model) is sent as a copy
  (``ship``: ``torch.save``, and the source of the test's own classes it is made of), and what the
  call did to the copy (modes, hooks, plain attributes, buffers, parameters, global hooks) is done
  to the grader's module afterwards (``apply_changes``), so the test sees it as in the kernel.

Every reference and every comparison stays here: the room only computes what the student's code
computes. What the room says about structure (a class's bases) is the student's to forge, as
everything their code returns is; it can only change the answers of their own code, and what their
source reaches is read outside the room (``autograder.shortcuts``).
"""

from __future__ import annotations

import ast
import io
import pickle
import types


class _MethodMarker:
    def __repr__(self) -> str:
        return "<a method in the torch room>"


METHOD = _MethodMarker()  # what ``CleanRoom.remote`` returns for an attribute that is a method


def test_class(qualname: str):
    """Named in a shipped module's pickle for each class the test cell defined; the room resolves it
    to the class defined there from the test's source. Never called in the grader."""
    raise RuntimeError(f"test_class({qualname!r}) resolves only in the torch room")


class RemoteObject:
    """An object of the student's in the torch room, seen from the grader (module docstring)."""

    __slots__ = ("_dl_room", "_dl_key", "_dl_generation", "_dl_graded", "_dl_class")

    def __init__(self, room, key: int, graded: str):
        for name, value in (
            ("_dl_room", room),
            ("_dl_key", key),
            ("_dl_generation", room.generation),
            ("_dl_graded", graded),
            ("_dl_class", None),
        ):
            object.__setattr__(self, name, value)

    def _dl(self, kind: str, attr: str | None = None, args: tuple = (), kwargs: dict | None = None):
        label = f"{self._dl_graded}.{attr}" if attr else f"{self._dl_graded} ({kind})"
        room = self._dl_room
        return room.remote(kind, label, self._dl_graded, key=self._dl_key, attr=attr, args=args, kwargs=kwargs or {})

    @property
    def __class__(self):  # noqa: D105 (what isinstance consults after type())
        if self._dl_class is None:
            object.__setattr__(self, "_dl_class", placeholder(self._dl("class")))
        return self._dl_class

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        value = self._dl("get", attr)
        return RemoteMethod(self, attr) if value is METHOD else value

    def __setattr__(self, attr: str, value) -> None:
        self._dl("set", attr, (value,))

    def __call__(self, *args, **kwargs):
        return self._dl("call", None, args, kwargs)

    def __len__(self) -> int:
        return self._dl("len")

    def __iter__(self):
        return iter(self._dl("iter"))

    def __getitem__(self, index):
        return self._dl("item", None, (index,))

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<{self._dl_graded}'s object {self._dl_key} in the torch room>"


class RemoteGrad:
    """Autograd through a call in the torch room: its output here is a node whose backward sends the
    output's gradient to the room, where the call's graph runs backward (the student's module
    accumulates its parameters' gradients there), and brings back the inputs' gradients."""

    @staticmethod
    def apply(room, graph: int, label: str, graded: str, value, *inputs):
        import torch

        class Function(torch.autograd.Function):
            @staticmethod
            def forward(ctx, value, *inputs):
                return value.clone()

            @staticmethod
            def backward(ctx, grad):
                how = {"graph": graph, "args": (grad,)}
                grads = room.remote("backward", f"{label} (backward)", graded, **how)
                grads = list(grads) if isinstance(grads, list | tuple) else []
                grads = [g if isinstance(g, torch.Tensor) else None for g in grads][: len(inputs)]
                return (None, *grads, *[None] * (len(inputs) - len(grads)))

        return Function.apply(value, *inputs)


class RemoteMethod:
    """A method of a ``RemoteObject``: called in the room."""

    def __init__(self, owner: RemoteObject, name: str):
        self.owner, self.__name__ = owner, name

    def __call__(self, *args, **kwargs):
        return self.owner._dl("call", self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<method {self.__name__} of {self.owner!r}>"


def _known_classes() -> dict[tuple[str, str], type]:
    """The classes ``isinstance`` may see through a ``RemoteObject``, by the ``(module, qualname)``
    the room reports: torch's module classes and torchvision's residual blocks, nothing else."""
    import torch.nn as nn
    from torchvision.models.resnet import BasicBlock, Bottleneck

    classes = [nn.Module, BasicBlock, Bottleneck]
    classes += [c for c in vars(nn).values() if isinstance(c, type) and issubclass(c, nn.Module)]
    return {(c.__module__, c.__qualname__): c for c in classes}


def placeholder(description) -> type:
    """The class ``isinstance`` sees for a room object: of the classes in its MRO (as the room
    reports it), the most derived one among ``_known_classes`` (``nn.Conv2d``; ``nn.Module`` for a
    student's module; torchvision's ``BasicBlock`` if the student's derives from it), else
    ``object``. No class is built from what the room says, and nothing the room names is looked up
    or imported: a name either is in that fixed table or is nothing."""
    known = _known_classes()
    try:
        found = [known.get((str(m), str(q))) for m, q in list(description["mro"])[:100]]
    except (TypeError, KeyError, ValueError):
        return object
    found = [c for c in found if c is not None]
    return next((c for c in found if not any(o is not c and issubclass(o, c) for o in found)), object)


# -- the grader's modules, sent to the room -----------------------------------------------------------------
def _class_sources(source: str) -> dict[str, tuple[str, set[str]]]:
    """The test cell's top-level classes: name -> (source, names of its bases)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            found[node.name] = (ast.get_source_segment(source, node) or "", bases)
    return found


def ship(model, test_source: str) -> tuple[bytes, list[str]]:
    """``(saved, sources)``: ``model`` saved by ``torch.save``, with each class the test cell defined
    named as ``test_class(name)``, and the source of those classes (and their bases of the test's)."""
    import torch

    needed: list[str] = []

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, type) and obj.__module__ == "__main__":
                if obj.__qualname__ not in needed:
                    needed.append(obj.__qualname__)
                return (test_class, (obj.__qualname__,))
            return NotImplemented

    buffer = io.BytesIO()
    torch.save(model, buffer, pickle_module=types.SimpleNamespace(Pickler=Pickler, __name__="pickle"))
    classes = _class_sources(test_source)
    order: list[str] = []

    def add(name: str) -> None:
        if name in classes and name not in order:
            for base in classes[name][1]:
                add(base)
            order.append(name)

    for name in needed:
        add(name)
    return buffer.getvalue(), [classes[name][0] for name in order]


PLAIN = (bool, int, float, str)


def _noop(*args, **kwargs):
    return None


def apply_changes(model, changes) -> None:
    """Do to the grader's ``model`` what a call did to its copy in the room (``changes``, from the
    room's ``_module_changes``): modes and plain attributes of each submodule, its number of forward,
    forward-pre and backward hooks (met with hooks that do nothing), the buffers and parameters that
    changed, which parameters are trainable, and the global hooks added."""
    import torch
    from torch.nn.modules import module as torch_module

    if not isinstance(changes, dict):
        return
    modules = dict(model.named_modules())
    for name, state in dict(changes.get("modules", {})).items():
        target = modules.get(name)
        if target is None or not isinstance(state, dict):
            continue
        owned = set(target._parameters) | set(target._buffers) | set(target._modules)
        for attr, value in dict(state.get("attributes", {})).items():
            if not isinstance(attr, str) or attr.startswith("_") or attr in owned or type(value) not in PLAIN:
                continue
            # Only a value the module already has, of its type (a flag such as ``training``, a probe's
            # ``hooked``): never a name that would hide a method.
            current = target.__dict__.get(attr, getattr(type(target), attr, None))
            if type(current) is type(value):
                target.__dict__[attr] = value
        hooks = list(state.get("hooks", []))[:3]
        registers = (target.register_forward_hook, target.register_forward_pre_hook, target.register_full_backward_hook)
        tables = (target._forward_hooks, target._forward_pre_hooks, target._backward_hooks)
        for count, register, table in zip(hooks, registers, tables):
            if not isinstance(count, int):
                continue
            for _ in range(max(0, min(count, 1000) - len(table))):
                register(_noop)
            for key in list(table)[count:] if count < len(table) else []:
                del table[key]
    for key, tensor in dict(changes.get("tensors", {})).items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            continue
        kind, _, name = key.partition(":")
        try:
            target = model.get_parameter(name) if kind == "p" else model.get_buffer(name)
        except AttributeError:
            continue
        with torch.no_grad():
            if target.shape == tensor.shape:
                target.copy_(tensor)
            else:
                target.data = tensor.to(target.dtype)
    trainable = dict(changes.get("trainable", {}))
    for name, parameter in model.named_parameters():
        if isinstance(trainable.get(name), bool):
            parameter.requires_grad_(trainable[name])
    registers = (
        torch_module.register_module_forward_hook,
        torch_module.register_module_forward_pre_hook,
        torch_module.register_module_full_backward_hook,
    )
    for count, register in zip(list(changes.get("global_hooks", []))[:3], registers):
        for _ in range(min(count, 100) if isinstance(count, int) else 0):
            register(_noop)


GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks")


def saved_global_hooks() -> dict:
    """torch's global module hooks as they are (``restore_global_hooks`` puts them back)."""
    from torch.nn.modules import module as torch_module

    return {name: dict(getattr(torch_module, name)) for name in GLOBAL_HOOKS if hasattr(torch_module, name)}


def restore_global_hooks(saved: dict) -> None:
    from torch.nn.modules import module as torch_module

    for name, hooks in saved.items():
        table = getattr(torch_module, name)
        table.clear()
        table.update(hooks)
