"""A report as CDS Hooks cards: what the EHR shows the clinician, and the changes it may offer.

Pure: no web framework, no store. Every word on a card comes from the report (which comes from
the rules) or from the knowledge's vocabulary and sources; this module adds layout, the CDS
Hooks indicator for each status, and suggestions that the report itself supports:
- another approach of the same procedure, when the ordered approach is contraindicated or not
  indicated and the report indicates that other approach for the same region;
- the preferred image guidance, when a guidance rule of the knowledge prefers it for this patient
  (e.g. ultrasound where contrast cannot be used) and the order does not already ask for it.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from decision.cds_hooks.wire import SUMMARY_MAX, Action, Card, Coding, Indicator, Link, Source, Suggestion
from decision.explain import STATUS_LABEL, candidate_title, reason_label
from decision.fhir import ProcedureSelection
from decision.report import IgnoredInput, Reason, Report, ReportCandidate, Status, candidate_key
from knowledge.codemaps import default_codemaps
from knowledge.loader import Knowledge

OVERRIDE_REASON_SYSTEM = "urn:spine-cds:fhir:override-reason"
OVERRIDE_REASONS = (
    Coding(system=OVERRIDE_REASON_SYSTEM, code="patient-preference", display="Patient preference"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="clinical-judgement-mdt", display="Clinical judgement or MDT decision"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="information-outdated", display="The record is outdated or incomplete"),
    Coding(system=OVERRIDE_REASON_SYSTEM, code="other", display="Other (see comment)"),
)
"""Offered on every card that warns; the clinician's choice comes back as feedback and is audited."""

GUIDANCE_SYSTEM = "urn:spine-cds:fhir:guidance"
"""ServiceRequest.orderDetail codes for image guidance; the codes are the vocabulary's guidance ids."""

INDICATOR: dict[Status, Indicator] = {
    "indicated": "info",
    "indicated_with_caution": "warning",
    "needs_information": "warning",
    "deferred": "warning",
    "contraindicated": "critical",
    "not_indicated": "info",
}
ORDERED_NOT_INDICATED: Indicator = "warning"
"""An order for what the knowledge does not support for this record is worth a warning, while the
same candidate, merely weighed when a record is opened, is only summarised (info)."""
SHOWN: tuple[Status, ...] = ("indicated", "indicated_with_caution", "needs_information", "deferred", "contraindicated")
"""Statuses that get a card of their own; not-indicated candidates share one summary card."""
SUGGEST_ANOTHER_APPROACH_WHEN: tuple[Status, ...] = ("contraindicated", "not_indicated")
ALTERNATIVE_STATUSES: tuple[Status, ...] = ("indicated", "indicated_with_caution")
IGNORED_SHOWN = 8
NOT_STORED = (
    "**Not stored** · the case store could not write this assessment, so it is not in the MDT's case list, "
    "this card has no link to it, and feedback on it cannot be recorded."
)


def new_uuid() -> str | None:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class IssuedCard:
    """A card and what it is about, so that feedback on it can be traced to the candidate."""

    card: Card
    candidate: ReportCandidate | None
    about: str
    """For cards not about one candidate: `red flag <rule>`, `not indicated`, `no candidate <...>`."""


