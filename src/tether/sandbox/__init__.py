"""Running model-written Python in a process sandbox, and a tool for it.

Code runs in a separate process under bubblewrap (``bwrap``): new user, pid,
network, ipc and mount namespaces, a read-only view of the installed Python,
a private temporary folder, no network, and rlimits on CPU, memory, processes
and file size, with the wall time enforced by killing the whole namespace.
bwrap is used because it is small, unprivileged, packaged by every distribution
(Debian's ``bubblewrap``) and does the namespace work correctly; util-linux
``unshare`` alone cannot build the same filesystem view without a privileged
helper, so it is not offered. A machine without a working bwrap gets
:class:`SandboxUnavailable` (a :class:`tether.ConfigError`) saying what to
install: code is never run unsandboxed. See ``docs/sandbox.md``.

Example:
    ```python
    from tether import Agent
    from tether.sandbox import PythonSandbox, SandboxLimits, python_tool

    box = PythonSandbox(SandboxLimits(cpu_seconds=5, wall_seconds=10))
    agent = Agent("openai:gpt-4o-mini", tools=[python_tool(box)])
    ```
"""

from ._errors import SandboxUnavailable
from ._limits import LimitName, SandboxLimits, SandboxResult
from ._pytool import python_tool
from ._sandbox import PythonSandbox

__all__ = [
    "LimitName",
    "PythonSandbox",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "python_tool",
]
