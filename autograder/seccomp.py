"""Seccomp filters for the processes that run student code: what they may not ask the kernel for.

A filter is installed by the process itself and holds for it and every descendant; nothing it runs
later can remove it. Two filters:

- ``forbid_user_namespaces``: every sandbox (a kernel in a user namespace of its own would have
  every capability again, and the kernel's whole attack surface that needs them);
- ``forbid_new_processes``: the clean room (``autograder.cleanroom``), whose CPU time the grader
  reads from ``/proc`` for the room's processes: a child that Linux reaps by itself (``SIGCHLD``
  ignored) would take its CPU time away with it. Threads stay allowed.

Each fails the call with EPERM; ``clone3``, whose flags a filter cannot read, fails with ENOSYS, so
that glibc falls back to ``clone``; a foreign ABI (32-bit, x32), which a filter would misread, is
refused. Installing one needs ``no_new_privs`` or CAP_SYS_ADMIN. This file imports nothing of the
``autograder`` package: the clean room mounts it on its own inside the sandbox.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

# (audit arch, clone, unshare, fork, vfork) of the machines the filters know; clone3 is 435 on both.
# aarch64 has no fork or vfork system call (glibc uses clone): -1 matches nothing.
_SYSCALLS = {"x86_64": (0xC000003E, 56, 272, 57, 58), "aarch64": (0xC00000B7, 220, 97, -1, -1)}
CLONE_NEWUSER = 0x10000000
CLONE_THREAD = 0x00010000
_ALLOW, _EPERM, _ENOSYS = 0x7FFF0000, 0x50000 | errno.EPERM, 0x50000 | errno.ENOSYS
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|{JEQ,JGE,JSET}|K, BPF_RET|K


def forbid_user_namespaces() -> None:
    """``unshare`` and ``clone`` with CLONE_NEWUSER fail, for this process and its descendants."""
    arch, clone, unshare, _, _ = _SYSCALLS[os.uname().machine]
    _install(
        [
            *_checked_abi(arch, to_enosys=8),
            (_JEQ, 7, 0, 435),  # clone3
            (_JEQ, 2, 0, unshare),
            (_JEQ, 1, 0, clone),
            (_RET, 0, 0, _ALLOW),
            (_LD, 0, 0, 16),  # the low half of seccomp_data.args[0]: the flags of clone and unshare
            (_JSET, 1, 0, CLONE_NEWUSER),
            (_RET, 0, 0, _ALLOW),
            (_RET, 0, 0, _EPERM),
            (_RET, 0, 0, _ENOSYS),
        ]
    )


def forbid_new_processes() -> None:
    """``fork``, ``vfork`` and ``clone`` without CLONE_THREAD fail, for this process and its threads:
    it can start threads, never another process."""
    arch, clone, _, fork, vfork = _SYSCALLS[os.uname().machine]
    _install(
        [
            *_checked_abi(arch, to_enosys=8),
            (_JEQ, 7, 0, 435),  # clone3
            (_JEQ, 5, 0, fork & 0xFFFFFFFF),
            (_JEQ, 4, 0, vfork & 0xFFFFFFFF),
            (_JEQ, 1, 0, clone),
            (_RET, 0, 0, _ALLOW),
            (_LD, 0, 0, 16),  # the low half of seccomp_data.args[0]: clone's flags
            (_JSET, 2, 0, CLONE_THREAD),
            (_RET, 0, 0, _EPERM),
            (_RET, 0, 0, _ENOSYS),
            (_RET, 0, 0, _ALLOW),
        ],
        no_new_privs=True,
    )


def _checked_abi(arch: int, to_enosys: int) -> list[tuple[int, int, int, int]]:
    """The start of a filter: EPERM for a foreign ABI; then the call's number is loaded, and x32's
    numbers jump ``to_enosys`` instructions on."""
    return [
        (_LD, 0, 0, 4),  # seccomp_data.arch
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, _EPERM),
        (_LD, 0, 0, 0),  # seccomp_data.nr
        (_JGE, to_enosys, 0, 0x40000000),  # x32's numbers
    ]


def _install(program: list[tuple[int, int, int, int]], no_new_privs: bool = False) -> None:
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if no_new_privs:
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: allowed to any process, needed unprivileged
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
