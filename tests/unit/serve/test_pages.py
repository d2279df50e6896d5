"""ccanalytics.serve.pages: the guard's pages escape every text and carry no script."""

from __future__ import annotations

from ccanalytics.serve.pages import login_page, page


def test_a_page_escapes_its_texts_and_its_link() -> None:
    html = page('<script>alert("t")</script>', "a & b", link='/?x="><script>')
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &amp; b" in html
    assert 'href="/?x=&quot;&gt;&lt;script&gt;"' in html and "Open the dashboard" in html
    assert "Open the dashboard" not in page("T", "t")


def test_the_sign_in_form_posts_the_token_back_with_its_xsrf() -> None:
    html = login_page('/login?next=%2F"', 'x"y', error="<b>Wrong</b>")
    assert 'action="/login?next=%2F&quot;"' in html and 'value="x&quot;y"' in html
    assert 'name="password" type="password"' in html and "&lt;b&gt;Wrong&lt;/b&gt;" in html
    assert 'role="alert"' not in login_page("/", "x")
