"""The documents a clinician files or hands over, built once as a structured model and rendered
as Markdown here and as PDF by the UI, so that the two can never drift apart.

`clinical_letter` lays a report out as a clinical letter: heading, the case summary, each candidate
with its status and reasons (with the sources' titles), the antithrombotic stop/restart plan, what
is missing, the knowledge version and hash, when it was assessed and generated, the statement that
the tool supports and does not make the decision, and a signature block. Every clinical word comes
from the report (so from the rules) or the case; this module adds layout only.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from decision.case import Case, vocabulary
from decision.case_summary import case_summary, field_words
from decision.explain import STATUS_LABEL, candidate_title, markdown_text, reason_label
from decision.report import Finding, HoldPlanStep, Reason, Report
from knowledge.loader import Knowledge

DOCUMENT_CONFIG = ConfigDict(extra="forbid", frozen=True)
NOT_RECORDED = "not recorded"
SUPPORT_STATEMENT = (
    "This assessment was prepared with spine-cds, a clinical decision support tool. It supports, and does "
    "not make, a clinical decision: the treating clinician weighs it with the whole clinical picture and "
    "remains responsible for the decision."
)
SIGNATURE_FIELDS = ("Name", "Role", "Date", "Signature")


class DocumentLine(BaseModel):
    """One point of a section, with where it comes from (source titles) as a note."""

    model_config = DOCUMENT_CONFIG
    text: str
    note: str = ""


class DocumentSection(BaseModel):
    model_config = DOCUMENT_CONFIG
    heading: str
    level: int = Field(default=2, ge=2, le=3, description="2: a section; 3: a part of the section before it.")
    paragraphs: list[str] = Field(default_factory=list)
    lines: list[DocumentLine] = Field(default_factory=list)


class Document(BaseModel):
    """A printable document: a title, lines under it, sections, and an optional signature block."""

    model_config = DOCUMENT_CONFIG
    title: str
    meta: list[str] = Field(default_factory=list)
    sections: list[DocumentSection]
    signature: list[str] = Field(default_factory=list, description="Labels of the lines to sign on.")


def timestamp(moment: dt.datetime) -> str:
    """A time a reader can place: date, hour and minute, and its time zone (local if none given)."""
    aware = moment if moment.tzinfo is not None else moment.astimezone()
    return f"{aware.strftime('%Y-%m-%d %H:%M')} {aware.tzname() or aware.strftime('%z')}"


def source_titles(knowledge: Knowledge, refs: list[str]) -> str:
    """`seed_003#risks` as the source's title and section, as the reader looks it up."""
    titles = []
    for ref in refs:
        try:
            titles.append(knowledge.source_label(ref))
        except KeyError:
            titles.append(ref.partition("#")[0].replace("_", " "))
    return "; ".join(titles)


def _sources_note(knowledge: Knowledge, refs: list[str], recheck: bool) -> str:
    note = f"Sources: {source_titles(knowledge, refs)}" if refs else ""
    return note + (" (re-check against the source)" if recheck else "")


def status_words(status: str) -> str:
    return STATUS_LABEL[status].lower()


def _findings(knowledge: Knowledge, findings: list[Finding]) -> list[DocumentLine]:
    return [
        DocumentLine(
            text=plain_words(f.text) + (f" ({f.severity})" if f.severity else ""),
            note=_sources_note(knowledge, f.sources, f.recheck),
        )
        for f in findings
    ]


_CASE_PATH = re.compile(r"`?\b([a-z_]+(?:\.[a-z_]+)+)\b`?")


def plain_words(text: str) -> str:
    """Knowledge text with any case path it quotes (`symptoms.acute_and_severe_sciatica`) written in
    the case model's words, so that no field path reaches a reader."""

    def words(match: re.Match[str]) -> str:
        path = match.group(1)
        return field_words(path).lower() if path.partition(".")[0] in Case.model_fields else match.group(0)

    return _CASE_PATH.sub(words, text)


def _rule_title(knowledge: Knowledge, rule_id: str) -> str:
    entry = knowledge.rule_index.get(rule_id)
    return entry.rule.title if entry is not None else rule_id.replace("_", " ").replace(".", ": ")


def _reason_text(knowledge: Knowledge, reason: Reason) -> str:
    """A reason in clinical words. An undecided rule names what it needs in the case model's words,
    and an indication that does not apply is named by its rule's title: the engine's own wording
    of both quotes field paths and ids, which a letter never shows."""
    if reason.kind == "unknown":
        needs = "; ".join(field_words(path) for path in reason.missing)
        return f"Undecided until answered ({needs}): {_rule_title(knowledge, reason.rule_id)}."
    if reason.kind == "not_met":
        return (
            f"Why not: the indication \u201c{_rule_title(knowledge, reason.rule_id)}\u201d does not apply to this case."
        )
    return f"{reason_label(reason).capitalize()}: {plain_words(reason.text)}"


def _candidates(knowledge: Knowledge, report: Report) -> list[DocumentSection]:
    vocab = vocabulary()
    sections = [
        DocumentSection(
            heading="Candidates",
            paragraphs=["Best first; each with the reasons the rules give."]
            if report.candidates
            else ["No procedure was considered for this case."],
        )
    ]
    for candidate in report.candidates:
        guidance = ", ".join(vocab.guidance[g].label for g in candidate.guidance)
        paragraphs = [f"Image guidance, preferred first: {guidance}."] if guidance else []
        lines = [
            DocumentLine(text=_reason_text(knowledge, r), note=_sources_note(knowledge, r.sources, r.recheck))
            for r in candidate.reasons
        ]
        sections.append(
            DocumentSection(
                heading=f"{candidate_title(candidate)}: {status_words(candidate.status)}",
                level=3,
                paragraphs=paragraphs,
                lines=lines,
            )
        )
    return sections


