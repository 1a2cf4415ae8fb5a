"""The grading sandbox (autograder/sandbox.py): a submission's kernel runs under bubblewrap with no
network, no view of the course or other students, an unprivileged uid and resource limits; each
attack fails inside the sandbox and the kernel (where it survives) goes on with the next cell."""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

from autograder import sandbox, zygote
from conftest import ROOT, run_in_kernel

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("grading-sandbox"), pytest.mark.slow]

try:
    sandbox.check()
    UNAVAILABLE = None
except sandbox.SandboxUnavailable as exc:
    UNAVAILABLE = str(exc)


@contextlib.contextmanager
def started_by(how: str):
    """Kernels started by bwrap, or forked by the kernel fork server (autograder.zygote, root only)."""
    if UNAVAILABLE:
        pytest.skip(f"no sandbox on this machine: {UNAVAILABLE}")
    if how == "bwrap":
        yield
        return
    if not zygote.available():
        pytest.skip("the kernel fork server needs a root grader")
    before = os.environ.get(sandbox.ZYGOTE_ENV)
    os.environ[sandbox.ZYGOTE_ENV] = zygote.address()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(sandbox.ZYGOTE_ENV, None)
        else:
            os.environ[sandbox.ZYGOTE_ENV] = before


@contextlib.contextmanager
def sandboxed_kernel(folder, memory: int = 4 * sandbox.GB, processes: int = 64):
    """``(km, kc, scratch)``: a started kernel in a sandbox of its own uid and scratch space, shut
    down afterwards."""
    uid, lock = sandbox.claim_uid()
    limits = sandbox.Limits(memory=memory, processes=processes, uid=uid)
    try:
        with sandbox.scratch_space(folder / "scratch", uid=uid, limits=limits) as scratch:
            km = sandbox.kernel_manager(scratch, limits)
            km.start_kernel()
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=90)
                yield km, kc, scratch
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
    finally:
        if lock is not None:
            lock.close()


@pytest.fixture(scope="module", params=["bwrap", "zygote"])
def kernel(tmp_path_factory, request):
    with started_by(request.param):
        tmp = tmp_path_factory.mktemp("sandbox")
        (tmp / "other_student").mkdir()
        (tmp / "other_student" / "answer.ipynb").write_text("someone else's work")
        with sandboxed_kernel(tmp, processes=32) as (km, kc, scratch):
            yield km, kc, tmp, scratch


def run(kc, code: str, timeout: float = 60) -> str:
    return run_in_kernel(kc, code, timeout)


def test_the_kernel_works_as_an_unprivileged_user(kernel):
    _, kc, _, scratch = kernel
    out = run(kc, "import os, numpy, torch, utils\nprint(os.getuid(), os.getcwd())\nopen('mine.txt', 'w').write('ok')")
    uid, cwd = out.split()
    assert cwd == str(scratch / "work"), out
    # A root grader's sandbox runs as a uid of its own from the pool; otherwise as nobody.
    assert int(uid) in (sandbox.UID_POOL if os.geteuid() == 0 else [sandbox.NOBODY]), out
    assert (scratch / "work" / "mine.txt").read_text() == "ok"


@pytest.mark.parametrize(
    "attack",
    [
        f"open({str(ROOT / 'assignments' / '01_backprop' / 'backprop.ipynb')!r}).read()",
        f"import os\nos.remove({str(ROOT / 'README.md')!r})",
        "import shutil\nshutil.rmtree({other!r})",
        "open({other!r} + '/answer.ipynb', 'w').write('overwritten')",
        "import os\nprint(os.listdir({other!r}))",
    ],
    ids=["read-instructor-source", "erase-course-file", "erase-other-student", "overwrite-other-student", "list"],
)
def test_the_course_and_other_students_are_out_of_reach(kernel, attack):
    _, kc, tmp, _ = kernel
    out = run(kc, attack.format(other=str(tmp / "other_student")))
    assert "Error" in out, out
    assert (ROOT / "README.md").exists()
    assert (tmp / "other_student" / "answer.ipynb").read_text() == "someone else's work"


