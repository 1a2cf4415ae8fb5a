"""Run each submission's kernel inside a bubblewrap sandbox, with resource limits.

The grader (nbgrader, its gradebook, the course directory) stays outside. Only the Jupyter kernel
that executes the student's notebook runs inside ``bwrap``:

- a fresh, mostly empty root: read-only views of the system (``/usr``, ``/etc``), the Python
  installation, the venv and the course's ``utils`` package, nothing else of the host; the
  instructor's sources, the gradebook, other students' folders do not exist in there;
- one writable folder, the submission's scratch copy (its working directory), plus a small ``/tmp``;
- no network (``--unshare-net``: a loopback of its own), its own pid, ipc and uts namespaces;
- an unprivileged uid (``nobody`` when the grader is root, through ``setpriv``; otherwise a user
  namespace) and limits: memory (``--memory``: heap and anonymous mappings, RLIMIT_DATA), process count, file size.

The kernel talks to nbclient over unix sockets (``KernelManager.transport = "ipc"``) in the
submission's scratch folder, since TCP on the host's loopback is out of reach of a kernel without
network. The kernelspec's argv is ``python -m autograder.sandbox CONNECTION_FILE ...``: this module
then starts ``bwrap`` in a session of its own and forwards interrupts to the kernel alone (a SIGINT to
``bwrap`` itself would kill the sandbox, so an endless cell could not be interrupted).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    """Per-submission limits, applied to the kernel and everything it starts."""

    # Heap and anonymous mappings of each process (RLIMIT_DATA). Not the address space: torch alone
    # maps ~3.7 GB of it; a kernel with numpy, torch and utils loaded holds ~0.9 GB of data.
    memory: int = 4 * GB
    processes: int = 64  # processes of the sandbox's uid (RLIMIT_NPROC)
    file_size: int = 256 * 1024**2  # largest file the kernel may write (RLIMIT_FSIZE)
    tmp_size: int = 256 * 1024**2  # size of the sandbox's /tmp
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
        argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
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
    changed, removed = _environment_changes(scratch)
    for name, value in changed.items():
        argv += ["--setenv", name, value]
    for name in removed:
        argv += ["--unsetenv", name]
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
    for uid in UID_POOL:
        try:
            pwd.getpwuid(uid)
            continue  # an account of this machine: not ours to use
        except KeyError:
            pass
        lock = open(folder / str(uid), "w")  # noqa: SIM115 (held open for the sandbox's lifetime)
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


def _apply_limits(limits: Limits) -> None:
    """In the child, before ``exec``: rlimits are inherited by bwrap and the kernel below it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the sandbox dies with its launcher
    set_rlimits(limits, _running_processes(limits.uid if _as_root() else os.getuid()))
    # bwrap dies of a SIGINT; the kernel installs its own handler while it executes a cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def prepare_scratch(scratch: Path, files_from: Path | None = None, uid: int = NOBODY) -> Path:
    """A fresh scratch folder: ``work/`` (a copy of the submission's own files, no notebooks),
    ``runtime/`` (the kernel's connection file and sockets) and ``records/`` (what the test cells'
    calls returned), writable by the sandbox's uid."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "work").mkdir(parents=True)
    (scratch / "runtime").mkdir()
    (scratch / ".config").mkdir()
    (scratch / "records").mkdir()  # the agent's records of the test cells' calls (autograder.replay)
    if files_from is not None:
        for path in Path(files_from).iterdir():
            if path.suffix == ".ipynb" or path.name.startswith("."):
                continue
            if path.is_file() and not path.is_symlink():
                shutil.copy2(path, scratch / "work" / path.name)
            elif path.is_dir() and not path.is_symlink():
                shutil.copytree(path, scratch / "work" / path.name, symlinks=False, ignore_dangling_symlinks=True)
    if _as_root():
        for dirpath, dirnames, filenames in os.walk(scratch):
            for name in [*dirnames, *filenames, "."]:
                os.lchown(os.path.join(dirpath, name), uid, uid)
    os.chmod(scratch, 0o755)
    return scratch


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
    """Raise SandboxUnavailable with the reason when the sandbox cannot work on this machine."""
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
    connection_file = str(scratch / "runtime" / "connection.json")
    Path(connection_file).write_text(json.dumps(info))
    if _as_root():
        os.chown(connection_file, limits.uid, limits.uid)
    if os.environ.get(ZYGOTE_ENV):
        code = _launch_from_zygote(os.environ[ZYGOTE_ENV], scratch, limits, connection_file, argv[1:])
        if code is not None:
            return code
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *argv[1:]]
    # The kernel's own stdout carries only its start-up banner; what cells print goes over the sockets.
    proc = subprocess.Popen(
        bwrap_argv(scratch, limits, command),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: _apply_limits(limits),
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


def _environment_changes(scratch: Path) -> tuple[dict[str, str], list[str]]:
    """How the kernel's environment differs from its launcher's: the variables set, and removed."""
    changed = {
        "PYTHONPATH": AGENT_DIR,
        "HOME": str(scratch / "work"),
        "MPLCONFIGDIR": str(scratch / ".config"),
        "TMPDIR": "/tmp",
    }
    # ipykernel polls its parent pid, which in a pid namespace is the sandbox's init: it would exit at once.
    return changed, [SCRATCH_ENV, LIMITS_ENV, ZYGOTE_ENV, "JPY_PARENT_PID"]


def kernel_environment(scratch: Path) -> dict:
    """The kernel's environment in the sandbox: the launcher's, changed as ``bwrap_argv`` changes it."""
    changed, removed = _environment_changes(scratch)
    return {**{k: v for k, v in os.environ.items() if k not in removed}, **changed}


def _launch_from_zygote(
    address: str, scratch: Path, limits: Limits, connection_file: str, args: list[str]
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
