"""Recognition on a real tiny forum dump and wiki: accepted and voted answers, opened pages,
rising contributors, first contributions, periods, permissions, consent, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from index.feedback import FeedbackLog
from index.settings import AclRule, AuthSettings, ExpertSettings, FeedbackSettings, Settings, SourceSettings
from index.tokens import TokenStore
from ingest.pipeline import run_ingest
from search.recognition_period import Period, PeriodError, choose_period
from web.app import create_app

from .conftest import write

USERS = {1: "Quinn", 2: "Ada", 3: "Bob", 4: "Hanna", 5: "Xavia"}
MAY = {"since": "2024-05-01", "until": "2024-05-30"}


def post(pid: int, kind: int, owner: int, day: str, score: int, parent: int = 0, accepted: int = 0) -> str:
    extra = (f'ParentId="{parent}"' if parent else f'Title="Question {pid} about wallets" Tags="&lt;wallet&gt;"'
             + (f' AcceptedAnswerId="{accepted}"' if accepted else ""))
    return (f'<row Id="{pid}" PostTypeId="{kind}" CreationDate="{day}T10:00:00.000" Score="{score}" '
            f'OwnerUserId="{owner}" Body="&lt;p&gt;post {pid} on wallets and keys&lt;/p&gt;" {extra}/>')


def page(root, name: str, day: str, *authors: str, tags: tuple[str, ...] = ("notes",), text: str = "") -> None:
    write(root / f"{name}.md", f"---\ntitle: {name}\nauthors: {list(authors)}\ntags: {list(tags)}\n"
                               f"updated: {day}\n---\n# {name}\n\n{text or 'Notes on ' + name}.\n")


@pytest.fixture
def recognised(tmp_path, fake_embedder):
    forum = tmp_path / "forum"
    posts = [post(1, 1, 1, "2024-05-01", 2, accepted=11), post(11, 2, 2, "2024-05-02", 3, 1),
             post(12, 2, 3, "2024-05-03", 0, 1),
             post(2, 1, 1, "2024-05-05", 1, accepted=22), post(21, 2, 3, "2024-05-06", 2, 2),
             post(22, 2, 5, "2024-05-06", 5, 2),  # Xavia is on the consent list
             post(3, 1, 1, "2024-05-07", 1, accepted=31), post(31, 2, 4, "2024-05-07", 4, 3),
             post(32, 2, 2, "2024-05-08", 1, 3),  # thread 3 is for hr only
             post(4, 1, 1, "2024-01-10", 1, accepted=41), post(41, 2, 3, "2024-01-11", 1, 4),
             post(42, 2, 2, "2024-01-12", 0, 4)]
    write(forum / "Posts.xml", "<posts>\n" + "\n".join(posts) + "\n</posts>")
    write(forum / "Users.xml", "<users>\n" + "\n".join(
        f'<row Id="{i}" DisplayName="{n}" CreationDate="2020-01-01T00:00:00.000"/>' for i, n in USERS.items())
        + "\n</users>")
    wiki = tmp_path / "wiki"
    page(wiki, "guide", "2024-05-10", "Carol", tags=("travel",), text="Booking travel: trains and flights")
    page(wiki, "hr/pay", "2024-05-10", "Carol")
    for day in ("2024-02-15", "2024-03-15", "2024-04-15", "2024-05-05", "2024-05-06", "2024-05-07"):
        page(wiki, f"riley-{day}", day, "Riley")  # one page a period, then three
    for day in ("02-10", "02-11", "03-10", "03-11", "04-10", "04-11", "05-10", "05-11"):
        page(wiki, f"steady-{day}", f"2024-{day}", "Steady")  # two every period
    page(wiki, "newbie", "2024-05-20", "Newbie")
    settings = Settings(home=tmp_path / "home", experts=ExpertSettings(exclude=["Xavia"]),
                        feedback=FeedbackSettings(retention_days=0), sources=[  # opens of 2024 kept
        SourceSettings(name="forum", kind="stackexchange", path=str(forum), options={"site": "forum.example"},
                       acl=[AclRule(path="q/3", visible_to=["hr"])]),
        SourceSettings(name="wiki", kind="markdown", path=str(wiki), acl=[AclRule(path="hr/*", visible_to=["hr"])])])
    run_ingest(settings, fake_embedder)
    log = FeedbackLog(settings.home / "state.sqlite")

    def at(day: str, hour: int = 10) -> float:
        return datetime.fromisoformat(f"{day}T{hour:02}:00:00+00:00").timestamp()

    log.click("travel", "wiki/guide.md", "u1", 1, now=at("2024-05-12"))
    log.click("trains", "wiki/guide.md", "u1", 2, now=at("2024-05-13"))  # the same reader: one open
    log.click("travel", "wiki/guide.md", "u2", 1, now=at("2024-05-12"))
    log.click("pay", "wiki/hr/pay.md", "u1", 1, now=at("2024-05-12"))
    log.click("wallet", "forum/1", "u3", 1, now=at("2024-05-14"))
    log.click("travel", "wiki/guide.md", "u4", 1, now=at("2024-08-01"))  # after the period
    log.vote("result", "travel", "wiki/guide.md", "u1", 1, now=at("2024-05-14"))
    return settings


def client(settings: Settings, fake_embedder) -> TestClient:
    return TestClient(create_app(settings, embedder=fake_embedder))


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["person"]["name"]: r for r in rows}


def figures(s: dict) -> tuple[int, ...]:
    return (s["useful"], s["accepted"], s["voted"], s["documents_opened"], s["opens"], s["up_votes"])


def test_accepted_and_voted_answers_and_opened_pages_are_counted_with_receipts(recognised, fake_embedder):
    got = client(recognised, fake_embedder).get("/api/recognition", params=MAY).json()
    assert got["period"] == {"since": "2024-05-01", "until": "2024-05-30", "days": 30, "why": ""}
    sharers = by_name(got["sharers"])
    # Ada: accepted in thread 1 (score 3), voted in thread 3 (score 1), thread 1 opened once
    assert figures(sharers["Ada"]) == (3, 1, 2, 1, 1, 0)
    # Bob: answer 12 scored 0 (not counted), 21 voted; thread 1 he answered in was opened;
    # his accepted answer of January is outside the period
    assert figures(sharers["Bob"]) == (2, 0, 1, 1, 1, 0)
    # Carol: the guide opened by two readers (u1 twice is one open, u4's is after the period),
    # one up vote; hr/pay opened by u1
    assert figures(sharers["Carol"]) == (2, 0, 0, 2, 3, 1)
    assert figures(sharers["Hanna"]) == (1, 1, 1, 0, 0, 0)
    assert [s["person"]["name"] for s in got["sharers"]][:1] == ["Ada"]
    receipts = {r["doc_id"]: r for r in sharers["Ada"]["receipts"]}
    assert (receipts["forum/1"]["accepted"], receipts["forum/1"]["score"], receipts["forum/1"]["opens"]) == (1, 3, 1)
    assert receipts["forum/3"]["voted"] == 1 and receipts["forum/1"]["url"] == "https://forum.example/q/1"
    assert "Quinn" not in sharers  # questions are not shared knowledge
    assert set(got["how_counted"]) >= {"useful", "accepted", "voted", "documents_opened", "opens", "up_votes",
                                       "rising", "first"}


def test_since_and_until_bound_every_figure(recognised, fake_embedder):
    c = client(recognised, fake_embedder)
    january = c.get("/api/recognition", params={"since": "2024-01-01", "until": "2024-01-31"}).json()
    assert {n: figures(s) for n, s in by_name(january["sharers"]).items()} == {"Bob": (1, 1, 1, 0, 0, 0)}
    first_week = by_name(c.get("/api/recognition", params={"since": "2024-05-01", "until": "2024-05-02"}
                               ).json()["sharers"])
    assert set(first_week) == {"Ada"} and figures(first_week["Ada"]) == (1, 1, 1, 0, 0, 0)  # opens came later
    august = by_name(c.get("/api/recognition", params={"since": "2024-08-01", "until": "2024-08-01"}
                           ).json()["sharers"])
    assert {n: figures(s) for n, s in august.items()} == {"Carol": (1, 0, 0, 1, 1, 0)}


def test_rising_contributors_and_first_contributions(recognised, fake_embedder):
    got = client(recognised, fake_embedder).get("/api/recognition", params=MAY).json()
    rising = by_name(got["rising"])
    assert rising["Riley"]["contributions"] == 3 and rising["Riley"]["earlier"] == [1, 1, 1]
    assert rising["Riley"]["growth"] == 3.0
    assert "Steady" not in rising  # two a period, as always
    first = by_name(got["first_contributions"])
    assert first["Newbie"]["first"]["doc_id"] == "wiki/newbie.md" and first["Newbie"]["contributions"] == 1
    assert "Riley" not in first and "Steady" not in first and "Quinn" not in first
    assert "Newbie" not in rising


def test_a_consent_listed_person_never_appears(recognised, fake_embedder):
    recognised.experts = ExpertSettings(exclude=[])
    assert "Xavia" in client(recognised, fake_embedder).get("/api/recognition", params=MAY).text  # accepted, 5
    recognised.experts = ExpertSettings(exclude=["Xavia"])
    c = client(recognised, fake_embedder)
    for params in (MAY, {}, {"since": "2024-01-01", "until": "2024-12-31"}):
        body = c.get("/api/recognition", params=params)
        assert body.status_code == 200 and "Xavia" not in body.text
        assert "Xavia" not in c.get("/api/recognition.csv", params=params).text
        assert "Xavia" not in c.get("/recognition", params=params).text


def test_restricted_documents_count_for_nobody_outside_their_groups(recognised, fake_embedder):
    recognised.auth = AuthSettings(mode="token")
    c = client(recognised, fake_embedder)
    tokens = TokenStore(recognised.home / "state.sqlite")
    staff, hr = tokens.create("sam", ["eng"]), tokens.create("hanna", ["hr"])
    seen = c.get("/api/recognition", params=MAY, headers={"Authorization": f"Bearer {staff}"})
    sharers = by_name(seen.json()["sharers"])
    assert "Hanna" not in seen.text and "forum/3" not in seen.text and "hr/pay" not in seen.text
    assert figures(sharers["Ada"]) == (2, 1, 1, 1, 1, 0)  # thread 3's voted answer not counted
    assert figures(sharers["Carol"]) == (1, 0, 0, 1, 2, 1)  # hr/pay's open not counted
    page = c.get("/recognition", params=MAY, headers={"Authorization": f"Bearer {staff}"}).text
    assert "Hanna" not in page and "pay" not in page
    hr_view = by_name(c.get("/api/recognition", params=MAY, headers={"Authorization": f"Bearer {hr}"}
                            ).json()["sharers"])
    assert figures(hr_view["Ada"]) == (3, 1, 2, 1, 1, 0) and figures(hr_view["Hanna"]) == (1, 1, 1, 0, 0, 0)


def test_csv_export_parses_and_matches_the_json(recognised, fake_embedder):
    c = client(recognised, fake_embedder)
    got = c.get("/api/recognition", params=MAY).json()
    for url, params in (("/api/recognition.csv", MAY), ("/api/recognition", {**MAY, "format": "csv"})):
        r = c.get(url, params=params)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        sharers = [x for x in rows if x["list"] == "sharers"]
        assert [(x["name"], int(x["useful"]), int(x["accepted"]), int(x["voted"]), int(x["documents_opened"]),
                 int(x["opens"]), int(x["up_votes"])) for x in sharers] == [
            (s["person"]["name"], *figures(s)) for s in got["sharers"]]
        rising = [x for x in rows if x["list"] == "rising"]
        assert [(x["person_id"], int(x["contributions"]), x["growth"]) for x in rising] == [
            (s["person"]["id"], s["contributions"], "" if s["growth"] is None else str(s["growth"]))
            for s in got["rising"]] and rising
        assert [x["first_doc_id"] for x in rows if x["list"] == "first_contributions"] == [
            n["first"]["doc_id"] for n in got["first_contributions"]]
        assert {x["since"] for x in rows} == {"2024-05-01"}


def test_bad_periods_get_a_clear_error(recognised, fake_embedder):
    c = client(recognised, fake_embedder)
    for params, words in (({"since": "2024-13-01"}, "since must be a day"), ({"until": "may"}, "until must be"),
                          ({"since": "2024-06-01", "until": "2024-05-01"}, "is after until")):
        r = c.get("/api/recognition", params=params)
        assert r.status_code == 422 and words in r.json()["detail"]
        assert c.get("/api/recognition.csv", params=params).status_code == 422
        page = c.get("/recognition", params=params)
        soup = BeautifulSoup(page.text, "html.parser")
        assert page.status_code == 422 and words in soup.select_one("#period-error").get_text()


def test_default_period_is_the_latest_busy_stretch_of_an_old_dump(recognised, fake_embedder):
    got = client(recognised, fake_embedder).get("/api/recognition").json()
    # nothing in the last 90 days; the latest 90 days with 10 answers, opens or votes end
    # with the open of 1 August
    assert (got["period"]["since"], got["period"]["until"], got["period"]["days"]) == ("2024-05-04", "2024-08-01", 90)
    assert "latest 90 days" in got["period"]["why"] and got["sharers"]


def test_choose_period_rule():
    from index.settings import RecognitionSettings

    p = RecognitionSettings(period_days=10, busy_min=2)
    today = date(2024, 6, 30)
    times = [datetime(2024, 6, d, tzinfo=UTC) for d in (1, 3)] + [datetime(2024, 6, 29, tzinfo=UTC)]
    assert choose_period(None, None, today, times, p) == Period(date(2024, 5, 25), date(2024, 6, 3), choose_period(
        None, None, today, times, p).why)  # the lone event of the 29th is not a busy stretch
    busy = times + [datetime(2024, 6, 25, tzinfo=UTC)]
    assert (choose_period(None, None, today, busy, p).since, choose_period(None, None, today, busy, p).until) == (
        date(2024, 6, 21), today)
    assert choose_period(None, date(2024, 1, 10), today, [], p).since == date(2024, 1, 1)
    assert choose_period(date(2024, 6, 1), None, today, [], p).until == today
    with pytest.raises(PeriodError):
        choose_period(date(2024, 6, 2), date(2024, 6, 1), today, [], p)


def test_topic_restricts_to_its_documents(recognised, fake_embedder):
    recognised.recognition.topic_documents = 1
    got = client(recognised, fake_embedder).get("/api/recognition", params={**MAY, "topic": "travel"}).json()
    assert got["topic"] == "travel" and got["topic_documents"] == 1
    assert [s["person"]["name"] for s in got["sharers"]] == ["Carol"]
    assert figures(got["sharers"][0]) == (1, 0, 0, 1, 2, 1)  # only the guide: hr/pay is not about travel


def test_page_says_how_each_figure_is_counted_and_is_in_the_nav(recognised, fake_embedder):
    c = client(recognised, fake_embedder)
    soup = BeautifulSoup(c.get("/recognition", params=MAY).text, "html.parser")
    rows = {tr.td.get_text(): [td.get_text() for td in tr.select("td")] for tr in soup.select("#sharers tbody tr")}
    assert rows["Ada"][1:7] == ["3", "1", "2", "1", "1", "0"]
    assert all(th.get("title") for th in soup.select("#sharers thead th")[1:7])
    assert len(soup.select("#how-counted dt")) >= 8
    assert "Riley" in soup.select_one("#rising").get_text() and "Newbie" in soup.select_one("#first").get_text()
    assert c.get(soup.select_one("#csv")["href"]).status_code == 200
    assert soup.select_one('nav a[href="/recognition"]') is not None


def test_cli_prints_the_api_figures(recognised, tmp_path, capsys):
    import json

    from web.cli import main

    cfg = tmp_path / "w.toml"
    cfg.write_text(f'home = "{recognised.home}"\n[experts]\nexclude = ["Xavia"]\n[feedback]\nretention_days = 0\n')
    assert main(["--config", str(cfg), "recognition", "--since", "2024-05-01", "--until", "2024-05-30", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert figures(by_name(got["sharers"])["Ada"]) == (3, 1, 2, 1, 1, 0) and "Xavia" not in json.dumps(got)
    assert main(["--config", str(cfg), "recognition", "--since", "2024-05-01", "--until", "2024-05-30", "--csv"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out)))[0]["name"] == "Ada"
    assert main(["--config", str(cfg), "recognition", "--since", "2024-06-01", "--until", "2024-05-01"]) == 2
    assert "is after until" in capsys.readouterr().err


def test_no_recorded_opens_or_votes_is_no_data_and_formulas_are_quoted_in_the_csv(recognised, tmp_path):
    from index.generations import Home
    from index.rows import PersonRow
    from index.settings import RecognitionSettings
    from search.recognition import Recognition, RecognitionReport, Sharer

    reader = Home(recognised.home).open_reader()
    try:  # a home whose state database was never written: answers count, opens are none
        got = Recognition(RecognitionSettings(), FeedbackLog(tmp_path / "none" / "state.sqlite")).report(
            reader, since=date(2024, 5, 1), until=date(2024, 5, 30)).to_json()
    finally:
        reader.close()
    assert not (tmp_path / "none").exists()
    assert {n: figures(s)[:3] for n, s in by_name(got["sharers"]).items()}["Ada"] == (2, 1, 2)
    assert all(s["opens"] == 0 for s in got["sharers"])
    report = RecognitionReport(Period(date(2024, 5, 1), date(2024, 5, 30)),
                               [Sharer(PersonRow("p1", "=HYPERLINK(\"http://x\")"), 1)], [], [], {})
    (row,) = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert row["name"] == "'=HYPERLINK(\"http://x\")"
