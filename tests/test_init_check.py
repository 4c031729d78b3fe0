"""`whoknows init` recognises each source kind and writes a config that `whoknows check`
accepts and ingest indexes; `whoknows check` names what is wrong with a config, by line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from index.config_lines import key_lines
from index.generations import Home
from index.settings import ConfigError, load_settings
from ingest.config_check import check_config
from ingest.detect import DetectError, detect
from ingest.init_config import render_config
from ingest.pipeline import run_ingest
from web.cli import main

from .conftest import REPO, write
from .test_source_mediawiki import EXPORT

GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str, who: str = "Ada Lovelace <ada@corp.example>") -> None:
    name, email = who[:-1].split(" <")
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def git_wiki(tmp_path: Path) -> Path:
    repo = tmp_path / "gitwiki"
    write(repo / "content/finance/expenses.md", "# Expenses\n\nFile receipts within 60 days.\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "expenses")
    write(repo / "content/laptops.md", "# Laptops\n\nLaptops are replaced every three years.\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "laptops", who="Bob Builder <bob@corp.example>")
    write(repo / "content/laptops.md", "# Laptops\n\nLaptops are replaced every four years.\n")
    git(repo, "commit", "-qam", "bump", who="renovate[bot] <bot@renovate.example>")
    return repo


def test_each_kind_is_recognised_and_counted(tmp_path, git_wiki):
    cases = {
        git_wiki: ("git", "git wiki, 2 pages, 3 authors"),
        REPO / "tests/fixtures/stackexchange/cardano": ("stackexchange", None),
        write(tmp_path / "export.xml", EXPORT): ("mediawiki", "MediaWiki export, 3 pages, 3 editors"),
        REPO / "tests/fixtures/discourse": ("discourse", None),
        REPO / "data/handbook": ("markdown", None),
        REPO / "data/documents": ("files", "folder of documents, 5 files"),
    }
    for path, (kind, summary) in cases.items():
        found = detect(path)
        assert found.kind == kind, path
        if summary:
            assert found.summary() == summary
    se = detect(REPO / "tests/fixtures/stackexchange/cardano")
    assert se.options == {"site": "cardano.stackexchange.com"} and "questions" in se.summary()
    wiki = detect(git_wiki)
    assert wiki.options == {"subdir": "content", "ignore_authors": ["renovate[bot]"]}


def test_a_git_bundle_in_a_folder_is_the_source_path(tmp_path, git_wiki):
    folder = tmp_path / "shipped"
    folder.mkdir()
    git(git_wiki, "bundle", "create", str(folder / "wiki.bundle"), "--all")
    found = detect(folder)
    assert (found.kind, found.path, found.counts) == ("git", folder / "wiki.bundle", {"pages": 2, "authors": 3})


def test_slack_export_is_recognised_once_the_kind_exists():
    found = detect(REPO / "tests/fixtures/slack")
    assert found.kind == "slack" and found.counts["channels"] > 0 and found.counts["people"] > 0


def test_missing_or_empty_paths_are_refused(tmp_path):
    with pytest.raises(DetectError, match="no such file"):
        detect(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DetectError, match="not a source"):
        detect(tmp_path / "empty")


def test_init_writes_a_config_check_accepts_and_ingest_indexes(tmp_path, git_wiki, fake_embedder, capsys):
    export = write(tmp_path / "wiki-export/export.xml", EXPORT)
    out = tmp_path / "whoknows.toml"
    paths = [str(git_wiki), str(export.parent), str(REPO / "tests/fixtures/stackexchange/cardano")]
    assert main(["init", *paths, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "git wiki, 2 pages, 3 authors" in said and "MediaWiki export, 3 pages" in said
    text = out.read_text()
    assert "# git wiki, 2 pages, 3 authors" in text and 'kind = "mediawiki"' in text
    assert 'path = "gitwiki"' in text  # inside the config's folder: relative, so they move together
    assert main(["--config", str(out), "check"]) == 0
    settings = load_settings(out)
    assert [s.name for s in settings.sources] == ["gitwiki", "wiki-export", "cardano"]
    record = run_ingest(settings, fake_embedder)
    assert record.status == "ok", record.sources
    assert all(s.added > 0 for s in record.sources.values())
    assert Home(settings.home).current()
    assert main(["init", str(git_wiki), "--out", str(out)]) == 2  # never over an existing file


def test_init_refuses_a_path_it_cannot_read(tmp_path, capsys):
    assert main(["init", str(tmp_path / "gone"), "--out", str(tmp_path / "w.toml")]) == 2
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "w.toml").exists()


def test_rendered_values_are_valid_toml(tmp_path):
    found = detect(REPO / "data/documents")
    found.options = {"odd key": 'quote " and \\ backslash', "list": [1, 2.5, True], "t": {"a": "b"}}
    import tomllib

    data = tomllib.loads(render_config([found], tmp_path / "w.toml"))
    assert data["sources"][0]["options"] == found.options


CONFIG = """home = "var"

