"""knowledge/questions.yaml asks every case field in a clinician's words, and nothing else."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from decision.compile import compile_knowledge
from decision.fields import question_paths
from knowledge.loader import KNOWLEDGE_DIR, KnowledgeError, load_knowledge

FIELD_PATH = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]{2,}\.[a-z_]{2,}\b")
"""A field path or an id as the engine spells it (`comorbidities.active_infection`, `lateral_recess`)."""


def _questions_edited(tmp_path: Path, edit: dict[str, str | None]) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = root / "questions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, question in edit.items():
        if question is None:
            del data["questions"][key]
        else:
            data["questions"][key] = question
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def test_every_case_field_has_a_question_written_in_words() -> None:
    questions = load_knowledge().questions
    assert questions is not None
    assert set(questions.questions) == set(question_paths())
    for path, question in questions.questions.items():
        assert question.endswith("?"), path
        assert not FIELD_PATH.search(question), f"{path}: {question!r} shows a field path or id"


def test_a_questions_file_missing_a_case_field_is_refused_naming_it(tmp_path: Path) -> None:
    root = _questions_edited(tmp_path, {"comorbidities.active_infection": None})
    with pytest.raises(KnowledgeError) as caught:
        compile_knowledge(load_knowledge(root, release=False))
    assert "questions.yaml: no question for case field 'comorbidities.active_infection'" in str(caught.value)


def test_a_question_for_a_field_the_case_does_not_have_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    root = _questions_edited(tmp_path, {"comorbidities.active_infections": "Any infection?"})
    with pytest.raises(KnowledgeError) as caught:
        compile_knowledge(load_knowledge(root, release=False))
    message = str(caught.value)
    assert "'comorbidities.active_infections' is not a case field" in message
    assert "did you mean 'comorbidities.active_infection'" in message