@dataclass(frozen=True)
class CardWriter:
    knowledge: Knowledge
    link_url: str | None = None
    """The stored assessment in the spine-cds app; None when it was not stored."""
    notes: tuple[str, ...] = ()
    """What the EHR did not provide (prefetch keys not sent, null, failed)."""
    new_id: Callable[[], str | None] = field(default=new_uuid)
    """Card and suggestion uuids; None for cards nobody can give feedback on (nothing stored)."""
    not_stored: bool = False
    """The case should have been stored but the store could not write it: every card says so."""

    # -- the cards ---------------------------------------------------------------------
    def red_flags(self, report: Report) -> list[IssuedCard]:
        """Red flags first, as critical: an urgent referral, no injection planning."""
        return [
            IssuedCard(
                self._card(
                    report,
                    summary=f"Red flag: {flag.text}",
                    indicator="critical",
                    body=[f"**Red flag** · {flag.text}", "", f"Rule `{flag.rule_id}` ({self._refs(flag.sources)})"],
                    url=self._source_url(flag.sources),
                ),
                None,
                f"red flag {flag.rule_id}",
            )
            for flag in report.red_flags
        ]

    def patient_view(self, report: Report) -> list[IssuedCard]:
        """Red flags, one card per candidate worth acting on (best first), the rest summarised."""
        cards = self.red_flags(report)
        cards += [self._candidate_card(report, cand) for cand in report.candidates if cand.status in SHOWN]
        ruled_out = [cand for cand in report.candidates if cand.status not in SHOWN]
        if ruled_out:
            cards.append(self._not_indicated_card(report, ruled_out))
        if not report.candidates and not report.red_flags:
            cards.append(self._nothing_to_assess(report))
        return cards

    def order(self, report: Report, order: Mapping[str, Any], selection: ProcedureSelection) -> list[IssuedCard]:
        """The candidates an injection order asks for (approach and region when it codes them)."""
        matching = [cand for cand in report.candidates if _matches(cand, selection)]
        if not matching:
            return [self._no_candidate_card(report, selection)]
        return [self._candidate_card(report, cand, order) for cand in matching]

    def not_assessed(self, order_label: str, ignored: list[IgnoredInput]) -> IssuedCard:
        """An order spine-cds cannot read as an injection: said, not silently passed over."""
        codes = default_codemaps()
        systems = sorted(
            {codes.maps.code_systems[entry.system].title for entry in codes.maps.procedures if entry.procedure}
        )
        body = [
            f"spine-cds did not assess {_md(order_label)}: its code does not name an injection that spine-cds knows.",
            "",
            "spine-cds reads the injection from ServiceRequest.code: "
            f"{', '.join(systems)}, or its own code system `{codes.maps.local.procedure}`.",
        ]
        if ignored:
            body += ["", *[f"- {_ignored(item)}" for item in ignored]]
        card = Card(
            summary=_summary("Not assessed by spine-cds: the order's code is not an injection it knows"),
            indicator="info",
            detail="\n".join(body),
            source=Source(label=self._source_label()),
        )
        return IssuedCard(card, None, f"not assessed {order_label}")

    # -- one card ----------------------------------------------------------------------
    def _candidate_card(
        self, report: Report, cand: ReportCandidate, order: Mapping[str, Any] | None = None
    ) -> IssuedCard:
        status = STATUS_LABEL[cand.status].capitalize()
        title = candidate_title(cand)
        open_fields = _open_fields(cand)
        summary = f"{status}: {title}"
        if cand.status == "needs_information" and open_fields:
            summary += f" ({len(open_fields)} to answer)"
        body = [f"**{status}** · {title}", ""]
        if cand.guidance and cand.status != "not_indicated":
            body += [f"Image guidance, preferred first: {self._guidance_labels(cand.guidance)}", ""]
        if cand.antithrombotic_plan:
            body += ["**Antithrombotics: when to stop and restart**", ""]
            body += [f"- {_md(step.text)} ({self._refs(step.sources)})" for step in cand.antithrombotic_plan]
            body.append("")
        decisive = [r for r in cand.reasons if r.kind != "unknown"]
        if decisive:
            body += ["**Why**", "", *[self._reason_line(r) for r in decisive], ""]
        if open_fields:
            body += ["**To answer before a decision**", ""]
            body += [f"- `{name}`: {why}" for name, why in self._field_questions(report, open_fields).items()]
            body.append("")
        suggestions = self._suggestions(report, cand, order) if order is not None else []
        decisive_reason = _decisive_reason(cand)
        card = self._card(
            report,
            summary=summary,
            indicator=ORDERED_NOT_INDICATED
            if order is not None and cand.status == "not_indicated"
            else INDICATOR[cand.status],
            body=body,
            url=self._source_url(decisive_reason.sources if decisive_reason else []),
            topic=self._topic(cand.procedure),
            suggestions=suggestions,
        )
        return IssuedCard(card, cand, "candidate")

    def _not_indicated_card(self, report: Report, ruled_out: list[ReportCandidate]) -> IssuedCard:
        titles = ", ".join(candidate_title(c) for c in ruled_out)
        body = ["**Not indicated** for this record, with the indication that was not met:", ""]
        for cand in ruled_out:
            body.append(f"- {candidate_title(cand)}")
            body += [f"  - {r.text} — `{r.rule_id}` ({self._refs(r.sources)})" for r in cand.reasons]
        card = self._card(report, summary=f"Not indicated: {titles}", indicator="info", body=body)
        return IssuedCard(card, None, "not indicated")

    def _nothing_to_assess(self, report: Report) -> IssuedCard:
        reason = report.no_guideline_reason or "the record gives no injection candidate"
        body = [f"**No injection to assess** · {reason}", ""]
        if report.missing_information:
            body += ["**To answer**", ""]
            body += [f"- `{m.field}`: {m.why} (`{m.rule_id}`)" for m in report.missing_information]
        card = self._card(report, summary=f"spine-cds: {reason}", indicator="info", body=body)
        return IssuedCard(card, None, "no candidate")

    def _no_candidate_card(self, report: Report, selection: ProcedureSelection) -> IssuedCard:
        wanted = _selection_title(selection)
        weighed = [f"- {STATUS_LABEL[c.status].lower()}: {candidate_title(c)}" for c in report.candidates]
        body = [f"**{wanted}** is not among the candidates spine-cds weighed for this record.", ""]
        if report.no_guideline_reason:
            body += [report.no_guideline_reason, ""]
        if weighed:
            body += ["Candidates weighed for the recorded diagnoses:", "", *weighed, ""]
        if report.missing_information:
            body += ["**To answer**", ""]
            fields = {m.field: f"{m.why} (`{m.rule_id}`)" for m in report.missing_information}
            body += [f"- `{name}`: {why}" for name, why in fields.items()]
        card = self._card(
            report,
            summary=f"Not a candidate for this record: {wanted}",
            indicator="warning",
            body=body,
            topic=self._topic(selection.procedure),
        )
        return IssuedCard(card, None, f"no candidate {_key(selection)}")

    def _card(
        self,
        report: Report,
        *,
        summary: str,
        indicator: Indicator,
        body: list[str],
        url: str | None = None,
        topic: Coding | None = None,
        suggestions: list[Suggestion] | None = None,
    ) -> Card:
        footer = [*body, ""]
        if self.notes:
            footer += ["**Not provided by the EHR**", "", *[f"- {note}" for note in self.notes], ""]
        if report.ignored_input:
            shown = report.ignored_input[:IGNORED_SHOWN]
            footer += ["**In the record, not used**", "", *[f"- {_ignored(item)}" for item in shown]]
            if len(report.ignored_input) > len(shown):
                footer.append(f"- and {len(report.ignored_input) - len(shown)} more (open the full assessment)")
            footer.append("")
        if self.not_stored:
            footer += [NOT_STORED, ""]
        footer.append(
            f"Knowledge {report.knowledge_version} (`{report.knowledge_hash[:12]}`), policy {report.policy}, "
            f"engine {report.engine_version}. spine-cds supports the clinician's decision; it does not make one."
        )
        return Card(
            uuid=self.new_id(),
            summary=_summary(summary),
            detail=re.sub(r"\n{3,}", "\n\n", "\n".join(footer)).strip(),
            indicator=indicator,
            source=Source(label=self._source_label(report), url=url, topic=topic),
            suggestions=suggestions or None,
            selectionBehavior="at-most-one" if suggestions else None,
            overrideReasons=list(OVERRIDE_REASONS) if indicator != "info" else None,
            links=[Link(label="Open the full assessment in spine-cds", url=self.link_url, type="absolute")]
            if self.link_url
            else None,
        )

    # -- suggestions -------------------------------------------------------------------
    def _suggestions(self, report: Report, cand: ReportCandidate, order: Mapping[str, Any]) -> list[Suggestion]:
        out = []
        if cand.status in SUGGEST_ANOTHER_APPROACH_WHEN:
            for other in report.candidates:
                if (
                    other.procedure == cand.procedure
                    and other.region == cand.region
                    and other.approach != cand.approach
                    and other.status in ALTERNATIVE_STATUSES
                ):
                    out.append(self._approach_suggestion(other, order))
        else:
            guidance = self._guidance_suggestion(cand, order)
            if guidance is not None:
                out.append(guidance)
        return out

    def _approach_suggestion(self, other: ReportCandidate, order: Mapping[str, Any]) -> Suggestion:
        codes = default_codemaps()
        vocab = self.knowledge.vocabulary
        resource = copy.deepcopy(dict(order))
        resource["code"] = {
            "coding": [
                {
                    "system": codes.maps.local.procedure,
                    "code": other.procedure,
                    "display": vocab.procedures[other.procedure].label,
                }
            ],
            "text": candidate_title(other),
        }
        ext = codes.maps.extensions
        extensions = [e for e in resource.get("extension") or [] if e.get("url") not in (ext.approach, ext.region)]
        if other.approach:
            extensions.append({"url": ext.approach, "valueCode": other.approach})
        if other.region:
            extensions.append({"url": ext.region, "valueCode": other.region})
        resource["extension"] = extensions
        status = STATUS_LABEL[other.status].lower()
        return Suggestion(
            label=f"Order {candidate_title(other)} instead ({status})",
            uuid=self.new_id(),
            actions=[
                Action(
                    type="update",
                    description=f"Change the order to {candidate_title(other)}, which spine-cds finds {status} "
                    "for this patient (the code becomes spine-cds's procedure code; add the billing code).",
                    resource=resource,
                )
            ],
        )

    def _guidance_suggestion(self, cand: ReportCandidate, order: Mapping[str, Any]) -> Suggestion | None:
        if not cand.guidance:
            return None
        preferred = cand.guidance[0]
        asked = _ordered_guidance(order)
        preferring = [r for r in cand.reasons if r.kind == "guidance" and self._prefers(r.rule_id) == preferred]
        if asked[:1] == [preferred] or not (preferring or (asked and asked[0] not in cand.guidance)):
            return None  # already asked for, or the order's choice is one the knowledge accepts
        label = self.knowledge.vocabulary.guidance[preferred].label
        resource = copy.deepcopy(dict(order))
        details = [d for d in resource.get("orderDetail") or [] if not _has_system(d, GUIDANCE_SYSTEM)]
        details.append({"coding": [{"system": GUIDANCE_SYSTEM, "code": preferred, "display": label}], "text": label})
        resource["orderDetail"] = details
        why = preferring[0].text if preferring else f"{label} is the preferred guidance for {candidate_title(cand)}."
        return Suggestion(
            label=f"Ask for {label.lower()} guidance",
            uuid=self.new_id(),
            actions=[
                Action(
                    type="update", description=f"Set the order's image guidance to {label}: {why}", resource=resource
                )
            ],
        )

    def _prefers(self, rule_id: str) -> str | None:
        entry = self.knowledge.rule_index.get(rule_id)
        guidance = entry.rule.then.guidance if entry else None
        return guidance.prefer if guidance else None

    # -- words -------------------------------------------------------------------------
    def _source_label(self, report: Report | None = None) -> str:
        return f"spine-cds knowledge {report.knowledge_version if report else self.knowledge.version}"

    def _source_url(self, refs: list[str]) -> str | None:
        for ref in refs:
            source = self.knowledge.sources.get(ref.partition("#")[0])
            if source is not None and source.url:
                return source.url
        return None

    def _topic(self, procedure: str) -> Coding | None:
        term = self.knowledge.vocabulary.procedures.get(procedure)
        if term is None:
            return None
        return Coding(system=default_codemaps().maps.local.procedure, code=procedure, display=term.label)

    def _refs(self, refs: list[str]) -> str:
        out = []
        for ref in refs:
            source = self.knowledge.sources.get(ref.partition("#")[0])
            out.append(f"[{ref}]({source.url})" if source is not None and source.url else ref)
        return "; ".join(out)

    def _reason_line(self, reason: Reason) -> str:
        recheck = " *(re-check against the source)*" if reason.recheck else ""
        return f"- {reason_label(reason)}: {reason.text} — `{reason.rule_id}` ({self._refs(reason.sources)}){recheck}"

    def _guidance_labels(self, guidance: list[str]) -> str:
        return ", ".join(self.knowledge.vocabulary.guidance[g].label for g in guidance)

    @staticmethod
    def _field_questions(report: Report, fields: dict[str, list[str]]) -> dict[str, str]:
        out = {}
        for name, rule_ids in fields.items():
            why = next((m.why for m in report.missing_information if m.field == name and m.rule_id in rule_ids), "")
            rules = ", ".join(f"`{r}`" for r in rule_ids)
            out[name] = f"{why} ({rules})" if why else f"decides {rules}"
        return out


