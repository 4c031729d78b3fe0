"""The README's CLI and config references are the real ones."""

from __future__ import annotations

from index.settings import settings_reference
from web.docs import README, render


def test_readme_references_are_current():
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `python -m web.docs` to refresh README.md"


def test_every_setting_is_documented_with_help():
    text = README.read_text(encoding="utf-8")
    for key, _default, help_ in settings_reference():
        assert help_, key
        assert f"`{key}`" in text
