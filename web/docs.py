"""Generates the README's CLI and configuration reference; a test keeps them in sync.

    python -m web.docs > /dev/null   # rewrites the marked sections of README.md in place
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from index.settings import settings_reference

from .cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def cli_reference() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; fix it for a stable README
    parser = build_parser()
    parts = ["```", parser.format_help().rstrip(), "```"]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sp in sub.choices.items():  # type: ignore[union-attr]
        parts += ["", f"#### `whoknows {name}`", "", "```", sp.format_help().rstrip(), "```"]
        for sub2 in (a for a in sp._actions if a.__class__.__name__ == "_SubParsersAction"):
            for name2, sp2 in sub2.choices.items():  # type: ignore[union-attr]
                parts += ["", f"#### `whoknows {name} {name2}`", "", "```",
                          sp2.format_help().rstrip(), "```"]
    return "\n".join(parts)


def config_reference() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, help_ in settings_reference():
        cell = help_.replace("|", "\\|")
        rows.append(f"| `{key}` | `{default}` | {cell} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    for name, body in (("cli", cli_reference()), ("config", config_reference())):
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        readme = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), readme)  # type: ignore[misc]
    return readme


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    README.write_text(render(text), encoding="utf-8")
    sys.stdout.write("README.md references updated\n")
