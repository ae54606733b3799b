"""The Python sandbox: normal code works, every limit trips with a clear message, and
the escape corpus (model-style code trying to reach outside) has no effect outside.

An escape is any effect outside the sandbox: a file read or written outside its
folder, a connection, a signal to another process, a limit passed without being
stopped. Each corpus case runs its code, then checks the host.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tether import (
    Agent,
    ConfigError,
    Message,
    RunResult,
    ToolCall,
    ToolCallFinished,
    ToolResultMessage,
)
from tether.models import ModelParams
from tether.sandbox import (
    PythonSandbox,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    python_tool,
)
from tether.testing import FunctionModel, ScriptedModel

LIMITS = SandboxLimits(
    cpu_seconds=2, memory_mb=256, processes=24, file_size_mb=1, wall_seconds=4, output_chars=4000
)
PROJECT = Path(__file__).resolve().parents[1]
# For the CPU limit: a wall time far past it, so a busy machine (which gives a spinning
# process less than a core) still trips the CPU limit first.
CPU_LIMITS = dataclasses.replace(LIMITS, wall_seconds=60)


def _sandbox_or_skip() -> PythonSandbox:
    try:
        return PythonSandbox(LIMITS)
    except SandboxUnavailable as exc:
        if os.environ.get("CI"):  # CI installs bubblewrap: a missing sandbox is a failure there
            pytest.fail(f"no sandbox in CI: {exc}")
        pytest.skip(f"no sandbox on this machine: {exc}")


@pytest.fixture(scope="module")
def box() -> PythonSandbox:
    return _sandbox_or_skip()


# --- the host side of the corpus: canaries, listeners, a victim process ----------------


@dataclass
class Host:
    """What the sandbox must not reach, and how to tell whether it did."""

    secret: str
    canaries: list[Path]
    targets: list[Path]  # paths the code tries to create
    tcp: socket.socket
    udp: socket.socket
    unix: socket.socket
    unix_path: Path
    abstract: socket.socket
    abstract_name: str
    victim: subprocess.Popen[bytes]
    notes: list[str] = field(default_factory=list)

    @property
    def values(self) -> dict[str, Any]:
        return {
            "secret_env": "TETHER_TEST_SECRET",
            "canaries": [str(p) for p in self.canaries],
            "targets": [str(p) for p in self.targets],
            "tcp_port": self.tcp.getsockname()[1],
            "udp_port": self.udp.getsockname()[1],
            "unix_path": str(self.unix_path),
            "abstract": self.abstract_name,
            "parent_pid": os.getpid(),
            "parent_pgid": os.getpgid(0),
            "victim_pid": self.victim.pid,
        }

    def escapes(self, result: SandboxResult) -> list[str]:
        """Every effect the sandboxed code had outside; empty when it had none."""
        found = []
        if self.secret in result.stdout or self.secret in result.stderr:
            found.append("the secret reached the sandbox's output")
        found += [f"{p} was written" for p in self.targets if p.exists()]
        found += [f"{p} changed" for p in self.canaries if p.read_text() != self.secret]
        for name, sock in (("tcp", self.tcp), ("unix", self.unix), ("abstract", self.abstract)):
            try:
                conn, _ = sock.accept()
                conn.close()
                found.append(f"a {name} connection reached the host's listener")
            except BlockingIOError:
                pass
        try:
            self.udp.recvfrom(100)
            found.append("a UDP datagram reached the host")
        except BlockingIOError:
            pass
        if self.victim.poll() is not None:
            found.append("the host's victim process was killed")
        return found


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    secret = f"canary-{secrets.token_hex(16)}"
    monkeypatch.setenv("TETHER_TEST_SECRET", secret)
    tag = secrets.token_hex(6)
    canaries = [
        tmp_path / "canary.txt",
        PROJECT / f".sandbox-canary-{tag}",
        Path.home() / f".sandbox-canary-{tag}",
    ]
    for path in canaries:
        path.write_text(secret)
    targets = [tmp_path / "written.txt", PROJECT / f".written-{tag}", Path.home() / f".w-{tag}"]
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix_path = tmp_path / "host.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen()
    abstract_name = f"tether-sandbox-test-{tag}"
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0" + abstract_name)
    abstract.listen()
    for sock in (tcp, udp, unix, abstract):
        sock.setblocking(False)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield Host(
        secret,
        canaries,
        targets,
        tcp,
        udp,
        unix,
        unix_path,
        abstract,
        abstract_name,
        victim,
    )
    victim.kill()
    victim.wait()
    for sock in (tcp, udp, unix, abstract):
        sock.close()
    for path in canaries + targets:
        path.unlink(missing_ok=True)


# --- the corpus ----------------------------------------------------------------------

PRELUDE = "H = {values!r}\n"
"""Each case's code starts with what it knows of the host, as a model might be told."""

