"""Values as data between the grader and a process that runs student code: no pickle, no code.

``encode`` turns plain data (None, bools, numbers, strings, numpy arrays and scalars, tensors,
tuples, lists, dicts, slices, numpy Generators) into JSON-able nodes whose arrays are appended to a
list; an object of a graded class becomes ``{"inst": id}``; anything else becomes an opaque node,
equal to nothing. ``Decoder`` is its inverse and runs no code from the data. ``write_message`` and
``Reader.message`` carry one ``(meta, arrays)`` pair over a pipe: an 8-byte length, the JSON header
(``meta`` and each array's dtype, shape, offset and size), an 8-byte length, the arrays' bytes.

The reader bounds what it accepts before it decodes anything: the header's size (JSON expands
when decoded: the header is kept small), the blob's size, the nesting and the count of nodes.
This file imports nothing of the ``autograder`` package: the clean room (``autograder.cleanroom``)
mounts it on its own inside the sandbox.
"""

from __future__ import annotations

import json
import os
import sys

HEADER_LIMIT = 8 * 1024**2  # bytes of JSON one message may carry (its arrays are counted apart)
BLOB_LIMIT = 64 * 1024**2  # bytes of arrays one message may carry (a test's answers are far smaller)
NODE_LIMIT = 200_000  # nodes one message may decode to
DECODED_LIMIT = 2 * BLOB_LIMIT  # bytes of arrays and tensors one message may decode to
DEPTH_LIMIT = 32
GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class WireError(Exception):
    """A message that is missing, too large or malformed."""


class Opaque:
    """A value that was not plain data: equal to nothing."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object (not plain data)>"


class Handle:
    """In the clean room, an object of the grader's that cannot cross (a tensor a torch stand-in
    returned): it goes back to the grader as what it was."""

    def __init__(self, key: int):
        self.key = key

    def __repr__(self) -> str:
        return f"<the grader's object {self.key}>"


class Handles:
    """The grader's side of ``Handle``: objects kept here, known there by a number."""

    def __init__(self):
        self.objects: list = []

    def add(self, obj) -> int:
        self.objects.append(obj)
        return len(self.objects) - 1

    def __call__(self, key):
        if not isinstance(key, int) or not 0 <= key < len(self.objects):
            raise WireError("a reference to an object of the grader's that does not exist")
        return self.objects[key]


