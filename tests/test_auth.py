"""Who is asking: tokens (hashed, shown once), proxy headers from trusted addresses only."""

from __future__ import annotations

import sqlite3

from index.tokens import TokenStore
from web.cli import main


def test_token_create_prints_token_last_and_stores_only_its_hash(tmp_path, capsys):
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{tmp_path / "home"}"\n')
    assert main(["token", "create", "--user", "ann", "--groups", "hr,admins", "--config", str(cfg)]) == 0
    token = capsys.readouterr().out.split()[-1]
    assert token.startswith("wk_") and len(token) > 30
    store = TokenStore(tmp_path / "home" / "state.sqlite")
    owner = store.owner(token)
    assert owner is not None and owner.user == "ann" and owner.groups == ["admins", "hr"]
    raw = sqlite3.connect(tmp_path / "home" / "state.sqlite").execute("SELECT * FROM tokens").fetchall()
    assert token not in repr(raw)
    assert store.owner(token + "x") is None and store.owner("") is None
    assert main(["token", "revoke", "--id", str(owner.id), "--config", str(cfg)]) == 0
    assert store.owner(token) is None
