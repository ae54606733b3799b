"""The bubblewrap backend: how a sandbox is laid out and started.

``bwrap`` (Debian's ``bubblewrap``) makes each run a new user, pid, network, ipc,
uts, cgroup and mount namespace. Inside: read-only binds of ``/usr`` (and the
``/bin``, ``/lib*`` links of a merged-usr system), of a few files from ``/etc``
and of the interpreter's prefixes (the venv and its base install), a fresh
``/proc`` of the new pid namespace, a minimal ``/dev``, size-capped tmpfs folders
at ``/sandbox`` (the working folder and ``$HOME``), ``/tmp`` and ``/dev/shm``, the
code at ``/code/main.py`` (read-only), an empty environment but for a few
variables, and a network namespace whose only interface is its own loopback.

The first process (pid 1, ``--as-pid-1``) is a small Python init of tether's
(``_INIT``), under the same rlimits as the code: it starts the code, reaps the
namespace's orphans and, when the code ends, writes its exact wait status and CPU
time to a pipe only tether reads. bwrap itself folds a signal into ``128 + N``, so
``sys.exit(137)`` and SIGKILL would look alike, and a kill by the CPU limit could not
be told from any other.

The code runs as uid 1000 inside. Outside it must not be root: the kernel does
not apply RLIMIT_NPROC to root, so a fork bomb would go unbounded. Started by an
ordinary user, bwrap maps uid 1000 to that user. Started by root, bwrap is given
the mapping by tether (``--userns-block-fd``): uid 0 to root, so that bwrap can
bind paths only root may reach (a Python under ``/root``), and uid 1000 to
65534 (nobody); a shell drops to uid 1000 with every capability gone, and first
sets the namespace's ``user.max_user_namespaces`` to 0 (what ``--disable-userns``
does for the unprivileged case), so the code cannot make namespaces of its own.
rlimits are set by util-linux ``prlimit`` just before the init starts.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ._errors import SandboxUnavailable
from ._limits import SandboxLimits, writable_mib

__all__ = ["INNER_UID", "Bwrap", "Launch", "find_bwrap"]

INNER_UID = 1000
"""The uid (and gid) the code runs as, inside the sandbox."""

OUTER_UID_FOR_ROOT = 65534
"""The uid outside that the sandbox's uid maps to when tether runs as root (nobody)."""

_INSTALL = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap) and util-linux; tether never runs model-written code unsandboxed"
)
_NEEDED_FLAGS = (
    "--disable-userns",
    "--userns-block-fd",
    "--perms",
    "--size",
    "--ro-bind-data",
    "--as-pid-1",
)
_ETC = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    f"python3.{sys.version_info.minor}",
    "python3",
)
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_DROP = (
    "echo 0 > /proc/sys/user/max_user_namespaces || exit 125\n"
    'exec "$0" --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all --ambient-caps=-all '
    '--bounding-set=-all --no-new-privs --pdeathsig=KILL -- "$@"'
)
# A change of uid clears the parent-death signal bwrap set (--die-with-parent): setpriv
# sets it again, so the namespace still dies with bwrap.

_INIT = """\
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no ptrace, no /proc/1/fd
signal.signal(signal.SIGINT, signal.SIG_IGN)
report = int(sys.argv[1])
for name in os.listdir("/proc/self/fd"):  # the code gets stdin, stdout and stderr only
    if int(name) > 2:
        try:
            os.set_inheritable(int(name), False)
        except OSError:
            pass
main = os.posix_spawn(
    sys.argv[2], sys.argv[2:], os.environ,
    setsigdef=(signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ),
)
while True:
    pid, status, usage = os.wait4(-1, 0)
    if pid == main:
        break
code = os.waitstatus_to_exitcode(status)
try:
    os.write(report, b"%d %.3f\\n" % (code, usage.ru_utime + usage.ru_stime))
except OSError:
    pass
os._exit(code if code >= 0 else 128 - code)
"""
"""The sandbox's pid 1: runs the code, reaps orphans, reports how the code ended.

Signals from inside the namespace reach a pid 1 only where it has a handler, and it
has none, so the code cannot kill it; it is not dumpable, so the code cannot trace it
or write to its report. Its exit ends the namespace, as bwrap's own init's would."""
_REPORT = re.compile(rb"(-?\d+) (\d+\.\d+)\n")


