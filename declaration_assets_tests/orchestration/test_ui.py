"""The Dagster UI in a real (headless) browser: the asset graph, and the eval_report of a materialized partition."""

import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import httpx
import pytest

from declaration_assets.orchestration import backfill, jobs

from ..support.fault_servers import Latency, OpenAIFaultServer
from .casefiles import write_case
from .real_defs import REPLY, isolate, project_defs
from .services import BIN, Service, free_port, service_env, wait_for, write_dagster_home, write_workspace

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LINEAGE = ("case_record", "extracted_text", "chunk_index", "draft", "judge_scores", "guarded_declaration", "eval_report")


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
                 "--window-size=1600,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def page_text(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''") or ""


@pytest.mark.timeout(300)
@pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()), reason="Debian chromium/chromedriver missing")
def test_ui_shows_asset_graph_and_eval_report_partition(tmp_path, monkeypatch):
    """The project's own code location in the webserver, over a case its real assets materialized."""
    inbox = tmp_path / "inbox"
    write_case(inbox, "vawa-0001")
    home = write_dagster_home(tmp_path / "home", overrides={"telemetry": {"enabled": False}})
    with OpenAIFaultServer(latency=Latency(tokens=12), reply=REPLY) as server:
        isolate(monkeypatch, tmp_path, inbox, f"{server.base_url}/v1", references=tmp_path / "references")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            ingest, declaration = jobs.run_case_in_process(project_defs(tmp_path, inbox), instance, "vawa-0001", "default")
            assert declaration is not None and declaration.success

    port = free_port()
    web = Service(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w",
         str(write_workspace(tmp_path / "workspace.yaml", module="declaration_assets.definitions"))],
        service_env(home, DECLARATION_INBOX_DIR=str(inbox), DECLARATION_OUTPUTS_DIR=str(tmp_path / "outputs"),
                    DECLARATION_CACHE_DIR=str(tmp_path / "cache")),
        tmp_path / "webserver.log",
    )
    profile = Path(tempfile.mkdtemp(prefix="declaration-chromium-"))
    driver = None
    try:
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return httpx.get(f"{base}/server_info", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 120, 1, what="dagster-webserver\n" + web.tail())
        driver = browser(profile)

        # The lineage graph upstream of eval_report: every asset in its group box.
        driver.get(f"{base}/assets/eval_report?view=lineage&lineageScope=upstream&lineageDepth=5")

        def graph_shows_lineage() -> bool:
            text = page_text(driver)
            # the graph shortens long labels in the middle ("guard…_declaration")
            labels = {n: n in text or re.search(n[:4] + r"\S*…\S*" + n[-4:], text) is not None for n in LINEAGE}
            return all(labels.values())

        wait_for(graph_shows_lineage, 90, 1, what="the case record and the six assets in the asset graph")
        text = page_text(driver)
        for group in ("ingestion", "declaration", "evaluation"):
            assert group in text

        driver.get(f"{base}/assets/eval_report?partition={quote('vawa-0001|default')}")
        wait_for(lambda: "judge_mean" in page_text(driver), 90, 1, what="eval_report partition metadata")
        text = page_text(driver)
        assert "vawa-0001" in text and "guard_serious" in text and "llm_latency_s" in text

        # The documented GraphQL path of the backfill command, against this webserver.
        backfill_id = backfill.submit_backfill_graphql(f"{base}/graphql", ["vawa-0001"], ["default"])
        with dg.DagsterInstance.from_config(str(home)) as instance:
            stored = instance.get_backfill(backfill_id)
            assert stored is not None
            target = stored.asset_backfill_data.target_subset
            assert {k.to_user_string() for k in target.partitions_subsets_by_asset_key} == set(jobs.DECLARATION_ASSETS)
    finally:
        if driver is not None:
            driver.quit()
        web.stop()
        shutil.rmtree(profile, ignore_errors=True)