READ_CANARIES = """
for path in H["canaries"]:
    try:
        print(open(path).read())
    except OSError as exc:
        print("no:", exc)
"""
WRITE_OUTSIDE = """
for path in H["targets"] + H["canaries"]:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        print("wrote", path)
    except OSError as exc:
        print("no:", exc)
"""
TCP = """
import socket
for host in ("127.0.0.1", "localhost", "::1", "10.0.2.2", "8.8.8.8"):
    try:
        socket.create_connection((host, H["tcp_port"]), timeout=1).close()
        print("connected", host)
    except OSError as exc:
        print("no:", exc)
"""
UDP = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for host in ("127.0.0.1", "8.8.8.8"):
    try:
        s.sendto(b"hello", (host, H["udp_port"]))
    except OSError as exc:
        print("no:", exc)
"""
UNIX = """
import socket
for address in (H["unix_path"], "\\0" + H["abstract"]):
    try:
        socket.socket(socket.AF_UNIX).connect(address)
        print("connected", address)
    except OSError as exc:
        print("no:", exc)
"""
FORK_BOMB = """
import os
while True:
    os.fork()
"""
STUBBORN_FORK_BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
"""
THREAD_BOMB = """
import threading, time
while True:
    threading.Thread(target=time.sleep, args=(60,)).start()
"""
MEMORY_BOMB = """
hog = []
while True:
    hog.append(bytearray(64 * 1024 * 1024))
"""
CPU_SPIN = """
while True:
    pass
"""
HUGE_FILE = """
with open("big.bin", "wb") as f:
    while True:
        f.write(b"x" * 1024 * 1024)
"""
FILL_FOLDER = """
i = 0
while True:
    with open(f"part{i}.bin", "wb") as f:
        f.write(b"x" * 1000 * 1000)
    i += 1
"""
SLEEP = """
import time
time.sleep(10_000)
"""
CTYPES = """
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
for pid in (H["victim_pid"], H["parent_pid"], os.getppid(), -1):
    print("kill", pid, libc.kill(pid, signal.SIGKILL), ctypes.get_errno())
    print("syscall", pid, libc.syscall(62, pid, signal.SIGKILL), ctypes.get_errno())
print("unshare", libc.unshare(0x10000000), ctypes.get_errno())
print("mount", libc.mount(b"none", b"/usr", b"tmpfs", 0, None), ctypes.get_errno())
print("ptrace", libc.ptrace(16, H["parent_pid"], None, None), ctypes.get_errno())
"""
AFTER_EXIT = """
import atexit, os, socket, time

def act():
    for path in H["targets"]:
        try:
            open(path, "w").write("late")
        except OSError:
            pass
    try:
        socket.create_connection(("127.0.0.1", H["tcp_port"]), timeout=1)
    except OSError:
        pass
    for pid in (H["victim_pid"], H["parent_pid"]):
        try:
            os.kill(pid, 9)
        except OSError:
            pass

class Late:
    def __del__(self):
        act()

keep = Late()
atexit.register(act)
if os.fork() == 0:
    os.setsid()
    time.sleep(1.0)  # after the result is read
    act()
    os._exit(0)
print("done")
"""
SIGNALS = """
import os, signal
for action in (
    lambda: os.kill(H["parent_pid"], signal.SIGKILL),
    lambda: os.kill(H["victim_pid"], signal.SIGKILL),
    lambda: os.killpg(H["parent_pgid"], signal.SIGKILL),
    lambda: os.killpg(0, signal.SIGCONT),
    lambda: os.kill(1, signal.SIGSTOP),
    lambda: os.kill(1, signal.SIGKILL),
    lambda: os.kill(-1, signal.SIGKILL),
):
    try:
        action()
        print("sent")
    except OSError as exc:
        print("no:", exc)
"""
PROC = """
import os
for path in (
    f"/proc/{H['parent_pid']}/environ",
    f"/proc/{H['victim_pid']}/cmdline",
    "/proc/1/environ",
    "/proc/self/../../proc/1/root/etc/shadow",
    "/proc/self/root/../../etc/shadow",
    "/proc/self/cwd/../../..",
):
    try:
        print(path, open(path, "rb").read()[:2000])
    except OSError as exc:
        print("no:", path, exc)
print(sorted(p for p in os.listdir("/proc") if p.isdigit()))
"""
ENVIRON = """
import os
print(dict(os.environ))
print(os.environ.get(H["secret_env"]))
"""
# CVE-2025-5120 (smolagents' local interpreter): reach os through the object graph,
# then use it.
OBJECT_GRAPH = """
for cls in ().__class__.__base__.__subclasses__():
    if cls.__name__ == "_wrap_close":
        os = cls.__init__.__globals__["sys"].modules["os"]
        break
print("reached", os.name)
for path in H["canaries"]:
    try:
        print(os.read(os.open(path, os.O_RDONLY), 100))
    except OSError as exc:
        print("no:", exc)
try:
    os.kill(H["parent_pid"], 9)
except OSError as exc:
    print("no:", exc)
print(os.popen("cat " + " ".join(H["canaries"]) + " 2>&1; id").read())
"""
# CVE-2025-9959: frames of a generator and function globals lead to builtins and
# blocked modules, imported by indirect paths.
FRAMES = """
def gen():
    yield
g = gen()
next(g)
frame = g.gi_frame
while frame.f_back is not None:
    frame = frame.f_back
builtins = frame.f_globals["__builtins__"]
imp = builtins["__import__"] if isinstance(builtins, dict) else builtins.__import__
subprocess = imp("subprocess")
importlib = gen.__globals__["__builtins__"].__import__("importlib")
shutil = importlib.import_module("shutil")
out = subprocess.run(["/bin/sh", "-c", "cat " + " ".join(H["canaries"])], capture_output=True)
print(out.stdout, out.stderr)
for path in H["canaries"]:
    try:
        shutil.copy(path, "stolen")
        print(open("stolen").read())
    except OSError as exc:
        print("no:", exc)
code = "import socket; socket.create_connection(('127.0.0.1', %d), timeout=1)" % H["tcp_port"]
print(subprocess.run([__import__("sys").executable, "-c", code], capture_output=True).returncode)
"""


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    limit: str | None = None
    """The limit that must stop it (None: it must end on its own)."""
    also: tuple[str, ...] = ()
    """Other limits that may stop it first."""


