"""What an MCP server offers besides tools: resources and prompts, as plain records."""

from __future__ import annotations

from dataclasses import dataclass

import mcp_types as mt

__all__ = ["Prompt", "PromptArgument", "Resource", "ResourceTemplate"]


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource the server can read.

    Attributes:
        uri: what to pass to ``read_resource``.
        name: its name.
        description: what it holds, if the server says.
        mime_type: its MIME type, if known.
    """

    uri: str
    name: str
    description: str | None = None
    mime_type: str | None = None

    @classmethod
    def _from_mcp(cls, r: mt.Resource) -> Resource:
        return cls(r.uri, r.name, r.description, r.mime_type)


@dataclass(frozen=True, slots=True)
class ResourceTemplate:
    """A family of resources, read by filling in a URI template (RFC 6570).

    Attributes:
        uri_template: the template, such as ``notes://{day}``.
        name: its name.
        description: what its resources hold, if the server says.
        mime_type: the MIME type of its resources, if they share one.
    """

    uri_template: str
    name: str
    description: str | None = None
    mime_type: str | None = None

    @classmethod
    def _from_mcp(cls, r: mt.ResourceTemplate) -> ResourceTemplate:
        return cls(r.uri_template, r.name, r.description, r.mime_type)


@dataclass(frozen=True, slots=True)
class PromptArgument:
    """An argument a prompt takes (prompt arguments are strings).

    Attributes:
        name: its name.
        description: what it is for, if the server says.
        required: whether the prompt needs it.
    """

    name: str
    description: str | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt (or prompt template) the server offers.

    Attributes:
        name: what to pass to ``get_prompt``.
        description: what it is for, if the server says.
        arguments: the arguments it takes.
    """

    name: str
    description: str | None = None
    arguments: tuple[PromptArgument, ...] = ()

    @classmethod
    def _from_mcp(cls, p: mt.Prompt) -> Prompt:
        args = tuple(
            PromptArgument(a.name, a.description, bool(a.required)) for a in p.arguments or ()
        )
        return cls(p.name, p.description, args)
