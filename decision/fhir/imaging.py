"""ImagingStudy and DiagnosticReport: the imaging the case lists, its modality, date and concordance.

Reports are read after every study, so a report's concordance can join the study it points to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from decision.fhir.elements import as_date, as_datetime, codings, concept_text, reference_key
from decision.fhir.reader import RecordReader

if TYPE_CHECKING:
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport
    from fhir.resources.R4B.imagingstudy import ImagingStudy


def read_imaging_study(reader: RecordReader, origin: str, res: ImagingStudy) -> None:
    key = f"ImagingStudy/{res.id}" if res.id else None
    if res.status in ("cancelled", "entered-in-error", "registered"):
        reader.ignore(origin, f"status '{res.status}': no images to use", "status")
        return
    modalities = [*(res.modality or []), *(s.modality for s in res.series or [] if s.modality)]
    keys = {(str(c.system or ""), str(c.code or "")) for c in modalities}
    found = {reader.codes.modalities[k].modality for k in keys if k in reader.codes.modalities}
    unknown = sorted(code for system, code in keys if (system, code) not in reader.codes.modalities)
    if unknown:
        reader.ignore(origin, f"modality {', '.join(str(u) for u in unknown)} not in the map", "modality")
    if len(found) > 1:
        reader.ignore(
            origin,
            f"more than one modality ({', '.join(sorted(found))}): record one study per modality",
            "modality",
            ("imaging",),
        )
        return
    if unknown and not found:
        return
    concordant = reader.ext(origin, res, "concordant")
    study: dict[str, object] = {
        "modality": found.pop() if found else None,  # no modality recorded: a study of unknown kind
        "date": as_date(res.started),
        "concordant": bool(concordant[0]) if concordant else None,
    }
    if reader.after_now(as_datetime(res.started)):
        reader.ignore(origin, "imaging dated after the assessment time", "started")
        return
    reader.imaging[key or origin] = study


def read_diagnostic_report(reader: RecordReader, origin: str, res: DiagnosticReport) -> None:
    if res.status not in ("final", "amended", "corrected", "appended"):
        reader.ignore(origin, f"status '{res.status}': only final reports are used", "status")
        return
    concordant = reader.ext(origin, res, "concordant")
    studies = [reference_key(ref) for ref in res.imagingStudy or []]
    linked = [s for s in studies if s in reader.imaging]
    if linked:
        for key in linked:
            study = reader.imaging[key]
            if not concordant:
                continue
            if study["concordant"] is None:
                study["concordant"] = bool(concordant[0])
            elif study["concordant"] != bool(concordant[0]):
                study["concordant"] = None
                reader.ignore(origin, f"concordance disagrees with {key}: left unknown", "extension concordant")
        return
    for coding in codings(res.code):
        entry = reader.codes.imaging_reports.get((coding.system, coding.code))
        if entry is not None:
            when = as_datetime(res.effectiveDateTime) or as_datetime(res.issued)
            if reader.after_now(when):
                reader.ignore(origin, "report dated after the assessment time", "effective[x]")
                return
            reader.imaging[origin] = {
                "modality": entry.modality,
                "date": as_date(when),
                "concordant": bool(concordant[0]) if concordant else None,
            }
            return
    reader.ignore(origin, f"not an imaging report the map knows ('{concept_text(res.code) or 'uncoded'}')", "code")