CORPUS = [
    Case("read_canaries_tmp_project_home", READ_CANARIES),
    Case("write_outside", WRITE_OUTSIDE),
    Case("tcp_to_host_listener", TCP),
    Case("udp_to_host", UDP),
    Case("unix_socket_path_and_abstract", UNIX),
    Case("fork_bomb", FORK_BOMB, "processes", ("wall_seconds", "cpu_seconds")),
    Case("stubborn_fork_bomb", STUBBORN_FORK_BOMB, "wall_seconds", ("cpu_seconds", "processes")),
    Case("thread_bomb", THREAD_BOMB, "processes", ("memory_mb", "wall_seconds")),
    Case("memory_bomb", MEMORY_BOMB, "memory_mb"),
    Case("cpu_spin", CPU_SPIN, "cpu_seconds"),
    Case("huge_file", HUGE_FILE, "file_size_mb"),
    Case("fill_the_folder", FILL_FOLDER, "file_size_mb"),
    Case("endless_sleep", SLEEP, "wall_seconds"),
    Case("ctypes_kill_syscall_unshare_mount_ptrace", CTYPES),
    Case("del_atexit_and_a_late_child", AFTER_EXIT),
    Case("signals_parent_group_pid1", SIGNALS),
    Case("proc_of_parent_and_pid1", PROC),
    Case("environment_leak", ENVIRON),
    Case("cve_2025_5120_object_graph_to_os", OBJECT_GRAPH),
    Case("cve_2025_9959_frames_globals_indirect_import", FRAMES),
]


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except FileNotFoundError:
                pass
    return count


