"""Knowledge is served only as the release that was reviewed: a file deleted, cut short, added or
edited after `kb release` is refused, naming it, and YAML aliases cannot blow up a load."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from decision.cli.command import main
from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError, load_knowledge
from knowledge.release import write_release


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


def _problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(root)
    return refused.value.problems


def test_the_shipped_knowledge_is_its_release() -> None:
    knowledge = load_knowledge()
    assert knowledge.manifest.files and len(knowledge.manifest.rules) == len(knowledge.rules)


@pytest.mark.parametrize("name", ["antithrombotics.yaml", "contraindications.yaml", "red_flags.yaml"])
def test_a_deleted_rule_file_is_refused_naming_it_and_its_rules(root: Path, name: str) -> None:
    (root / "rules" / name).unlink()
    problems = _problems(root)
    assert any(f"file rules/{name}: in the release but missing" in p for p in problems)
    assert any(": in the release but missing" in p and p.split(": ")[1].startswith("rule ") for p in problems)


def test_a_file_cut_after_its_first_rule_is_refused(root: Path) -> None:
    path = root / "rules" / "red_flags.yaml"
    text = path.read_text(encoding="utf-8")
    first = text.index("\n  - id:")
    second = text.index("\n  - id:", first + 1)
    path.write_text(text[:second] + "\n", encoding="utf-8")
    problems = _problems(root)
    assert any("file rules/red_flags.yaml: changed since the release" in p for p in problems)
    assert any("rule red_flag." in p and "in the release but missing" in p for p in problems)


def test_an_added_file_is_refused(root: Path) -> None:
    shutil.copy(root / "rules" / "crps.yaml", root / "rules" / "crps_copy.yaml")
    problems = _problems(root)
    assert any("file rules/crps_copy.yaml: not in the release (added since)" in p for p in problems)


def test_a_manifest_without_its_lists_is_refused(root: Path) -> None:
    manifest = root / "manifest.yaml"
    kept = [line for line in manifest.read_text().splitlines() if not line.startswith((" ", "files:", "rules:"))]
    manifest.write_text("\n".join(kept) + "\n")
    assert any("lists no files or rules" in p for p in _problems(root))


def test_kb_release_accepts_a_reviewed_change_and_sets_the_version(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = root / "rules" / "crps.yaml"
    path.write_text(path.read_text() + "\n# reviewed\n")
    assert main(["kb", "validate", "--root", str(root)]) == 3
    assert "changed since the release" in capsys.readouterr().err
    assert main(["kb", "release", "--root", str(root), "--version", "2026.1.1"]) == 0
    assert "knowledge 2026.1.1 released" in capsys.readouterr().out
    assert load_knowledge(root).version == "2026.1.1"
    assert main(["kb", "release", "--root", str(root), "--version", "one"]) == 3
    assert "expected year.minor.patch" in capsys.readouterr().err


def test_kb_release_refuses_invalid_knowledge(root: Path) -> None:
    (root / "vocabulary.yaml").write_text("conditions: [\n")
    with pytest.raises(KnowledgeError):
        write_release(root)


def test_nested_yaml_aliases_are_refused_quickly(root: Path) -> None:
    """The 520-byte document that took 85 s and 850 MB: nine levels of nine aliases each."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join(['*' + previous] * 9)}]")
    (root / "rules" / "bomb.yaml").write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    problems = _problems(root)
    assert time.perf_counter() - started < 10
    assert any("rules/bomb.yaml: its aliases expand to more than" in p for p in problems)


def test_a_few_shared_blocks_are_still_read() -> None:
    """The hold table shares its NSAID rows by alias; bounded aliases keep that working."""
    assert "*nsaid_1_day" in (KNOWLEDGE_DIR / "holds" / "asra_2018.yaml").read_text()
    assert load_knowledge().hold_tables


def test_a_folder_is_checked_against_its_own_vocabulary(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An id added to the folder's vocabulary is known to its rules and its cases, not only to the
    shipped knowledge (the vocabulary was cached for the whole process)."""
    from decision.evaluator import CaseEvaluator, InvalidCase, default_evaluator

    vocabulary = root / "vocabulary.yaml"
    vocabulary.write_text(
        vocabulary.read_text().replace(
            "  latex: {label: Latex}\n", "  latex: {label: Latex}\n  gadolinium: {label: Gadolinium}\n"
        )
    )
    rules = root / "rules" / "contraindications.yaml"
    text = rules.read_text()
    assert "contains: contrast}" in text
    rules.write_text(text.replace("contains: contrast}", "contains: gadolinium}", 1))
    assert main(["kb", "release", "--root", str(root)]) == 0, capsys.readouterr().err
    assert main(["kb", "validate", "--root", str(root)]) == 0, capsys.readouterr().err
    case = {"allergies": ["gadolinium"], "diagnoses": [{"condition": "herniated_disc", "region": "lumbar"}]}
    assert CaseEvaluator(load_knowledge(root)).evaluate(case).candidates
    with pytest.raises(InvalidCase) as refused:
        default_evaluator().evaluate(case)
    assert "unknown allergy 'gadolinium'" in refused.value.problems[0]
