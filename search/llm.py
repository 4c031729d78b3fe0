"""Optional generated answers from an OpenAI-compatible chat endpoint, streamed.

The model sees only the retrieved passages, numbered, and must cite them as [n]. An answer
that cites a passage it was not given, or cites nothing, is rejected by ``check_citations``
and the caller falls back to the extractive answer; so do timeouts and HTTP errors.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from index.settings import LlmSettings

CITATION = re.compile(r"\[(\d{1,3})\]")
SYSTEM = (
    "You answer questions for employees using ONLY the numbered passages from the company's "
    "own wiki, forum and documents. Cite every claim with the passage number in square "
    "brackets, like [1] or [2][3]. If the passages do not contain the answer, say so in one "
    "sentence. Be brief: at most five sentences."
)


class LlmError(RuntimeError):
    """The model could not be reached, timed out or answered in a way we cannot use."""


@dataclass
class PromptPassage:
    n: int
    title: str
    text: str


def build_messages(question: str, passages: list[PromptPassage]) -> list[dict[str, str]]:
    blocks = "\n\n".join(f"[{p.n}] {p.title}\n{p.text}" for p in passages)
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passages:\n\n{blocks}\n\nQuestion: {question}"}]


def check_citations(text: str, given: set[int]) -> list[int]:
    """The passage numbers ``text`` cites; raises LlmError if none or any not given."""
    cited = [int(m) for m in CITATION.findall(text)]
    if not cited:
        raise LlmError("the generated answer cites no passage")
    unknown = sorted(set(cited) - given)
    if unknown:
        raise LlmError(f"the generated answer cites passages it was not given: {unknown}")
    return list(dict.fromkeys(cited))


class ChatClient:
    def __init__(self, settings: LlmSettings):
        self.settings = settings
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text deltas as the model writes them. Raises LlmError on any failure."""
        body = {"model": self.settings.model, "messages": messages, "stream": True,
                "max_tokens": self.settings.max_tokens, "temperature": 0.1}
        timeout = httpx.Timeout(self.settings.timeout_s, connect=min(5.0, self.settings.timeout_s))
        try:
            with httpx.stream("POST", self.url, json=body, headers=self.headers,
                              timeout=timeout) as r:
                if r.status_code != 200:
                    raise LlmError(f"the model endpoint answered HTTP {r.status_code}")
                for line in r.iter_lines():
                    delta = _sse_delta(line)
                    if delta is None:
                        break
                    if delta:
                        yield delta
        except httpx.HTTPError as e:
            raise LlmError(f"the model endpoint failed: {type(e).__name__}") from e

    def complete(self, messages: list[dict[str, str]]) -> str:
        return "".join(self.stream(messages))


def _sse_delta(line: str) -> str | None:
    """The text in one server-sent-events line; '' for other lines; None at [DONE]."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        choice = json.loads(data)["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    delta = choice.get("delta") or choice.get("message") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
