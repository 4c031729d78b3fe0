"""Slack's message markup ("mrkdwn") → readable text with names.

``<@U123>`` becomes ``@Ada Lovelace``, ``<#C123|general>`` ``#general``, ``<https://x|text>``
``[text](https://x)``, ``<!here>`` ``@here``; Slack's ``&lt; &gt; &amp;`` are unescaped and a
code block written on one line (```` ```like this``` ````) gets its fences on lines of their
own so it stays a block. Time linear in the text (no backtracking patterns).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"<([^<>\n]{1,3000})>")
_FENCE = re.compile(r"```(.*?)```", re.S)
_MENTION = re.compile(r"<@([A-Z0-9]{2,40})(?:\|[^<>]*)?>")


def mentioned_users(text: str) -> list[str]:
    """User ids mentioned in raw message text, in order."""
    return _MENTION.findall(text or "")


def slack_to_text(text: str, user_name: Callable[[str], str | None],
                  channel_name: Callable[[str], str | None]) -> str:
    """Readable text of a message; ``user_name``/``channel_name`` look ids up (None: unknown)."""
    if not text:
        return ""

    def token(m: re.Match[str]) -> str:
        target, _, label = m.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (user_name(target[1:]) or label.lstrip("@") or target[1:])
        if target.startswith("#"):
            return "#" + (label or channel_name(target[1:]) or target[1:])
        if target.startswith("!"):
            command = target[1:]
            if command in ("here", "channel", "everyone"):
                return "@" + command
            return label or ("@team" if command.startswith("subteam^") else "")
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if "://" not in target:
            return m.group(0)  # not markup: a literal "<...>" Slack would have escaped
        return f"[{label}]({target})" if label and label != target else target

    out = _TOKEN.sub(token, text)
    out = _FENCE.sub(lambda m: "\n```\n" + m.group(1).strip("\n") + "\n```\n", out)
    out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"\n{3,}", "\n\n", out).strip()