def test_no_network(kernel):
    _, kc, _, _ = kernel
    out = run(kc, "import socket\ns = socket.socket()\ns.settimeout(3)\ns.connect(('1.1.1.1', 53))")
    assert "OSError" in out or "Error" in out, out


def test_eight_gigabytes_fail_and_the_kernel_survives(kernel):
    _, kc, _, _ = kernel
    assert "MemoryError" in run(kc, "import numpy as np\na = np.ones(8 * 1024**3 // 8)")
    assert run(kc, "print(1 + 1)").strip() == "2"


def test_a_fork_bomb_hits_the_process_limit(kernel):
    _, kc, _, _ = kernel
    # The children exit after a few seconds; reaped, they give the budget back. They are reaped in the
    # same cell: with the budget used up, the kernel cannot start the thread a cell of its may need.
    code = """
import os, subprocess, time
n = 0
try:
    for i in range(500):
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
except OSError as e:
    print("stopped after", n)
time.sleep(3.5)
try:
    while True:
        os.waitpid(-1, 0)
except ChildProcessError:
    pass
"""
    out = run(kc, code)
    assert out.startswith("stopped after"), out
    assert int(out.split()[-1]) < 100
    assert run(kc, "print(subprocess.run(['true']).returncode)").strip() == "0"


def test_an_endless_loop_is_interrupted_and_the_kernel_goes_on(kernel):
    km, kc, _, _ = kernel
    threading.Timer(3, km.interrupt_kernel).start()
    assert "KeyboardInterrupt" in run(kc, "while True:\n    pass")
    assert run(kc, "print('alive')").strip() == "alive"


@pytest.mark.parametrize("how", ["bwrap", "zygote"])
def test_os_exit_kills_only_the_sandbox(tmp_path, how):
    with started_by(how), sandboxed_kernel(tmp_path) as (km, kc, _):
        kc.execute("import os\nos._exit(1)")
        for _ in range(100):
            if not km.is_alive():
                break
            threading.Event().wait(0.1)
        assert not km.is_alive()


def test_no_capabilities_and_no_way_back_to_the_hosts_root(kernel):
    _, kc, _, _ = kernel
    status = run(kc, "print(open('/proc/self/status').read())")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0, status
    assert fields["NoNewPrivs"].strip() == "1", status
    if os.geteuid() == 0:
        assert int(fields["CapBnd"], 16) == 0, status
    mounts = run(kc, "print(open('/proc/self/mountinfo').read())")
    points = [line.split()[4] for line in mounts.splitlines() if line.strip()]
    assert not [p for p in points if "oldroot" in p or "newroot" in p], mounts
    assert str(ROOT / "autograder") not in points and "/" in points, mounts
    # Nothing open but the kernel's own files, sockets and pipes: no descriptor of the host's.
    fds = run(kc, "import os\nprint(sorted({os.readlink(f'/proc/self/fd/{n}') for n in os.listdir('/proc/self/fd')}))")
    # A host path is one that starts at /work/ or /root (the kernel's own scratch folder is .../scratch/work).
    assert "zygote" not in fds and "'/work/" not in fds and f"'{ROOT}" not in fds and "'/root" not in fds, fds


def test_parse_size():
    assert sandbox.parse_size("2G") == 2 * sandbox.GB
    assert sandbox.parse_size("512M") == 512 * 1024**2
    assert sandbox.parse_size("1000") == 1000


