"""What never reaches a trace: secret values, credentials by their shape, named env vars.

Every string tether puts into a span attribute or a span event goes through
:meth:`Redactor.scrub` first, with content capture on or off:

* the run's secrets (values of ``Secret`` tool parameters, the model's API key),
  which the journal already holds as ``***`` wherever they were known in time;
* the values of the environment variables named in ``redact_env``, and of those
  whose names say they hold a credential (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``,
  ``*PASSWORD``), read when the spans are built;
* every such value also as JSON and a Python ``repr`` write it (a backslash or a
  quote escaped), since tool arguments, results and messages reach a span as JSON.
  Values are taken out as the journal takes them out (:func:`tether.tools.redact`):
  one shorter than eight characters only where it stands as a word of its own;
* whatever matches a pattern (:data:`DEFAULT_PATTERNS`, or the user's own). A pattern
  with a group named ``secret`` has only that group replaced, so the text around it
  (the user in a URL, the name of a header) stays readable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from tether.tools import REDACTED, redact
from tether.tools._secrets import forms

__all__ = ["DEFAULT_PATTERNS", "Redactor"]

DEFAULT_PATTERNS: tuple[str, ...] = (
    # API keys whose prefix says what they are: OpenAI and Anthropic (sk-..., sk-proj-...,
    # sk-ant-...), GitHub, Slack, AWS access key ids, Google, Hugging Face.
    r"\bsk-[A-Za-z0-9_\-]{8,}",
    r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\bAIza[0-9A-Za-z_\-]{30,}",
    r"\bhf_[A-Za-z0-9]{20,}",
    # Credentials in an Authorization header.
    r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/\-]+=*)",
    r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/]{8,}=*)",
    # The password in a URL: scheme://user:password@host.
    r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:(?P<secret>[^\s/@]+)@",
    # password=..., "api_key": "...", token: ... (the value, not the name).
    r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|token)"
    r"[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"'&,;}]{3,})",
)
"""Credentials recognised by their shape (regular expressions)."""

_SECRET_NAME = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$")
_MIN_ENV_VALUE = 4  # a shorter value would blank out ordinary text


def _replace(match: re.Match[str]) -> str:
    if "secret" not in match.re.groupindex:
        return REDACTED
    start, end = match.span("secret")
    whole = match.group()
    at = match.start()
    return whole[: start - at] + REDACTED + whole[end - at :]


class Redactor:
    """Takes secrets out of text bound for a trace.

    Args:
        patterns: regular expressions whose matches (or whose ``secret`` group) are
            replaced by ``***``.
        env: names of environment variables whose values are replaced by ``***``.
    """

    __slots__ = ("_any", "_env", "_patterns")

    def __init__(self, patterns: Sequence[str | re.Pattern[str]], env: Iterable[str]) -> None:
        self._patterns = [re.compile(p) if isinstance(p, str) else p for p in patterns]
        self._env = frozenset(env)
        # One pass to tell whether any pattern matches at all (most strings match none).
        self._any = _either(self._patterns)

    def values(self, secrets: Iterable[str]) -> list[str]:
        """The literal texts to take out, longest first: the run's secrets and the
        environment's (read now, so a value set after ``instrument`` counts), each as
        it is and in its escaped forms (JSON, ``repr``)."""
        found: set[str] = set()
        for value in secrets:
            found |= forms(value)
        for name, value in os.environ.items():
            if (name in self._env or _SECRET_NAME.search(name)) and len(value) >= _MIN_ENV_VALUE:
                found |= forms(value)
        return sorted(found, key=len, reverse=True)

    def scrub(self, text: str, values: Sequence[str]) -> str:
        """``text`` with every secret value and every pattern's match replaced by ``***``."""
        text = redact(text, frozenset(values))
        if self._any is not None and self._any.search(text) is None:
            return text
        for pattern in self._patterns:
            text = pattern.sub(_replace, text)
        return text


def _either(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One pattern matching where any of ``patterns`` does, or None if they cannot be
    joined (compile flags, or inline flags other than a leading ``(?i)``)."""
    parts = []
    for p in patterns:
        text = p.pattern.replace("(?P<secret>", "(?:")
        flags = "i" if text.startswith("(?i)") else ""
        text = text.removeprefix("(?i)")
        allowed = re.UNICODE | (re.IGNORECASE if flags else 0)
        if p.flags & ~allowed or "(?" in text.replace("(?:", "").replace("(?<", ""):
            return None
        parts.append(f"(?{flags}:{text})" if flags else f"(?:{text})")
    return re.compile("|".join(parts)) if parts else None
