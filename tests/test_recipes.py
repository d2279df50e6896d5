"""Every ```python block of docs/recipes.md runs, in order, on a demo store, and its answers add up."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from ccanalytics.demo import write_demo

RECIPES = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text, each with the line its code starts on."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in _BLOCK.finditer(text)]


def test_python_blocks_are_found_with_their_lines():
    text = "intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n```python\ny = 2\nz = 3\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = 2\nz = 3\n")]


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The namespace left by running every recipe, in order, from the folder of a demo store."""
    folder = tmp_path_factory.mktemp("recipes")
    write_demo(folder / "control-center.db", seed=0, days=10)
    namespace: dict = {"__name__": "recipes"}
    # The recipes open "control-center.db" as an operator would, from its folder; the store keeps
    # that relative path, so the tests stay in the folder until they are done with it.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for line, code in python_blocks(RECIPES.read_text(encoding="utf-8")):
            # Compiled under the Markdown file's name and line, a failing recipe names itself.
            exec(compile("\n" * (line - 1) + code, str(RECIPES), "exec"), namespace)
        yield namespace
        namespace["store"].close()


@pytest.mark.slow  # its fixture runs every recipe
def test_the_recipes_open_the_store_and_answer_every_question(answers: dict):
    for name in ("latency", "per_day", "error_codes", "top_consumers", "demo_vs_paid", "kpis"):
        assert isinstance(answers[name], pl.DataFrame), name
        assert answers[name].height > 0, name


def test_revenue_and_spend_per_day_add_up_to_the_dashboard_totals(answers: dict):
    snapshot = answers["store"].snapshot(now=answers["now_ms"])
    per_day = answers["per_day"]
    assert per_day["revenue_micro"].sum() == snapshot.seller.total_money
    assert per_day["spent_micro"].sum() == snapshot.buyer.total_money
    assert per_day["day"].is_unique().all() and per_day["day"].is_sorted()


def test_error_codes_count_every_failed_call_of_the_breakdown(answers: dict):
    snapshot = answers["store"].snapshot(now=answers["now_ms"])
    errors = sum(view.breakdown["errors"].sum() for view in (snapshot.buyer, snapshot.seller))
    codes = answers["error_codes"].drop("role", "api_id")
    assert all(int(code) not in range(200, 300) for code in codes.columns)
    assert codes.sum_horizontal().sum() == errors > 0


def test_top_consumers_account_for_the_paid_seller_revenue(answers: dict):
    top = answers["top_consumers"]
    assert top["revenue_share"].is_sorted(descending=True)
    assert 0 < top["revenue_share"].sum() <= 1 + 1e-9


def test_latency_percentiles_are_ordered(answers: dict):
    latency = answers["latency"]
    assert (latency["p50_ms"] <= latency["p95_ms"]).all()
    assert (latency["p95_ms"] <= latency["p99_ms"]).all()


def test_demo_versus_paid_shares_cover_each_role(answers: dict):
    shares = answers["demo_vs_paid"].group_by("role").agg(pl.col("share").sum(), pl.col("calls").sum()).sort("role")
    snapshot = answers["store"].snapshot(now=answers["now_ms"])
    assert shares["share"].to_list() == pytest.approx([1.0, 1.0])
    assert shares["calls"].to_list() == [snapshot.buyer.total_calls, snapshot.seller.total_calls]


def test_the_replayed_week_ago_differs_from_now(answers: dict):
    kpis = answers["kpis"]
    assert kpis["moment"].to_list() == ["a week ago", "now"]
    spent = [answers[moment].buyer.money_24h for moment in ("week_ago", "current")]
    assert kpis["spent_24h_usdc"].dtype == pl.Float64
    assert (kpis["spent_24h_usdc"] * 1_000_000).round().cast(pl.Int64).to_list() == spent
    # A week of a living node's traffic changes the 24h cards.
    assert kpis.drop("moment").n_unique() == 2
