"""HTML-aware message splitting, checked against the fake Bot API's Telegram-strict HTML parser."""

from __future__ import annotations

import random
import re

import pytest

from bots.telegram.fake_api import parse_html
from bots.telegram.render import LIMIT, split_message, utf16_len

TAGS = [("<b>", "</b>"), ("<i>", "</i>"), ("<u>", "</u>"), ("<code>", "</code>"),
        ('<a href="https://example.org/q?a=1&amp;b=2">', "</a>"), ("<blockquote>", "</blockquote>"),
        ('<pre><code class="language-python">', "</code></pre>"), ("<tg-spoiler>", "</tg-spoiler>")]
WORDS = ["index", "scan", "&amp;", "&lt;T&gt;", "😀", "ünïcode", "x" * 90, "a", "&quot;q&quot;", "\n", "\n\n", "  "]


def random_html(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 5)):
        if depth < 4 and rng.random() < 0.3:
            opening, closing = rng.choice(TAGS)
            parts.append(opening + random_html(rng, depth + 1) + closing)
        else:
            parts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25))))
    return rng.choice([" ", "\n", ""]).join(parts)


def visible(html: str) -> str:
    return re.sub(r"\s", "", parse_html(html))


@pytest.mark.parametrize("seed", range(150))
def test_every_part_is_valid_html_within_the_limit_and_nothing_is_lost(seed: int) -> None:
    rng = random.Random(seed)
    html = "\n".join(random_html(rng) for _ in range(rng.randint(1, 6)))
    limit = rng.choice([200, 257, 400, 1000, LIMIT])
    parts = split_message(html, limit)
    for part in parts:
        assert utf16_len(part) <= limit, (seed, part)
        assert parse_html(part).strip(), (seed, part)  # valid and not empty, as Telegram wants
    assert "".join(visible(p) for p in parts) == visible(html)  # every character arrives, in order


def test_a_bold_run_across_lines_is_closed_and_reopened() -> None:
    html = "<b>" + "\n".join(f"line {n} &amp; more" for n in range(400)) + "</b>"
    parts = split_message(html)
    assert len(parts) > 1
    assert all(p.startswith("<b>") and p.endswith("</b>") for p in parts)
    assert all(parse_html(p) for p in parts)


def test_a_cut_never_lands_inside_an_entity_or_a_tag() -> None:
    html = '<a href="https://example.org/long">' + "&amp;" * 2000 + "</a>"
    parts = split_message(html, 300)
    for part in parts:
        assert part.startswith('<a href="https://example.org/long">') and part.endswith("</a>")
        body = part[len('<a href="https://example.org/long">'):-len("</a>")]
        assert body == "&amp;" * (len(body) // 5)


def test_short_messages_pass_through_unchanged() -> None:
    html = "<b>Score 50%</b> · good\n✅ <i>faster reads</i>"
    assert split_message(html) == [html]


def test_the_fake_bot_api_rejects_what_telegram_rejects() -> None:
    for bad in ("<b>open", "<b><i>x</b></i>", "<div>x</div>", "a < b", "</b>"):
        with pytest.raises(ValueError):
            parse_html(bad)
    assert parse_html("a &amp; b &lt;c&gt; &#8364; &") == "a & b <c> € &"
