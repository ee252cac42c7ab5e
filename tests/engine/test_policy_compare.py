"""One case under every policy profile: each candidate's status per profile, and for a profile that
differs from the default, the rule and the source that make the difference."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from vignette_format import SHARED_VIGNETTES, load_vignette

from decision.evaluator import CaseEvaluator, default_evaluator
from decision.policy_compare import COVERAGE_WORDS, compare_policies

OWN_VIGNETTES = Path(__file__).resolve().parents[1] / "vignettes"
REPEAT_LIMIT = load_vignette(SHARED_VIGNETTES / "esi-repeat-limit-3-in-12-months.yaml")["case"]
ASIPP_CAUTION = load_vignette(OWN_VIGNETTES / "asipp-lumbar-transforaminal-l4-l5-apixaban-caution.yaml")["case"]
RFA_ONE_BLOCK = load_vignette(SHARED_VIGNETTES / "facet-rfa-second-block-79.yaml")["case"]
TF = "epidural_steroid_injection/transforaminal/lumbar"
RFA = "radiofrequency_ablation/-/lumbar"


@pytest.fixture(scope="module")
def evaluator() -> CaseEvaluator:
    return default_evaluator()


def test_every_profile_of_the_knowledge_is_a_column_the_default_first(evaluator: CaseEvaluator) -> None:
    comparison = compare_policies(evaluator, REPEAT_LIMIT)
    assert comparison.profiles[0].policy == evaluator.knowledge.manifest.default_policy
    assert {p.policy for p in comparison.profiles} == set(evaluator.policies)
    guidelines = {p.policy: p.guideline for p in comparison.profiles}
    assert guidelines["asipp"] == "asipp_2024" and guidelines["clinic"] == "asra_2018"  # the switch, per column
    for row in comparison.rows:
        assert set(row.statuses) == set(evaluator.policies)
        assert row.title and "/" not in row.title  # the candidate's title, not its key


def test_where_cms_and_the_clinic_differ_the_differing_rules_and_sources_are_named(evaluator: CaseEvaluator) -> None:
    row = next(r for r in compare_policies(evaluator, REPEAT_LIMIT).rows if r.key == TF)
    assert row.statuses["clinic"] == "deferred" and row.statuses["cms"] == "not_indicated"
    (cms,) = [d for d in row.differences if d.policy == "cms"]
    rules = {r.rule_id: r for r in cms.rules}
    assert rules["repeat.esi_relief_cms"].applies_under == "profile"
    assert "cms_l39240#frequency" in rules["repeat.esi_relief_cms"].sources
    assert rules["repeat.steroid_injections"].applies_under == "default"
    assert "seed_003#repeat_limit" in rules["repeat.steroid_injections"].sources
    assert all(title and "#" not in title for r in cms.rules for title in r.source_titles)


def test_the_cms_column_is_worded_as_coverage(evaluator: CaseEvaluator) -> None:
    row = next(r for r in compare_policies(evaluator, REPEAT_LIMIT).rows if r.key == TF)
    assert row.words["cms"] == COVERAGE_WORDS["not_indicated"] and "not covered" in row.words["cms"]
    assert row.words["clinic"] == "Deferred"
    (cms,) = [d for d in row.differences if d.policy == "cms"]
    assert cms.words.startswith("not covered") and cms.default_words == "Deferred"


def test_coverage_wording_follows_the_kind_the_policy_file_declares(evaluator: CaseEvaluator) -> None:
    """Which profile is a payer's is knowledge (the policy YAML's `kind`), not a list in the code:
    a profile declared coverage is worded as coverage, one declared clinical is not."""
    assert evaluator.knowledge.policies["cms"].kind == "coverage"
    policies = dict(evaluator.knowledge.policies)
    policies["nice"] = policies["nice"].model_copy(update={"kind": "coverage"})
    policies["cms"] = policies["cms"].model_copy(update={"kind": "clinical"})
    swapped = CaseEvaluator(dataclasses.replace(evaluator.knowledge, policies=policies))
    coverage = {p.policy: p.coverage for p in compare_policies(swapped, REPEAT_LIMIT).profiles}
    assert coverage["nice"] and not coverage["cms"]
    row = next(r for r in compare_policies(swapped, REPEAT_LIMIT).rows if r.key == TF)
    assert row.words["cms"] == "Not indicated" and row.words["nice"] in set(COVERAGE_WORDS.values())


def test_the_asipp_switch_names_the_bleeding_risk_class_each_guideline_gives(evaluator: CaseEvaluator) -> None:
    row = next(r for r in compare_policies(evaluator, ASIPP_CAUTION).rows if r.key == TF)
    (asipp,) = [d for d in row.differences if d.policy == "asipp"]
    switch = next(r for r in asipp.rules if r.rule_id == "antithrombotic_guideline")
    assert switch.sources == ["asra_2018#risk_classes", "asipp_2024#risk_classes"]
    assert "Intermediate" in switch.text and "Low" in switch.text
    assert {"hold.apixaban.intermediate_high", "hold.apixaban.low"} <= {r.rule_id for r in asipp.rules}


def test_the_same_rule_with_another_figure_names_both_answers_and_their_sources(evaluator: CaseEvaluator) -> None:
    row = next(r for r in compare_policies(evaluator, RFA_ONE_BLOCK).rows if r.key == RFA)
    (nice,) = [d for d in row.differences if d.policy == "nice"]
    blocks = next(r for r in nice.rules if r.rule_id == "facet.rfa_positive_blocks")
    assert "2 blocks (clinic)" in blocks.text and "1 blocks (nice)" in blocks.text
    assert "nice_ng59#radiofrequency_denervation" in blocks.sources


def test_a_profile_that_agrees_with_the_default_lists_no_difference(evaluator: CaseEvaluator) -> None:
    comparison = compare_policies(evaluator, REPEAT_LIMIT)
    assert all(d.policy != "asipp" for row in comparison.rows for d in row.differences)
    assert comparison.differs


def test_the_readmes_policy_comparison_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- policy-compare-example -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(root)
    try:
        exec(compile(block, "README.md", "exec"), {})  # the README's own example
    finally:
        monkeypatch.undo()
    printed = capsys.readouterr().out
    assert "Deferred -> Indicated with caution (Clinic with ASIPP 2024 bleeding-risk classes)" in printed
    assert "asipp_2024#risk_classes" in printed
