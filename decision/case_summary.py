"""A case in a few lines of clinical prose: who, what, for how long, what was tried, what they take,
when they were scanned, what else they have, and what is still not known.

The summary travels with the case (top of the report, the exports, the MDT view, the quiz), so a
reader sees the patient before the engine's answer. Every word comes from the case, the
vocabulary's labels or the case model's field titles; nothing here judges the case. An unknown
stays "not known" (a null is never written as "no" or "none"), and the list of what is still
unknown comes from the report's missing information, in the case model's words, never a field path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from decision.case import Case, vocabulary
from decision.case_types import normalise_medication_name
from decision.report import Report

NOT_KNOWN = "not known"
_NOUN_BY_SEX = {"male": "man", "female": "woman"}
"""The noun for the opening words ("71-year-old man"); any other answer reads "patient"."""


class CaseSummary(BaseModel):
    """The summary as sentences (shown as one paragraph) and the unknowns that still matter."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sentences: list[str] = Field(description="The case's facts in clinical prose, one sentence each.")
    not_known: list[str] = Field(
        default_factory=list, description="What the report still needs, in clinical words (no field paths)."
    )

    @property
    def text(self) -> str:
        """The whole summary as one paragraph."""
        tail = [f"Not yet known: {'; '.join(self.not_known)}."] if self.not_known else []
        return " ".join([*self.sentences, *tail])


def _number(value: float) -> str:
    return f"{value:g}"


def _title(model: type[BaseModel], name: str) -> str:
    """A case field's title without its question mark ("Osteoporosis?" -> "Osteoporosis")."""
    info = model.model_fields[name]
    return (info.title or name.replace("_", " ")).rstrip("?").strip()


def _lower_first(text: str) -> str:
    """A label inside a sentence: first letter lower case unless the word is an abbreviation (MRI, HbA1c)."""
    first = text.split(" ", 1)[0]
    return text if any(ch.isupper() for ch in first[1:]) else text[:1].lower() + text[1:]


def _words(kind: str, value: str) -> str:
    """A vocabulary id as its label; an id the vocabulary does not hold written as words."""
    term = getattr(vocabulary(), kind, {}).get(value)
    return str(term.label) if term is not None else value.replace("_", " ")


def _who(case: Case) -> str:
    noun = _NOUN_BY_SEX.get(case.sex or "", "patient")
    if case.age is not None:
        opening = f"{_number(case.age)}-year-old {noun}"
        if case.sex is None:
            opening += f" (sex {NOT_KNOWN})"
        elif noun == "patient":
            opening += f" (sex: {_lower_first(_words('sexes', case.sex))})"
    elif case.sex is None:
        opening = f"Patient, age and sex {NOT_KNOWN},"
    else:
        label = noun if noun != "patient" else f"patient (sex: {_lower_first(_words('sexes', case.sex))})"
        opening = f"{label.capitalize()}, age {NOT_KNOWN},"
    states = [_title(Case, name).lower() for name in ("pregnant", "breastfeeding") if getattr(case, name) is True]
    return opening + "".join(f", {state}" for state in states) + ("," if states else "")


def _diagnosis(diagnosis: Any) -> str:
    vocab = vocabulary()
    if diagnosis.condition is None:
        words = f"a diagnosis {NOT_KNOWN}"
    else:
        words = _lower_first(vocab.conditions[diagnosis.condition].label)
        if diagnosis.subtype:
            words += f" ({diagnosis.subtype.replace('_', ' ')})"
    where: list[str] = []
    if diagnosis.region is not None:
        where.append(_lower_first(vocab.regions[diagnosis.region].label))
        spinal = bool(vocab.regions[diagnosis.region].vertebrae)
    else:
        where.append(f"region {NOT_KNOWN}")
        spinal = True
    if diagnosis.levels:
        where.append(", ".join(diagnosis.levels))
    elif spinal:
        where[-1] += f", level {NOT_KNOWN}"
    side = _lower_first(vocab.sides[diagnosis.side].label) if diagnosis.side else f"side {NOT_KNOWN}"
    return f"{words}, {' '.join(where)}, {side}"


