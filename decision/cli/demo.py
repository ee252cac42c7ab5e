"""`spine-cds ui --demo`: the demo cases put into the embedded database, and only there.

Seeding is explicit because a store is a clinical record: demo cases written into a shared MDT
database would sit among real patients' cases. So only the default SQLite file in the user's data
folder is seeded; a database named by SPINE_CDS_DATABASE_URL never is.
"""

from __future__ import annotations

from decision.cli.inputs import InputError
from decision.settings import default_database, default_database_url, env_name, load_settings


def seed_embedded_database() -> str:
    """Store each demo case not yet in the embedded database (source `demo`); what was done, in a line.

    Refused, before anything is written, when the settings name another database."""
    if load_settings().database_url != default_database_url():
        raise InputError(
            [
                f"--demo: demo cases are only put into the embedded database ({default_database()}); "
                f"{env_name('database_url')} names another, so nothing was seeded. Unset it to try the demo, "
                "or start without --demo"
            ]
        )
    from decision.demo_cases import demo_cases
    from decision.evaluator import default_evaluator
    from decision.store import CaseStore

    demos = demo_cases()
    added = CaseStore(default_database_url()).seed_demo_cases(demos, default_evaluator().evaluate)
    return f"demo cases: {added} added, {len(demos) - added} already there, in {default_database()}"
