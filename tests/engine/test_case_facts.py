"""A case's common keys are held once and spliced into each context's fact for the engine.

The engine must see exactly the facts it saw when every context's fact held every key: the same
keys and values for each ruleset, and the same firings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vignette_format import load_vignette, vignette_files

from decision.case_facts import CaseFacts
from decision.engine import payload
from decision.evaluator import default_evaluator

VIGNETTES = vignette_files()


@pytest.mark.parametrize("path", VIGNETTES[::7], ids=lambda p: p.stem)
def test_each_ruleset_gets_the_same_facts_as_from_whole_facts(path: Path) -> None:
    evaluator = default_evaluator()
    prepared = evaluator.prepare(load_vignette(path)["case"])
    assert prepared.facts.common, "the case's own fields are held once"
    whole = CaseFacts({}, prepared.facts.whole())
    for ruleset in evaluator.engine.register(prepared.policy_id):
        spliced = json.loads(payload(ruleset, [prepared.facts], "7", 100))
        assert spliced == json.loads(payload(ruleset, [whole], "7", 100))
        assert all(next(iter(fact)) == "ctx" for fact in spliced)  # the firing's context is read first
        assert {fact["ctx"] for fact in spliced} == {fact["ctx"] + 100 for fact in prepared.facts.facts}


def test_whole_facts_fire_as_the_case_facts_do() -> None:
    evaluator = default_evaluator()
    for path in VIGNETTES:
        prepared = evaluator.prepare(load_vignette(path)["case"])
        assert evaluator.engine.fire(prepared.policy_id, prepared.facts.whole()) == evaluator.engine.fire(
            prepared.policy_id, prepared.facts
        ), path.stem
