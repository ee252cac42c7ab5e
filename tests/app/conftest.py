"""The browser tests' app and page: a module that asks for `app_url` or `page` gets its own
`streamlit run ui/app.py` on a store with the demo cases, and one Chromium page (see browser_app).
Nothing starts for a test that asks for neither."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_app import chromium, seeded_store, streamlit_app


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with streamlit_app({"SPINE_CDS_DATABASE_URL": seeded_store(tmp_path_factory.mktemp("store"))}) as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[object]:
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1400, "height": 1100})
        tab.set_default_timeout(60_000)
        yield tab
