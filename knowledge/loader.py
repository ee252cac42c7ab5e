"""Load and validate the knowledge base; compute its version and content hash.

Every error names the file, the rule and the field, and offers the closest valid id, because
the people who edit these files are clinicians, not Python programmers.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.conditions import Compare, ConditionNode, Count, ParamRef, walk
from knowledge.holds import HoldTable, hold_rules, tabled_medications
from knowledge.problems import ProblemError, validation_problems
from knowledge.schema import (
    Manifest,
    PatientInformation,
    Policy,
    PolicyParam,
    ProcedureCatalogue,
    ProcedureOption,
    Questions,
    Rule,
    RuleFile,
    Source,
    Vocabulary,
)

KNOWLEDGE_DIR = Path(__file__).resolve().parent


class KnowledgeError(ProblemError):
    """The knowledge base is invalid. `problems` lists each defect as one readable line."""

    title = "invalid knowledge"


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class RuleEntry:
    """A rule with the file it came from, so errors and reports can point at it."""

    rule: Rule
    file: str
    topic: str
    order: int
    from_table: bool = False
    """Generated from a row of a hold table, whose figures the row's source states."""


@dataclass(frozen=True)
class Knowledge:
    manifest: Manifest
    vocabulary: Vocabulary
    sources: dict[str, Source]
    options: tuple[ProcedureOption, ...]
    rules: tuple[RuleEntry, ...]
    policies: dict[str, Policy]
    content_hash: str
    root: Path
    rule_index: dict[str, RuleEntry] = field(default_factory=dict)
    bleeding_risk_raised_when: ConditionNode | None = None
    bleeding_risk_raised_sources: tuple[str, ...] = ()
    hold_tables: dict[str, HoldTable] = field(default_factory=dict)
    tabled_medications: frozenset[str] = frozenset()
    patient_information: PatientInformation | None = None
    questions: Questions | None = None

    @property
    def version(self) -> str:
        return self.manifest.version

    def params_for(self, policy_id: str) -> dict[str, PolicyParam]:
        """A policy's switches, its parent's first so that the child's answers win."""
        return _params(self.policies, policy_id)

    def rules_for(self, policy_id: str) -> tuple[RuleEntry, ...]:
        return tuple(e for e in self.rules if e.rule.policies is None or policy_id in e.rule.policies)

    def source_label(self, ref: str) -> str:
        source_id, _, section = ref.partition("#")
        source = self.sources[source_id]
        return f"{source.title}, {source.sections[section].title}"


MAX_FILE_BYTES = 2_000_000
"""The largest knowledge file read (the largest shipped is under 100 kB)."""

MAX_EXPANDED_NODES = 200_000
"""YAML aliases may share a block (the hold table does); expanded, a file stays under this many
nodes, so a few hundred bytes of nested aliases cannot cost minutes and gigabytes to validate."""


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes the document holds once every alias is expanded (shared nodes counted per use)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once instead of for ever
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = min(size, MAX_EXPANDED_NODES + 1)
    return memo[id(node)]


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
"""PyYAML's libyaml-backed safe loader, when PyYAML was built with it: about half of loading the
knowledge was PyYAML's pure-Python parser. None: the pure-Python SafeLoader only."""

MAX_FAST_DEPTH = 100
"""Nesting the fast loader answers for: deeper, a file is read again by the pure-Python loader, whose
answer ("nested too deeply" past Python's recursion limit) it has always been (knowledge nests a
dozen levels)."""


class _ReadAgain(Exception):
    """The fast loader's answer might not be the pure-Python loader's: read the file with that."""


def read_yaml(path: Path, problems: list[str], root: Path) -> Any:
    """A YAML file's data, or None with the problem added (file, line, what is wrong).

    Read by libyaml when available; whenever it objects (or the text holds a character the
    pure-Python reader refuses, or nests deeper than MAX_FAST_DEPTH) the file is read again by the
    pure-Python SafeLoader, so what is accepted and every message are that loader's, as before."""
    rel = path.relative_to(root).as_posix()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(f"{rel}: larger than {MAX_FILE_BYTES:,} bytes; not read")
            return None
        text = path.read_text(encoding="utf-8")
        if _FAST_LOADER is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
            try:
                return _load(_FAST_LOADER(text), rel, problems, fast=True)
            except (yaml.YAMLError, RecursionError, _ReadAgain):
                pass  # read again below, by the loader whose answers these are
        return _load(yaml.SafeLoader(text), rel, problems)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{rel}: not valid YAML: {exc}")
        return None
    except RecursionError:
        problems.append(f"{rel}: nested too deeply to be knowledge; not read")
        return None


