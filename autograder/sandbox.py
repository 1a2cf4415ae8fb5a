"""Run each submission's kernel inside a bubblewrap sandbox, with resource limits.

The grader (nbgrader, its gradebook, the course directory) stays outside. Only the Jupyter kernel
that executes the student's notebook runs inside ``bwrap``:

- a fresh, mostly empty root: read-only views of the system (``/usr``, ``/etc``), the Python
  installation, the venv and the course's ``utils`` package, nothing else of the host; the
  instructor's sources, the gradebook, other students' folders do not exist in there;
- one writable folder, the submission's scratch copy (its working directory), plus a small ``/tmp``;
  a root grader's scratch folder (``scratch_space``) is a tmpfs of ``Limits.scratch_size``, so what
  the kernel writes is capped and never reaches the host's disk;
- no network (``--unshare-net``: a loopback of its own), its own pid, ipc and uts namespaces, and no
  way to make user namespaces of its own (bwrap's ``--disable-userns``, or for a root grader a
  seccomp filter, ``forbid_user_namespaces``);
- an unprivileged uid (one of ``UID_POOL`` when the grader is root, through ``setpriv``; otherwise
  ``nobody`` in a user namespace);
- limits for the submission as a whole: memory (RAM, no swap) and tasks, through a cgroup of its own
  (``cgroup_mode``); the rlimits of ``set_rlimits`` (memory and processes per process, file size)
  stay as a second layer, and are the only one where no cgroup can be made (``check`` says so);
- nothing of the grader's: stdin, stdout and stderr are ``/dev/null``, no other descriptor is
  inherited, and the environment is an allowlist (``kernel_environment``).

Root never follows a path the sandbox could have replaced: the scratch folder itself stays root's
(its subfolders are the sandbox's), and the launcher writes the kernel's connection file through
descriptors opened without following links (``_write_connection_file``).

The kernel talks to nbclient over unix sockets (``KernelManager.transport = "ipc"``) in the
submission's scratch folder, since TCP on the host's loopback is out of reach of a kernel without
network. The kernelspec's argv is ``python -m autograder.sandbox CONNECTION_FILE ...``: this module
then starts ``bwrap`` in a session of its own and forwards interrupts to the kernel alone (a SIGINT to
``bwrap`` itself would kill the sandbox, so an endless cell could not be interrupted).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .seccomp import forbid_user_namespaces  # its own file: the clean room mounts it alone

KERNEL_NAME = "dl-course-sandbox"
SCRATCH_ENV = "DL_SANDBOX_SCRATCH"
LIMITS_ENV = "DL_SANDBOX_LIMITS"
ZYGOTE_ENV = "DL_SANDBOX_ZYGOTE"  # the unix socket of a kernel fork server (autograder.zygote), if any
NOBODY = 65534
# The grading agent (autograder/agent.py) is mounted on its own, read-only, under this name.
AGENT_DIR = "/opt/dl-grading"
AGENT_MODULE = "dl_grading_agent"
GB = 1024**3


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass
class Limits:
    """Per-submission limits, for the kernel and everything it starts together.

    ``memory`` and ``processes`` bind the sandbox as a whole where it has a cgroup of its own
    (``cgroup_mode()`` is not None): the memory its processes use in all (RAM, no swap; a sandbox
    over it loses a process to the kernel's OOM killer, its kernel as often as not), and the tasks
    (processes and threads) it runs at once. Each process is held to them by rlimits too, the only
    limits where there is no cgroup: ``memory`` of heap and anonymous mappings (RLIMIT_DATA; not
    the address space: torch alone maps ~3.7 GB of it, a kernel with numpy, torch and utils holds
    ~0.9 GB of data), ``processes`` of the sandbox's uid (RLIMIT_NPROC).
    """

    memory: int = 4 * GB
    processes: int = 64
    file_size: int = 256 * 1024**2  # largest file the kernel may write (RLIMIT_FSIZE)
    tmp_size: int = 256 * 1024**2  # size of the sandbox's /tmp
    scratch_size: int = 512 * 1024**2  # size of a root grader's scratch folder (a tmpfs: scratch_space)
    uid: int = NOBODY  # the kernel's uid when the grader is root (claim_uid gives each sandbox its own)

    def to_env(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_env(cls) -> Limits:
        return cls(**json.loads(os.environ.get(LIMITS_ENV, "{}")))


def parse_size(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"3000000000"`` -> bytes."""
    text = text.strip().upper().removesuffix("B")
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def human_size(n: int) -> str:
    for unit, size in (("GB", GB), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def _as_root() -> bool:
    return os.geteuid() == 0


def _readonly_roots() -> list[str]:
    """Host folders the kernel may read: the system, the Python installation, the venv, utils."""
    import importlib.util

    # Found, not imported: importing utils would load torch in the kernel's launcher for nothing.
    utils_dir = Path(importlib.util.find_spec("utils").origin).resolve().parent
    roots = ["/usr", "/etc", sys.base_prefix, sys.prefix, str(utils_dir)]
    for extra in ("/lib", "/lib64", "/bin", "/sbin", "/lib32"):
        if os.path.islink(extra) or not os.path.exists(extra):
            continue
        roots.append(extra)
    out: list[str] = []
    for root in sorted({str(Path(r).resolve()) for r in roots if os.path.exists(r)}):
        if not any(root == o or root.startswith(o.rstrip("/") + "/") for o in out):
            out.append(root)
    return out


def bwrap_argv(scratch: Path, limits: Limits, command: list[str]) -> list[str]:
    """The ``bwrap`` command that runs ``command`` in ``scratch`` with everything else hidden."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bwrap (bubblewrap) is not installed: apt-get install bubblewrap")
    argv = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--hostname", "sandbox"]
    if not _as_root():
        # A root grader's bwrap makes no user namespace, so it cannot disable them: it has the seccomp
        # filter of forbid_user_namespaces instead.
        argv += ["--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    argv += ["--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    roots = _readonly_roots()
    # Folders bwrap creates on the way to a mount would be 0700 (unreadable by the kernel's uid).
    parents = sorted({str(p) for r in [*roots, str(scratch)] for p in Path(r).parents if str(p) != "/"})
    for parent in parents:
        argv += ["--perms", "0755", "--dir", parent]
    for root in roots:
        argv += ["--ro-bind", root, root]
    for link in ("lib", "lib64", "bin", "sbin"):
        if os.path.islink(f"/{link}"):
            argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    argv += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", AGENT_DIR]
    argv += ["--ro-bind", str(Path(__file__).with_name("agent.py")), f"{AGENT_DIR}/{AGENT_MODULE}.py"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch / "work")]
    argv += ["--clearenv"]
    for name, value in kernel_environment(scratch).items():
        argv += ["--setenv", name, value]
    if _as_root():
        # A real unprivileged uid (RLIMIT_NPROC does not bind root), with every capability dropped.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise SandboxUnavailable("setpriv (util-linux) is needed to drop root inside the sandbox")
        argv += ["--", setpriv, f"--reuid={limits.uid}", f"--regid={limits.uid}", "--clear-groups"]
        argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        argv += ["--"]
    return argv + command


# Each sandbox of a root grader runs as a uid of its own from this range (numbers no account uses),
# so that the process limit, which the kernel counts per uid, is one submission's alone: a fork bomb
# in one parallel job cannot starve another's kernel of threads.
UID_POOL = range(61000, 61512)


def claim_uid():
    """``(uid, lock)``: a uid from ``UID_POOL`` that no other sandbox on this machine holds, and
    the open lock file that holds it (close it when the sandbox is gone). ``(NOBODY, None)`` when
    the grader is not root (then the sandbox's user namespace maps the grader's own uid)."""
    import fcntl
    import pwd
    import tempfile

    if not _as_root():
        return NOBODY, None
    folder = Path(tempfile.gettempdir()) / "dl-grading-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    # In a /tmp anyone can write: a folder (or link) someone else made there first is not ours.
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise SandboxUnavailable(f"{folder} is not root's alone")
    for uid in UID_POOL:
        try:
            pwd.getpwuid(uid)
            continue  # an account of this machine: not ours to use
        except KeyError:
            pass
        fd = os.open(folder / str(uid), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        lock = open(fd, "w")  # noqa: SIM115 (held open for the sandbox's lifetime)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return uid, lock
    raise SandboxUnavailable(f"all {len(UID_POOL)} sandbox uids are in use")


def _running_processes(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    count += int(line.split()[1]) == uid
                    break
        except OSError:
            continue
    return count


def set_rlimits(limits: Limits, running: int) -> None:
    """Memory, file size, core dumps, and processes: ``running`` (what already runs under the
    sandbox's uid, since the count is per real uid across the machine) plus the budget."""
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory, limits.memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
    nproc = running + limits.processes
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# -- cgroups -------------------------------------------------------------------------------------
CGROUP_ROOT = "/sys/fs/cgroup"
# The sandbox's own processes besides the kernel's: bwrap and its pid 1, or the zygote's init.
_WRAPPER_TASKS = 2
_warned = False


@functools.cache
def _cgroup_parents() -> tuple[str | None, tuple[str, ...]]:
    """The cgroup version usable here, and the folders (this process's own cgroups, one per
    hierarchy) under which a sandbox's cgroup is made: ``(None, ())`` where none can be."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, ()
    own = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path.lstrip("/")
    if os.path.exists(f"{CGROUP_ROOT}/cgroup.controllers"):
        parent = os.path.join(CGROUP_ROOT, own.get("", ""))
        try:
            enabled = Path(parent, "cgroup.subtree_control").read_text().split()
            if not {"memory", "pids"} <= set(enabled):
                # Fails (EBUSY) where the grader's own cgroup holds processes: no internal processes in v2.
                Path(parent, "cgroup.subtree_control").write_text("+memory +pids")
        except OSError:
            return None, ()
        return "v2", (parent,)
    parents = tuple(os.path.join(CGROUP_ROOT, c, own[c]) for c in ("memory", "pids") if c in own)
    if len(parents) == 2 and all(os.path.isdir(p) and os.access(p, os.W_OK) for p in parents):
        return "v1", parents
    return None, ()


def cgroup_mode() -> str | None:
    """``"v2"`` or ``"v1"``: each sandbox gets a cgroup of its own, which holds its memory and
    tasks in all; None: no cgroup can be made here (not root, no delegated controllers), and only
    the per-process rlimits hold."""
    return _cgroup_parents()[0]


def make_cgroup(limits: Limits) -> list[str]:
    """A new cgroup (a folder per hierarchy) with the sandbox's limits; [] where there is none."""
    import secrets

    mode, parents = _cgroup_parents()
    name = f"dl-sandbox-{limits.uid}-{secrets.token_hex(4)}"
    settings = {
        "v2": {"memory.max": limits.memory, "memory.swap.max": 0, "pids.max": limits.processes + _WRAPPER_TASKS},
        "v1": {
            "memory.limit_in_bytes": limits.memory,
            "memory.memsw.limit_in_bytes": limits.memory,  # after the one above: it may not be lower
            "pids.max": limits.processes + _WRAPPER_TASKS,
        },
    }.get(mode, {})
    made = []
    try:
        for parent in parents:
            made.append(os.path.join(parent, name))
            os.mkdir(made[-1], 0o755)
        for setting, value in settings.items():
            for folder in made:
                if os.path.exists(os.path.join(folder, setting)):
                    Path(folder, setting).write_text(str(value))
    except OSError:
        remove_cgroup(made)
        raise
    return made


def join_cgroup(folders: list[str]) -> None:
    """Move the calling process into the cgroup ``folders`` (``make_cgroup``); its children follow."""
    for folder in folders:
        Path(folder, "cgroup.procs").write_text("0")  # 0: the writing process (its pid may be a namespace's)


def remove_cgroup(folders: list[str], timeout: float = 10) -> None:
    """Kill what still runs in the cgroup ``folders``, then remove it."""
    import time

    deadline = time.monotonic() + timeout
    for folder in folders:
        while True:
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    print(f"sandbox: could not remove the cgroup {folder}", file=sys.stderr)
                    break
            with contextlib.suppress(OSError):
                for pid in Path(folder, "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.05)


def _remove_cgroup_after(pid: int, folders: list[str]) -> None:
    """Fork a process, out of the sandbox's cgroup and session, that removes the cgroup once ``pid``
    (the launcher) has ended, however it ended: a kernel manager kills its launcher with SIGKILL."""
    import select

    watch = os.pidfd_open(pid)
    if os.fork() != 0:
        os.close(watch)
        return
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, watch)
        os.closerange(watch + 1, 1 << 16)
        poller = select.poll()
        poller.register(watch, select.POLLIN)
        poller.poll()
        remove_cgroup(folders)
    finally:
        os._exit(0)


def _apply_limits(limits: Limits, cgroup: list[str] = ()) -> None:
    """In the child, before ``exec``: the cgroup, rlimits and seccomp filter are inherited by bwrap
    and the kernel below it."""
    join_cgroup(cgroup)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the sandbox dies with its launcher
    set_rlimits(limits, _running_processes(limits.uid if _as_root() else os.getuid()))
    if _as_root():
        forbid_user_namespaces()
    # bwrap dies of a SIGINT; the kernel installs its own handler while it executes a cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_roots_alone(folder: Path) -> None:
    """Refuse ``folder`` (the scratch folder's parent) unless only root can change what is in it:
    then the scratch folder root made there is the one root later finds there."""
    info = os.stat(folder)
    if info.st_uid != 0 or info.st_mode & 0o022:
        raise SandboxUnavailable(f"{folder} must be root's alone (it holds a scratch folder root works in)")


def prepare_scratch(scratch: Path, files_from: Path | None = None, uid: int = NOBODY, size: int | None = None) -> Path:
    """A fresh scratch folder: ``work/`` (a copy of the submission's own files, no notebooks) and
    ``runtime/`` (the kernel's connection file and sockets), writable by the sandbox's uid.

    For a root grader the folder itself stays root's (the sandbox cannot replace what is in it), in
    a parent that must be root's alone; with ``size``, it is a tmpfs of that size (``release_scratch``
    unmounts it; ``scratch_space`` does both)."""
    scratch = Path(scratch)
    if _as_root():
        _check_roots_alone(scratch.parent)
    release_scratch(scratch)
    shutil.rmtree(scratch, ignore_errors=True)  # fd-based: it follows no link the sandbox made
    scratch.mkdir(mode=0o755, parents=True)
    if size and _as_root():
        from .zygote import MS_NODEV, MS_NOSUID, _mount

        _mount("tmpfs", str(scratch), "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    (scratch / "work").mkdir()
    (scratch / "runtime").mkdir()
    (scratch / ".config").mkdir()
    if files_from is not None:
        for path in Path(files_from).iterdir():
            if path.suffix == ".ipynb" or path.name.startswith("."):
                continue
            if path.is_file() and not path.is_symlink():
                shutil.copy2(path, scratch / "work" / path.name)
            elif path.is_dir() and not path.is_symlink():
                # Links are left out, not copied as what they point to: a submission's link to a
                # host file would have root copy that file where the kernel reads it.
                links = lambda folder, names: [n for n in names if os.path.islink(os.path.join(folder, n))]  # noqa: E731
                shutil.copytree(path, scratch / "work" / path.name, symlinks=True, ignore=links)
    if _as_root():
        # Through descriptors, never following a link, though no sandbox has run here yet.
        for _, dirnames, filenames, dirfd in os.fwalk(scratch):
            for name in [*dirnames, *filenames]:
                os.chown(name, uid, uid, dir_fd=dirfd, follow_symlinks=False)
    os.chmod(scratch, 0o755)
    return scratch


def release_scratch(scratch: Path) -> None:
    """Unmount the tmpfs of ``prepare_scratch(..., size=...)``, if there is one, and with it what
    the sandbox wrote (lazily: a sandbox still running keeps its view until it ends)."""
    if _as_root() and os.path.ismount(scratch):
        from .zygote import MNT_DETACH, _call, _libc

        _call(_libc.umount2(str(scratch).encode(), MNT_DETACH), f"umount {scratch}")


@contextlib.contextmanager
def scratch_space(
    scratch: Path, files_from: Path | None = None, uid: int = NOBODY, limits: Limits | None = None
) -> Iterator[Path]:
    """``prepare_scratch`` with a tmpfs of ``limits.scratch_size`` (a root grader), released on exit."""
    try:
        yield prepare_scratch(scratch, files_from, uid, size=(limits or Limits()).scratch_size)
    finally:
        release_scratch(scratch)


def install_kernelspec(where: Path) -> Path:
    """Write the sandboxed kernelspec under ``where/kernels/``; put ``where`` on JUPYTER_PATH."""
    spec = where / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "autograder.sandbox", "{connection_file}"],
                "display_name": "Python 3 (grading sandbox)",
                "language": "python",
                "interrupt_mode": "signal",
            },
            indent=1,
        )
    )
    return where


