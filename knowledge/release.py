"""Cutting a knowledge release: the manifest names every file and rule of the reviewed folder.

Why: a file deleted, cut after its first rule or added after review must never be served under
the reviewed version. The loader compares the folder with this manifest and refuses any
difference, naming it; only this step, run on purpose after review, accepts a change.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge.loader import KNOWLEDGE_DIR, Knowledge, KnowledgeError, load_knowledge, release_files, rule_hashes
from knowledge.schema import Manifest

HEADER = """\
# spine-cds knowledge base. Versioned like a guideline: year.minor.patch.
# Every report carries this version and a hash of every file in this folder.
# `files` and `rules` are the reviewed release: written by `spine-cds kb release`, never by hand.
# The loader refuses a folder whose files or rules differ from them, naming what changed.
"""


def write_release(root: Path | None = None, version: str | None = None, knowledge: Knowledge | None = None) -> Manifest:
    """Validate the folder (or take `knowledge`, loaded from it with release=False), then write its
    manifest with `version` (default: the current one)."""
    root = (root or KNOWLEDGE_DIR).resolve()
    if knowledge is None:
        knowledge = load_knowledge(root, release=False)
    fields = knowledge.manifest.model_dump()
    fields.update(
        version=version or knowledge.manifest.version,
        files=release_files(root),
        rules=rule_hashes(knowledge.rules),
    )
    try:
        manifest = Manifest.model_validate(fields)
    except ValueError:
        raise KnowledgeError([f"--version {version}: expected year.minor.patch, e.g. 2026.1.1"]) from None
    body = yaml.safe_dump(manifest.model_dump(), sort_keys=False, allow_unicode=True, width=120)
    (root / "manifest.yaml").write_text(HEADER + body, encoding="utf-8")
    return manifest
