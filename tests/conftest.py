from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import HealthCheck, settings

# `make test` runs the fast profile; SPINE_CDS_HYPOTHESIS=long runs many more generated cases.
settings.register_profile("fast", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG_EXAMPLES = int(__import__("os").environ.get("SPINE_CDS_LONG_EXAMPLES", "12500"))  # x 8 generated tests = 100,000
settings.register_profile(
    "long", max_examples=LONG_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(__import__("os").environ.get("SPINE_CDS_HYPOTHESIS", "fast"))

import os  # noqa: E402
import tempfile  # noqa: E402

# The app's store in tests: a throwaway SQLite file, never the developer's own.
os.environ.setdefault("SPINE_CDS_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='spine-cds-test-')}/store.sqlite")
# ... and its audit key, never the developer's own key file.
os.environ.setdefault("SPINE_CDS_AUDIT_KEY_FILE", f"{tempfile.mkdtemp(prefix='spine-cds-test-key-')}/audit-key")
os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="spine-cds-test-data-"))
