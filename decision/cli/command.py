"""The `spine-cds` command.

Exit codes: 0 ok, 2 invalid input (the message names the field), 3 invalid knowledge, 4 a
tampered audit trail, 141 the output closed before everything was written, 1 an internal error. No traceback reaches the user (set SPINE_CDS_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import yaml

from decision.cli.inputs import InputError, OutputFile, open_binary, open_output, parse_document, read_text
from decision.settings import SettingsError, load_settings
from knowledge.loader import KnowledgeError, load_knowledge, release_problems
from knowledge.problems import ProblemError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_KNOWLEDGE, EXIT_TAMPERED = 0, 1, 2, 3, 4
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a process its reader closed on (128 + SIGPIPE)."""

EXIT_CODES: dict[type[ProblemError], tuple[int, str]] = {
    KnowledgeError: (EXIT_KNOWLEDGE, "invalid knowledge"),
    SettingsError: (EXIT_INPUT, "invalid settings"),
    ProblemError: (EXIT_INPUT, "invalid input"),
}
"""Every refusal's exit code and heading, found by the error's class (its nearest listed base)."""


def exit_code(error: ProblemError) -> tuple[int, str]:
    return next(EXIT_CODES[cls] for cls in type(error).__mro__ if cls in EXIT_CODES)


def _case_payload(document: Any, name: str) -> Any:
    """A case, or a vignette whose `case` is evaluated (handy for checking vignettes by hand)."""
    if isinstance(document, dict) and set(document) >= {"case", "expect"}:
        print(f"{name}: a vignette; evaluating its case", file=sys.stderr)
        return document["case"]
    return document


def _evaluate(payload: Any, policy: str | None) -> Any:
    from decision.evaluator import default_evaluator

    return default_evaluator().evaluate(payload, policy)


def _evaluate_fhir(document: Any, name: str, policy: str | None) -> Any:
    from decision.fhir import FhirInputError, case_from_bundle, evaluate_imported

    try:
        imported = case_from_bundle(document)
        return evaluate_imported(imported, policy)
    except FhirInputError as exc:
        raise InputError([f"{name}: {p}" for p in exc.echoed_problems]) from None


def cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    from decision.evaluator import default_evaluator
    from decision.explain import to_markdown, to_text

    text = read_text(args.case)
    document = parse_document(text, args.case)
    if args.fhir:
        report = _evaluate_fhir(document, args.case, args.policy)
    else:
        report = _evaluate(_case_payload(document, args.case), args.policy)
    if args.format == "json":
        out.write(report.model_dump_json(indent=2) + "\n")
    elif args.format == "markdown":
        out.write(to_markdown(report, default_evaluator().knowledge))
    else:
        out.write(to_text(report, default_evaluator().knowledge))
    return EXIT_OK


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


class _Progress:
    """A progress line on stderr, only when it is a terminal or asked for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, done: int, failed: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.2):
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        end = "\n" if final else "\r"
        print(f"  {_cases(done)}, {failed} invalid, {rate:,.0f} cases/s", end=end, file=sys.stderr, flush=True)


def _same_file(first: str, second: str) -> bool:
    """The same file by identity (a hard link or a symbolic link included), not by name."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return Path(first).resolve() == Path(second).resolve()


PIPE_BYTES = 1 << 16
"""A pipe's default capacity on Linux (F_GETPIPE_SZ)."""
PIECE = PIPE_BYTES // 4
"""Characters written at a time: at most a pipe's capacity in UTF-8 (4 bytes a character at most)."""


def _write_through(sink: TextIO | OutputFile, text: str) -> None:
    """`text` written and flushed at most a pipe's capacity at a time. One write larger than the
    pipe is reported whole even when its reader went away part-way (`| head -c 10`, measured on
    Linux); written in pieces, the piece after the reader left fails (BrokenPipeError: not
    success). As with any writer, a reader that leaves during the run's last piece goes unseen."""
    for start in range(0, len(text), PIECE):
        sink.write(text[start : start + PIECE])
        sink.flush()


