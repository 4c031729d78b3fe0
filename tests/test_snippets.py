"""Snippets and highlighting: query terms marked, document text never becomes markup."""

from __future__ import annotations

from html import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from search.snippets import highlight, make_snippet, plain_text


def unmarked(html: str) -> str:
    return html.replace("<mark>", "").replace("</mark>", "")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.text(max_size=80))
def test_highlight_is_escaped_text_plus_marks(text, query):
    html = str(highlight(text, query))
    assert unmarked(html) == escape(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.text(max_size=80))
def test_snippet_is_a_window_of_the_text(text, query):
    snip = make_snippet(text, query, 120)
    core = snip.removeprefix("… ").removesuffix(" …")
    assert core in " ".join(plain_text(text).split())  # a window of the text as a reader sees it
    assert len(core) <= 120


def test_marks_query_terms_and_their_inflections():
    html = str(highlight("Expensed a <b>desk</b>; expenses pending", "expense desk"))
    assert html == ("<mark>Expensed</mark> a &lt;b&gt;<mark>desk</mark>&lt;/b&gt;; "
                    "<mark>expenses</mark> pending")


def test_snippet_centres_on_the_matching_passage():
    text = "filler " * 100 + "the parental leave policy gives sixteen weeks " + "filler " * 100
    snip = make_snippet(text, "how long is parental leave", 120)
    assert "parental leave" in snip and snip.startswith("… ") and snip.endswith(" …")


def test_a_match_near_the_end_still_shows_a_full_window():
    text = "filler words here " * 30 + "Step 10: submit for approval!"
    snip = make_snippet(text, "submit", 120)
    assert snip.endswith("Step 10: submit for approval!") and snip.startswith("… ")
    assert len(snip.removeprefix("… ")) >= 100  # not the last 30 characters alone
