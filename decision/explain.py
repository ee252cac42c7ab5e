"""A report in words: plain text for the terminal, Markdown for notes and MDT papers.

Everything printed comes from the report (which comes from the rules); this module adds layout
and the vocabulary's labels, never a clinical judgement of its own.
"""

from __future__ import annotations

import re

from decision.case import vocabulary
from decision.report import Finding, IgnoredInput, MissingInformation, Reason, Report, ReportCandidate
from decision.wording import citation, in_asking_order, question, shipped_knowledge
from knowledge.loader import Knowledge

STATUS_LABEL = {
    "indicated": "INDICATED",
    "indicated_with_caution": "INDICATED WITH CAUTION",
    "needs_information": "NEEDS INFORMATION",
    "deferred": "DEFERRED",
    "contraindicated": "CONTRAINDICATED",
    "not_indicated": "NOT INDICATED",
}


def candidate_title(candidate: ReportCandidate) -> str:
    vocab = vocabulary()
    parts = [
        vocab.procedures[candidate.procedure].label if candidate.procedure in vocab.procedures else candidate.procedure
    ]
    if candidate.approach:
        parts.append(vocab.approaches[candidate.approach].label.lower())
    if candidate.region:
        parts.append(vocab.regions[candidate.region].label.lower())
    title = ", ".join(parts)
    if candidate.levels:
        title += f" ({', '.join(candidate.levels)})"
    return title


def _guidance(candidate: ReportCandidate) -> str:
    vocab = vocabulary()
    return ", ".join(vocab.guidance[g].label for g in candidate.guidance) or "-"


def _one_line(text: str | None) -> str:
    """Case-supplied text (an id) shown on one line, so it cannot forge report headings."""
    return " ".join((text or "(no id)").split())


def _sources(reason: Reason | Finding) -> str:
    mark = " (re-check against the source)" if reason.recheck else ""
    return f"[{'; '.join(reason.sources)}]{mark}"


def reason_label(reason: Reason) -> str:
    if reason.kind == "restriction" and reason.status:
        return "caution" if reason.status == "indicated_with_caution" else STATUS_LABEL[reason.status].lower()
    return {"not_met": "why not", "unknown": "undecided", "indication": "why", "red_flag": "red flag"}.get(
        reason.kind, reason.kind
    )


def _asked(report: Report, knowledge: Knowledge) -> list[MissingInformation]:
    return in_asking_order(knowledge, report.missing_information)


def cited(report: Report) -> list[str]:
    """Every source reference the report cites, in order of first appearance."""
    refs = [ref for f in (*report.red_flags, *report.contraindications, *report.warnings) for ref in f.sources]
    for cand in report.candidates:
        refs += [ref for step in cand.antithrombotic_plan for ref in step.sources]
        refs += [ref for reason in cand.reasons for ref in reason.sources]
    return list(dict.fromkeys(refs))