@pytest.mark.skipif(os.geteuid() != 0, reason="uids of their own are for a root grader")
def test_parallel_sandboxes_run_as_uids_of_their_own():
    """RLIMIT_NPROC counts processes per uid: a fork bomb in one job must not use up another's."""
    first, first_lock = sandbox.claim_uid()
    second, second_lock = sandbox.claim_uid()
    try:
        assert first != second and {first, second} <= set(sandbox.UID_POOL)
    finally:
        second_lock.close()
    again, again_lock = sandbox.claim_uid()
    try:
        assert again == second, "a released uid is free again"
    finally:
        again_lock.close()
        first_lock.close()


def test_a_fork_server_that_cannot_make_the_sandbox_leaves_it_to_bwrap(tmp_path, monkeypatch):
    if UNAVAILABLE:
        pytest.skip(UNAVAILABLE)
    monkeypatch.setenv(sandbox.ZYGOTE_ENV, str(tmp_path / "no-zygote-listens-here"))
    with sandboxed_kernel(tmp_path) as (_, kc, _):
        out = run(kc, "import os\nprint(os.getuid(), os.getpid())")
    assert out.split()[0] != "0", out


def test_every_read_only_root_is_seen_whole_in_the_kernel(kernel):
    """The system, Python, the venv and utils are visible wherever they live (a clone under /tmp
    too, where the sandbox's own /tmp must not hide them)."""
    _, kc, _, _ = kernel
    roots = sandbox._readonly_roots()
    out = run(kc, f"import os\nprint([r for r in {roots!r} if not (os.path.isdir(r) and os.listdir(r))])")
    assert out.strip() == "[]", (roots, out)


def test_fork_server_leaves_nothing_behind():
    """The fork server dies with the process that started it, and its socket's folder goes too."""
    import subprocess
    import sys

    if not zygote.available():
        pytest.skip("the kernel fork server needs a root grader")
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\nfrom autograder import zygote\nprint(zygote.address(), zygote._started[os.getpid()][0].pid)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    socket_path, pid = started.stdout.split()
    assert not os.path.exists(os.path.dirname(socket_path)), "the fork server's folder was left in /tmp"
    with contextlib.suppress(FileNotFoundError):
        state = open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]
        assert state in "ZX", f"the fork server (pid {pid}) outlived the process that started it"


def _cgroups_of(uid: int) -> list[str]:
    """The folders of the cgroups ``sandbox.make_cgroup`` made for sandboxes of ``uid``."""
    import glob

    return [path for parent in sandbox._cgroup_parents()[1] for path in glob.glob(f"{parent}/dl-sandbox-{uid}-*")]


def test_nothing_of_the_graders_leaks_into_the_kernel(kernel):
    """No descriptor of the grader's (its stderr: a kernel wrote escapes to the instructor's terminal
    and truncated the log), and none of its environment but what the kernel needs."""
    _, kc, _, scratch = kernel
    probe = """
import os, json
fds = {}
for n in os.listdir("/proc/self/fd"):
    try:
        st, target = os.fstat(int(n)), os.readlink(f"/proc/self/fd/{n}")
    except OSError:
        continue
    try:
        seen = os.stat(target)
        reachable = (seen.st_dev, seen.st_ino) == (st.st_dev, st.st_ino)
    except OSError:
        reachable = False
    fds[n] = [target, st.st_dev, st.st_ino, reachable]
print(json.dumps({"fds": fds, "env": dict(os.environ), "cwd": os.getcwd()}))
"""
    import json

    seen = json.loads(run(kc, probe))
    graders_stderr = os.fstat(2)
    for n, (target, dev, ino, reachable) in seen["fds"].items():
        assert (dev, ino) != (graders_stderr.st_dev, graders_stderr.st_ino), f"fd {n} is the grader's stderr"
        # A socket, pipe, anonymous inode, or a file the sandbox sees anyway (/dev/null, its own files).
        assert not target.startswith("/") or reachable, f"fd {n} is {target}, out of the sandbox's sight"
    env = seen["env"]
    assert "OLDPWD" not in env and env.get("PWD", seen["cwd"]) == seen["cwd"], env
    own = {"PYTHONPATH", "HOME", "MPLCONFIGDIR", "TMPDIR", "PWD"}
    own |= {
        "TERM",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "FORCE_COLOR",
        "PAGER",
        "GIT_PAGER",
        "PYDEVD_USE_FRAME_EVAL",
    }  # ipykernel's
    strangers = [
        name
        for name in env
        if name not in own and name not in sandbox.KEPT_ENV and not name.startswith(sandbox.KEPT_ENV_PREFIXES)
    ]
    assert not strangers, f"the grader's variables in the kernel: {strangers}"
    assert "JPY_PARENT_PID" not in env and env["HOME"] == str(scratch / "work")


