"""The docs' CLI and config references are the real ones, and their links lead somewhere."""

from __future__ import annotations

from pathlib import Path

from index.settings import settings_reference
from web.docs import CONFIGURATION, GENERATED, README, anchors, broken_links, doc_pages, github_anchor, render


def test_generated_references_are_current():
    for path in GENERATED:
        text = path.read_text(encoding="utf-8")
        assert render(text) == text, f"run `python -m web.docs` to refresh {path.name}"


def test_every_setting_is_documented_with_help():
    text = CONFIGURATION.read_text(encoding="utf-8")
    for key, _default, help_ in settings_reference():
        assert help_, key
        assert f"`{key}`" in text, f"{key} is missing from docs/configuration.md"


def test_readme_stays_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 400


def test_every_relative_link_resolves():
    broken = [b for page in doc_pages() for b in broken_links(page)]
    assert not broken, broken


def test_github_anchors():
    assert github_anchor("`whoknows eval make-se-beir`") == "whoknows-eval-make-se-beir"
    assert github_anchor("Permissions and security") == "permissions-and-security"
    assert github_anchor("How search ranks, and why (2026)") == "how-search-ranks-and-why-2026"
    assert anchors("# A\n\n```\n# not a heading\n```\n## A\n") == {"a", "a-1"}


def test_broken_links_are_found(tmp_path: Path):
    (tmp_path / "other.md").write_text("# Present heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#present-heading) [self](#top) [gone](missing.md) [bad](other.md#absent)\n"
        "[web](https://example.com/x.md) `[code](nowhere.md)`\n\n# Top\n\n```\n[fenced](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["page.md: missing.md (no such file)", "page.md: other.md#absent (no such heading)"]


def test_every_toml_example_in_the_docs_is_a_valid_config():
    """The config snippets people copy (README, sources, operations ...) parse and use only real keys."""
    import re
    import tomllib

    from index.config_lines import unknown_keys

    blocks = [(page.name, block) for page in doc_pages()
              for block in re.findall(r"^```toml\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)]
    assert len(blocks) >= 5
    for name, block in blocks:
        data = tomllib.loads(block)
        assert not unknown_keys(data), (name, unknown_keys(data), block)
