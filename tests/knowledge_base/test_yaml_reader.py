"""Knowledge YAML is read by libyaml when PyYAML has it (issue 17: the pure-Python parser was about
half of loading the knowledge), with the pure-Python SafeLoader's answers: the same data, the same
refusals, the same messages (file, line, what is wrong), and the alias bound of issue 14."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import knowledge.loader as loader
from knowledge.loader import KNOWLEDGE_DIR, read_yaml

pytestmark = pytest.mark.skipif(loader._FAST_LOADER is None, reason="PyYAML built without libyaml")

_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{level}: &{level} [{', '.join(['*' + chr(ord(level) - 1)] * 9)}]\n" for level in "bcdefghi"
)

HOSTILE = {
    "alias bomb": _BOMB,
    "unclosed flow": "rules:\n  - id: x\n    when: [a, b\n",
    "bad indent": "a: 1\n b: 2\n",
    "tab": "a:\n\t- 1\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "undefined alias": "a: *nope\n",
    "recursive alias": "a: &r [*r]\n",
    "python tag": "a: !!python/object:os.system x\n",
    "control character": "a: b\x07c\n",
    "bad escape": 'a: "\\q"\n',
    "bad merge": "d:\n  <<: [1]\n",
    "merge": "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n",
    "nested 150 deep": "a: " + "[" * 150 + "]" * 150 + "\n",
    "nested 600 deep": "a: " + "[" * 600 + "]" * 600 + "\n",
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "scalars": "d: 2026-12-03\nn: 1_000\no: 0o17\nf: .5\nb: yes\nz: ~\n",
}


def _read(path: Path, root: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    with monkeypatch.context() as patched:
        if not fast:
            patched.setattr(loader, "_FAST_LOADER", None)
        problems: list[str] = []
        return read_yaml(path, problems, root), problems


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_file_reads_as_the_pure_python_loader_reads_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules" / "file.yaml"
    path.parent.mkdir()
    path.write_text(HOSTILE[name], encoding="utf-8")
    assert repr(_read(path, tmp_path, True, monkeypatch)) == repr(_read(path, tmp_path, False, monkeypatch))


def test_the_alias_bound_holds_with_libyaml_without_the_pure_python_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml composes the nodes the bound is counted on; the pure-Python loader is not asked."""
    (tmp_path / "bomb.yaml").write_text(_BOMB)
    monkeypatch.setattr(yaml, "SafeLoader", None)
    problems: list[str] = []
    started = time.perf_counter()
    assert read_yaml(tmp_path / "bomb.yaml", problems, tmp_path) is None
    assert time.perf_counter() - started < 10
    assert problems == ["bomb.yaml: its aliases expand to more than 200,000 entries; not read"]


def test_a_syntax_error_names_file_and_line_as_before(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("a: 1\nb: [2, 3\n")
    problems: list[str] = []
    assert read_yaml(tmp_path / "broken.yaml", problems, tmp_path) is None
    assert problems[0].startswith(
        'broken.yaml: not valid YAML: while parsing a flow sequence\n  in "<unicode string>", line 2'
    )


def test_the_shipped_knowledge_is_read_by_libyaml_with_the_same_data(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in sorted(KNOWLEDGE_DIR.rglob("*.yaml")):
        slow = _read(path, KNOWLEDGE_DIR, False, monkeypatch)
        with monkeypatch.context() as patched:
            patched.setattr(yaml, "SafeLoader", None)  # a fall-back would fail here
            fast = _read(path, KNOWLEDGE_DIR, True, monkeypatch)
        assert fast == slow, path
        assert not fast[1], path
