"""The CDS Hooks 2.0 response shapes, written from the specification's tables, independent of the
service's own models (decision/cds_hooks.py), so that a test against them can catch the service
leaving the spec. Each check returns the problems as "where: what" lines; [] means conformant.

The rules: https://cds-hooks.hl7.org/2.0/ (Discovery, Card Attributes, Source, Suggestion,
Action, Reasons for rejecting a card, Link, Coding); "JSON elements SHALL NOT be null ... or
empty" unless stated; summary "<140-character".
"""

from __future__ import annotations

from typing import Any

INDICATORS = {"info", "warning", "critical"}
SELECTION_BEHAVIORS = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}


def _fields(
    obj: Any, where: str, required: dict[str, type | tuple[type, ...]], optional: dict[str, type | tuple[type, ...]]
) -> list[str]:
    """Required fields present, no field outside the spec, none null or empty, each of its type."""
    if not isinstance(obj, dict):
        return [f"{where}: expected an object"]
    out = [f"{where}.{name}: required" for name in required if name not in obj]
    for name, value in obj.items():
        kinds = required.get(name) or optional.get(name)
        if kinds is None:
            out.append(f"{where}.{name}: not a field of the spec")
        elif value is None or value in ("", [], {}):
            out.append(f"{where}.{name}: null or empty (the spec says omit it)")
        elif not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            out.append(f"{where}.{name}: expected {kinds}")
    return out


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _absolute(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://"))


def check_coding(coding: Any, where: str, display_required: bool = False) -> list[str]:
    out = _fields(coding, where, {"code": str, "system": str}, {"display": str})
    if display_required and isinstance(coding, dict) and not coding.get("display"):
        out.append(f"{where}.display: required for override reasons")
    return out


def check_source(source: Any, where: str) -> list[str]:
    out = _fields(source, where, {"label": str}, {"url": str, "icon": str, "topic": dict})
    if isinstance(source, dict):
        for name in ("url", "icon"):
            if name in source and not _absolute(source[name]):
                out.append(f"{where}.{name}: expected an absolute URL")
        if "topic" in source:
            out += check_coding(source["topic"], f"{where}.topic")
    return out


def check_action(action: Any, where: str) -> list[str]:
    out = _fields(action, where, {"type": str, "description": str}, {"resource": dict, "resourceId": str})
    if not isinstance(action, dict):
        return out
    if action.get("type") not in ACTION_TYPES:
        out.append(f"{where}.type: expected one of {sorted(ACTION_TYPES)}")
    if action.get("type") in ("create", "update") and "resource" not in action:
        out.append(f"{where}.resource: required for {action.get('type')}")
    resource = action.get("resource")
    if isinstance(resource, dict) and not isinstance(resource.get("resourceType"), str):
        out.append(f"{where}.resource: expected a FHIR resource (resourceType)")
    return out


def check_suggestion(suggestion: Any, where: str) -> list[str]:
    out = _fields(suggestion, where, {"label": str}, {"uuid": str, "isRecommended": bool, "actions": list})
    for index, action in enumerate(suggestion.get("actions", []) if isinstance(suggestion, dict) else []):
        out += check_action(action, f"{where}.actions.{index}")
    return out


def check_link(link: Any, where: str) -> list[str]:
    out = _fields(link, where, {"label": str, "url": str, "type": str}, {"appContext": str, "autolaunchable": bool})
    if isinstance(link, dict):
        if link.get("type") not in LINK_TYPES:
            out.append(f"{where}.type: expected one of {sorted(LINK_TYPES)}")
        if link.get("type") == "absolute" and not _absolute(link.get("url")):
            out.append(f"{where}.url: an absolute link needs an absolute URL")
        if "appContext" in link and link.get("type") != "smart":
            out.append(f"{where}.appContext: only for smart links")
    return out


def check_card(card: Any, where: str = "card") -> list[str]:
    out = _fields(
        card,
        where,
        {"summary": str, "indicator": str, "source": dict},
        {
            "uuid": str,
            "detail": str,
            "suggestions": list,
            "selectionBehavior": str,
            "overrideReasons": list,
            "links": list,
        },
    )
    if not isinstance(card, dict):
        return out
    summary = card.get("summary")
    if isinstance(summary, str) and (len(summary) >= 140 or "\n" in summary):
        out.append(f"{where}.summary: {len(summary)} characters; the spec asks for one line under 140")
    if card.get("indicator") not in INDICATORS:
        out.append(f"{where}.indicator: expected one of {sorted(INDICATORS)}")
    out += check_source(card.get("source"), f"{where}.source")
    suggestions = card.get("suggestions") or []
    for index, suggestion in enumerate(suggestions):
        out += check_suggestion(suggestion, f"{where}.suggestions.{index}")
    if suggestions and card.get("selectionBehavior") not in SELECTION_BEHAVIORS:
        out.append(f"{where}.selectionBehavior: required with suggestions, one of {sorted(SELECTION_BEHAVIORS)}")
    if "selectionBehavior" in card and card["selectionBehavior"] not in SELECTION_BEHAVIORS:
        out.append(f"{where}.selectionBehavior: expected one of {sorted(SELECTION_BEHAVIORS)}")
    for index, reason in enumerate(card.get("overrideReasons") or []):
        out += check_coding(reason, f"{where}.overrideReasons.{index}", display_required=True)
    for index, link in enumerate(card.get("links") or []):
        out += check_link(link, f"{where}.links.{index}")
    return out


def check_response(body: Any) -> list[str]:
    out = _fields(body, "response", {"cards": list}, {"systemActions": list})
    if isinstance(body, dict):
        for index, card in enumerate(body.get("cards") or []):
            out += check_card(card, f"cards.{index}")
        for index, action in enumerate(body.get("systemActions") or []):
            out += check_action(action, f"systemActions.{index}")
    return out


def check_discovery(body: Any) -> list[str]:
    out = _fields(body, "discovery", {"services": list}, {})
    if not isinstance(body, dict):
        return out
    for index, service in enumerate(body.get("services") or []):
        where = f"services.{index}"
        out += _fields(
            service,
            where,
            {"hook": str, "description": str, "id": str},
            {"title": str, "prefetch": dict, "usageRequirements": str},
        )
        for key, template in (service.get("prefetch") or {}).items() if isinstance(service, dict) else []:
            if not isinstance(template, str) or not template:
                out.append(f"{where}.prefetch.{key}: expected a FHIR query string")
    return out