def find_bwrap(path: str | None = None) -> str | None:
    """Where ``bwrap`` is on ``path`` (``$PATH`` by default), or None."""
    return shutil.which("bwrap", path=path)


def _prefixes() -> list[str]:
    """The interpreter's install folders, outermost first, none inside another or /usr."""
    found = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)
        if p and os.path.isdir(p)
    }
    found.add(os.path.dirname(os.path.realpath(sys.executable)))
    kept: list[str] = []
    for p in sorted(found, key=len):
        if not any(_inside(p, k) for k in [*kept, "/usr"]):
            kept.append(p)
    return kept


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _data_fd(data: bytes) -> int:
    """An open file holding ``data``, for ``--ro-bind-data`` (bwrap copies it)."""
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        handle.seek(0)
        return os.dup(handle.fileno())  # the duplicate shares the offset: at the start


@dataclass
class Launch:
    """One start of bwrap: its arguments, the descriptors it inherits, and, when
    tether runs as root, the pipes through which tether maps its user namespace."""

    args: list[str]
    env: dict[str, str]
    pass_fds: list[int] = field(default_factory=list)
    info_read: int | None = None
    block_write: int | None = None
    report_read: int | None = None
    init_pidfd: int | None = None
    _child_ends: list[int] = field(default_factory=list)

    def report(self) -> tuple[int, float] | None:
        """How the code ended, as the sandbox's init saw it: its exit status (negative
        for the signal that ended it) and the CPU seconds it used; None if the init
        said nothing (bwrap failed, or the sandbox was killed from outside).

        Read once the sandbox has ended: the init writes before it exits.
        """
        if self.report_read is None:
            return None
        os.set_blocking(self.report_read, False)
        try:
            data = os.read(self.report_read, 256)
        except BlockingIOError:
            return None
        found = _REPORT.fullmatch(data)
        return (int(found[1]), float(found[2])) if found else None

    def started(self) -> None:
        """Close the descriptors that now belong to bwrap."""
        for fd in (*self.pass_fds, *self._child_ends):
            _close(fd)
        self.pass_fds, self._child_ends = [], []

    def map_ids(self, deadline: float) -> None:
        """Root only: read bwrap's child pid, write its uid and gid maps, let it go on.

        Raises:
            SandboxUnavailable: bwrap ended or said nothing before the deadline.
        """
        if self.info_read is None or self.block_write is None:
            return
        data = b""
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.info_read], [], [], max(left, 0))
            if not ready:
                raise SandboxUnavailable("bwrap did not start its namespace in time")
            chunk = os.read(self.info_read, 4096)
            if not chunk:
                break
            data += chunk
        try:
            pid = int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            raise SandboxUnavailable("bwrap could not start the sandbox") from None
        with contextlib.suppress(OSError):  # only to end the sandbox tidily: see kill_init
            self.init_pidfd = os.pidfd_open(pid)
        mapping = f"0 0 1\n{INNER_UID} {OUTER_UID_FOR_ROOT} 1\n".encode()
        for name in ("uid_map", "gid_map"):
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY)
            try:
                os.write(fd, mapping)  # one write: the kernel takes a map whole or not at all
            finally:
                os.close(fd)
        os.write(self.block_write, b"1")
        for fd in (self.info_read, self.block_write):
            _close(fd)
        self.info_read = self.block_write = None

    def kill_init(self) -> bool:
        """Kill the sandbox's init, so that bwrap reaps it and exits; False if its pid
        is not known (tether is not root). Killing bwrap first would leave the init,
        whose uid is the sandbox's, a zombie until the machine's init reaps it."""
        if self.init_pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Close every descriptor tether still holds for this launch."""
        self.started()
        for fd in (self.info_read, self.block_write, self.report_read, self.init_pidfd):
            if fd is not None:
                _close(fd)
        self.info_read = self.block_write = self.report_read = self.init_pidfd = None


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


@dataclass(frozen=True)
class Bwrap:
    """The bubblewrap backend, for one ``bwrap`` binary.

    Args:
        path: the ``bwrap`` executable.
        as_root: tether runs as root (the sandbox then maps to uid 65534 outside).
        tools: where ``prlimit``, ``setpriv`` and ``sh`` are (all under ``/usr``).
    """

    path: str
    as_root: bool
    tools: dict[str, str]

    @classmethod
    def find(cls, search_path: str | None = None) -> Bwrap:
        """The backend, checked to work on this machine.

        Raises:
            SandboxUnavailable: bwrap, prlimit or setpriv is missing, too old, or
                cannot make namespaces here.
        """
        path = find_bwrap(search_path)
        if path is None:
            where = "$PATH" if search_path is None else repr(search_path)
            raise SandboxUnavailable(f"no sandbox backend: bwrap is not on {where}; {_INSTALL}")
        return _checked(path, os.geteuid() == 0, search_path)

    def launch(self, code: str, limits: SandboxLimits) -> Launch:
        """The bwrap command that runs ``code`` under ``limits``, ready to start.

        Raises:
            UnicodeEncodeError: ``code`` holds an unpaired surrogate (checked before
                any descriptor is opened).
        """
        source = code.encode()
        fds: list[int] = []
        args = [self.path, "--unshare-all", "--unshare-user", "--die-with-parent"]
        args += ["--new-session", "--hostname", "sandbox", "--as-pid-1"]
        launch = Launch(args, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, fds)
        try:  # on any failure, close what is open so far: a run must never leak descriptors
            launch.report_read, report_write = os.pipe()
            fds.append(report_write)
            if self.as_root:
                launch.info_read, info_write = os.pipe()
                fds.append(info_write)
                block_read, launch.block_write = os.pipe()
                fds.append(block_read)
                args += ["--userns-block-fd", str(block_read), "--info-fd", str(info_write)]
                args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
                args += ["--cap-add", "CAP_SETPCAP", "--cap-add", "CAP_SYS_RESOURCE"]
            else:
                args += ["--uid", str(INNER_UID), "--gid", str(INNER_UID), "--disable-userns"]
            args += self._filesystem(limits, fds)
            fds.append(_data_fd(source))
            args += ["--perms", "0444", "--ro-bind-data", str(fds[-1]), "/code/main.py"]
            args += ["--chdir", "/sandbox", "--clearenv"]
            for name, value in _sandbox_env().items():
                args += ["--setenv", name, value]
            args += ["--", *self._command(limits, report_write)]
        except BaseException:
            launch.close()
            raise
        return launch

    def _filesystem(self, limits: SandboxLimits, fds: list[int]) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr"]
        for name in _ROOT_LINKS:
            host = f"/{name}"
            if os.path.islink(host):
                args += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                args += ["--ro-bind", host, host]
        for name in _ETC:
            if os.path.exists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        files = {
            "/etc/passwd": f"sandbox:x:{INNER_UID}:{INNER_UID}:sandbox:/sandbox:/bin/sh\n",
            "/etc/group": f"sandbox:x:{INNER_UID}:\n",
            "/etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
        }
        for dest, text in files.items():
            fds.append(_data_fd(text.encode()))
            args += ["--perms", "0444", "--ro-bind-data", str(fds[-1]), dest]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # The writable places share one budget of 4 x file_size_mb (64 MiB if None).
        # bwrap binds only host paths and /dev/shm must be a mount of its own, so they
        # cannot be one tmpfs: the budget is split among three.
        for folder, size in writable_mib(limits).items():
            args += ["--perms", "1777", "--size", str(size * 1024 * 1024), "--tmpfs", folder]
        # The interpreter's folders are bound after the tmpfs: a virtual environment
        # under /tmp stays visible (a bind made before a tmpfs over its parent is hidden).
        prefixes = _prefixes()
        # bwrap gives a made-up parent folder the mode of the host's (0700 for /root);
        # the code's uid must pass through it to reach the interpreter.
        for folder in _parents(prefixes):
            args += ["--perms", "0755", "--dir", folder]
        for prefix in prefixes:
            args += ["--ro-bind", prefix, prefix]
        return args

    def _command(self, limits: SandboxLimits, report_fd: int) -> list[str]:
        rl = [self.tools["prlimit"], "--core=0"]
        if limits.cpu_seconds is not None:
            rl.append(f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}")
        if limits.memory_mb is not None:
            rl.append(f"--as={limits.memory_mb * 1024 * 1024}")
        if limits.processes is not None:
            rl.append(f"--nproc={limits.processes}")
        if limits.file_size_mb is not None:
            rl.append(f"--fsize={limits.file_size_mb * 1024 * 1024}")
        init = [sys.executable, "-I", "-S", "-c", _INIT, str(report_fd)]
        command = [*rl, "--", *init, sys.executable, "-I", "-u", "/code/main.py"]
        if self.as_root:
            drop = _DROP.format(uid=INNER_UID)
            command = [self.tools["sh"], "-c", drop, self.tools["setpriv"], *command]
        return command


def _parents(prefixes: Iterable[str]) -> list[str]:
    folders: set[str] = set()
    for prefix in prefixes:
        for parent in PurePosixPath(prefix).parents:
            text = str(parent)
            if text != "/" and not any(_inside(text, p) for p in prefixes):
                folders.add(text)
    return sorted(folders, key=lambda f: (f.count("/"), f))


def _sandbox_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/sandbox",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "USER": "sandbox",
        # Numerical libraries start a thread per core; threads count as processes.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


@functools.cache
def _checked(path: str, as_root: bool, search_path: str | None) -> Bwrap:
    """The backend after a trial run; cached, so each process pays for it once."""
    try:
        usage = subprocess.run(
            [path, "--help"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError as exc:
        raise SandboxUnavailable(f"bwrap at {path} cannot run ({exc}); {_INSTALL}") from exc
    missing = [flag for flag in _NEEDED_FLAGS if flag not in usage]
    if missing:
        raise SandboxUnavailable(
            f"bwrap at {path} is too old (no {', '.join(missing)}); bubblewrap 0.8 or "
            f"newer is needed: {_INSTALL}"
        )
    tools: dict[str, str] = {}
    for name in ("prlimit", "setpriv", "sh"):
        found = shutil.which(name, path="/usr/bin:/bin")
        if found is None:
            raise SandboxUnavailable(f"{name} is missing from /usr/bin; {_INSTALL}")
        tools[name] = found
    backend = Bwrap(path, as_root, tools)
    _trial(backend)
    return backend


def _trial(backend: Bwrap) -> None:
    launch = backend.launch("", SandboxLimits(wall_seconds=None))
    try:
        proc = subprocess.Popen(
            launch.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=launch.pass_fds,
            env=launch.env,
            start_new_session=True,
        )
    except OSError as exc:
        launch.close()
        raise SandboxUnavailable(f"bwrap cannot run ({exc}); {_INSTALL}") from exc
    launch.started()
    try:
        launch.map_ids(time.monotonic() + 10)
        _, err = proc.communicate(timeout=20)
    except (SandboxUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        proc.kill()
        _, err = proc.communicate()
        raise SandboxUnavailable(
            f"bwrap could not make a sandbox here ({exc}: {err.decode(errors='replace')[:300]})"
        ) from exc
    finally:
        launch.close()
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip()[:300]
        raise SandboxUnavailable(
            f"bwrap could not make a sandbox here: {text or f'exit {proc.returncode}'}. "
            "It needs user namespaces (sysctl kernel.unprivileged_userns_clone=1; on "
            "Ubuntu 24.04 also kernel.apparmor_restrict_unprivileged_userns=0)"
        )
