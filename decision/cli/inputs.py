"""Input files of the command line: read as UTF-8, parsed as JSON or YAML, refused with the
line and column (never a traceback). Batch reads its lines through the same parser."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from knowledge.problems import ProblemError


class InputError(ProblemError):
    """Input the user can fix: a missing file, bad JSON, an invalid case."""

    title = "invalid input"


def read_text(path: str) -> str:
    if path == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open_binary(path) as source:
            raw = source.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    if not text.strip():
        raise InputError([f"{path}: the file is empty; expected a case as JSON or YAML"])
    return text


def parse_document(text: str, name: str) -> Any:
    """JSON, or YAML for .yaml/.yml files; errors give the line and column."""
    if name.endswith((".yaml", ".yml")):
        return _parse_yaml(text, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if name == "-" and not text.lstrip().startswith(("{", "[")):
            return _parse_yaml(text, name)  # stdin has no file name to tell YAML from JSON
        raise InputError([f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]) from None
    except RecursionError:
        raise InputError([f"{name}: nested too deeply to be a case"]) from None


def _parse_yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError([f"{name}: not valid YAML: {exc}"]) from None
    except RecursionError:
        raise InputError([f"{name}: nested too deeply to be a case"]) from None


class OutputFile:
    """An output written beside its target and renamed over it only when complete: an interrupted
    run never leaves half a file under the real name, and the target (perhaps a link to something
    else) is replaced, never truncated in place."""

    def __init__(self, path: str) -> None:
        target = Path(path)
        if target.is_dir():
            raise InputError([f"--out {path}: is a directory, expected a file name"])
        if not target.parent.is_dir():
            raise InputError([f"--out {path}: its folder does not exist"])
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        except OSError as exc:
            raise InputError([f"--out {path}: cannot be written ({exc.strerror})"]) from None
        self.target = target
        self.temporary = Path(temporary)
        self.stream = os.fdopen(handle, "w", encoding="utf-8")

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def finish(self, completed: bool) -> None:
        """Rename over the target when the run completed; otherwise drop the partial file."""
        self.stream.close()
        if completed:
            os.replace(self.temporary, self.target)
        else:
            self.temporary.unlink(missing_ok=True)


def open_output(path: str) -> OutputFile:
    return OutputFile(path)


def open_binary(path: str) -> Any:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise InputError([f"{path}: is a directory, expected a file"]) from None
    except OSError as exc:
        raise InputError([f"{path}: cannot be read ({exc.strerror})"]) from None
