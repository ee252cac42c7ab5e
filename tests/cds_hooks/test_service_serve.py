"""`spine-cds serve` as a user starts it: the README's curl session, run against a real server in a
subprocess, prints what the README shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_server import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
SEPARATOR = "@@ spine-cds readme command done @@"


def _spine_cds() -> list[str]:
    script = Path(sys.executable).parent / "spine-cds"
    return [str(script)] if script.exists() else [sys.executable, "-m", "decision.cli.command"]


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
        return bool(answer.status == 200)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[str]]]:
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**os.environ, "SPINE_CDS_DATABASE_URL": f"sqlite:///{folder / 'cds.sqlite'}"}
    server = subprocess.Popen(
        [*_spine_cds(), "serve", "--host", "127.0.0.1", "--port", str(port), "--allow-unauthenticated"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: _healthy(url), seconds=90, pause=0.5):
            server.terminate()
            pytest.fail(f"spine-cds serve did not start: {server.communicate(timeout=20)[1][-2000:]}")
        yield url, {**env, "SPINE_CDS_TMP": str(folder)}, server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)


def _example_call(url: str) -> urllib.request.Request:
    """The README's example patient-view call, posted to the served service."""
    request = json.loads((ROOT / "examples" / "cds-hooks" / "patient-view.json").read_text(encoding="utf-8"))
    return urllib.request.Request(
        f"{url}/cds-services/spine-cds-patient-view",
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
    )


def _session() -> list[tuple[str, str]]:
    """The README's CDS Hooks session as (command, output shown) pairs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- cds-hooks-session", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    pairs: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], ""))
        else:
            command, shown = pairs[-1]
            pairs[-1] = (command, shown + line + "\n")
    return pairs


def _normalised(text: str) -> str:
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    text = re.sub(r"\?case=[A-Za-z0-9_-]+", "?case=<id>", text)
    text = re.sub(r'"knowledge_hash":"[0-9a-f]+"', '"knowledge_hash":"<hash>"', text)
    text = re.sub(r"\b\d{4}\.\d+\.\d+\b", "<version>", text)  # the knowledge version, as in test_readme
    return text.rstrip("\n")


def test_the_readmes_curl_session_prints_what_the_readme_shows(
    served: tuple[str, dict[str, str], subprocess.Popen[str]],
) -> None:
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.skip("the README session uses curl and jq")
    url, env, _server = served
    pairs = _session()
    assert any("serve" in command for command, _ in pairs), "the session starts the service"
    script = []
    run = []
    for command, shown in pairs:
        if " serve " in command:
            continue  # the fixture started the server, on a free port, over a throwaway store
        command = command.replace("http://127.0.0.1:8080", url).replace("/tmp/", f"{env['SPINE_CDS_TMP']}/")
        script += [command, f"echo '{SEPARATOR}'"]
        run.append((command, shown))
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    outputs = result.stdout.split(SEPARATOR + "\n")[:-1]
    assert len(outputs) == len(run), result.stderr
    for (command, shown), printed in zip(run, outputs, strict=True):
        assert _normalised(printed) == _normalised(shown), f"$ {command}"


def test_a_cards_link_opens_the_assessment_in_the_app_over_the_same_store(
    served: tuple[str, dict[str, str], subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README promises that a card's link opens the case in `make run`'s app: the service and
    the app read one store, so the id in the link is a stored case the clinician page loads."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    url, env, _server = served
    with urllib.request.urlopen(_example_call(url), timeout=30) as answer:
        cards = json.load(answer)["cards"]
    link = cards[0]["links"][0]["url"]
    assert link.startswith("http://localhost:8501/?case=")
    case_id = link.split("?case=", 1)[1]
    monkeypatch.setenv("SPINE_CDS_DATABASE_URL", env["SPINE_CDS_DATABASE_URL"])
    st.cache_resource.clear()  # the app's store is cached per process: read the service's store
    try:
        app = AppTest.from_string(
            f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
            "from ui.clinician import clinician_page\nclinician_page()\n",
            default_timeout=60,
        )
        app.query_params["case"] = case_id
        app.run()
        assert not app.exception and not app.error
        shown = "\n".join(m.value for m in app.markdown)
        assert "Needs information" in shown or "NEEDS INFORMATION" in shown
    finally:
        st.cache_resource.clear()


def test_serve_logs_one_json_line_per_request_and_no_patient_id(
    served: tuple[str, dict[str, str], subprocess.Popen[str]],
) -> None:
    url, _env, server = served
    with urllib.request.urlopen(_example_call(url), timeout=30) as answer:
        assert answer.status == 200 and json.load(answer)["cards"]
    with urllib.request.urlopen(f"{url}/cds-services", timeout=10) as answer:
        assert {s["hook"] for s in json.load(answer)["services"]} == {"patient-view", "order-select"}
    server.terminate()
    _, stderr = server.communicate(timeout=20)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    hooks = [line for line in lines if line.get("hook") == "patient-view" and line["status"] == 200]
    assert hooks and {"service", "hookInstance", "status", "duration_ms", "cards"} <= set(hooks[-1])
    assert "example-patient" not in stderr


def test_serve_refuses_an_unknown_policy_before_listening(capsys: pytest.CaptureFixture[str]) -> None:
    from decision.cli.command import main

    assert main(["serve", "--policy", "nicee", "--port", str(free_port())]) == 2
    assert "unknown policy 'nicee' (did you mean 'nice'?)" in capsys.readouterr().err