def _settled(uid: int, before: int) -> int:
    deadline = time.monotonic() + 3
    while (now := _processes_of(uid)) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
async def test_escape_corpus(box: PythonSandbox, host: Host, case: Case) -> None:
    before = _processes_of(65534)
    if case.limit == "cpu_seconds":
        box = PythonSandbox(CPU_LIMITS)
    result = await box.run(PRELUDE.format(values=host.values) + case.code)
    if case.name == "del_atexit_and_a_late_child":
        await asyncio.sleep(1.5)  # give the late child time to act, if it were still alive
    escapes = host.escapes(result)
    allowed = {case.limit, *case.also} - {None}
    outcome = result.limit if result.limit else f"ran, exit {result.exit_code}"
    _RESULTS[case.name] = (outcome, escapes)
    assert escapes == [], f"{case.name} escaped: {escapes}\n{result}"
    if case.limit is None:
        assert result.limit is None, result
    else:
        assert result.limit in allowed, result
        assert result.message.startswith("stopped: "), result
    assert result.duration_s < (box.limits.wall_seconds or 0) + 3
    # Nothing of the sandbox outlives it (the kernel takes a moment to reap a namespace).
    assert await asyncio.to_thread(_settled, 65534, before) <= before


_RESULTS: dict[str, tuple[str, list[str]]] = {}


def test_the_machine_is_fine_after_the_corpus(box: PythonSandbox) -> None:
    assert os.getpid() > 0
    fresh = subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True, check=True)
    assert fresh.stdout == b"1\n"
    if _RESULTS:
        print("\n".join(f"{k}: {v[0]}, escapes {v[1] or 'none'}" for k, v in _RESULTS.items()))


# --- normal code ----------------------------------------------------------------------

NORMAL = """
import json, math, os, pathlib, sys
pathlib.Path("notes.txt").write_text(json.dumps({"pi": round(math.pi, 4)}))
print(pathlib.Path("notes.txt").read_text(), os.getcwd(), sorted(os.listdir(".")))
print(sys.stdin.read().upper())
"""


async def test_normal_code_imports_writes_its_folder_and_prints(box: PythonSandbox) -> None:
    result = await box.run(NORMAL, stdin="hello")
    assert result.ok, result
    assert result.stdout == "{\"pi\": 3.1416} /sandbox ['notes.txt']\nHELLO\n"


async def test_installed_packages_can_be_imported(box: PythonSandbox) -> None:
    result = await box.run("import pydantic, sqlite3, ssl; print(pydantic.VERSION > '2')")
    assert (result.ok, result.stdout) == (True, "True\n"), result


async def test_the_folder_is_private_to_each_run(box: PythonSandbox) -> None:
    await box.run("open('left.txt', 'w').write('x')")
    result = await box.run("import os; print(os.listdir('.'))")
    assert result.stdout == "[]\n"