def _antithrombotic_plan(knowledge: Knowledge, case: Case, report: Report) -> DocumentSection:
    """Each stop/restart step once, with the candidates it is for (holds differ by bleeding risk)."""
    steps: dict[str, tuple[HoldPlanStep, list[str]]] = {}
    for candidate in report.candidates:
        for step in candidate.antithrombotic_plan:
            steps.setdefault(step.text, (step, []))[1].append(candidate_title(candidate))
    lines = [
        DocumentLine(
            text=f"{step.text} For: {'; '.join(titles)}.", note=_sources_note(knowledge, step.sources, step.recheck)
        )
        for step, titles in steps.values()
    ]
    if lines:
        paragraphs: list[str] = []
    elif case.medications is None:
        paragraphs = ["The medication history is not known, so no stop/restart plan can be made: ask first."]
    else:
        paragraphs = ["The report holds no stop/restart plan: no antithrombotic is among the medications recorded."]
    return DocumentSection(heading="Antithrombotic plan (stop and restart)", paragraphs=paragraphs, lines=lines)


def _missing(report: Report) -> DocumentSection:
    lines = [
        DocumentLine(text=f"{field_words(m.field, m.about)}: {plain_words(m.why)}") for m in report.missing_information
    ]
    # the same question asked by several rules is listed once per reason; identical lines once
    unique = list({line.text: line for line in lines}.values())
    return DocumentSection(
        heading="Missing information",
        paragraphs=[] if unique else ["Nothing the rules need is missing."],
        lines=unique,
    )


def _provenance(report: Report, case: Case, assessed_at: dt.datetime, generated_at: dt.datetime) -> DocumentSection:
    assessment_date = case.assessment_date.isoformat() if case.assessment_date else NOT_RECORDED
    return DocumentSection(
        heading="Knowledge and times",
        lines=[
            DocumentLine(text=f"Knowledge version {report.knowledge_version}, content hash {report.knowledge_hash}"),
            DocumentLine(text=f"Policy profile: {report.policy_title}"),
            DocumentLine(text=f"Engine version {report.engine_version}"),
            DocumentLine(text=f"Assessment date of the case: {assessment_date}"),
            DocumentLine(text=f"Assessed at {timestamp(assessed_at)}"),
            DocumentLine(text=f"Generated at {timestamp(generated_at)}"),
        ],
    )


def clinical_letter(
    case: Case | dict[str, Any],
    report: Report,
    knowledge: Knowledge,
    *,
    assessed_at: dt.datetime,
    generated_at: dt.datetime | None = None,
) -> Document:
    """The report as a clinical letter (see the module's docstring for its parts)."""
    valid = case if isinstance(case, Case) else Case.model_validate(case)
    generated = generated_at or dt.datetime.now().astimezone()
    sections = [DocumentSection(heading="Case summary", paragraphs=[case_summary(valid, report).text])]
    if report.red_flags:
        sections.append(
            DocumentSection(
                heading="Red flags: urgent, no injection planning", lines=_findings(knowledge, report.red_flags)
            )
        )
    if report.no_guideline_applies:
        sections.append(DocumentSection(heading="No guideline applies", paragraphs=[report.no_guideline_reason or ""]))
    sections += _candidates(knowledge, report)
    sections.append(_antithrombotic_plan(knowledge, valid, report))
    if report.contraindications or report.warnings:
        sections.append(
            DocumentSection(
                heading="Contraindications and warnings",
                lines=_findings(knowledge, [*report.contraindications, *report.warnings]),
            )
        )
    if report.steroid_injections is not None:
        sections.append(
            DocumentSection(heading="Steroid injections so far", paragraphs=[report.steroid_injections.text])
        )
    sections.append(_missing(report))
    if report.ignored_input:
        sections.append(
            DocumentSection(
                heading="In the record, not used for this assessment",
                lines=[DocumentLine(text=f"{i.resource}: {i.reason}") for i in report.ignored_input],
            )
        )
    sections.append(_provenance(report, valid, assessed_at, generated))
    sections.append(DocumentSection(heading="Decision support", paragraphs=[SUPPORT_STATEMENT]))
    return Document(
        title="Spinal injection assessment",
        meta=[
            f"Case: {' '.join((valid.case_id or NOT_RECORDED).split())}",
            f"Assessed {timestamp(assessed_at)} · generated {timestamp(generated)}",
        ],
        sections=sections,
        signature=list(SIGNATURE_FIELDS),
    )


SIGNATURE_BLANK = "\\_" * 30
"""A line to sign on, as escaped underscores (a bare run of underscores is Markdown emphasis)."""


def document_markdown(document: Document) -> str:
    """The document as Markdown; every text is escaped (it carries record text: a case id, a drug
    name as written), so nothing in it can forge a heading, a link or an image."""
    out = [f"# {markdown_text(document.title)}", ""]
    out += [f"{markdown_text(line)}  " for line in document.meta]
    out.append("")
    for section in document.sections:
        out += [f"{'#' * section.level} {markdown_text(section.heading)}", ""]
        for paragraph in section.paragraphs:
            out += [markdown_text(paragraph), ""]
        for line in section.lines:
            note = f" *({markdown_text(line.note)})*" if line.note else ""
            out.append(f"- {markdown_text(line.text)}{note}")
        if section.lines:
            out.append("")
    if document.signature:
        out += ["## Signed", ""]
        out += [f"{markdown_text(label)}: {SIGNATURE_BLANK}  " for label in document.signature]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