def cmd_batch(args: argparse.Namespace, out: TextIO) -> int:
    from decision.case import Case
    from decision.cli.batch import run_dask, run_workers, serial_blocks
    from decision.evaluator import default_evaluator

    default_evaluator().policy_id(Case(), args.policy)  # an unknown policy fails once, not once per line
    if args.dask:
        if not args.out or args.out == "-":
            raise InputError(["--dask needs --out DIR: the results are written as one JSONL part per input file"])
        try:
            cases, invalid = run_dask(args.cases, args.out, args.dask, args.policy)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] not in ("dask", "distributed"):
                raise
            raise InputError(["--dask needs the scale extra: pip install 'spine-cds[scale]'"]) from None
        except FileNotFoundError:
            raise InputError([f"{args.cases}: no file matches"]) from None
        print(f"{_cases(cases)}: {cases - invalid} evaluated, {invalid} invalid; parts in {args.out}", file=sys.stderr)
        return EXIT_INPUT if invalid else EXIT_OK
    if args.workers < 1:
        raise InputError([f"--workers {args.workers}: expected 1 or more"])
    if args.out not in (None, "-") and args.cases != "-" and _same_file(args.out, args.cases):
        raise InputError([f"--out {args.out}: is the input file; writing it would destroy the cases"])
    source = sys.stdin.buffer if args.cases == "-" else open_binary(args.cases)
    target = None if args.out in (None, "-") else open_output(args.out)
    sink: TextIO | OutputFile = out if target is None else target
    completed = False
    progress = _Progress(args.progress or (sys.stderr.isatty() and not os.environ.get("CI")))
    done = failed = 0
    try:
        blocks = (
            serial_blocks(source, args.policy) if args.workers == 1 else run_workers(source, args.policy, args.workers)
        )
        for block in blocks:
            done += block.cases
            failed += block.invalid
            _write_through(sink, block.text)
            progress.update(done, failed)
        completed = True
    finally:
        if target is not None:
            target.finish(completed)
        if source is not sys.stdin.buffer:
            source.close()
    progress.update(done, failed, final=True)
    print(f"{_cases(done)}: {done - failed} evaluated, {failed} invalid", file=sys.stderr)
    return EXIT_INPUT if failed else EXIT_OK


def cmd_kb_validate(args: argparse.Namespace, out: TextIO) -> int:
    from decision.evaluator import CaseEvaluator

    if args.root and not Path(args.root).is_dir():
        raise InputError([f"--root {args.root}: no such folder"])
    root = Path(args.root) if args.root else None
    # The content first (every defect of a draft is named), then whether it is the release.
    knowledge = load_knowledge(root, release=False)
    evaluator = CaseEvaluator(knowledge)  # compiling checks every field
    problems = release_problems(knowledge)
    if problems:
        raise KnowledgeError(problems)
    engine_rules = sum(p.engine_rule_count for p in evaluator.policies.values())
    from knowledge.codemaps import load_codemaps

    codes = load_codemaps(Path(args.root) if args.root else None)
    out.write(
        f"knowledge {knowledge.version} ({knowledge.content_hash[:12]}) is valid: "
        f"{len(knowledge.rules)} rules, {len(knowledge.sources)} sources, {len(knowledge.options)} procedure options, "
        f"policies {', '.join(sorted(knowledge.policies))}; {engine_rules} engine rules compiled\n"
        f"FHIR code maps {codes.maps.version} are valid: {len(codes.conditions)} billable ICD-10-CM and other condition "
        f"codes, {len(codes.observations)} observation, {len(codes.medications)} medication, "
        f"{len(codes.procedures)} procedure codes\n"
    )
    return EXIT_OK


def cmd_kb_release(args: argparse.Namespace, out: TextIO) -> int:
    """Validate a reviewed folder and write its manifest: the one step that accepts a change."""
    from decision.evaluator import CaseEvaluator
    from knowledge.release import write_release

    if args.root and not Path(args.root).is_dir():
        raise InputError([f"--root {args.root}: no such folder"])
    root = Path(args.root) if args.root else None
    knowledge = load_knowledge(root, release=False)
    CaseEvaluator(knowledge)  # compiles: a release must build, not only load
    manifest = write_release(root, args.version, knowledge)
    out.write(
        f"knowledge {manifest.version} released: {len(manifest.files)} files and {len(manifest.rules)} rules "
        "in manifest.yaml\n"
    )
    return EXIT_OK


