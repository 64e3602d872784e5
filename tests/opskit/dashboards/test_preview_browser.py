"""`opskit dashboards preview` opened in a real headless Chromium (Debian's `chromium`).

A local account with traffic (the shipper's loop over gateway-shaped lines: log events,
metric-filter metrics, derived metrics, raw values) -> `dashboards preview --out` -> Chromium
loads the file offline, takes a screenshot and dumps the DOM after the page's self-check
(#selftest): one uPlot chart per metric widget, each canvas inked, a series line drawn on
every chart that has data, no JavaScript errors (page-level and Chromium's console log).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from opskit.cli import cli
from opskit.dashboards.render import default_template
from opskit.local.metrics import Target
from tests.opskit.alarms.fake_stack import OUTPUTS, STACK, create_fake_stack
from tests.opskit.local_traffic import ship, traffic

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def browser_or_skip() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")


def test_preview_draws_every_chart_in_a_real_browser(browser_or_skip, local_env, clients, tmp_path):
    create_fake_stack(clients)
    assert CliRunner().invoke(cli, ["--env", "local", "alarms", "apply"]).exit_code == 0
    now = datetime.now(UTC)
    target = Target(OUTPUTS["ApiId"], "$default", OUTPUTS["FunctionName"])
    ship(
        clients,
        local_env / ".opskit",
        f"/aws/lambda/{STACK}-gateway",
        target,
        traffic(now, 12),
        now,
    )

    out = tmp_path / "preview.html"
    result = CliRunner().invoke(
        cli, ["--env", "local", "dashboards", "preview", "--hours", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    # Offline by construction: nothing to fetch.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(http" not in page and "@import" not in page

    body = json.loads(default_template(Path.cwd()).read_text())
    metric_widgets = [w for w in body["widgets"] if w["type"] == "metric"]
    log_widgets = [w for w in body["widgets"] if w["type"] == "log"]

    profile = tmp_path / "profile"
    shot = tmp_path / "preview.png"
    drawn = chromium(
        ["--window-size=1400,2400", f"--screenshot={shot}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=10000", "--dump-dom", out.as_uri() + "#selftest"],
        profile,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000  # a page, not a blank image
    keep = os.environ.get("OPSKIT_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
        shutil.copy(out, Path(keep).with_suffix(".html"))

    match = re.search(r'<pre id="selftest">(.*?)</pre>', drawn.stdout, re.S)
    assert match, drawn.stdout[-2000:]
    report = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert report["errors"] == []
    console_errors = [
        line for line in drawn.stderr.splitlines() if "CONSOLE" in line and ":ERROR:" in line
    ]
    assert console_errors == []

    charts = report["charts"]
    assert [c["title"] for c in charts] == [w["properties"]["title"] for w in metric_widgets]
    assert all(c["canvases"] == 1 and c["ink"] > 1000 for c in charts), charts
    with_data = [c for c in charts if c["points"]]
    # Requests, 4xx/5xx, latency, duration, errors, cold starts, gateway filters at least
    assert len(with_data) >= 6, charts
    assert all(c["colored"] > 50 for c in with_data), with_data  # a series line was drawn
    titles = {c["title"]: c for c in with_data}
    assert "Gateway: rate limited / upstream errors" in titles  # metric-filter metrics
    assert "Latency (ms)" in titles  # percentiles computed from raw values

    assert [entry["title"] for entry in report["logs"]] == [
        w["properties"]["title"] for w in log_widgets
    ]
    rows = {entry["title"]: entry["rows"] for entry in report["logs"]}
    assert rows["Errors by route (queries/errors.insights)"] >= 1
    assert rows["Upstream errors (queries/upstream-errors.insights)"] == 1  # users only
    dom = drawn.stdout
    assert "gateway-upstream-error-share" in dom and 'class="state ALARM"' in dom
    assert "API gateway</h1>" in dom  # the text widget's Markdown heading
