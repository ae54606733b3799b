"""The sandbox's one error: no sandbox can be made here."""

from __future__ import annotations

from tether._errors import ConfigError

__all__ = ["SandboxUnavailable"]


class SandboxUnavailable(ConfigError):
    """No backend can sandbox code on this machine; the message says what to install.

    Code is never run without a sandbox instead. It is a :class:`tether.ConfigError`,
    so it sits in tether's one error tree.
    """