# -- helpers -------------------------------------------------------------------------------


def _matches(cand: ReportCandidate, selection: ProcedureSelection) -> bool:
    return (
        cand.procedure == selection.procedure
        and selection.approach in (None, cand.approach)
        and selection.region in (None, cand.region)
    )


def _decisive_reason(cand: ReportCandidate) -> Reason | None:
    """The rule that gave the candidate its status (the indication, for an indicated one)."""
    if cand.status == "indicated":
        return next((r for r in cand.reasons if r.kind == "indication"), None)
    return next((r for r in cand.reasons if r.status == cand.status), None)


def _open_fields(cand: ReportCandidate) -> dict[str, list[str]]:
    """Case field -> the rules its answer would decide, for this candidate."""
    fields: dict[str, list[str]] = {}
    for reason in cand.reasons:
        for name in reason.missing:
            rules = fields.setdefault(name, [])
            if reason.rule_id not in rules:
                rules.append(reason.rule_id)
    return dict(sorted(fields.items()))


def _ordered_guidance(order: Mapping[str, Any]) -> list[str]:
    found = []
    for detail in order.get("orderDetail") or []:
        for coding in (detail.get("coding") or []) if isinstance(detail, Mapping) else []:
            if isinstance(coding, Mapping) and coding.get("system") == GUIDANCE_SYSTEM and coding.get("code"):
                found.append(str(coding["code"]))
    return found


def _has_system(concept: Any, system: str) -> bool:
    return isinstance(concept, Mapping) and any(
        isinstance(c, Mapping) and c.get("system") == system for c in concept.get("coding") or []
    )


def _key(selection: ProcedureSelection) -> str:
    return candidate_key(selection.procedure, selection.approach, selection.region)


def _selection_title(selection: ProcedureSelection) -> str:
    return candidate_title(
        ReportCandidate(
            procedure=selection.procedure,
            approach=selection.approach,
            region=selection.region,
            levels=[],
            bleeding_risk=None,
            guidance=[],
            status="not_indicated",
            reasons=[],
        )
    )


def _summary(text: str) -> str:
    """One line under the spec's 140 characters, cut at a word."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX:
        return text
    cut = text[: SUMMARY_MAX - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#|!~])")


def _md(text: str) -> str:
    """Text from the record, shown literally: it must not add links, images or headings to a card."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def _ignored(item: IgnoredInput) -> str:
    element = f" ({_md(item.element)})" if item.element else ""
    return f"{_md(item.resource)}{element}: {_md(item.reason)}"