def _load(loader: Any, rel: str, problems: list[str], fast: bool = False) -> Any:
    """One document: composed, its aliases' expanded size bounded (issue 14), then constructed."""
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if fast and _deeper_than(node, MAX_FAST_DEPTH):
            raise _ReadAgain
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            problems.append(f"{rel}: its aliases expand to more than {MAX_EXPANDED_NODES:,} entries; not read")
            return None
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _deeper_than(root: yaml.Node, limit: int) -> bool:
    """Whether the document nests deeper than `limit` as written (each node at its first use, i.e.
    where its anchor is; walked without recursion, aliases and recursive anchors followed once)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > limit:
            return True
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.append((value, depth + 1))
                stack.append((key, depth + 1))
    return False


def _model(
    model: type[BaseModel], data: Any, where: str, problems: list[str], rule_ids: list[str] | None = None
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:

        def located(loc: Sequence[Any]) -> tuple[str, str]:
            """A rule is named by its id, not by its index in the file."""
            prefix = where
            if rule_ids is not None and len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                index = loc[1]
                rid = rule_ids[index] if index < len(rule_ids) else f"#{index}"
                prefix, loc = f"{where}: rule {rid}", loc[2:]
            return prefix, ".".join(str(p) for p in loc if not str(p).startswith(("function-", "tagged-union")))

        problems += validation_problems(
            exc, echo_values=False, whole="(top)", unknown_field="unknown field {name!r}", location=located
        )
        return None


def content_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.yaml")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _check_ref(ref: str, sources: dict[str, Source], where: str, problems: list[str]) -> None:
    source_id, _, section = ref.partition("#")
    if source_id not in sources:
        problems.append(f"{where}: unknown source {source_id!r}{did_you_mean(source_id, sources)}")
    elif section not in sources[source_id].sections:
        sections = sources[source_id].sections
        problems.append(f"{where}: source {source_id!r} has no section {section!r}{did_you_mean(section, sections)}")


def _check_id(value: str | None, choices: dict[str, Any], kind: str, where: str, problems: list[str]) -> None:
    if value is not None and value not in choices:
        problems.append(f"{where}: unknown {kind} {value!r}{did_you_mean(value, choices)}")


def _check_guideline_classes(
    options: tuple[ProcedureOption, ...], policies: dict[str, Policy], problems: list[str]
) -> None:
    """A policy's antithrombotic_guideline must class every procedure option: either it is the
    guideline the option's own `bleeding_risk` cites, or the option gives its classes for it."""
    for pid in sorted(policies):
        chosen = _params(policies, pid).get("antithrombotic_guideline")
        if chosen is None:
            continue
        for opt in options:
            cited = {ref.partition("#")[0] for ref in opt.bleeding_risk.sources}
            if chosen.value not in cited and chosen.value not in opt.bleeding_risk_by_guideline:
                problems.append(
                    f"procedures.yaml: option {opt.id}: no bleeding-risk class under {chosen.value!r} "
                    f"(policy {pid} asks for it){did_you_mean(str(chosen.value), opt.bleeding_risk_by_guideline)}"
                )


def _check_patient_information(
    information: PatientInformation, vocab: Vocabulary, rules: dict[str, Any], problems: list[str]
) -> None:
    """The sheet describes procedures of the vocabulary, and its lines for some patients name rules
    that exist (a misspelt rule id would silently never show its line)."""
    where = "patient_information.yaml"
    for procedure in information.how_it_is_done:
        _check_id(procedure, vocab.procedures, "procedure", f"{where}: how_it_is_done", problems)
    for item in information.for_this_patient:
        for rule_id in item.when_rules:
            _check_id(rule_id, rules, "rule", f"{where}: for_this_patient", problems)