async def test_an_exception_is_reported_with_its_traceback(box: PythonSandbox) -> None:
    result = await box.run("1 / 0")
    assert (result.exit_code, result.limit) == (1, None)
    assert "ZeroDivisionError" in result.stderr


async def test_output_past_output_chars_is_cut_with_a_marker(box: PythonSandbox) -> None:
    result = await box.run("print('y' * 100_000)")
    assert result.truncated
    assert result.stdout.startswith("y" * 4000 + "\n[... output cut by tether")
    assert "100001 bytes" in result.stdout


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"SandboxLimits.cpu_seconds must be a positive int"):
        SandboxLimits(cpu_seconds=0)
    with pytest.raises(ConfigError, match="memory_mb"):
        SandboxLimits(memory_mb=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="processes"):
        SandboxLimits(processes=True)
    assert SandboxLimits(wall_seconds=None).wall_seconds is None


def test_no_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no bwrap anywhere
    with pytest.raises(SandboxUnavailable, match=r"bwrap is not on .*apt-get install bubblewrap"):
        PythonSandbox()
    with pytest.raises(ConfigError, match="never runs model-written code unsandboxed"):
        python_tool()


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown sandbox backend 'docker'"):
        PythonSandbox(backend="docker")  # type: ignore[arg-type]


# --- the tool in an agent -------------------------------------------------------------


def _echo_stdout(messages: list[Message], params: ModelParams) -> ToolCall | str:
    results = [m for m in messages if isinstance(m, ToolResultMessage)]
    if not results:
        return ToolCall("run_python", {"code": "print(sum(range(10)) * 2)"})
    return f"The program printed {results[-1].content}"


async def test_an_agent_runs_code_and_answers_with_its_stdout(box: PythonSandbox) -> None:
    model = FunctionModel(_echo_stdout)  # type: ignore[arg-type]
    result: RunResult[Any] = await Agent(model, tools=[python_tool(box)]).run("Add 0..9 and double")
    assert (result.status, result.output) == ("completed", "The program printed 90")


async def test_a_limit_in_the_tool_is_an_error_the_model_sees(box: PythonSandbox) -> None:
    model = ScriptedModel(
        [ToolCall("run_python", {"code": "print('start')\nwhile True: pass"}), "ok"]
    )
    tool = python_tool(PythonSandbox(CPU_LIMITS))
    result: RunResult[Any] = await Agent(model, tools=[tool]).run("spin")
    finished = [e for e in result.events if isinstance(e, ToolCallFinished)]
    assert result.status == "completed"
    assert finished[0].outcome == "error"
    assert "stopped: used more than 2 CPU seconds" in finished[0].content
    assert "start" in finished[0].content


def test_the_tool_tells_the_model_its_limits(box: PythonSandbox) -> None:
    definition = python_tool(box, name="py").definition
    assert definition.name == "py"
    assert "2 CPU seconds" in definition.description
    assert list(definition.parameters["properties"]) == ["code"]


# --- bad input, exit statuses and the space the code may fill -------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_code_with_an_unpaired_surrogate_is_not_run_and_says_why(
    box: PythonSandbox,
) -> None:
    before = _open_fds()
    for _ in range(5):
        result = await box.run("print('ok')\nx = '\ud800'")
        assert (result.exit_code, result.limit, result.stdout) == (1, None, ""), result
        assert "SyntaxError: source code cannot contain an unpaired surrogate" in result.stderr
        assert "\\ud800 at line 2, column 6" in result.stderr
        result.stderr.encode()  # the message itself is valid text
    assert _open_fds() == before