def _diagnoses(case: Case) -> str:
    if case.diagnoses is None:
        return f"diagnosis {NOT_KNOWN}"
    if not case.diagnoses:
        return "no diagnosis recorded"
    return " and ".join(_diagnosis(d) for d in case.diagnoses)


def _course(case: Case) -> str:
    """How long, and what was tried: "for 14 weeks despite 8 weeks of conservative care"."""
    weeks = case.symptoms.duration_weeks if case.symptoms is not None else None
    duration = f"for {_number(weeks)} weeks" if weeks is not None else f"duration {NOT_KNOWN}"
    care = case.conservative_care
    care_words = _lower_first(_title(Case, "conservative_care")).removesuffix(" so far")
    if care is None or (care.weeks is None and care.failed is None):
        return f"{duration}; {care_words} {NOT_KNOWN}"
    amount = f"{_number(care.weeks)} weeks of {care_words}" if care.weeks is not None else care_words
    if care.failed is True:
        return f"{duration} despite {amount}"
    if care.failed is False:
        return f"{duration}; {amount}, not failed"
    return f"{duration}; {amount}, outcome {NOT_KNOWN}"


def _symptoms(case: Case) -> list[str]:
    symptoms = case.symptoms
    if symptoms is None:
        return []
    out: list[str] = []
    pain: list[str] = []
    if symptoms.pain_pattern is not None:
        pain.append(_lower_first(_words("pain_patterns", symptoms.pain_pattern)))
    if symptoms.pain_score is not None:
        pain.append(f"scored {_number(symptoms.pain_score)} of 10")
    if pain:
        out.append(f"Pain: {', '.join(pain)}")
    present = [
        _title(type(symptoms), name)
        for name in type(symptoms).model_fields
        if getattr(symptoms, name) is True and type(symptoms).model_fields[name].annotation == bool | None
    ]
    if present:
        out.append("; ".join(present))
    return [f"{line}." for line in out]


def _medication(entry: Any) -> str:
    vocab = vocabulary()
    name = normalise_medication_name(entry.name)
    listed = vocab.medications.get(name) or next(
        (term for term in vocab.medications.values() if name in term.aliases), None
    )
    words = _lower_first(listed.label) if listed is not None else entry.name
    if entry.regimen is not None:
        words += f" ({_lower_first(_words('regimens', entry.regimen))})"
    if entry.last_dose_hours_ago is not None:
        return f"{words}, last dose {_number(entry.last_dose_hours_ago)} hours ago"
    return f"{words}, last dose {NOT_KNOWN}"


def _medications(case: Case) -> str:
    if case.medications is None:
        return f"{_title(Case, 'medications')} {NOT_KNOWN}."
    if not case.medications:
        return "Takes no medication (asked)."
    return f"Takes {'; '.join(_medication(m) for m in case.medications)}."


def _imaging(case: Case) -> str:
    if case.imaging is None:
        return f"{_title(Case, 'imaging')} {NOT_KNOWN}."
    if not case.imaging:
        return "No imaging yet."
    scans = []
    for scan in case.imaging:
        words = _words("modalities", scan.modality) if scan.modality else f"Scan (type {NOT_KNOWN})"
        words += f" {scan.date.isoformat()}" if scan.date else f", date {NOT_KNOWN}"
        if scan.concordant is False:
            words += ", does not match the symptoms"
        elif scan.concordant is True:
            words += ", matches the symptoms"
        scans.append(words)
    return "; ".join(scans) + "."