[[sources]]
name = "wiki"
kind = "markdown"
pathh = "wiki"

[[sources]]
name = "forum"
kind = "stackexchange"
path = "dump"
options = { site = "x.stackexchange.com" }
cron = "0 0 30 2 *"

[search]
keyword_weigth = 0.3
"""


def test_check_names_each_problem_with_its_line(tmp_path, capsys):
    cfg = write(tmp_path / "whoknows.toml", CONFIG)
    problems = {(p.line, p.key): p.message for p in check_config(cfg)}
    assert problems[(6, "sources[0].pathh")] == "unknown setting; did you mean 'path'?"
    assert problems[(16, "search.keyword_weigth")] == "unknown setting; did you mean 'keyword_weight'?"
    assert problems[(3, "sources[0].path")] == "no path"  # no key: the line of its table
    assert "no such file or folder" in problems[(11, "sources[1].path")]
    assert "never fires" in problems[(13, "sources[1].cron")]
    assert main(["--config", str(cfg), "check"]) == 1
    err = capsys.readouterr().err
    assert f"{cfg}:6: sources[0].pathh: unknown setting; did you mean 'path'?" in err
    with pytest.raises(ConfigError, match=r"whoknows.toml:6: unknown setting sources\[0\].pathh"):
        load_settings(cfg)  # ingest and serve say the line too


def test_check_finds_a_path_of_the_wrong_kind_and_bad_values(tmp_path):
    write(tmp_path / "notes/a.md", "# A\n")
    cfg = write(tmp_path / "w.toml", '[[sources]]\nname = "n"\nkind = "stackexchange"\npath = "notes"\n'
                '\n[[sources]]\nname = "m"\nkind = "wikii"\npath = "notes"\n'
                '\n[chunking]\nsize = "big"\n')
    problems = check_config(cfg)
    assert [(p.line, p.key) for p in problems] == [(12, "chunking.size")]  # the loader stops at a bad value
    assert "expected int" in problems[0].message
    write(cfg, cfg.read_text().replace('size = "big"', "size = 800"))
    problems = {(p.line, p.key): p.message for p in check_config(cfg)}
    assert "not a Stack Exchange dump folder" in problems[(4, "sources[0].path")]
    assert problems[(8, "sources[1].kind")].startswith("unknown kind 'wikii'")


def test_check_reports_broken_toml_and_missing_files(tmp_path):
    bad = write(tmp_path / "bad.toml", 'home = "var"\n[search\nk = 3\n')
    (problem,) = check_config(bad)
    assert problem.line == 2 and "not valid TOML" in problem.message
    (missing,) = check_config(tmp_path / "none.toml")
    assert "no such file" in missing.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: nothing is unreadable")
def test_check_warns_of_unreadable_files(tmp_path):
    secret = write(tmp_path / "docs/secret.txt", "x")
    secret.chmod(0)
    cfg = write(tmp_path / "w.toml", '[[sources]]\nname = "d"\nkind = "files"\npath = "docs"\n')
    (problem,) = check_config(cfg)
    assert "1 unreadable file(s): secret.txt" in problem.message and not problem.error


def test_key_lines_of_nested_tables_and_inline_keys():
    text = ('home = "var"\n[[sources]]\nname = "a"\n[[sources.acl]]\npath = "x/**"\n'
            '[[sources]]\nname = "b"\noptions = { site = "s", "odd key" = 1 }\n'
            'url = """\nnot = a key\n"""\n[people]\n"Ada Lovelace" = [\n  "ada",\n]\n')
    lines = key_lines(text)
    assert lines[("sources", 0, "acl", 0, "path")] == 5
    assert lines[("sources", 1, "name")] == 7
    assert lines[("sources", 1, "options", "site")] == 8 and lines[("sources", 1, "options", "odd key")] == 8
    assert ("sources", 1, "not") not in lines
    assert lines[("people", "Ada Lovelace")] == 13