def to_text(report: Report, knowledge: Knowledge | None = None) -> str:
    """The report for a terminal; questions and source titles from `knowledge` (the shipped one if not given)."""
    knowledge = knowledge or shipped_knowledge()
    lines = [
        f"spine-cds report for case {_one_line(report.case_id)}",
        f"policy: {report.policy} ({report.policy_title}); knowledge {report.knowledge_version} "
        f"#{report.knowledge_hash[:12]}; engine {report.engine_version}",
        "",
    ]
    if report.red_flags:
        lines.append("RED FLAGS (urgent: no injection planning)")
        lines += [f"  !! {f.text}  {_sources(f)}" for f in report.red_flags]
        lines.append("")
    if report.no_guideline_applies:
        lines += ["NO GUIDELINE APPLIES", f"  {report.no_guideline_reason}", ""]
    if report.candidates:
        lines.append("CANDIDATES (best first)")
        for cand in report.candidates:
            lines.append(f"  [{STATUS_LABEL[cand.status]}] {candidate_title(cand)}")
            if cand.status != "not_indicated":
                lines.append(f"      guidance: {_guidance(cand)}")
            for step in cand.antithrombotic_plan:
                lines.append(f"      antithrombotic plan: {step.text}")
                lines.append(f"          rule {step.rule_id} [{'; '.join(step.sources)}]")
            for reason in cand.reasons:
                lines.append(f"      {reason_label(reason)}: {reason.text}")
                lines.append(f"          rule {reason.rule_id} {_sources(reason)}")
        lines.append("")
    if report.steroid_injections is not None:
        lines += ["STEROID INJECTIONS SO FAR", f"  {report.steroid_injections.text}", ""]
    if report.missing_information:
        lines.append("MISSING INFORMATION (needed before a decision)")
        for item in _asked(report, knowledge):
            lines.append(f"  - {question(knowledge, item.field)}{_about(item.about)}")
            lines.append(f"      {item.why} (rule {item.rule_id}; field {item.field})")
        lines.append("")
    for title, findings in (("CONTRAINDICATIONS", report.contraindications), ("WARNINGS", report.warnings)):
        if findings:
            lines.append(title)
            for f in findings:
                severity = f" [{f.severity}]" if f.severity else ""
                lines.append(f"  - {f.text}{severity} (rule {f.rule_id}) {_sources(f)}")
            lines.append("")
    if report.ignored_input:
        lines.append("IGNORED INPUT (in the record, not used for this assessment)")
        lines += [f"  - {_ignored(item)}" for item in report.ignored_input]
        lines.append("")
    refs = cited(report)
    if refs:
        lines.append("SOURCES")
        for ref in refs:
            source = citation(knowledge, ref)
            where = f", {source.section}" if source.section else ""
            link = f" <{source.url}>" if source.url else ""
            lines.append(f"  [{ref}] {source.title}{where}{link}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _about(entries: list[str]) -> str:
    """The list entries a question concerns, as written (`medications (zorbifaxen)`)."""
    return f" ({', '.join(_one_line(e) for e in entries)})" if entries else ""


def _ignored(item: IgnoredInput) -> str:
    where = f"{item.resource} ({item.element})" if item.element else item.resource
    return " ".join(f"{where}: {item.reason}".split())


_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>#!|~$&{}])")
"""Characters that start a link or image (`[`, `!`), raw HTML or an autolink (`<`), emphasis,
code, a table cell, maths (`$`), an entity (`&`) or a Streamlit `:color[...]` directive."""
_MARKDOWN_BLOCK_START = re.compile(r"^(\d*)([-+=.)])")


def markdown_text(value: object) -> str:
    """`value` as literal text inside Markdown, on one line: record text (a case id, a FHIR
    `code.text`, a drug name as written) can neither load an image nor forge a heading or a row."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", " ".join(str(value).split()))
    return _MARKDOWN_BLOCK_START.sub(r"\1\\\2", escaped, count=1)


def citation_markdown(knowledge: Knowledge, ref: str) -> str:
    """A citation as Markdown: the title linked when its URL is known, then the section."""
    cited = citation(knowledge, ref)
    title = markdown_text(cited.title)
    if cited.url and cited.url.startswith(("https://", "http://")):
        title = f"[{title}]({cited.url.replace(')', '%29').replace(' ', '%20')})"
    return f"{title}, {markdown_text(cited.section)}" if cited.section else title


def to_markdown(report: Report, knowledge: Knowledge | None = None) -> str:
    """The report for notes and MDT papers; questions and source titles from `knowledge` (the shipped one if not given)."""
    knowledge = knowledge or shipped_knowledge()
    out = [
        f"# spine-cds report: {markdown_text(_one_line(report.case_id))}",
        "",
        f"Policy **{report.policy}** ({report.policy_title}) · knowledge {report.knowledge_version} "
        f"`{report.knowledge_hash[:12]}` · engine {report.engine_version}",
        "",
    ]
    if report.red_flags:
        out += ["## Red flags", ""] + [
            f"- **{markdown_text(f.text)}** ({f.rule_id}; {'; '.join(f.sources)})" for f in report.red_flags
        ]
        out.append("")
    if report.no_guideline_applies:
        out += ["## No guideline applies", "", markdown_text(report.no_guideline_reason or ""), ""]
    if report.candidates:
        out += ["## Candidates", "", "| Status | Procedure | Guidance |", "|---|---|---|"]
        for cand in report.candidates:
            guidance = _guidance(cand) if cand.status != "not_indicated" else "-"
            out.append(f"| {STATUS_LABEL[cand.status]} | {markdown_text(candidate_title(cand))} | {guidance} |")
        out.append("")
        for cand in report.candidates:
            out += [f"### {markdown_text(candidate_title(cand))}: {STATUS_LABEL[cand.status].lower()}", ""]
            for step in cand.antithrombotic_plan:
                recheck = " *(re-check against the source)*" if step.recheck else ""
                out.append(
                    f"- antithrombotic plan: {markdown_text(step.text)} — `{step.rule_id}` "
                    f"({'; '.join(step.sources)}){recheck}"
                )
            for reason in cand.reasons:
                recheck = " *(re-check against the source)*" if reason.recheck else ""
                out.append(
                    f"- {reason_label(reason)}: {markdown_text(reason.text)} — `{reason.rule_id}` "
                    f"({'; '.join(reason.sources)}){recheck}"
                )
            out.append("")
    if report.steroid_injections is not None:
        out += ["## Steroid injections so far", "", markdown_text(report.steroid_injections.text), ""]
    if report.missing_information:
        out += ["## Missing information", ""]
        out += [
            f"- **{markdown_text(question(knowledge, m.field) + _about(m.about))}** {markdown_text(m.why)} "
            f"(`{m.rule_id}`; `{m.field}`)"
            for m in _asked(report, knowledge)
        ]
        out.append("")
    for title, findings in (("Contraindications", report.contraindications), ("Warnings", report.warnings)):
        if findings:
            out += [f"## {title}", ""]
            for f in findings:
                severity = f" ({f.severity})" if f.severity else ""
                out.append(f"- {markdown_text(f.text)}{severity} — `{f.rule_id}` ({'; '.join(f.sources)})")
            out.append("")
    if report.ignored_input:
        out += ["## Ignored input", "", "In the record, not used for this assessment:", ""]
        out += [f"- {markdown_text(_ignored(item))}" for item in report.ignored_input]
        out.append("")
    refs = cited(report)
    if refs:
        out += ["## Sources", ""]
        out += [f"- `{ref}`: {citation_markdown(knowledge, ref)}" for ref in refs]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