def _check_options(
    options: tuple[ProcedureOption, ...], vocab: Vocabulary, sources: dict[str, Source], problems: list[str]
) -> None:
    seen: set[str] = set()
    for opt in options:
        where = f"procedures.yaml: option {opt.id}"
        if opt.id in seen:
            problems.append(f"{where}: duplicate option id")
        seen.add(opt.id)
        _check_id(opt.procedure, vocab.procedures, "procedure", where, problems)
        _check_id(opt.approach, vocab.approaches, "approach", where, problems)
        _check_id(opt.target_region, vocab.regions, "region", where, problems)
        for region in opt.considered_for:
            _check_id(region, vocab.regions, "region", f"{where}: considered_for", problems)
        for guideline, spec in (("asra", opt.bleeding_risk), *opt.bleeding_risk_by_guideline.items()):
            for risk in (spec.default, *spec.by_region.values(), *spec.by_vertebra.values()):
                _check_id(risk, vocab.bleeding_risks, "bleeding risk", f"{where}: {guideline}", problems)
            for region in spec.by_region:
                _check_id(region, vocab.regions, "region", f"{where}: {guideline} by_region", problems)
            for ref in spec.sources:
                _check_ref(ref, sources, where, problems)
        for ref in opt.sources:
            _check_ref(ref, sources, where, problems)


def _check_rule(
    entry: RuleEntry,
    knowledge_policies: dict[str, Policy],
    params_by_policy: dict[str, dict[str, PolicyParam]],
    vocab: Vocabulary,
    sources: dict[str, Source],
    problems: list[str],
) -> None:
    rule = entry.rule
    where = f"{entry.file}: rule {rule.id}"
    for ref in rule.sources:
        _check_ref(ref, sources, f"{where}: sources", problems)
    policies = rule.policies if rule.policies is not None else tuple(knowledge_policies)
    for pid in policies:
        _check_id(pid, knowledge_policies, "policy", f"{where}: policies", problems)
    guidance = rule.then.guidance
    if guidance is not None:
        for modality in (*guidance.offer, guidance.prefer, guidance.avoid):
            _check_id(modality, vocab.guidance, "guidance", f"{where}: then.guidance", problems)
    for node in walk(rule.when):
        values: list[Any] = []
        if isinstance(node, Compare):
            values = [node.value]
        elif isinstance(node, Count):
            values = [node.value]
            literal_ok = (node.op, node.value) in (("gte", 1), ("eq", 0))
            if not literal_ok and not isinstance(node.value, ParamRef):
                problems.append(
                    f"{where}: when: count of {node.list}: threshold {node.value} has no source; "
                    "state it as a policy param (policies/*.yaml) with its source"
                )
                continue
        for value in values:
            if isinstance(value, ParamRef):
                for pid in policies:
                    if pid in params_by_policy and value.param not in params_by_policy[pid]:
                        known = params_by_policy[pid]
                        problems.append(
                            f"{where}: when: param {value.param!r} is not set by policy {pid!r}"
                            f"{did_you_mean(value.param, known)}"
                        )
            elif (
                isinstance(node, Compare)
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and not entry.from_table
            ):
                problems.append(
                    f"{where}: when: field {node.field}: threshold {value} has no source; "
                    "state it as a policy param (policies/*.yaml) with its source"
                )