def kernel_manager(scratch: Path, limits: Limits | None = None):
    """A jupyter_client KernelManager (not started) for a sandboxed kernel in ``scratch``.

    Sets the process environment the launcher reads (scratch folder, limits, JUPYTER_PATH with
    the sandbox kernelspec): one sandboxed submission per grading process at a time.
    """
    from jupyter_client import KernelManager

    scratch = Path(scratch)
    install_kernelspec(scratch.parent / ".sandbox-kernelspec")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(scratch.parent / ".sandbox-kernelspec"), *filter(None, [os.environ.get("JUPYTER_PATH")])]
    )
    os.environ[SCRATCH_ENV] = str(scratch)
    os.environ[LIMITS_ENV] = (limits or Limits()).to_env()
    return KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(scratch / "runtime" / "kernel"))


def check(limits: Limits | None = None) -> None:
    """Raise SandboxUnavailable with the reason when the sandbox cannot work on this machine; say
    on stderr (once) when sandboxes get no cgroup here (``cgroup_mode``)."""
    import tempfile

    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="sandbox-check-") as tmp:
        scratch = prepare_scratch(Path(tmp) / "s")
        probe = (
            "import socket, os\ntry:\n socket.create_connection(('1.1.1.1', 53), timeout=2)\n print('net')\n"
            "except OSError:\n print('nonet')\nprint(os.getuid())"
        )
        try:
            argv = bwrap_argv(scratch, limits, [sys.executable, "-c", probe])
            run = subprocess.run(
                argv, capture_output=True, text=True, timeout=60, preexec_fn=lambda: _apply_limits(limits)
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxUnavailable(f"bwrap could not start: {exc}") from None
        if run.returncode != 0:
            raise SandboxUnavailable(f"bwrap failed (exit {run.returncode}): {run.stderr.strip()[-500:]}")
        lines = run.stdout.split()
        if lines[:1] != ["nonet"] or lines[1:2] == ["0"]:
            raise SandboxUnavailable(f"the sandbox is not isolated as expected: {run.stdout!r}")
    _warn_without_cgroups()


def _warn_without_cgroups() -> None:
    global _warned
    if cgroup_mode() is None and not _warned:
        _warned = True
        print(
            "WARNING: the grading sandboxes get no cgroup on this machine (a root grader and cgroup v1, or v2 with "
            "the memory and pids controllers delegated, are needed): their memory and process limits hold for "
            "each process alone, so a submission's processes together may use several times the memory limit.",
            file=sys.stderr,
        )


def _write_connection_file(scratch: Path, info: dict, uid: int | None) -> str:
    """Write ``info`` to ``runtime/connection.json`` in ``scratch``, owned by ``uid``, after
    emptying ``runtime/`` (the sockets and links a previous kernel left). The sandbox can write
    ``runtime/``: root goes there through descriptors, from the scratch folder's parent (root's
    alone) down, and neither follows nor writes through a link (a kernel that died may have left
    one to a host file for its restart)."""
    nofollow_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    if uid is not None:
        _check_roots_alone(scratch.parent)
    parent = os.open(scratch.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        top = os.open(scratch.name, nofollow_dir, dir_fd=parent)
        try:
            runtime = os.open("runtime", nofollow_dir, dir_fd=top)
        finally:
            os.close(top)
    finally:
        os.close(parent)
    try:
        for name in os.listdir(runtime):
            try:
                os.unlink(name, dir_fd=runtime)
            except IsADirectoryError:
                shutil.rmtree(name, dir_fd=runtime)  # fd-based too
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open("connection.json", flags, 0o600, dir_fd=runtime)
        with open(fd, "w") as file:
            if uid is not None:
                os.fchown(fd, uid, uid)
            file.write(json.dumps(info))
    finally:
        os.close(runtime)
    return str(scratch / "runtime" / "connection.json")


def launch(argv: list[str]) -> int:
    """Kernelspec entry point: ``python -m autograder.sandbox CONNECTION_FILE [kernel args]``."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the kernel manager
    scratch = Path(os.environ[SCRATCH_ENV])
    limits = Limits.from_env()
    # The kernel sees only the scratch folder: give it a copy of the connection file there. Its
    # sockets must be unix sockets inside the scratch folder too (KernelManager transport "ipc").
    info = json.loads(Path(argv[0]).read_text())
    if info.get("transport") != "ipc" or not str(info.get("ip", "")).startswith(str(scratch) + "/"):
        print(f"sandbox: the kernel manager must use transport 'ipc' with ip inside {scratch}", file=sys.stderr)
        return 3
    connection_file = _write_connection_file(scratch, info, limits.uid if _as_root() else None)
    cgroup = make_cgroup(limits) if cgroup_mode() else []
    if cgroup:
        _remove_cgroup_after(os.getpid(), cgroup)
    if os.environ.get(ZYGOTE_ENV):
        code = _launch_from_zygote(os.environ[ZYGOTE_ENV], scratch, limits, connection_file, argv[1:], cgroup)
        if code is not None:
            return code
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *argv[1:]]
    # Nothing of the grader's: what cells print goes over the sockets, and the kernel's own output
    # (its start-up banner, or what a student writes to fd 2) goes nowhere.
    proc = subprocess.Popen(
        bwrap_argv(scratch, limits, command),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        preexec_fn=lambda: _apply_limits(limits, cgroup),
    )

    def interrupt(signum, frame):
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def stop(signum, frame):
        proc.kill()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, stop)
    return proc.wait()


# What the kernel keeps of its launcher's environment (the grader's, plus what nbclient adds); the
# rest (the grader's folders, PWD, credentials, the sandbox's own settings) stays out.
KEPT_ENV = {
    "PATH", "LANG", "LANGUAGE", "TZ", "MPLBACKEND", "PYDEVD_DISABLE_FILE_VALIDATION",
    "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS",
    "PYTHONUTF8", "PYTHONFAULTHANDLER", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
}  # fmt: skip
KEPT_ENV_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_", "JPY_", "DL_COURSE_")


def kernel_environment(scratch: Path) -> dict:
    """The kernel's environment in the sandbox: the allowed part of its launcher's, plus its own."""
    from .agent import RULES_ENV

    kept = {
        name: value
        for name, value in os.environ.items()
        if name in KEPT_ENV or name == RULES_ENV or name.startswith(KEPT_ENV_PREFIXES)
    }
    # ipykernel polls its parent pid, which in a pid namespace is the sandbox's init: it would exit at once.
    kept.pop("JPY_PARENT_PID", None)
    return {
        **kept,
        "PYTHONPATH": AGENT_DIR,
        "HOME": str(scratch / "work"),
        "MPLCONFIGDIR": str(scratch / ".config"),
        "TMPDIR": "/tmp",
    }


def _launch_from_zygote(
    address: str, scratch: Path, limits: Limits, connection_file: str, args: list[str], cgroup: list[str]
) -> int | None:
    """``launch`` with a kernel forked by the zygote at ``address`` (``autograder.zygote``); None
    if the zygote could not make the sandbox (then ``bwrap`` starts the kernel)."""
    import select

    from .zygote import request_kernel

    try:
        reply = request_kernel(
            address,
            {
                "scratch": str(scratch),
                "limits": limits.__dict__,
                "env": kernel_environment(scratch),
                "agent_dir": AGENT_DIR,
                "cwd": str(scratch / "work"),
                "connection_file": connection_file,
                "argv": args,
                "cgroup": cgroup,
            },
        )
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"sandbox: the kernel fork server failed ({exc}); starting the kernel with bwrap", file=sys.stderr)
        return None
    monitor, init = reply["pid"], reply["init"]
    try:
        watch = os.pidfd_open(monitor)
    except ProcessLookupError:
        return 1

    def interrupt(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGINT)  # the sandbox's init passes it to the kernel

    def stop(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGKILL)  # pid 1 of the sandbox: everything in it goes with it

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, stop)
    poller = select.poll()
    poller.register(watch, select.POLLIN)
    while not poller.poll():
        pass
    return 0


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1:]))
