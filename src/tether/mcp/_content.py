"""MCP content as what a model reads: text stays text, data stays data, and media
(images, audio, binary resources) are described in a line instead of dropped."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import mcp_types as mt

from tether._messages import AssistantMessage, UserMessage

from ._errors import MCPToolError

__all__ = ["content_text", "describe_resource", "prompt_messages", "resource_text", "tool_result"]

_TEXT_MIME_PREFIXES = ("text/",)
_TEXT_MIME_TYPES = frozenset({"application/json", "application/xml", "application/yaml"})


def _b64_size(data: str) -> int:
    """The size in bytes of base64 data, without decoding it."""
    data = data.strip()
    return max(0, len(data) * 3 // 4 - data[-2:].count("="))


def _is_text_mime(mime: str | None) -> bool:
    return mime is not None and (mime.startswith(_TEXT_MIME_PREFIXES) or mime in _TEXT_MIME_TYPES)


def _blob_text(contents: mt.BlobResourceContents) -> str:
    """A binary resource's text when its MIME type says it is text, else a description."""
    if _is_text_mime(contents.mime_type):
        try:
            return base64.b64decode(contents.blob, validate=True).decode()
        except (binascii.Error, ValueError):
            pass
    mime = contents.mime_type or "unknown type"
    return f"[binary resource {contents.uri}: {mime}, {_b64_size(contents.blob)} bytes]"


def describe_resource(contents: mt.TextResourceContents | mt.BlobResourceContents) -> str:
    """A resource's contents as text: its text, or a line saying what binary data it holds."""
    if isinstance(contents, mt.TextResourceContents):
        return contents.text
    return _blob_text(contents)


def _block_text(block: mt.ContentBlock) -> str:
    if isinstance(block, mt.TextContent):
        return block.text
    if isinstance(block, mt.ImageContent | mt.AudioContent):
        kind = "image" if isinstance(block, mt.ImageContent) else "audio"
        return f"[{kind}: {block.mime_type}, {_b64_size(block.data)} bytes]"
    if isinstance(block, mt.ResourceLink):
        about = ", ".join(p for p in (block.name, block.description, block.mime_type) if p)
        return f"[resource link: {block.uri}" + (f" ({about})]" if about else "]")
    resource = block.resource
    mime = resource.mime_type or "unknown type"
    return f"[resource {resource.uri} ({mime})]\n{describe_resource(resource)}"


def content_text(blocks: list[mt.ContentBlock]) -> str:
    """Content blocks joined as text, one block after another."""
    return "\n".join(_block_text(b) for b in blocks)


def tool_result(name: str, result: mt.CallToolResult) -> Any:
    """What a tool call returns to tether: its structured content when there is some,
    else its content as text.

    Raises:
        MCPToolError: the result says the tool failed (``isError``); the message is its text.
    """
    if result.is_error:
        text = content_text(result.content).strip()
        raise MCPToolError(text or f"tool {name!r} reported an error without a message")
    if result.structured_content is not None:
        return result.structured_content
    return content_text(result.content)


def resource_text(result: mt.ReadResourceResult) -> str:
    """A read resource as text (a resource may hold several parts)."""
    return "\n".join(describe_resource(c) for c in result.contents)


def prompt_messages(result: mt.GetPromptResult) -> list[UserMessage | AssistantMessage]:
    """A prompt's messages as tether messages, in order."""
    out: list[UserMessage | AssistantMessage] = []
    for message in result.messages:
        text = _block_text(message.content)
        if message.role == "assistant":
            out.append(AssistantMessage(text=text))
        else:
            out.append(UserMessage(text))
    return out