def release_files(root: Path) -> dict[str, str]:
    """Every file of the knowledge folder but the manifest, with the SHA-256 of its bytes."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.yaml"))
        if path.relative_to(root).as_posix() != "manifest.yaml"
    }


def rule_hashes(entries: Iterable[RuleEntry]) -> dict[str, str]:
    return {e.rule.id: hashlib.sha256(e.rule.model_dump_json().encode()).hexdigest() for e in entries}


def _differences(kind: str, released: dict[str, str], found: dict[str, str]) -> list[str]:
    """What differs from the release, named: a file or rule added, removed or changed."""
    out = [f"{kind} {name}: not in the release (added since)" for name in sorted(set(found) - set(released))]
    out += [f"{kind} {name}: in the release but missing" for name in sorted(set(released) - set(found))]
    out += [
        f"{kind} {name}: changed since the release"
        for name in sorted(set(found) & set(released))
        if found[name] != released[name]
    ]
    return out


def _check_release(manifest: Manifest, root: Path, entries: list[RuleEntry], problems: list[str]) -> None:
    if not manifest.files or not manifest.rules:
        problems.append(
            "manifest.yaml: lists no files or rules: a knowledge folder is served only as a release "
            "(spine-cds kb release --root DIR --version V writes the manifest after review)"
        )
        return
    found = _differences("file", manifest.files, release_files(root))
    found += _differences("rule", manifest.rules, rule_hashes(entries))
    problems += [f"manifest.yaml ({manifest.version}): {p}" for p in found]


def release_problems(knowledge: Knowledge) -> list[str]:
    """How a knowledge loaded with `release=False` differs from its manifest (empty: it is the release)."""
    problems: list[str] = []
    _check_release(knowledge.manifest, knowledge.root, list(knowledge.rules), problems)
    return problems


def load_knowledge(root: Path | None = None, *, release: bool = True) -> Knowledge:
    """Read every knowledge file under `root`, validate it, and raise one error listing all defects.

    `release=False` skips the comparison with the manifest: only `kb release` does that, to
    write the manifest of a folder it has just validated."""
    root = (root or KNOWLEDGE_DIR).resolve()
    problems: list[str] = []

    def read(name: str) -> Any:
        path = root / name
        if not path.exists():
            problems.append(f"{name}: missing")
            return None
        return read_yaml(path, problems, root)

    manifest = _model(Manifest, read("manifest.yaml"), "manifest.yaml", problems)
    vocab = _model(Vocabulary, read("vocabulary.yaml"), "vocabulary.yaml", problems)
    raw_sources = read("sources.yaml")
    sources: dict[str, Source] = {}
    if isinstance(raw_sources, dict) and isinstance(raw_sources.get("sources"), list):
        for i, raw in enumerate(raw_sources["sources"]):
            src = _model(Source, raw, f"sources.yaml: sources[{i}]", problems)
            if src is not None:
                if src.id in sources:
                    problems.append(f"sources.yaml: duplicate source id {src.id!r}")
                sources[src.id] = src
    else:
        problems.append("sources.yaml: expected a mapping with a `sources:` list")
    catalogue = _model(ProcedureCatalogue, read("procedures.yaml"), "procedures.yaml", problems)
    information = _model(PatientInformation, read("patient_information.yaml"), "patient_information.yaml", problems)
    questions = _model(Questions, read("questions.yaml"), "questions.yaml", problems)
    if information is not None:
        for ref in information.references():
            _check_ref(ref, sources, "patient_information.yaml", problems)

    policies: dict[str, Policy] = {}
    for path in sorted((root / "policies").glob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        policy = _model(Policy, read_yaml(path, problems, root), rel, problems)
        if policy is not None:
            if policy.id != path.stem:
                problems.append(f"{rel}: policy id {policy.id!r} must match the file name {path.stem!r}")
            policies[policy.id] = policy
            for name, param in policy.params.items():
                _check_ref(param.source, sources, f"{rel}: param {name}: source", problems)
    for policy in policies.values():
        _check_id(policy.extends, policies, "policy", f"policies/{policy.id}.yaml: extends", problems)

    entries: list[RuleEntry] = []
    for path in sorted((root / "rules").glob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        raw = read_yaml(path, problems, root)
        rule_ids = [
            str(r.get("id", f"#{i}")) if isinstance(r, dict) else f"#{i}"
            for i, r in enumerate(raw.get("rules", []) if isinstance(raw, dict) else [])
        ]
        rule_file = _model(RuleFile, raw, rel, problems, rule_ids)
        if rule_file is not None:
            for rule in rule_file.rules:
                entries.append(RuleEntry(rule=rule, file=rel, topic=rule_file.topic, order=len(entries)))
    if not entries and not problems:
        problems.append("rules/: no rule files found")
    hold_tables: dict[str, HoldTable] = {}
    hold_files = sorted((root / "holds").glob("*.yaml"))
    if not hold_files:
        problems.append("holds/: no antithrombotic hold table found (holds/asra_2018.yaml is expected)")
    for path in hold_files:
        rel = path.relative_to(root).as_posix()
        table = _model(HoldTable, read_yaml(path, problems, root), rel, problems)
        if table is None or vocab is None:
            continue
        hold_tables[table.guideline] = table
        for i, row in enumerate(table.drugs):
            _check_id(row.medication, vocab.medications, "medication", f"{rel}: drugs[{i}]", problems)
            for ref in row.sources:
                _check_ref(ref, sources, f"{rel}: drugs[{i}] ({row.medication}): sources", problems)
        if not problems:
            labels = {name: term.label for name, term in vocab.medications.items()}
            try:
                generated = hold_rules(table, labels)
            except ValidationError as exc:
                problems.append(f"{rel}: a row does not make a valid rule: {exc.errors()[0]['msg']}")
                continue
            for rule in generated:
                entries.append(
                    RuleEntry(rule=rule, file=rel, topic="antithrombotic_holds", order=len(entries), from_table=True)
                )

    if manifest is not None and manifest.default_policy not in policies:
        problems.append(
            f"manifest.yaml: default_policy {manifest.default_policy!r} has no policy file"
            f"{did_you_mean(manifest.default_policy, policies)}"
        )
    index: dict[str, RuleEntry] = {}
    for entry in entries:
        if entry.rule.id in index:
            problems.append(f"{entry.file}: rule {entry.rule.id}: duplicate id (also in {index[entry.rule.id].file})")
        index[entry.rule.id] = entry

    if vocab is not None:
        for name, term in vocab.conditions.items():
            for region in term.regions:
                _check_id(region, vocab.regions, "region", f"vocabulary.yaml: conditions.{name}.regions", problems)
        for name, med in vocab.medications.items():
            _check_id(
                med.drug_class,
                vocab.drug_classes,
                "drug class",
                f"vocabulary.yaml: medications.{name}",
                problems,
            )
    if vocab is not None and information is not None:
        _check_patient_information(information, vocab, index, problems)
    if vocab is not None and catalogue is not None:
        _check_options(catalogue.options, vocab, sources, problems)
        _check_guideline_classes(catalogue.options, policies, problems)
        for ref in catalogue.bleeding_risk_raised_sources:
            _check_ref(ref, sources, "procedures.yaml: bleeding_risk_raised_sources", problems)
    if vocab is not None and not problems:
        params_by_policy = {pid: _params(policies, pid) for pid in policies}
        for entry in entries:
            _check_rule(entry, policies, params_by_policy, vocab, sources, problems)
    if manifest is not None and release:
        _check_release(manifest, root, entries, problems)
    if problems:
        raise KnowledgeError(problems)
    assert manifest is not None and vocab is not None and catalogue is not None
    return Knowledge(
        manifest=manifest,
        vocabulary=vocab,
        sources=sources,
        options=catalogue.options,
        rules=tuple(entries),
        policies=policies,
        content_hash=content_hash(root),
        root=root,
        rule_index=index,
        bleeding_risk_raised_when=catalogue.bleeding_risk_raised_when,
        bleeding_risk_raised_sources=catalogue.bleeding_risk_raised_sources,
        hold_tables=hold_tables,
        patient_information=information,
        questions=questions,
        tabled_medications=frozenset().union(*(tabled_medications(t) for t in hold_tables.values())),
    )


def _params(policies: dict[str, Policy], policy_id: str) -> dict[str, PolicyParam]:
    chain: list[Policy] = []
    current: str | None = policy_id
    seen: set[str] = set()
    while current is not None and current in policies and current not in seen:
        seen.add(current)
        chain.append(policies[current])
        current = policies[current].extends
    params: dict[str, PolicyParam] = {}
    for policy in reversed(chain):
        params.update(policy.params)
    return params


def load_vocabulary(root: Path | None = None) -> Vocabulary:
    """Only the vocabulary, for the case model: it must not depend on the rules being valid."""
    root = (root or KNOWLEDGE_DIR).resolve()
    problems: list[str] = []
    data = read_yaml(root / "vocabulary.yaml", problems, root)
    vocab = _model(Vocabulary, data, "vocabulary.yaml", problems)
    if problems:
        raise KnowledgeError(problems)
    assert isinstance(vocab, Vocabulary)
    return vocab
