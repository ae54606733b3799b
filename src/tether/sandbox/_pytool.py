"""The code tool: a model writes Python, the sandbox runs it, the model reads the output."""

from __future__ import annotations

from tether.tools import Tool, ToolLimitExceeded

from ._limits import SandboxLimits, SandboxResult
from ._sandbox import PythonSandbox

__all__ = ["python_tool"]


def _describe(limits: SandboxLimits) -> str:
    parts = []
    if limits.cpu_seconds:
        parts.append(f"{limits.cpu_seconds} CPU seconds")
    if limits.memory_mb:
        parts.append(f"{limits.memory_mb} MiB of memory")
    if limits.wall_seconds:
        parts.append(f"{limits.wall_seconds} seconds in all")
    budget = f" Limits: {', '.join(parts)}." if parts else ""
    return (
        "Run a Python 3 program in a sandbox and get what it prints. Print every result "
        "you need to see. It may import the standard library and installed packages and "
        "write files in its working folder, which is emptied after the run; it has no "
        f"network.{budget}"
    )


def render(result: SandboxResult) -> str:
    """The result as the model reads it: stdout, then stderr and the exit status if
    there is anything to say."""
    parts = [result.stdout.rstrip("\n")] if result.stdout else []
    if result.stderr:
        parts.append(f"[stderr]\n{result.stderr.rstrip()}")
    if result.exit_code != 0 and result.limit is None:
        parts.append(f"[exit status {result.exit_code}]")
    return "\n".join(parts) if parts else "(the program printed nothing)"


def python_tool(
    sandbox: PythonSandbox | None = None,
    *,
    name: str = "run_python",
    description: str | None = None,
    max_result_chars: int | None = None,
) -> Tool:
    """A tool that runs the model's Python code in ``sandbox``.

    The model calls it with ``code``. It returns what the program printed (stderr and
    a non-zero exit status included, so the model can fix its code). A limit that
    trips is an error the model sees, such as ``stopped: used more than 2 CPU
    seconds``, with whatever the program printed before; the run goes on.

    Args:
        sandbox: where the code runs; a :class:`PythonSandbox` with default limits
            (made now, so a machine without a sandbox fails here) if None.
        name: the name the model sees.
        description: what the model is told; a description of the sandbox and its
            limits by default.
        max_result_chars: results longer than this are cut (the agent's setting by
            default).

    Raises:
        SandboxUnavailable: ``sandbox`` is None and no sandbox can be made here.
    """
    box = sandbox if sandbox is not None else PythonSandbox()

    async def run_python(code: str) -> str:
        """Run a Python program in the sandbox.

        Args:
            code: the whole program; print what you want to see.
        """
        result = await box.run(code)
        text = render(result)
        if result.limit is not None:
            raise ToolLimitExceeded(f"{result.message}. Output before it stopped:\n{text}")
        return text

    return Tool(
        run_python,
        name=name,
        description=description or _describe(box.limits),
        max_result_chars=max_result_chars,
    )
