"""Generates the CLI and configuration reference in docs/; a test keeps them in sync.

    python -m web.docs   # rewrites the marked sections of docs/configuration.md in place
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from index.settings import settings_reference

from .cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
GENERATED = [CONFIGURATION]  # the pages holding <!-- name:start --> ... <!-- name:end --> tables


def cli_reference() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it for stable docs
    parser = build_parser()
    parts = ["```", parser.format_help().rstrip(), "```"]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sp in sub.choices.items():  # type: ignore[union-attr]
        parts += ["", f"### `whoknows {name}`", "", "```", sp.format_help().rstrip(), "```"]
        for sub2 in (a for a in sp._actions if a.__class__.__name__ == "_SubParsersAction"):
            for name2, sp2 in sub2.choices.items():  # type: ignore[union-attr]
                parts += ["", f"### `whoknows {name} {name2}`", "", "```",
                          sp2.format_help().rstrip(), "```"]
    return "\n".join(parts)


def config_reference() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, help_ in settings_reference():
        cell = help_.replace("|", "\\|")
        rows.append(f"| `{key}` | `{default}` | {cell} |")
    return "\n".join(rows)


def render(page: str) -> str:
    for name, body in (("cli", cli_reference()), ("config", config_reference())):
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        page = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), page)  # type: ignore[misc]
    return page


_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: str) -> set[str]:
    """Every heading id of a Markdown page, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for m in _HEADING.finditer(_FENCE.sub("", page)):
        slug = github_anchor(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(path: Path) -> list[str]:
    """Relative links (files, #headings) in a Markdown page that point nowhere."""
    text = path.read_text(encoding="utf-8")
    broken = []
    for target in _LINK.findall(re.sub(r"`[^`\n]*`", "", _FENCE.sub("", text))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # http:, mailto: ... are not checked (no network)
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{path.name}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{path.name}: {target} (no such heading)")
    return broken


def doc_pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


if __name__ == "__main__":
    for path in GENERATED:
        path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
        sys.stdout.write(f"{path.relative_to(ROOT)} references updated\n")