def cmd_kb_show(args: argparse.Namespace, out: TextIO) -> int:
    knowledge = load_knowledge()
    if not args.rule:
        for entry in knowledge.rules:
            scope = f" [policies: {', '.join(entry.rule.policies)}]" if entry.rule.policies else ""
            out.write(f"{entry.rule.id:45} {entry.rule.title}{scope}\n")
        return EXIT_OK
    found = knowledge.rule_index.get(args.rule)
    if found is None:
        from knowledge.loader import did_you_mean

        raise InputError([f"rule: unknown rule {args.rule!r}{did_you_mean(args.rule, knowledge.rule_index)}"])
    entry = found
    rule = entry.rule
    from decision.evaluator import default_evaluator
    from decision.rule_text import params_used, rule_text

    evaluator = default_evaluator()
    policy_id = args.policy or knowledge.manifest.default_policy
    if policy_id not in evaluator.policies:
        from knowledge.loader import did_you_mean

        raise InputError([f"--policy: unknown policy {policy_id!r}{did_you_mean(policy_id, evaluator.policies)}"])
    words = rule_text(rule, evaluator.policies[policy_id])
    out.write(f"{rule.id}: {words.title}\nfile: knowledge/{entry.file}\n\n{words.statement}\n\n")
    out.write(f"evidence: {rule.evidence}\n")
    if rule.recheck:
        out.write("recheck: rests on a recalled figure; re-check the source before relying on it\n")
    out.write("sources:\n")
    for ref in rule.sources:
        out.write(f"  - {ref}: {knowledge.source_label(ref)}\n")
    out.write(f"policies: {', '.join(rule.policies) if rule.policies else 'all'} (figures shown: policy {policy_id})\n")
    params = knowledge.params_for(policy_id)
    for name in sorted(params_used(rule) & set(params)):
        param = params[name]
        out.write(f"  {name} = {param.value} {param.unit}: {param.question} [{param.source}]\n")
    raw = yaml.safe_load((knowledge.root / entry.file).read_text(encoding="utf-8"))
    if entry.from_table:
        # a row of a hold table: show the row the clinician reviews, then the rule made from it
        row = next(d for d in raw["drugs"] if rule.id.split(".")[1] == d["medication"])
        out.write("\ntable row as written:\n")
        out.write(yaml.safe_dump(row, sort_keys=False))
        out.write("\nwhen/then as written (generated from the row):\n")
        out.write(
            yaml.safe_dump(rule.model_dump(mode="json", include={"when", "then"}, exclude_none=True), sort_keys=False)
        )
    else:
        source_rule = next(r for r in raw["rules"] if r.get("id") == rule.id)
        out.write("\nwhen/then as written:\n")
        out.write(yaml.safe_dump({"when": source_rule["when"], "then": source_rule["then"]}, sort_keys=False))
    if rule.tests:
        out.write(f"\nvignettes: {', '.join(rule.tests)}\n")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    from decision.case import Case
    from decision.report import Report

    model = Case if args.which == "case" else Report
    out.write(json.dumps(model.model_json_schema(), indent=2) + "\n")
    return EXIT_OK


def _audit_store(database: str | None) -> Any:
    from decision.store import CaseStore

    url = load_settings(database_url=database).database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        named = f"--database {database}" if database else "the app's database (SPINE_CDS_DATABASE_URL or the default)"
        raise InputError(
            [f"{named}: no such SQLite file yet ({url.removeprefix('sqlite:///')}); nothing has been stored"]
        )
    return CaseStore(url)


def cmd_audit_verify(args: argparse.Namespace, out: TextIO) -> int:
    store = _audit_store(args.database)
    entries = store.audit_trail()
    problems = store.verify_audit()
    if not store.keyed:
        out.write(f"audit trail UNVERIFIABLE: {len(entries)} entries\n")
        for problem in problems:
            out.write(f"  - {problem}\n")
        return EXIT_TAMPERED
    if problems:
        out.write(f"audit trail TAMPERED: {len(problems)} problem(s) in {len(entries)} entries\n")
        for problem in problems:
            out.write(f"  - {problem}\n")
        return EXIT_TAMPERED
    out.write(
        f"audit trail intact: {len(entries)} entries, each matching its signed hash, the one before and the "
        "rows it records\n"
    )
    return EXIT_OK


def cmd_audit_checkpoint(args: argparse.Namespace, out: TextIO) -> int:
    store = _audit_store(args.database)
    checkpoint = store.checkpoint(args.who)
    out.write(
        f"audit checkpoint {checkpoint.number}: {checkpoint.entries} entries, head {checkpoint.head_hash}, "
        f"signature {checkpoint.signature}\n"
    )
    return EXIT_OK


