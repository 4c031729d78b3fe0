"""Fair routing: the pure re-ordering rule and the concentration figures it is judged by."""

from __future__ import annotations

from datetime import datetime, timedelta

from index.rows import ContributionRow
from index.settings import RoutingSettings
from search.evaluation.routing import Policy, RisingTracker
from search.routing import Availability, fair_order, gini, shares

RANKED = [("busy", 3.0), ("next", 2.6), ("third", 1.0)]


def test_an_unavailable_person_is_never_routed():
    order = fair_order(RANKED, RoutingSettings(), Availability(unavailable=frozenset({"busy"})))
    assert [p for p, _ in order] == ["next", "third"]
    capped = fair_order(RANKED, RoutingSettings(), Availability(capped=frozenset({"next"})))
    assert "next" not in [p for p, _ in capped]


def test_load_moves_a_near_tie_but_not_a_clear_lead():
    p = RoutingSettings(load_penalty=1.0, rising_margin=0.0)
    assert fair_order(RANKED, p, Availability())[0][0] == "busy"  # no load: the ranking as it is
    assert fair_order(RANKED, p, Availability(load={"busy": 3}))[0][0] == "next"  # 3 - log 4 < 2.6
    assert fair_order(RANKED, p, Availability(load={"busy": 3}))[1][0] == "busy"
    half = RoutingSettings(load_penalty=0.5, rising_margin=0.0)
    assert fair_order(RANKED, half, Availability(load={"busy": 1}))[0][0] == "busy"  # 3 - log(2)/2 > 2.6


def test_a_qualified_rising_contributor_goes_first():
    p = RoutingSettings(load_penalty=0.0, rising_margin=0.5)
    assert fair_order(RANKED, p, Availability(), rising={"next"})[0][0] == "next"  # within 0.5
    assert fair_order(RANKED, p, Availability(), rising={"third"})[0][0] == "busy"  # not qualified


def test_shares_and_gini_measure_concentration():
    assert shares({"a": 9, "b": 1}, population=10, top=0.1) == 0.9
    assert shares({}, population=10, top=0.1) == 0.0
    assert gini({"a": 5, "b": 5}, population=2) == 0.0
    assert abs(gini({"a": 10}, population=10) - 0.9) < 1e-9  # one of ten got everything


def test_fair_policy_spreads_a_stream_of_questions():
    t0 = datetime(2024, 1, 1)
    contributions = [ContributionRow(f"d{i}", "next", "answerer", 1.0, t0 - timedelta(days=i), 1, 0)
                     for i in (5, 3)]
    rising = RisingTracker(contributions)
    plain, fair = Policy("plain", None), Policy("fair", RoutingSettings(load_penalty=1.0, rising_margin=0.0))
    for i in range(10):
        t = t0 + timedelta(hours=i)
        for policy in (plain, fair):
            policy.route(list(RANKED), t, rising, accepted="busy", asker="someone")
    assert plain.routed == {"busy": 10}
    assert fair.routed["busy"] < 10 and fair.routed["next"] > 0
    assert plain.figures(3).mrr == 1.0 > fair.figures(3).mrr
    assert fair.figures(3).gini < plain.figures(3).gini
