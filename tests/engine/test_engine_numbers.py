"""durable-rules' C core crashes the process on a number written in exponent form (measured: a
segmentation fault for 1e-05, 1e-07, 1e-20 and 1e16 in a fact, none for 0.5). The case refuses such
numbers, so no valid case can take a worker down; found by the property tests (platelets 5e-324)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from decision.evaluator import InvalidCase, default_evaluator

_FACT_WITH = """
import sys
from durable.engine import Host


class _Host(Host):
    def get_action(self, name):
        return lambda closure: None


host = _Host()
host.register_rulesets({"num": {"r": {"all": [{"m": {"k": "x"}}], "run": "noop"}}})
host.assert_facts("num", [{"sid": "1", "k": "x", "v": float(sys.argv[1])}])
print("survived")
"""


def _assert_number(value: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _FACT_WITH, value], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_number_in_exponent_form_crashes_the_engine() -> None:
    plain = _assert_number("0.5")
    assert plain.returncode == 0 and "survived" in plain.stdout, plain.stderr
    for value in ("1e-07", "1e16"):
        crashed = _assert_number(value)
        assert crashed.returncode == -signal.SIGSEGV and "survived" not in crashed.stdout, value


DIAGNOSIS = [{"condition": "herniated_disc", "region": "lumbar"}]


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ({"labs": {"platelets": 5e-324}}, "labs.platelets"),
        ({"labs": {"inr": 1e-7}}, "labs.inr"),
        ({"medications": [{"name": "apixaban", "last_dose_hours_ago": 1e-5}]}, "medications[0].last_dose_hours_ago"),
        ({"labs": {"ranges": {"inr": {"low": 1e-9, "high": 1.2}}}}, "labs.ranges.inr.low"),
    ],
)
def test_the_case_refuses_numbers_the_engine_cannot_read(case: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidCase) as refused:
        default_evaluator().evaluate({**case, "diagnoses": DIAGNOSIS})
    assert field in refused.value.problems[0] and "not a measurement" in refused.value.problems[0]


def test_zero_and_small_measurements_are_still_read() -> None:
    for platelets in (0.0, 0.0001, 12.5):
        report = default_evaluator().evaluate({"labs": {"platelets": platelets}, "diagnoses": DIAGNOSIS})
        assert report.candidates
