"""The CLI end to end with the real bundled model (loaded once for the module, offline)."""

from __future__ import annotations

import json

import pytest

from web.cli import main

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def config(tmp_path_factory, request):
    from .conftest import write

    tmp = tmp_path_factory.mktemp("cli")
    wiki = tmp / "wiki"
    write(wiki / "expenses.md", "---\nauthor: Ada Lovelace <ada@corp.example>\n---\n"
          "# Expenses\n\n## Home office\n\nYou can claim the cost of a desk and a chair for "
          "working from home. Submit receipts in the reimbursement tool.\n")
    write(wiki / "security.md", "---\nauthor: Eve Smith\n---\n# Security\n\nReport phishing "
          "e-mails to the security team. Never share your password.\n")
    write(wiki / "parties.md", "# Team parties\n\nThe summer barbecue is in July at the lake.\n")
    cfg = tmp / "whoknows.toml"
    cfg.write_text(f'home = "{tmp / "var"}"\n[[sources]]\nname = "wiki"\nkind = "markdown"\n'
                   f'path = "wiki"\n')
    return cfg


def test_ingest_json_then_semantic_search(config, capsys):
    assert main(["ingest", "--config", str(config), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["status"] == "ok"
    assert rec["sources"]["wiki"]["added"] == 3
    assert rec["chunks_embedded"] >= 3

    # no shared keywords: "expense" / "home office" vs "claim the cost ... working from home"
    assert main(["search", "how do I expense a home office", "--json", "--config",
                 str(config)]) == 0
    out = json.loads(capsys.readouterr().out)
    top = out["hits"][0]
    assert top["doc_id"] == "wiki/expenses.md"
    assert top["authors"] == [{"id": top["authors"][0]["id"], "name": "Ada Lovelace"}]

    assert main(["search", "what to do with a suspicious email", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[0].strip().startswith("1. Security")


def test_status_json(config, capsys):
    assert main(["status", "--json", "--config", str(config)]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["counts"]["documents"] == 3
    assert st["generation"]


def test_config_errors_are_clear(tmp_path, capsys):
    assert main(["status", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sources]]\nname = 'x'\nkind = 'markdown'\npaht = 'typo'\n")
    assert main(["status", "--config", str(bad)]) == 2
    assert "bad.toml:4: unknown setting sources[0].paht" in capsys.readouterr().err  # with its line


def test_search_before_ingest_says_what_to_do(tmp_path, capsys):
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "empty"}"\n')
    assert main(["search", "x", "--config", str(cfg)]) == 3
    assert "whoknows ingest" in capsys.readouterr().err


def test_config_before_or_after_the_verb(tmp_path, capsys):
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "h"}"\n')
    for argv in (["--config", str(cfg), "status", "--json"], ["status", "--json", "--config", str(cfg)]):
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out)["home"] == str(tmp_path / "h")
