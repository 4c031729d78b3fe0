"""Rebuild the sample corpus in data/ from ../shared/data (not needed to run whoknows).

    python data/make_sample.py ../shared/data [handbook] [cardano] [fixtures]

handbook/: a slice of the Sourcegraph handbook (Apache-2.0). Each page gets front matter with
its authors (by lines added in git history, strongest first) and created/updated dates, so
the `markdown` source shows real authorship without shipping the repository.

cardano/: the CARDANO_THREADS highest-scored threads with an accepted answer from the
cardano.stackexchange.com dump (CC BY-SA 4.0), with their comments and their authors.

fixtures: the small Stack Exchange dumps the tests read (tests/fixtures/stackexchange/).

documents/: a handful of synthetic office documents (docx, pptx, pdf, eml, xlsx) written
here, with their authors in the files' own metadata, for the `files` source. Only this part
runs without ../shared/data: `python data/make_sample.py --documents-only`.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HANDBOOK_DIRS = [
    "benefits-pay-perks", "company-info-and-process", "departments/finance",
    "departments/tech-ops", "departments/legal", "team", "handbook",
]
HERE = Path(__file__).parent
CARDANO_THREADS = 150
# Threads cut for the tests: accepted answers, code blocks, many comments, PostHistory
# editors, a post without an owner id, an answer by a user known only by name.
FIXTURE_THREADS = {
    "cardano": ["4", "10", "45", "53", "282"],
    "beer": ["3", "6", "430"],
    "bicycles-meta": ["2", "41", "121", "184"],
}
USER_FIELDS = ("Id", "Reputation", "CreationDate", "DisplayName", "LastAccessDate", "AccountId")
sys.path.insert(0, str(HERE.parent))  # the tests' minimal PDF writer is reused below


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def page_authors(repo: Path, rel: str) -> tuple[list[str], str, str]:
    """Authors with their share of added lines (>= 5% or top one), first and last dates."""
    out = git(repo, "log", "--follow", "--numstat", "--format=@%an <%ae>|%aI", "--", rel)
    added: collections.Counter[str] = collections.Counter()
    dates: list[str] = []
    author = ""
    for line in out.splitlines():
        if line.startswith("@"):
            author, when = line[1:].rsplit("|", 1)
            dates.append(when)
        elif line.strip() and author:
            a = line.split("\t")[0]
            added[author] += int(a) if a.isdigit() else 0
    total = sum(added.values()) or 1
    ranked = [a for a, n in added.most_common() if n / total >= 0.05][:6]
    return ranked or [a for a, _ in added.most_common(1)], min(dates), max(dates)


def build_handbook(shared: Path) -> None:
    dest = HERE / "handbook"
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "handbook"
        subprocess.run(["git", "clone", "-q", str(shared / "handbook/handbook.bundle"), str(repo)],
                       check=True)
        for d in HANDBOOK_DIRS:
            for src in sorted((repo / "content" / d).rglob("*.md")):
                rel = src.relative_to(repo / "content").as_posix()
                authors, created, updated = page_authors(repo, f"content/{rel}")
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                names = "\n".join(f'  - "{a}"' for a in authors)
                front = f"---\nauthors:\n{names}\ndate: {created}\nupdated: {updated}\n---\n"
                target.write_text(front + src.read_text(encoding="utf-8"), encoding="utf-8")
        shutil.copy(repo / "LICENSE", dest / "LICENSE")


def dump_rows(path: Path) -> list[dict[str, str]]:
    from defusedxml.ElementTree import parse

    return [dict(r.attrib) for r in parse(path).getroot().iter("row")]


def _attr(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return value.replace("\r", "&#xD;").replace("\n", "&#xA;").replace("\t", "&#x9;")


def write_dump(path: Path, root: str, rows: list[dict[str, str]]) -> None:
    lines = ['\ufeff<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    lines += ["  <row " + " ".join(f'{k}="{_attr(v)}"' for k, v in r.items()) + " />" for r in rows]
    path.write_text("\n".join([*lines, f"</{root}>", ""]), encoding="utf-8")


def cut_dump(src: Path, dest: Path, question_ids: set[str]) -> None:
    """The given threads of a Stack Exchange dump: posts, comments, history, their users."""
    dest.mkdir(parents=True, exist_ok=True)
    posts = [p for p in dump_rows(src / "Posts.xml")
             if p["Id"] in question_ids or p.get("ParentId") in question_ids]
    ids = {p["Id"] for p in posts}
    users = {p.get(k, "") for p in posts for k in ("OwnerUserId", "LastEditorUserId")}
    write_dump(dest / "Posts.xml", "posts", posts)
    for name, root in (("Comments.xml", "comments"), ("PostHistory.xml", "posthistory")):
        if (src / name).exists():
            rows = [r for r in dump_rows(src / name) if r.get("PostId") in ids]
            users |= {r.get("UserId", "") for r in rows}
            write_dump(dest / name, root, rows)
    if (src / "Users.xml").exists():
        rows = [{k: u[k] for k in USER_FIELDS if k in u} for u in dump_rows(src / "Users.xml") if u["Id"] in users]
        write_dump(dest / "Users.xml", "users", rows)


def build_cardano(shared: Path) -> None:
    src = shared / "stackexchange/cardano"
    questions = [p for p in dump_rows(src / "Posts.xml") if p.get("PostTypeId") == "1" and p.get("AcceptedAnswerId")]
    questions.sort(key=lambda p: (-int(p.get("Score", "0")), int(p["Id"])))
    dest = HERE / "cardano"
    shutil.rmtree(dest, ignore_errors=True)
    cut_dump(src, dest, {p["Id"] for p in questions[:CARDANO_THREADS]})
    source = (src / "SOURCE.txt").read_text(encoding="utf-8")
    (dest / "SOURCE.txt").write_text(
        f"The {CARDANO_THREADS} highest-scored threads with an accepted answer (questions, answers, comments,\n"
        "and the display names of their authors) cut by data/make_sample.py from:\n\n" + source, encoding="utf-8")


def build_fixtures(shared: Path) -> None:
    for site, qids in FIXTURE_THREADS.items():
        dest = HERE.parent / "tests/fixtures/stackexchange" / site
        shutil.rmtree(dest, ignore_errors=True)
        cut_dump(shared / "stackexchange" / site, dest, set(qids))
        source = (shared / "stackexchange" / site / "SOURCE.txt").read_text(encoding="utf-8")
        (dest / "SOURCE.txt").write_text(f"Threads {', '.join(qids)} cut by data/make_sample.py from:\n\n{source}",
                                         encoding="utf-8")


POLICY = [
    ("Remote work policy", 1, "Example Corp employees may work remotely up to four days a week. "
     "This policy explains who is eligible, what equipment the company pays for and how we stay reachable."),
    ("Eligibility", 2, "Everyone who has completed their first month is eligible. Teams that run on-site "
     "equipment, such as the hardware lab, agree their own schedule with their manager."),
    ("Equipment and home office", 2, "The company pays for a laptop, a monitor, a keyboard and a chair. "
     "Home office expenses up to 600 euros a year are reimbursed through the expense tool; keep the receipts."),
    ("Working hours and availability", 2, "Core hours are 10:00 to 15:00 in your local time zone. Set your "
     "chat status when you are away for more than an hour, and keep your calendar up to date."),
    ("Security", 2, "Work only on company laptops with disk encryption turned on. Never use public Wi-Fi "
     "without the VPN, and lock your screen whenever you step away."),
]
SLIDES = [
    ("Q3 all-hands", "Where we are, what we learned, what comes next"),
    ("Customer growth", "We signed 42 new customers in Q3, most of them in the healthcare segment."),
    ("Support backlog", "Median first response time fell from 9 hours to 3 hours after the new triage rota."),
    ("Hiring plan", "Four support engineers and two site reliability engineers join before the end of Q4."),
]
RUNBOOK = [
    ["Incident response runbook", "Severity levels", "SEV1: customers cannot use the product. Page the on-call",
     "engineer and the incident commander at once.", "SEV2: a major feature is degraded. Page the on-call engineer.",
     "SEV3: a minor bug with a workaround. File a ticket for the owning team."],
    ["During an incident", "The incident commander opens a channel named after the incident and posts updates",
     "every 30 minutes. The status page is updated by the communications lead.", "After the incident",
     "Every SEV1 and SEV2 gets a blameless postmortem within five working days."],
]


def build_documents() -> None:
    """Synthetic documents with authors in their own metadata (written here, free to share)."""
    import docx
    from openpyxl import Workbook
    from pptx import Presentation

    from tests.doc_fixtures import pdf_bytes

    dest = HERE / "documents"
    dest.mkdir(exist_ok=True)
    d = docx.Document()
    d.core_properties.author, d.core_properties.last_modified_by = "Priya Natarajan", "Tomás Ruiz"
    d.core_properties.title = "Remote work policy"
    for heading, level, text in POLICY:
        d.add_heading(heading, level)
        d.add_paragraph(text)
    d.save(str(dest / "remote-work-policy.docx"))
    prs = Presentation()
    prs.core_properties.author = prs.core_properties.last_modified_by = "Sam Okafor"
    for title, body in SLIDES:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text, slide.placeholders[1].text = title, body
    prs.save(str(dest / "q3-all-hands.pptx"))
    (dest / "incident-response-runbook.pdf").write_bytes(
        pdf_bytes(RUNBOOK, author="Lena Fischer", title="Incident response runbook"))
    wb = Workbook()
    wb.properties.creator = "Sam Okafor"
    ws = wb.active
    ws.title = "Travel budget 2024"
    for row in [("Team", "Budget (EUR)", "Owner"), ("Support", 18000, "Sam Okafor"),
                ("Sales", 42000, "Marta Kowalski"), ("Engineering", 25000, "Lena Fischer")]:
        ws.append(row)
    wb.save(str(dest / "travel-budget-2024.xlsx"))
    (dest / "office-move-notice.eml").write_text(
        "From: Marta Kowalski <marta.kowalski@corp.example>\nTo: berlin@corp.example\n"
        "Subject: The Berlin office moves on 14 March\nDate: Mon, 04 Mar 2024 09:30:00 +0100\n"
        "Content-Type: text/plain; charset=utf-8\n\nHello Berlin team,\n\nThe office moves to Torstrasse 12 "
        "on 14 March. Pack your desk by Wednesday evening; movers label the boxes. The new office has "
        "bike parking in the courtyard and two quiet rooms for calls.\n\nMarta\n", encoding="utf-8")


if __name__ == "__main__":
    build_documents()
    if "--documents-only" not in sys.argv:
        shared_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
        parts = sys.argv[2:] or ["handbook", "cardano", "fixtures"]
        builders = {"handbook": build_handbook, "cardano": build_cardano, "fixtures": build_fixtures}
        for part in parts:
            builders[re.sub(r"\W", "", part)](shared_dir)