def _comorbidities(case: Case) -> str:
    found = case.comorbidities
    if found is None:
        return f"{_title(Case, 'comorbidities')} {NOT_KNOWN}."
    model = type(found)
    present: list[str] = []
    for name in model.model_fields:
        value = getattr(found, name)
        if value is True:
            present.append(_title(model, name))
        elif isinstance(value, str) and value != "none":
            present.append(f"{_title(model, name)} ({_lower_first(_words('control_levels', value))})")
    if present:
        return "; ".join(present[:1] + [_lower_first(p) for p in present[1:]]) + "."
    if all(getattr(found, name) is None for name in model.model_fields):
        return f"{_title(Case, 'comorbidities')} {NOT_KNOWN}."
    return "No comorbidity among those answered."


def _allergies(case: Case) -> str:
    if case.allergies is None:
        return f"{_title(Case, 'allergies')} {NOT_KNOWN}."
    if not case.allergies:
        return "No allergies."
    return f"Allergic to {', '.join(_lower_first(_words('allergies', a)) for a in case.allergies)}."


def _labs(case: Case) -> list[str]:
    if case.labs is None:
        return []
    vocab = vocabulary()
    results: list[str] = []
    for lab, term in vocab.labs.items():
        value = getattr(case.labs, lab, None)
        if value is not None:
            label = term.label if not results else _lower_first(term.label)
            results.append(f"{label} {_number(value)}{f' {term.unit}' if term.unit else ''}")
    return [f"{'; '.join(results)}."] if results else []


def _earlier_injections(case: Case) -> list[str]:
    earlier = case.prior_injections
    if earlier is None:
        return [f"{_title(Case, 'prior_injections')} {NOT_KNOWN}."]
    if not earlier:
        return ["No earlier injections."]
    dates = sorted(e.date for e in earlier if e.date is not None)
    latest = f", the latest on {dates[-1].isoformat()}" if dates else ""
    return [f"{len(earlier)} earlier injection{'s' if len(earlier) != 1 else ''}{latest}."]


def field_words(path: str, about: list[str] | None = None) -> str:
    """A dotted case path in the case model's words ("comorbidities.renal_disease" -> "severe kidney
    disease"; "medications.last_dose_hours_ago" about apixaban -> "medication history: hours since the
    last dose (apixaban)"). A path the model does not declare is written as words, never as a path."""
    model: type[BaseModel] = Case
    words: list[str] = []
    parts = path.split(".")
    for index, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            words.append(part.replace("_", " "))
            break
        inner = _inner_model(info.annotation)
        is_list = "list[" in str(info.annotation)
        if index == len(parts) - 1 or is_list:
            words.append(_title(model, part))  # a group (comorbidities, labs) is left out: its field says it
        if inner is None:
            break
        model = inner
    text = ": ".join(words[:1] + [_lower_first(w) for w in words[1:]])
    return f"{text} ({', '.join(about)})" if about else text


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (`Comorbidities | None`, `list[Medication] | None`), if any."""
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            return current
        stack.extend(getattr(current, "__args__", ()))
    return None


def not_known(report: Report) -> list[str]:
    """What the report still needs, once each, in the case model's words."""
    seen: list[str] = []
    for item in report.missing_information:
        words = field_words(item.field, item.about)
        if words not in seen:
            seen.append(words)
    return seen


def case_summary(case: Case | dict[str, Any], report: Report | None = None) -> CaseSummary:
    """The case in clinical prose; with its report, also what is still not known.

    `case` is a valid case (a dict is validated, so a page may pass what it holds)."""
    valid = case if isinstance(case, Case) else Case.model_validate(case)
    opening = f"{_who(valid)} with {_diagnoses(valid)}, {_course(valid)}."
    sentences = [
        opening[:1].upper() + opening[1:],
        *_symptoms(valid),
        _medications(valid),
        _imaging(valid),
        _comorbidities(valid),
        _allergies(valid),
        *_labs(valid),
        *_earlier_injections(valid),
    ]
    return CaseSummary(sentences=sentences, not_known=not_known(report) if report is not None else [])
