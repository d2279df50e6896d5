"""ui/banners.py against metrics.md's banners and dashboard-ui.md: texts, links, escaping."""

from __future__ import annotations

from ccanalytics.ui.banners import AUTO_PAUSE_TEXT, auto_pause_html, backup_html, data_issues, data_issues_html

NOW = "2026-11-25T12:00:00Z"


def test_the_auto_pause_banner_says_the_specs_text_and_links_to_finance() -> None:
    assert AUTO_PAUSE_TEXT == "API SERVING PAUSED — Low balance. Click to manage."
    html = auto_pause_html("https://localhost:3002/panel")
    assert AUTO_PAUSE_TEXT in html and 'href="https://localhost:3002/panel#finance"' in html
    assert "Demo mode keeps working" in html


def test_a_panel_url_that_is_not_a_web_url_is_never_a_link() -> None:
    for url in ("javascript:alert(1)", None, ""):
        assert "href" not in auto_pause_html(url) and "href" not in backup_html(None, NOW, url)


def test_the_backup_banner_says_how_old_the_last_backup_is() -> None:
    assert "the last backup was 31 days ago." in backup_html("2026-10-25T12:00:00Z", NOW, "https://h/p")
    assert "the last backup was 1 day ago." in backup_html("2026-11-24T11:00:00Z", NOW, "https://h/p")
    assert "no backup has been made yet." in backup_html(None, NOW, "https://h/p")
    assert 'href="https://h/p#settings/backup"' in backup_html(None, NOW, "https://h/p")


def test_data_issues_count_the_rows_left_out_and_escape_the_rules() -> None:
    issues = [{"table": "calls", "rule": "<b>x</b>", "rows": 2}, {"table": "events", "rule": "y", "rows": 1}]
    html = data_issues_html(issues)
    assert "3 rows of the store were left out of every number." in html
    assert "calls: 2 (&lt;b&gt;x&lt;/b&gt;)" in html and "<b>x" not in html
    assert "1 row of the store was left out" in data_issues_html(issues[1:])


def test_only_issues_that_left_out_rows_are_shown() -> None:
    snapshot = {"data_issues": [{"table": "calls", "rule": "r", "rows": 0}, {"rule": "s", "rows": "3"}, "junk"]}
    assert data_issues(snapshot) == [{"rule": "s", "rows": "3"}]
    assert data_issues({}) == [] and data_issues({"data_issues": "text"}) == []
