"""The report's Markdown download shows record text as text: a case id or an imported `code.text`
cannot load an image, add a link or forge a heading or a table row."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from decision.evaluator import evaluate
from decision.explain import to_markdown
from decision.report import IgnoredInput
from knowledge.loader import load_knowledge

BEACON = "![x](https://attacker.example/beacon.png) <img src=https://attacker.example/b.png>"


def test_record_text_in_the_markdown_report_renders_as_text() -> None:
    report = evaluate(
        {"case_id": f"x\n# FORGED {BEACON}", "diagnoses": [{"condition": "herniated_disc", "region": "lumbar"}]}
    )
    report = report.model_copy(
        update={
            "ignored_input": [
                IgnoredInput(resource="Condition/1", element=BEACON, reason=f"[link](https://a.example) | {BEACON}")
            ]
        }
    )
    html = MarkdownIt("commonmark").enable("table").render(to_markdown(report))
    assert "<img" not in html and "FORGED</h1>" not in html
    links = re.findall(r"<a href=\"([^\"]*)\"", html)
    assert html.count("<a ") == len(links)
    assert set(links) <= {s.url for s in load_knowledge().sources.values()}  # the cited sources' own links only
    assert "beacon.png" in html  # still there, as words