def test_no_user_namespaces_in_the_sandbox_and_processes_still_work(kernel):
    """In a user namespace of its own a kernel has every capability again (and the kernel's attack
    surface that needs them): neither unshare(2) nor unshare(1) may make one; threads, fork,
    subprocesses (glibc's clone3 falls back to clone) and torch still work."""
    _, kc, _, _ = kernel
    code = """
import ctypes, os, subprocess, sys, threading, torch
probe = "import ctypes; print(ctypes.CDLL(None).unshare(0x10000000))"  # CLONE_NEWUSER
print(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip())
print(subprocess.run(["unshare", "-Ur", "true"], capture_output=True).returncode)
thread = threading.Thread(target=print, args=("thread",))
thread.start()
thread.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(subprocess.run(["true"]).returncode, int(torch.ones(1000, 1000).sum().item()))
"""
    assert run(kc, code).split() == ["-1", "1", "thread", "7", "0", "1000000"]


def test_the_scratch_folder_is_a_small_tmpfs(kernel):
    """A kernel wrote 1 GB on the host's disk in files under the size limit: the scratch folder is
    a tmpfs of ``Limits.scratch_size``; writing stops there and the kernel goes on."""
    _, kc, _, scratch = kernel
    if os.geteuid() != 0:
        pytest.skip("a scratch tmpfs is for a root grader")
    mounts = [line.split() for line in open("/proc/self/mountinfo")]
    assert [m[m.index("-") + 1] for m in mounts if m[4] == str(scratch)] == ["tmpfs"]
    code = """
import errno, os
written, error = 0, None
try:
    for i in range(8):
        with open(f"big{i}", "wb") as f:
            for _ in range(128):
                f.write(bytes(1 << 20))
                written += 1 << 20
except OSError as e:
    error = errno.errorcode[e.errno]
for i in range(8):
    if os.path.exists(f"big{i}"):
        os.remove(f"big{i}")
print(written >> 20, error)
"""
    megabytes, error = run(kc, code).split()
    assert int(megabytes) <= sandbox.Limits.scratch_size >> 20 and error in ("ENOSPC", "EFBIG"), (megabytes, error)
    assert run(kc, "print('alive')").strip() == "alive"


def test_the_sandbox_has_a_cgroup_of_its_own(kernel):
    _, kc, _, _ = kernel
    if sandbox.cgroup_mode() is None:
        pytest.skip("no cgroup can be made here (the grader warns)")
    folders = _cgroups_of(int(run(kc, "import os\nprint(os.getuid())")))
    assert len(folders) == (1 if sandbox.cgroup_mode() == "v2" else 2), folders
    pids = next(f for f in folders if os.path.exists(f"{f}/pids.max"))
    assert int(open(f"{pids}/pids.max").read()) == 32 + sandbox._WRAPPER_TASKS
    assert all(open(f"{f}/cgroup.procs").read().split() for f in folders)