def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    from decision.cli.bench import format_table, memory_run, run_benchmark

    if args.memory_cases is not None:
        if args.memory_cases < 1:
            raise InputError(["--memory-cases must be at least 1"])
        every = max(1, args.memory_cases // 10)
        for mark in memory_run(args.memory_cases, every):
            out.write(f"{mark['cases']:>10,.0f} cases  {mark['rss_mb']:6.1f} MB RSS  {mark['seconds']:7.0f} s\n")
            out.flush()
        return EXIT_OK
    if args.cases < 100 or args.scale_cases < 10:
        raise InputError(["--cases must be at least 100 and --scale-cases at least 10"])
    results = run_benchmark(args.cases, args.scale_cases)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    out.write(json.dumps(results, indent=2) + "\n" if args.json else format_table(results) + "\n")
    return EXIT_OK


def cmd_ui(args: argparse.Namespace, out: TextIO) -> int:
    """The Streamlit app; with --demo, the embedded database is seeded with the demo cases first."""
    if args.demo:
        from decision.cli.demo import seed_embedded_database

        print(seed_embedded_database(), file=sys.stderr)
    app = Path(__file__).resolve().parent.parent.parent / "ui" / "app.py"
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true"])


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    """The CDS Hooks service; one JSON log line per request on stderr, without patient data."""
    import logging

    import uvicorn

    from decision.case import Case
    from decision.cds_hooks.service import create_app

    settings = load_settings(
        database_url=args.database,
        ui_url=args.ui_url,
        service_host=args.host,
        service_port=args.port,
        service_policy=args.policy,
        service_trust=tuple(args.trust) if args.trust else None,
        service_trust_file=args.trust_file,
        service_allow_unauthenticated=args.allow_unauthenticated or None,
        service_allow_origins=tuple(args.allow_origin) if args.allow_origin else None,
        service_url=args.public_url,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    service_log = logging.getLogger("spine_cds.service")
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)
    service_log.propagate = False
    from decision.reload import shared_reloader

    # An unknown policy is refused before serving; the evaluator built here is the one that serves.
    shared_reloader().evaluator().policy_id(Case(), settings.service_policy)
    app = create_app(settings)
    address = f"http://{settings.service_host}:{settings.service_port}"
    print(f"spine-cds CDS Hooks service on {address}/cds-services (cards link to {settings.ui_url})", file=sys.stderr)
    if settings.service_allow_unauthenticated:
        print(
            "WARNING: --allow-unauthenticated: any caller is answered; a local demo only, never a deployment",
            file=sys.stderr,
        )
    elif not settings.service_trust and settings.service_trust_file is None:
        print("no trusted CDS client (--trust): every hook and feedback call will be refused (401)", file=sys.stderr)
    uvicorn.run(app, host=settings.service_host, port=settings.service_port, access_log=False, log_level="warning")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spine-cds", description="Decision support for image-guided spinal injections."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("evaluate", help="evaluate one case (JSON or YAML; - for stdin)")
    ev.add_argument("case")
    ev.add_argument("--format", choices=("json", "text", "markdown"), default="text")
    ev.add_argument("--policy", help="policy profile (clinic, nice, cms); default: the case's, else clinic")
    ev.add_argument(
        "--fhir", action="store_true", help="CASE is a FHIR R4B Bundle (JSON); what cannot be mapped is listed"
    )
    ev.set_defaults(func=cmd_evaluate)

    batch = sub.add_parser("batch", help="evaluate a JSONL file of cases into a JSONL file of reports")
    batch.add_argument("cases")
    batch.add_argument("--out", help="output JSONL (default stdout)")
    batch.add_argument("--policy")
    batch.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    batch.add_argument("--workers", type=int, default=1, help="worker processes, each with its own engine (default 1)")
    batch.add_argument(
        "--dask",
        help="run on Dask: 'local' (a 2-worker LocalCluster) or a scheduler address "
        "(tcp://host:8786); CASES may be a glob, one partition per file; --out is a folder",
    )
    batch.set_defaults(func=cmd_batch)

    kb = sub.add_parser("kb", help="the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    validate = kb_sub.add_parser("validate", help="load, check and compile every knowledge file")
    validate.add_argument("--root", help="knowledge folder (default: the shipped one)")
    validate.set_defaults(func=cmd_kb_validate)
    release = kb_sub.add_parser(
        "release", help="after review: validate the folder and write its manifest (files and rules with hashes)"
    )
    release.add_argument("--root", help="knowledge folder (default: the shipped one)")
    release.add_argument("--version", help="the release's version, year.minor.patch (default: unchanged)")
    release.set_defaults(func=cmd_kb_release)
    show = kb_sub.add_parser("show", help="list the rules, or show one")
    show.add_argument("rule", nargs="?")
    show.add_argument("--policy", help="show the figures of this policy (default: the knowledge's default)")
    show.set_defaults(func=cmd_kb_show)

    schema = sub.add_parser("schema", help="JSON Schema of the case or the report")
    schema.add_argument("which", choices=("case", "report"))
    schema.set_defaults(func=cmd_schema)

    audit = sub.add_parser("audit", help="the MDT store's audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check that no audit entry was edited or removed")
    verify.add_argument(
        "--database", help="SQLAlchemy URL (default: SPINE_CDS_DATABASE_URL, else the app's SQLite file)"
    )
    verify.set_defaults(func=cmd_audit_verify)
    checkpoint = audit_sub.add_parser(
        "checkpoint", help="sign the trail's count and head, so that verify finds entries removed after it"
    )
    checkpoint.add_argument(
        "--database", help="SQLAlchemy URL (default: SPINE_CDS_DATABASE_URL, else the app's SQLite file)"
    )
    checkpoint.add_argument("--who", default="spine-cds audit checkpoint", help="who takes the checkpoint")
    checkpoint.set_defaults(func=cmd_audit_checkpoint)

    bench = sub.add_parser("bench", help="measure the full path, the engine floor and the reference evaluator")
    bench.add_argument("--cases", type=int, default=2000, help="generated cases (default 2000)")
    bench.add_argument("--scale-cases", type=int, default=300, help="cases for the rule-count scaling runs")
    bench.add_argument("--json", action="store_true", help="print JSON instead of the table")
    bench.add_argument("--out", help="also write the JSON results to this file")
    bench.add_argument(
        "--memory-cases",
        type=int,
        help="instead: a batch worker's memory (RSS) over this many cases, read ten times along the way",
    )
    bench.set_defaults(func=cmd_bench)

    ui = sub.add_parser("ui", help="start the Streamlit app")
    ui.add_argument(
        "--demo",
        action="store_true",
        help="first put the demo cases into the embedded database (once; refused when SPINE_CDS_DATABASE_URL "
        "names another database, which is never seeded)",
    )
    ui.set_defaults(func=cmd_ui)

    serve = sub.add_parser("serve", help="start the CDS Hooks 2.0 service (discovery, patient-view, order-select)")
    serve.add_argument("--host", help="address to listen on (default: SPINE_CDS_SERVICE_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: SPINE_CDS_SERVICE_PORT, else 8080)")
    serve.add_argument(
        "--ui-url", help="the spine-cds app that cards link to (default: SPINE_CDS_UI_URL, else http://localhost:8501)"
    )
    serve.add_argument("--database", help="SQLAlchemy URL of the case store (default: as the app)")
    serve.add_argument(
        "--policy",
        help="policy profile for every call (clinic, nice, cms); default: SPINE_CDS_SERVICE_POLICY, else clinic",
    )
    serve.add_argument(
        "--trust",
        action="append",
        metavar="ISSUER=JWKS[,fhir=BASE][,private-network]",
        help="a CDS client (EHR) trusted: its JWT issuer, its JWK Set (https URL or file) and the FHIR base its "
        "fhirServer must be; repeatable",
    )
    serve.add_argument("--trust-file", type=Path, help="YAML file of trusted CDS clients (trusted_clients: ...)")
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="answer calls without a JWT: a local demo only (said on every start)",
    )
    serve.add_argument(
        "--allow-origin", action="append", help="a web origin allowed to call from a browser (CORS); repeatable"
    )
    serve.add_argument(
        "--public-url", help="the service's base URL as the EHR calls it (JWT aud); default: the URL received"
    )
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    try:
        code: int = args.func(args, stream)
        return code
    except ProblemError as exc:
        code, heading = exit_code(exc)
        print(f"{heading}:", file=sys.stderr)
        for problem in exc.echoed_problems:
            print(f"  - {problem}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): what was not written is lost, so this is not success.
        # Python's own flush at exit would fail again on the closed pipe; point stdout at nothing.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("output closed early: not every result was written", file=sys.stderr)
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # the promise: never a traceback, always a message
        if _debug_wanted():
            traceback.print_exc()
        print(
            f"internal error: {type(exc).__name__}: {exc} (set SPINE_CDS_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _debug_wanted() -> bool:
    """SPINE_CDS_DEBUG, read only when an internal error happens; a value it cannot read shows no traceback."""
    try:
        return load_settings().debug
    except SettingsError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
