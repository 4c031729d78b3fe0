"""Title suggestions for browser search boxes (OpenSearch suggestions)."""

from __future__ import annotations

from index.store import Store

from .permissions import Viewer


def suggest_titles(store: Store, text: str, viewer: Viewer, limit: int = 8) -> list[str]:
    text = " ".join(text.split())[:100]
    if len(text) < 2:
        return []
    out: list[str] = []
    for title, visible_to in store.titles_matching(text):
        if viewer.can_see(visible_to) and title not in out:
            out.append(title)
            if len(out) == limit:
                break
    return out