@pytest.mark.parametrize("how", ["bwrap", "zygote"])
def test_memory_is_the_submissions_and_a_restart_follows_no_link(tmp_path, how):
    """Three processes of 1.5 GB each cannot live together in a sandbox of 2 GB (the memory limit
    was per process); then a kernel replaces its connection file by a link to a host file of
    root's and dies: the restarted kernel starts, and the host file is untouched. The sandbox's
    cgroups go with it."""
    canary = tmp_path / "canary"
    canary.write_text("root's own")
    canary.chmod(0o600)
    before = os.stat(canary)
    with started_by(how), sandboxed_kernel(tmp_path, memory=2 * sandbox.GB) as (km, kc, scratch):
        uid = int(run(kc, "import os\nprint(os.getuid())"))
        if sandbox.cgroup_mode() is not None:
            # Each makes itself the OOM killer's first choice, ahead of the kernel.
            hog = "open('/proc/self/oom_score_adj', 'w').write('1000')\nb = b'x' * (1536 * 1024**2)\nimport time\n"
            code = f"""
import subprocess, sys
hogs = [subprocess.Popen([sys.executable, "-c", {hog + "time.sleep(3)"!r}]) for _ in range(3)]
print([h.wait() for h in hogs])
"""
            codes = run(kc, code, timeout=120)
            assert codes.count("0") < 3, codes
            peaks = [f"{f}/{name}" for f in _cgroups_of(uid) for name in ("memory.peak", "memory.max_usage_in_bytes")]
            assert int(open(next(path for path in peaks if os.path.exists(path))).read()) <= 2 * sandbox.GB
        link = scratch / "runtime" / "connection.json"
        kc.execute(f"""
import os, signal
os.remove({str(link)!r})
os.symlink({str(canary)!r}, {str(link)!r})
os.kill(os.getpid(), signal.SIGKILL)
""")
        for _ in range(100):
            if not km.is_alive():
                break
            threading.Event().wait(0.1)
        assert not km.is_alive()
        kc.stop_channels()  # a client still connected to the dead kernel's sockets makes restarts flaky
        km.restart_kernel(now=True)
        again = km.client()
        again.start_channels()
        try:
            again.wait_for_ready(timeout=90)
            assert run(again, "print('alive')").strip() == "alive"
        finally:
            again.stop_channels()
        assert not link.is_symlink() and link.stat().st_uid == uid
    after = os.stat(canary)
    assert canary.read_text() == "root's own" and (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode)
    for _ in range(100):
        if not _cgroups_of(uid):
            break
        threading.Event().wait(0.1)
    assert not _cgroups_of(uid), "the sandbox's cgroups were left behind"


def test_the_scratch_folder_stays_roots_and_takes_no_link_from_the_submission(tmp_path):
    """The sandbox may write in the scratch folder's subfolders, never in the folder itself (so it
    cannot replace ``runtime/`` by a link); a link in a submission is left out, not followed."""
    data = tmp_path / "submission" / "data"
    data.mkdir(parents=True)
    (data / "kept.txt").write_text("kept")
    (tmp_path / "secret").write_text("root's")
    (data / "leak").symlink_to(tmp_path / "secret")
    uid = 61999 if os.geteuid() == 0 else sandbox.NOBODY
    scratch = sandbox.prepare_scratch(tmp_path / "scratch", tmp_path / "submission", uid=uid)
    assert (scratch / "work" / "data" / "kept.txt").read_text() == "kept"
    assert not os.path.lexists(scratch / "work" / "data" / "leak")
    if os.geteuid() == 0:
        assert scratch.stat().st_uid == 0 and {(scratch / n).stat().st_uid for n in os.listdir(scratch)} == {uid}


def test_a_sandbox_that_starts_is_isolated():
    """The sandbox's own check (autograder.sandbox.check) tells a machine without a sandbox (no bwrap, no user
    namespaces: the sandbox tests skip) from a sandbox that starts but leaks. The second is a regression of ours
    (a namespace dropped from bwrap's arguments, say), and fails here whatever the machine."""
    from autograder import sandbox
    from conftest import NOT_ISOLATED

    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as exc:
        assert not str(exc).startswith(NOT_ISOLATED), f"the grading sandbox starts but leaks: {exc}"
