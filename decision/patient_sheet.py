"""A patient information sheet for the procedure chosen: what is done and how, the risks with their
frequencies, what applies to this patient, and aftercare, in plain language, every line with its
source.

The words and figures are the knowledge's (`knowledge/patient_information.yaml`, from the seed
clinic pages) and the report's (the stop/restart plan of each blood thinner, with the guideline's
times); this module chooses which lines apply and lays them out as a `Document`, printed by the
same renderers as the clinical letter. A procedure no source describes is said to be undescribed,
never described from elsewhere; a line for some patients appears only when the engine found it
applies to this one (its rule among the procedure's reasons) or the report plans a blood thinner.
"""

from __future__ import annotations

import datetime as dt

from decision.explain import candidate_title
from decision.letter import Document, DocumentLine, DocumentSection, timestamp
from decision.report import HoldPlanStep, Report, ReportCandidate
from knowledge.loader import Knowledge
from knowledge.schema import InformationItem, PatientInformation

HOURS_PER_DAY = 24


class NoPatientInformation(LookupError):
    """The knowledge holds no patient information, or the report has no such candidate."""


def _source_note(knowledge: Knowledge, ref: str) -> str:
    source_id, _, section = ref.partition("#")
    source = knowledge.sources.get(source_id)
    if source is None or section not in source.sections:
        return "Source: not found in this knowledge"
    return f"Source: {source.title}, {source.sections[section].title}"


def _lines(knowledge: Knowledge, items: tuple[InformationItem, ...] | list[InformationItem]) -> list[DocumentLine]:
    return [DocumentLine(text=item.text, note=_source_note(knowledge, item.source)) for item in items]


def _hours(hours: int) -> str:
    """Hours as said to a patient: whole days named too (120 hours (5 days))."""
    days = f" ({hours // HOURS_PER_DAY} days)" if hours >= 2 * HOURS_PER_DAY and hours % HOURS_PER_DAY == 0 else ""
    return f"{hours} hours{days}"


def plan_in_plain_words(step: HoldPlanStep) -> str:
    """One blood thinner's stop/restart plan, said to the patient; the times are the report's."""
    name = step.medication_label
    if step.action == "stop" and step.stop_before_hours is not None:
        words = f"{name}: stop taking it at least {_hours(step.stop_before_hours)} before the injection"
        if step.normal_inr:
            words += ", and have a blood test (INR) that shows normal clotting before the injection"
        if step.restart_after_hours:
            restart = "-".join(str(h) for h in step.restart_after_hours)
            words += f". Start taking it again {restart} hours after the injection"
        return words + ", unless your doctor tells you otherwise."
    if step.action == "no_hold":
        return f"{name}: the guideline does not ask you to stop it for this injection; keep taking it unless your doctor tells you otherwise."
    return (
        f"{name}: your doctor will agree with you, and with the doctor who prescribes it, whether and when to stop it."
    )


def _particular(
    knowledge: Knowledge, information: PatientInformation, candidate: ReportCandidate
) -> tuple[list[DocumentLine], list[str]]:
    """The lines that apply to this patient (the knowledge's conditional lines, then the plan) and
    the sources they cite."""
    # Only rules that fired: an undecided rule ("unknown", e.g. diabetes not yet asked) or an
    # indication that did not apply must never tell the patient they have the condition.
    fired = {reason.rule_id for reason in candidate.reasons if reason.kind not in ("unknown", "not_met")}
    plan = candidate.antithrombotic_plan
    chosen = [
        item
        for item in information.for_this_patient
        if (item.when_taking_antithrombotic and plan) or fired.intersection(item.when_rules)
    ]
    lines = [DocumentLine(text=item.text, note=_source_note(knowledge, item.source)) for item in chosen]
    refs = [item.source for item in chosen]
    for step in plan:
        notes = "; ".join(_source_note(knowledge, ref).removeprefix("Source: ") for ref in step.sources)
        recheck = " (being re-checked against the source)" if step.recheck else ""
        lines.append(DocumentLine(text=plan_in_plain_words(step), note=f"Source: {notes}{recheck}"))
        refs += step.sources
    return lines, refs


def _cited_sources(knowledge: Knowledge, refs: list[str]) -> list[DocumentLine]:
    """Each source the sheet cites, once, with its publisher and address where known."""
    cited = dict.fromkeys(ref.partition("#")[0] for ref in refs)
    lines = []
    for source_id in cited:
        source = knowledge.sources.get(source_id)
        if source is not None:
            where = f" ({source.url})" if source.url else ""
            lines.append(DocumentLine(text=f"{source.title}: {source.publisher}{where}"))
    return lines


def patient_sheet(
    report: Report, candidate_key: str, knowledge: Knowledge, *, generated_at: dt.datetime | None = None
) -> Document:
    """The sheet for the candidate `candidate_key` (procedure/approach/region) of `report`."""
    information = knowledge.patient_information
    if information is None:
        raise NoPatientInformation("the knowledge holds no patient information")
    candidate = next((c for c in report.candidates if c.key == candidate_key), None)
    if candidate is None:
        raise NoPatientInformation("the report has no such procedure")
    vocab = knowledge.vocabulary
    guidance = vocab.guidance[candidate.guidance[0]].label if candidate.guidance else ""
    planned = f"Planned: {candidate_title(candidate)}" + (f", guided by {guidance.lower()}" if guidance else "") + "."
    described = information.how_it_is_done.get(candidate.procedure, ())
    sections = [
        DocumentSection(
            heading="What is done and how",
            paragraphs=[planned] + ([] if described else [" ".join(information.not_described.split())]),
            lines=_lines(knowledge, described),
        ),
        DocumentSection(
            heading="Risks and how often they happen",
            lines=_lines(knowledge, [information.risks_note]) if information.risks_note is not None else [],
        ),
    ]
    sections += [
        DocumentSection(heading=band.band, level=3, lines=_lines(knowledge, band.items))
        for band in information.risks.values()
    ]
    particular, particular_refs = _particular(knowledge, information, candidate)
    if particular:
        sections.append(DocumentSection(heading="For you in particular", lines=particular))
    sections.append(DocumentSection(heading="Afterwards", lines=_lines(knowledge, information.aftercare)))
    refs = [item.source for item in described] + particular_refs
    refs += [information.risks_note.source] if information.risks_note is not None else []
    refs += [item.source for band in information.risks.values() for item in band.items]
    refs += [item.source for item in information.aftercare]
    sections.append(DocumentSection(heading="Where this information comes from", lines=_cited_sources(knowledge, refs)))
    generated = generated_at or dt.datetime.now().astimezone()
    return Document(
        title=f"{information.title}: {vocab.procedures[candidate.procedure].label.lower()}",
        meta=[
            f"Prepared {timestamp(generated)} (knowledge {report.knowledge_version})",
            "Your doctor will talk this through with you and answer your questions.",
        ],
        sections=sections,
    )
