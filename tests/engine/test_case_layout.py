"""The case model is the one declaration of the case's questions: titles, units, bounds and choices."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel

from decision import case as case_module
from decision.fields import case_layout, field_catalogue


def _models() -> list[type[BaseModel]]:
    return [
        value
        for value in vars(case_module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == case_module.__name__
    ]


def test_every_field_of_the_case_and_its_parts_has_a_title_written_for_a_clinician() -> None:
    untitled = [
        f"{model.__name__}.{name}" for model in _models() for name, info in model.model_fields.items() if not info.title
    ]
    assert untitled == []


def test_every_number_the_form_asks_has_the_models_bounds() -> None:
    numbers = [spec for group in case_layout() for spec in group.fields if spec.kind == "number"]
    assert numbers
    assert [spec.path for spec in numbers if spec.minimum is None or spec.maximum is None] == []


def test_a_label_is_the_title_with_its_unit_said_once() -> None:
    scalars = field_catalogue().scalars
    assert scalars["labs.platelets"].label() == "Platelets (x10^9/L)"
    assert scalars["symptoms.duration_weeks"].label() == "Weeks since the symptoms began"
    assert scalars["symptoms.pain_score"].label() == "Pain score (0-10)"
    assert (scalars["symptoms.pain_score"].minimum, scalars["symptoms.pain_score"].maximum) == (0, 10)
    assert scalars["comorbidities.diabetes"].vocabulary == "control_levels"


def test_the_layout_follows_the_models_order_with_one_group_per_part() -> None:
    paths = [group.path for group in case_layout()]
    assert paths[0] == ""
    parts = [path.partition(".")[0] for path in paths[1:]]
    order = list(case_module.Case.model_fields)
    assert parts == sorted(parts, key=order.index)
    assert "labs.ranges" in paths and "symptoms" in paths and "medications" in paths


def test_the_rule_catalogue_does_not_offer_the_levels_text_to_rules() -> None:
    catalogue = field_catalogue()
    assert "levels" not in catalogue.lists["diagnoses"].items
    assert all(spec.kind != "text_list" for spec in catalogue.scalars.values())


def test_a_diagnostic_block_row_takes_its_levels_as_text_and_is_checked_by_the_model() -> None:
    from ui.case_form import HistoryTable, list_answer

    blocks = next(group for group in case_layout() if group.path == "diagnostic_blocks")
    table = HistoryTable.of(blocks)
    good = pd.DataFrame([{"procedure": "medial_branch_block", "region": "lumbar", "levels": "l4-l5, L5-S1"}])
    assert list_answer(table, good, None).value == [
        {"procedure": "medial_branch_block", "region": "lumbar", "levels": ["L4-L5", "L5-S1"]}
    ]
    bad = pd.DataFrame([{"procedure": "medial_branch_block", "relief_percent": 120}])
    answer = list_answer(table, bad, None)
    assert answer.value is None
    assert answer.problems and answer.problems[0].startswith("Diagnostic block row 1: relief (%):")
