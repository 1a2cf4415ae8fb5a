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

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("grading-sandbox")]

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
    """``(km, kc, scratch)``: a started kernel in a sandbox of its own uid, shut down afterwards."""
    uid, lock = sandbox.claim_uid()
    try:
        scratch = sandbox.prepare_scratch(folder / "scratch", uid=uid)
        km = sandbox.kernel_manager(scratch, sandbox.Limits(memory=memory, processes=processes, uid=uid))
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
    code = (
        "import os, time\nn = 0\ntry:\n    for i in range(500):\n        if os.fork() == 0:\n"
        "            time.sleep(3)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n"
        "    print('stopped after', n)"
    )
    out = run(kc, code)
    assert out.startswith("stopped after"), out
    assert int(out.split()[-1]) < 100
    # The children exit after a few seconds; reaped, they give the budget back.
    run(kc, "time.sleep(3.5)\ntry:\n    while True:\n        os.waitpid(-1, 0)\nexcept ChildProcessError:\n    pass")
    assert run(kc, "print('alive')").strip() == "alive"


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
    assert "zygote" not in fds and "/work" not in fds and "/root" not in fds, fds


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