async def test_a_failure_inside_launch_leaves_no_descriptor_open(
    box: PythonSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.sandbox import _bwrap

    real = _bwrap._data_fd

    def failing(data: Any) -> int:
        if "main" in str(data):  # the code's file, the last one opened
            raise OSError(28, "No space left on device")
        return real(data)

    monkeypatch.setattr(_bwrap, "_data_fd", failing)
    before = _open_fds()
    for _ in range(3):
        with pytest.raises(OSError, match="No space left"):
            await box.run("main = 1")
    assert _open_fds() == before


async def test_the_tool_tells_the_model_its_code_holds_an_unpaired_surrogate(
    box: PythonSandbox,
) -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": "print('\ud800')"}), "ok"])
    before = _open_fds()
    result: RunResult[Any] = await Agent(model, tools=[python_tool(box)]).run("go")
    finished = [e for e in result.events if isinstance(e, ToolCallFinished)]
    assert (result.status, result.output) == ("completed", "ok")
    assert "cannot contain an unpaired surrogate" in finished[0].content
    assert "[exit status 1]" in finished[0].content
    assert _open_fds() == before


async def test_stdin_with_an_unpaired_surrogate_is_a_clear_error_before_launch(
    box: PythonSandbox,
) -> None:
    before = _open_fds()
    started = time.monotonic()
    with pytest.raises(
        ConfigError, match=r"stdin must be valid Unicode text.*'\\ud800' at index 1"
    ):
        await asyncio.wait_for(box.run("print(input())", stdin="a\ud800b"), 10)
    assert time.monotonic() - started < 1  # refused at once, not after the wall time
    assert _open_fds() == before


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        ("import sys; sys.exit(137)", 137),
        ("import sys; sys.exit(130)", 130),
        ("import sys; sys.exit(255)", 255),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -9),
        ("import os, signal; os.kill(os.getpid(), signal.SIGXCPU)", -24),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -15),
    ],
)
async def test_exit_statuses_are_reported_as_the_code_ended(
    box: PythonSandbox, code: str, exit_code: int
) -> None:
    result = await box.run(code)
    assert (result.exit_code, result.limit, result.message) == (exit_code, None, ""), result


async def test_the_tool_reports_an_exit_status_above_128_as_an_exit_status(
    box: PythonSandbox,
) -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": "raise SystemExit(137)"}), "ok"])
    result: RunResult[Any] = await Agent(model, tools=[python_tool(box)]).run("go")
    finished = [e for e in result.events if isinstance(e, ToolCallFinished)]
    assert finished[0].outcome != "error"
    assert finished[0].content == "[exit status 137]"


async def test_a_kill_at_the_cpu_hard_limit_is_the_cpu_limit() -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
    result = await PythonSandbox(CPU_LIMITS).run(code)
    assert (result.exit_code, result.limit) == (-9, "cpu_seconds"), result
    assert result.message == "stopped: used more than 2 CPU seconds"


async def test_the_code_gets_only_stdio_and_cannot_stop_its_init(box: PythonSandbox) -> None:
    code = (
        "import os, signal\n"
        "print(sorted(os.listdir('/proc/self/fd')), os.getpid(), os.getppid())\n"
        "os.kill(1, signal.SIGKILL)\n"
        "print('still here')\n"
    )
    result = await box.run(code)
    # fd 3 is listdir's own
    assert result.stdout == "['0', '1', '2', '3'] 2 1\nstill here\n", result
    assert result.ok


FILL_EVERYWHERE = """
import os
used = {}
for folder in ("/sandbox", "/tmp", "/dev/shm"):
    for i in range(64):
        try:
            with open(f"{folder}/part{i}", "wb") as f:
                f.write(b"x" * 256 * 1024)
        except OSError:
            break
    st = os.statvfs(folder)
    used[folder] = (st.f_blocks - st.f_bfree) * st.f_frsize
print(used)
"""


async def test_everything_written_holds_four_times_file_size_mb_in_all(
    box: PythonSandbox,
) -> None:
    result = await box.run(FILL_EVERYWHERE)  # file_size_mb=1
    used = ast.literal_eval(result.stdout)
    assert sum(used.values()) <= 4 * 2**20, used
    assert used == {"/sandbox": 2 * 2**20, "/tmp": 2**20, "/dev/shm": 2**20}, used
