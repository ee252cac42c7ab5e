"""One test validates all knowledge; broken fixtures, named for their defect, must fail clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from vignette_format import load_vignette, vignette_files

from decision.case import Case
from decision.compile import compile_knowledge
from decision.contexts import build_contexts
from decision.evaluator import CaseEvaluator
from decision.truth import Evaluator
from knowledge.conditions import ParamRef, walk
from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError, load_knowledge
from knowledge.release import write_release

FIXTURES = Path(__file__).parents[1] / "fixtures" / "broken_knowledge"


def test_the_shipped_knowledge_loads_validates_and_compiles() -> None:
    knowledge = load_knowledge()
    policies = compile_knowledge(knowledge)
    assert set(policies) == {"clinic", "asipp", "nice", "cms"}
    assert knowledge.manifest.default_policy == "clinic"
    assert len(knowledge.rules) >= 60


def test_every_rule_cites_a_known_source_section() -> None:
    knowledge = load_knowledge()
    for entry in knowledge.rules:
        assert entry.rule.sources, entry.rule.id
        for ref in entry.rule.sources:
            source_id, _, section = ref.partition("#")
            assert section in knowledge.sources[source_id].sections, (entry.rule.id, ref)


def test_every_seed_source_names_a_file_that_exists() -> None:
    shared = KNOWLEDGE_DIR.parent.parent / "shared" / "sources"
    if not shared.exists():
        pytest.skip("shared/sources is not beside this checkout")
    for source in load_knowledge().sources.values():
        if source.kind == "seed":
            assert source.file and (shared / source.file).exists(), source.id


def test_every_number_a_rule_compares_with_comes_from_a_sourced_policy_param() -> None:
    knowledge = load_knowledge()
    table_hours = {
        advice.stop_hours
        for table in knowledge.hold_tables.values()
        for row in table.drugs
        for rows in ([row.rows] if row.rows else list(row.variant.rows.values()) if row.variant else [])
        for advice in rows.values()
    }
    for entry in knowledge.rules:
        for node in walk(entry.rule.when):
            value = getattr(node, "value", None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if entry.from_table and node.kind == "compare":
                    # a hold period, stated in a row of a hold table that cites its source
                    assert value in table_hours and entry.rule.sources, entry.rule.id
                    continue
                assert node.kind == "count" and (node.op, value) in (("gte", 1), ("eq", 0)), entry.rule.id
    for policy in knowledge.policies.values():
        for name, param in policy.params.items():
            assert param.source and param.question.endswith("?"), (policy.id, name)


def _vignettes_by_id() -> dict[str, dict]:  # type: ignore[type-arg]
    return {load_vignette(p)["id"]: load_vignette(p) for p in vignette_files()}


def test_every_rule_names_vignettes_that_exist() -> None:
    vignettes = _vignettes_by_id()
    for entry in load_knowledge().rules:
        assert entry.rule.tests, f"{entry.rule.id} names no vignette"
        for vid in entry.rule.tests:
            assert vid in vignettes, f"{entry.rule.id}: vignette {vid} does not exist"


def test_every_rule_is_met_in_at_least_one_of_its_own_vignettes() -> None:
    """Proves each rule can fire at all (a misspelt value or a hash collision would silence it)."""
    vignettes = _vignettes_by_id()
    evaluator = CaseEvaluator(load_knowledge())
    silent = []
    for entry in evaluator.knowledge.rules:
        fired = False
        for vid in entry.rule.tests:
            case = vignettes[vid]["case"]
            report = evaluator.evaluate(case)
            if entry.rule.id in report.fired_rules:
                fired = True
                break
        if not fired:
            silent.append(entry.rule.id)
    assert not silent, f"rules that fire in none of their vignettes: {silent}"


def _with_fixture(tmp_path: Path, fixture: str) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.copy(FIXTURES / fixture, root / "rules" / fixture)
    return root


BROKEN = {
    "rule-missing-source.yaml": ["rule-missing-source.yaml", "broken.no_source", "sources"],
    "rule-unknown-field.yaml": [
        "broken.unknown_field",
        "symptoms.duraton_weeks",
        "did you mean 'symptoms.duration_weeks'",
    ],
    "rule-unknown-procedure-id.yaml": [
        "broken.unknown_procedure",
        "epidural_steroid_injections",
        "did you mean 'epidural_steroid_injection'",
    ],
    "rule-threshold-without-source.yaml": ["broken.bare_threshold", "threshold 7 has no source"],
    "rule-unknown-source-section.yaml": [
        "broken.bad_section",
        "no section 'contraindication'",
        "did you mean 'contraindications'",
    ],
    "rule-unknown-param.yaml": [
        "broken.unknown_param",
        "esi_min_duration_week",
        "did you mean 'esi_min_duration_weeks'",
    ],
    "rule-wrong-operator.yaml": ["broken.wrong_operator", "operator 'lt' does not apply to bool field"],
    "rule-syntax-error.yaml": ["rule-syntax-error.yaml", "not valid YAML", "line"],
    "rule-unknown-condition-key.yaml": ["broken.condition_key", "unknown condition keys ['every']"],
    "rule-unknown-rule-field.yaml": ["broken.rule_field", "unknown field 'source'"],
}


@pytest.mark.parametrize("fixture", sorted(BROKEN))
def test_broken_knowledge_is_rejected_with_file_rule_and_field(tmp_path: Path, fixture: str) -> None:
    root = _with_fixture(tmp_path, fixture)
    with pytest.raises(KnowledgeError) as caught:
        compile_knowledge(load_knowledge(root, release=False))
    message = str(caught.value)
    for fragment in BROKEN[fixture]:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_every_broken_fixture_is_exercised() -> None:
    assert {p.name for p in FIXTURES.glob("*.yaml")} == set(BROKEN)


def test_knowledge_version_and_hash_change_with_content(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    before = load_knowledge(root).content_hash
    path = root / "rules" / "crps.yaml"
    path.write_text(path.read_text() + "\n# reviewed\n")
    write_release(root)
    assert load_knowledge(root).content_hash != before
    assert load_knowledge().content_hash == load_knowledge().content_hash


def test_policy_params_are_inherited_and_overridden() -> None:
    knowledge = load_knowledge()
    assert knowledge.params_for("cms")["esi_sessions_max"].value == 4
    assert knowledge.params_for("cms")["steroid_injections_max"].value == 3
    assert knowledge.params_for("nice")["mri_max_age_months"].value == 6


def test_every_vignette_case_is_a_valid_case() -> None:
    for path in vignette_files():
        Case.model_validate(load_vignette(path)["case"])


def test_param_refs_resolve_for_every_policy_a_rule_belongs_to() -> None:
    knowledge = load_knowledge()
    for entry in knowledge.rules:
        for pid in entry.rule.policies or tuple(knowledge.policies):
            params = knowledge.params_for(pid)
            for node in walk(entry.rule.when):
                value = getattr(node, "value", None)
                if isinstance(value, ParamRef):
                    assert value.param in params, (entry.rule.id, pid, value.param)


def test_contexts_cover_every_option_considered_for_the_diagnosis_region() -> None:
    knowledge = load_knowledge()
    case = Case.model_validate({"diagnoses": [{"condition": "herniated_disc", "region": "lumbar"}]})
    contexts = build_contexts(case, knowledge)
    assert contexts[0].kind == "case"
    considered = {c.option.id for c in contexts[1:] if c.option}
    assert considered == {o.id for o in knowledge.options if "lumbar" in o.considered_for}
    assert all(isinstance(Evaluator(c, {}).context.values, dict) for c in contexts)


def test_every_knowledge_file_is_shipped_in_the_package() -> None:
    """A file left out of package-data would be missing from an installed copy (a hold table lost)."""
    import fnmatch
    import tomllib

    root = KNOWLEDGE_DIR.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["knowledge"]
    for path in KNOWLEDGE_DIR.rglob("*.yaml"):
        rel = path.relative_to(KNOWLEDGE_DIR).as_posix()
        assert any(fnmatch.fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns), rel


def test_knowledge_without_a_hold_table_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.rmtree(root / "holds")
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(root)
    assert any("no antithrombotic hold table" in p for p in error.value.problems)


def test_the_patient_information_cites_the_seed_for_every_risk() -> None:
    information = load_knowledge().patient_information
    assert information is not None
    texts = " ".join(i.text for band in information.risks.values() for i in band.items)
    for figure in ("1 in 50,000", "1 in 500,000", "1 in 150,000", "1 in 4"):
        assert figure in texts
    assert all(i.source.startswith("seed_003#") for band in information.risks.values() for i in band.items)


def test_the_asipp_profile_weighs_the_clinic_rules_with_only_the_risk_classes_changed() -> None:
    knowledge = load_knowledge()
    assert [e.rule.id for e in knowledge.rules_for("asipp")] == [e.rule.id for e in knowledge.rules_for("clinic")]
    clinic, asipp = knowledge.params_for("clinic"), knowledge.params_for("asipp")
    assert {n for n in clinic if clinic[n] != asipp[n]} == {"antithrombotic_guideline"}


def test_a_rule_that_multiplies_out_beyond_the_engine_is_refused_while_building(tmp_path: Path) -> None:
    """Sixteen two-way choices in one rule multiply out to 65,536 alternatives: the build stops
    at its limit and names the rule, instead of running for minutes first."""
    import time

    import yaml

    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = root / "rules" / "crps.yaml"
    data = yaml.safe_load(path.read_text())
    rule = data["rules"][0]
    flags = [
        "pregnant", "breastfeeding", "symptoms.neurogenic_claudication", "symptoms.functional_impairment",
        "symptoms.cauda_equina_signs", "conservative_care.failed", "comorbidities.active_infection",
        "comorbidities.bleeding_disorder", "comorbidities.spinal_malignancy", "comorbidities.renal_disease",
        "comorbidities.liver_disease", "comorbidities.osteoporosis", "comorbidities.injection_site_infection",
        "comorbidities.renal_impairment", "comorbidities.malignancy_near_target", "symptoms.acute_and_severe_sciatica",
    ]  # fmt: skip
    choices = [{"any": [{"field": flag, "eq": True}, {"is_unknown": flag}]} for flag in flags]
    rule["when"] = {"all": [rule["when"], *choices]}  # 2^16 alternatives multiplied out
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    started = time.perf_counter()
    with pytest.raises(KnowledgeError) as refused:
        compile_knowledge(load_knowledge(root, release=False))
    assert time.perf_counter() - started < 60
    assert f"rule {rule['id']}: when: too complex" in str(refused.value)
