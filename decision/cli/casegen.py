"""A seeded, realistic mix of cases for the benchmark and for batch runs at scale.

Every diagnosis and region the vocabulary allows, with and without antithrombotics,
contraindications, earlier injections and blocks, and with fields left unknown. Everything is
drawn from the knowledge's vocabulary, so no clinical fact lives here.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from knowledge.loader import Knowledge

ASSESSED = dt.date(2026, 10, 1)
_LEVEL_NUMBERS = {"C": (3, 7), "T": (1, 11), "L": (1, 4)}
_SPINE = (
    "C1",
    "C2",
    "C3",
    "C4",
    "C5",
    "C6",
    "C7",
    *(f"T{n}" for n in range(1, 13)),
    "L1",
    "L2",
    "L3",
    "L4",
    "L5",
    "S1",
)
"""Vertebrae head to tail, for naming a segment (C7's neighbour is T1)."""


def _levels(prefix: str | None, rng: random.Random) -> list[str] | None:
    if prefix is None:
        return None
    if prefix == "S":
        return ["L5-S1"]
    low, high = _LEVEL_NUMBERS[prefix]
    first = rng.randint(low, high)
    spine = _SPINE
    return [
        f"{prefix}{k}-{spine[spine.index(f'{prefix}{k}') + 1]}"
        for k in range(first, min(first + rng.randint(1, 3), high + 1))
    ]


def _maybe(rng: random.Random, value: Any, unknown: float = 0.1) -> Any:
    return None if rng.random() < unknown else value


def _weighted(rng: random.Random, levels: list[str]) -> str:
    """Mostly the first id in the vocabulary's order ("controlled", "none", "uncontrolled": mostly absent)."""
    return rng.choices(levels, weights=[2, 6, 1][: len(levels)] + [1] * max(0, len(levels) - 3))[0]


def _date(rng: random.Random, max_days: int) -> str:
    return (ASSESSED - dt.timedelta(days=rng.randint(0, max_days))).isoformat()


def generate_case(rng: random.Random, knowledge: Knowledge, number: int) -> dict[str, Any]:
    vocab = knowledge.vocabulary
    condition = rng.choice(sorted(vocab.conditions))
    region = rng.choice(sorted(vocab.conditions[condition].regions))
    subtypes = vocab.subtypes.get(condition, ())
    drugs = sorted(vocab.medications)
    medications: list[dict[str, Any]] | None = []
    if rng.random() < 0.35:
        medications = [{"name": rng.choice(drugs), "last_dose_hours_ago": _maybe(rng, rng.randint(0, 300))}]
    if rng.random() < 0.1:
        medications = None
    return {
        "case_id": f"gen-{number}",
        "assessment_date": ASSESSED.isoformat(),
        "age": rng.randint(18, 90),
        "sex": rng.choice(sorted(vocab.sexes)),
        "pregnant": False,
        "breastfeeding": _maybe(rng, False),
        "diagnoses": [
            {
                "condition": condition,
                "region": region,
                "subtype": rng.choice(subtypes) if subtypes else None,
                "levels": _levels(vocab.regions[region].level_prefix, rng),
                "side": rng.choice(sorted(vocab.sides)),
            }
        ],
        "symptoms": {
            "pain_pattern": _maybe(rng, rng.choice(sorted(vocab.pain_patterns))),
            "duration_weeks": _maybe(rng, rng.randint(1, 60)),
            "pain_score": rng.randint(2, 10),
            "neurogenic_claudication": _maybe(rng, rng.random() < 0.2),
            "progressive_neurological_deficit": _maybe(rng, rng.random() < 0.03, 0.05),
            "cauda_equina_signs": _maybe(rng, rng.random() < 0.02, 0.05),
        },
        "conservative_care": {"weeks": rng.randint(0, 30), "failed": _maybe(rng, rng.random() < 0.8)},
        "imaging": _maybe(
            rng,
            [
                {
                    "modality": rng.choice(sorted(vocab.modalities)),
                    "date": _date(rng, 400),
                    "concordant": rng.random() < 0.9,
                }
            ],
        ),
        "medications": medications,
        "labs": {"inr": _maybe(rng, round(rng.uniform(0.9, 1.6), 1), 0.4), "platelets": rng.randint(120, 400)},
        "comorbidities": {
            "active_infection": _maybe(rng, rng.random() < 0.05),
            "injection_site_infection": False,
            "bleeding_disorder": rng.random() < 0.02,
            "spinal_malignancy": rng.random() < 0.02,
            "osteoporosis": rng.random() < 0.1,
            "diabetes": _weighted(rng, sorted(vocab.control_levels)),
            "heart_failure": _maybe(rng, _weighted(rng, sorted(vocab.control_levels))),
        },
        "allergies": _maybe(rng, rng.sample(sorted(vocab.allergies), k=rng.choice([0, 0, 0, 1]))),
        "prior_injections": _maybe(
            rng,
            [
                {
                    "procedure": rng.choice(sorted(vocab.procedures)),
                    "region": region,
                    "date": _date(rng, 500),
                    "steroid": rng.random() < 0.8,
                    "relief_percent": rng.randint(0, 100),
                    "relief_weeks": rng.randint(0, 30),
                }
                for _ in range(rng.choice([0, 0, 1, 2, 3]))
            ],
        ),
        "diagnostic_blocks": _maybe(
            rng,
            [
                {
                    "procedure": rng.choice(sorted(vocab.procedures)),
                    "region": region,
                    "date": _date(rng, 300),
                    "relief_percent": rng.randint(0, 100),
                }
                for _ in range(rng.randint(0, 2))
            ],
        ),
        "exam": {"si_provocation_positive": rng.randint(0, 5), "si_provocation_tested": 5},
        "crps_criteria": _maybe(
            rng,
            {
                "symptom_categories": rng.randint(1, 4),
                "sign_categories": rng.randint(0, 4),
                "other_diagnosis_excluded": rng.random() < 0.8,
            },
        ),
    }


def generate_cases(knowledge: Knowledge, count: int, seed: int = 20261123) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for number in range(count):
        yield generate_case(rng, knowledge, number)