def encode(value, arrays: list, instances: dict | None = None, depth: int = 0, copy: bool = True, handles=None):
    """``value`` as JSON-able nodes; arrays are appended to ``arrays`` and named by their index.

    ``instances`` maps ``id(obj) -> (key, obj)`` for the objects that travel as references. With
    ``handles`` (a ``Handles``), a tensor or any other object that is not plain data stays on this
    side and travels as ``{"handle": key}`` (a tensor travels as its values when ``handles`` has
    ``keeps_tensors = False``: the torch room's modules stay, their outputs go); a ``Handle`` always
    travels back so.
    """
    if depth > DEPTH_LIMIT:
        return {"opaque": f"nesting deeper than {DEPTH_LIMIT}"}
    if isinstance(value, Handle):
        return {"handle": value.key}
    nested = dict(instances=instances, copy=copy, handles=handles)
    np = sys.modules.get("numpy")
    if np is not None:  # first: np.float64 is also a float, and keeps its type
        if isinstance(value, (np.ndarray, np.generic)) and not np.asarray(value).dtype.hasobject:
            arrays.append(np.array(value, copy=True) if copy else np.asarray(value))
            return {"a": len(arrays) - 1, "scalar": isinstance(value, np.generic)}
        if isinstance(value, np.random.Generator):
            return {
                "generator": type(value.bit_generator).__name__,
                "state": encode(value.bit_generator.state, arrays, None, depth + 1),
            }
    if value is None or type(value) in (bool, str):
        return {"v": value}
    if isinstance(value, int):
        return {"int": str(int(value))}
    if isinstance(value, float):
        return {"float": repr(float(value))}
    if isinstance(value, str):
        return {"v": str(value)}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if handles is not None and getattr(handles, "keeps_tensors", True):
            return {"handle": handles.add(value)}
        try:
            arrays.append(value.detach().cpu().numpy().copy())
        except (TypeError, RuntimeError):
            return {"opaque": "torch.Tensor of an unsupported dtype"}
        return {"tensor": len(arrays) - 1, "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, tuple | list):
        key = "tuple" if isinstance(value, tuple) else "list"
        return {key: [encode(v, arrays, depth=depth + 1, **nested) for v in value]}
    if isinstance(value, dict):
        return {
            "dict": [
                [encode(k, arrays, depth=depth + 1, **nested), encode(v, arrays, depth=depth + 1, **nested)]
                for k, v in value.items()
            ]
        }
    if isinstance(value, slice):
        return {"slice": [encode(v, arrays, None, depth + 1) for v in (value.start, value.stop, value.step)]}
    if instances is not None and id(value) in instances:
        return {"inst": instances[id(value)][0]}
    if handles is not None:
        return {"handle": handles.add(value)}
    return {"opaque": type(value).__qualname__}


class Arrays:
    """The arrays of a message: ``index`` lists each one's ``[dtype, shape, offset, size]`` in ``blob``.

    Only numbers, booleans and fixed-width strings: no object dtype, so nothing is unpickled.
    """

    KINDS = "biufc?SU"

    def __init__(self, index: list, blob):
        self.index, self.blob = index, blob

    @classmethod
    def of(cls, arrays: list) -> Arrays:
        """The table of arrays that ``encode`` appended to a list."""
        import numpy as np

        index, blobs, offset = [], [], 0
        for array in arrays:
            blob = np.asarray(array, order="C").tobytes()
            index.append([array.dtype.str, list(array.shape), offset, len(blob)])
            blobs.append(blob)
            offset += len(blob)
        return cls(index, memoryview(b"".join(blobs)))

    def view(self, i):
        """Array ``i``, read-only, without a copy."""
        import numpy as np

        try:
            dtype_text, shape, offset, size = self.index[i]
            dtype, shape = np.dtype(str(dtype_text)), tuple(int(n) for n in shape)
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            ok = dtype.kind in self.KINDS and not dtype.hasobject and not dtype.fields and min(shape, default=0) >= 0
            if not ok or count * dtype.itemsize != size or not 0 <= offset <= offset + size <= len(self.blob):
                raise ValueError
        except (TypeError, ValueError, IndexError, KeyError):
            raise WireError("a malformed array") from None
        return np.frombuffer(self.blob, dtype=dtype, count=count, offset=offset).reshape(shape)


class Decoder:
    """Values from nodes (the inverse of ``encode``); ``instances``: key -> object; ``handles``:
    key -> object (a ``Handles``), or ``Handle`` (the clean room's side)."""

    def __init__(self, arrays: Arrays, instances: dict | None = None, handles=Handle):
        self.arrays = arrays
        self.instances = {} if instances is None else instances
        self.handles = handles
        self.nodes = 0
        self.decoded = 0  # bytes of arrays and tensors made so far: at most DECODED_LIMIT

    def _spend(self, nbytes: int) -> None:
        self.decoded += int(nbytes)
        if self.decoded > DECODED_LIMIT:
            raise WireError("a message that decodes to more arrays than it carries")

    def array(self, index):
        if not isinstance(index, int) or isinstance(index, bool):
            raise WireError("malformed array reference")
        view = self.arrays.view(index)
        self._spend(view.nbytes)  # each reference to an array is a copy: a forged message cannot repeat one freely
        return view.copy()

    def __call__(self, node):
        try:
            return self._decode(node, 0)
        except WireError:
            raise
        except Exception as exc:  # noqa: BLE001 (whatever a malformed node breaks, the message is unusable)
            raise WireError(f"malformed message ({type(exc).__name__})") from None

    def _decode(self, node, depth: int):
        import numpy as np

        self.nodes += 1
        if self.nodes > NODE_LIMIT or depth > DEPTH_LIMIT + 2:
            raise WireError("a value with too many parts")
        if not isinstance(node, dict) or len(node) == 0:
            raise WireError("malformed node")
        if "v" in node:
            value = node["v"]
            if value is not None and not isinstance(value, (bool, str)):
                raise WireError("malformed plain value")
            return value
        if "int" in node:
            if len(str(node["int"])) > 4000:
                raise WireError("an integer too long to be an answer")
            return int(node["int"])
        if "float" in node:
            return float(node["float"])
        if "a" in node:
            array = self.array(node["a"])
            return array[()] if node.get("scalar") else array
        if "tensor" in node:
            import torch

            dtype = getattr(torch, str(node.get("dtype")), None)
            if not isinstance(dtype, torch.dtype):
                raise WireError("malformed tensor dtype")
            array = self.array(node["tensor"])
            self._spend(array.size * dtype.itemsize)  # a tensor widened to complex128 costs what it becomes
            return torch.from_numpy(array).to(dtype)
        if "tuple" in node:
            return tuple(self._decode(v, depth + 1) for v in node["tuple"])
        if "list" in node:
            return [self._decode(v, depth + 1) for v in node["list"]]
        if "dict" in node:
            return {self._decode(k, depth + 1): self._decode(v, depth + 1) for k, v in node["dict"]}
        if "slice" in node:
            return slice(*(self._decode(v, depth + 1) for v in node["slice"]))
        if "generator" in node:
            if node["generator"] not in GENERATORS:
                raise WireError("unknown random generator")
            generator = np.random.Generator(getattr(np.random, node["generator"])())
            generator.bit_generator.state = self._decode(node["state"], depth + 1)
            return generator
        if "inst" in node:
            if node["inst"] not in self.instances:
                raise WireError("a reference to an object that does not exist")
            return self.instances[node["inst"]]
        if "opaque" in node:
            return Opaque(str(node["opaque"]))
        if "handle" in node:
            if not isinstance(node["handle"], int) or isinstance(node["handle"], bool):
                raise WireError("malformed handle")
            return self.handles(node["handle"])
        raise WireError("unknown node")


def assign_in_place(target, value):
    """Make ``target`` equal ``value`` keeping its identity where it can; returns what to bind."""
    import numpy as np

    if isinstance(target, np.ndarray) and isinstance(value, np.ndarray):
        if target.shape == value.shape and target.flags.writeable:
            np.copyto(target, value, casting="unsafe")
            return target
        return value
    if isinstance(target, dict) and isinstance(value, dict):
        for key in [k for k in target if k not in value]:
            del target[key]
        for key, item in value.items():
            target[key] = assign_in_place(target[key], item) if key in target else item
        return target
    if isinstance(target, list) and isinstance(value, list):
        target[:] = [assign_in_place(t, v) for t, v in zip(target, value)] + value[len(target) :]
        return target
    if isinstance(target, np.random.Generator) and isinstance(value, np.random.Generator):
        target.bit_generator.state = value.bit_generator.state
        return target
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(target, torch.Tensor) and isinstance(value, torch.Tensor):
        if target.shape == value.shape:
            with torch.no_grad():
                target.copy_(value)
            return target
    return value


SMALL_ARRAY = 1 << 16  # bytes: an array this small is kept whole by digest (comparing beats hashing)


def digest(values):
    """What ``values`` are, as encoded, arrays included: equal for equal values, so comparing two
    tells whether a call changed them in place. Arrays up to ``SMALL_ARRAY`` bytes are kept as
    their bytes, larger ones as their SHA-256 (hashing 50 kB costs more than copying it)."""
    import hashlib

    import numpy as np

    if type(values) is np.ndarray and values.dtype.kind in "biufc?":  # most attributes: no tree to encode
        arrays, parts = [values], ["array"]
    else:
        arrays = []
        parts = [json.dumps(encode(values, arrays, copy=False), sort_keys=True)]
    for array in arrays:
        data = np.ascontiguousarray(array)
        raw = data.reshape(-1).view(np.uint8)
        parts += [
            data.dtype.str,
            data.shape,
            raw.tobytes() if raw.nbytes <= SMALL_ARRAY else hashlib.sha256(raw).digest(),
        ]
    return tuple(parts)


# -- messages over a pipe --------------------------------------------------------------------------
def write_message(fd: int, meta: dict, arrays: list = ()) -> None:
    """Write ``meta`` (JSON-able, its arrays named by index in ``arrays``) to the descriptor ``fd``."""
    import numpy as np

    index, blobs, offset = [], [], 0
    for array in arrays:
        blob = np.asarray(array, order="C")  # not ascontiguousarray: it makes a 0-d array 1-d
        index.append([blob.dtype.str, list(blob.shape), offset, blob.nbytes])
        blobs.append(blob)
        offset += blob.nbytes
    header = json.dumps({"meta": meta, "arrays": index}).encode()
    parts = [len(header).to_bytes(8, "little"), header, offset.to_bytes(8, "little")]
    parts += [memoryview(blob.reshape(-1).view(np.uint8)) for blob in blobs if blob.nbytes]
    _write_all(fd, parts)


def _write_all(fd: int, parts: list) -> None:
    """Write every buffer of ``parts`` in as few system calls as the pipe takes: one, for a message
    that fits in its buffer (each write wakes the reader)."""
    views = [memoryview(p).cast("B") for p in parts]
    while views:
        written = os.writev(fd, views[:512])  # IOV_MAX is 1024 on Linux
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if views and written:
            views[0] = views[0][written:]


class Reader:
    """Messages from a descriptor, read in large chunks (a call's answer is one read, not four)."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, bytearray()

    def message(self, deadline: float | None = None) -> tuple[dict, Arrays]:
        """``(meta, arrays)`` of the next message; ``WireError`` if it is malformed, too large, not
        there by ``deadline`` (``time.monotonic()``), or the other end has closed."""
        size = int.from_bytes(self._take(8, deadline), "little")
        if size > HEADER_LIMIT:
            raise WireError("a message whose header is over the limit")  # no number: it is the sender's
        header = self._take(size, deadline)
        blob_size = int.from_bytes(self._take(8, deadline), "little")
        if blob_size > BLOB_LIMIT:
            raise WireError("a message whose arrays are over the limit")
        blob = self._take(blob_size, deadline)
        try:
            parsed = json.loads(header)
            meta, index = parsed["meta"], parsed["arrays"]
            if not isinstance(meta, dict) or not isinstance(index, list):
                raise ValueError
        except (ValueError, KeyError, TypeError, RecursionError, MemoryError):
            raise WireError("a malformed message header") from None
        return meta, Arrays(index, memoryview(blob))

    def _take(self, size: int, deadline: float | None) -> bytes:
        import select
        import time

        while len(self.buffer) < size:
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([self.fd], [], [], wait)[0]:
                    raise WireError("no answer in time")
            chunk = os.read(self.fd, max(size - len(self.buffer), 1 << 20))
            if not chunk:
                raise WireError("the other end closed")
            self.buffer += chunk
        taken = bytes(self.buffer[:size])
        del self.buffer[:size]
        return taken
