"""`opskit dashboards preview`: the filled dashboard as one self-contained HTML file.

Same 24-column grid as CloudWatch (x, y, width, height of every widget); metric widgets are
charted from GetMetricData over the window (CloudWatch, or the local account's GetMetricData
over the raw values its shipper kept: percentiles and metric math included); log widgets show
their query's result table (Logs Insights, or the local engine); text widgets are rendered
Markdown (raw HTML escaped); alarm widgets list the alarms' states.

Offline by construction: uPlot (assets/, see its README for why) and the page's own script and
style are inlined; nothing is fetched when the file is opened.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef
    from mypy_boto3_logs import CloudWatchLogsClient

# (queries, start, end) -> MetricDataResults (the GetMetricData answer's list)
MetricFetcher = Callable[[list[dict[str, Any]], datetime, datetime], list[dict[str, Any]]]
# (log groups, query text, start, end) -> (columns, rows of strings)
QueryRunner = Callable[[list[str], str, datetime, datetime], tuple[list[str], list[dict[str, str]]]]
# alarm names -> describe_alarms MetricAlarms entries
AlarmReader = Callable[[list[str]], Sequence[Mapping[str, Any]]]

DEFAULT_PERIOD = 300
_SOURCE = re.compile(r"^\s*SOURCE\s+'([^']+)'((?:\s*,\s*'[^']+')*)\s*\|\s*(.*)$", re.S)
_DURATION = re.compile(r"^-P(?:T)?(?:(\d+)D)?(?:T?(\d+)H)?(?:(\d+)M)?$")


@dataclass
class WidgetView:
    kind: str
    x: int
    y: int
    width: int
    height: int
    title: str
    body: dict[str, Any] = field(default_factory=dict)


def window_hours(body: Mapping[str, Any], default: float = 3.0) -> float:
    """The dashboard's own `start` (e.g. -PT3H, -P1D) as hours, else `default`."""
    match = _DURATION.match(str(body.get("start", "")))
    if not match:
        return default
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    total = days * 24 + hours + minutes / 60
    return total or default


def metric_queries(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A metric widget's `metrics` array as GetMetricData queries (with a label and y axis)."""
    widget_stat = properties.get("stat", "Average")
    widget_period = int(properties.get("period", DEFAULT_PERIOD))
    queries: list[dict[str, Any]] = []
    previous: list[Any] = []
    for index, entry in enumerate(properties.get("metrics") or []):
        entry = list(entry)
        options: dict[str, Any] = entry.pop() if entry and isinstance(entry[-1], dict) else {}
        query_id = str(options.get("id") or f"m{index}")
        common = {
            "Id": query_id,
            "ReturnData": options.get("visible", True) is not False,
            "Label": str(options.get("label", "")),
            "_yAxis": options.get("yAxis", "left"),
            "_color": options.get("color"),
        }
        if "expression" in options and not entry:
            queries.append({**common, "Expression": options["expression"]})
            continue
        resolved = [
            previous[i] if value == "." and i < len(previous) else value
            for i, value in enumerate(entry)
        ]
        previous = resolved
        if len(resolved) < 2 or len(resolved) % 2:
            raise ValueError(f"metric entry {index}: expected namespace, name, dimension pairs")
        namespace, name, *dims = (str(v) for v in resolved)
        stat = str(options.get("stat", widget_stat))
        queries.append(
            {
                **common,
                "Label": common["Label"] or f"{name} {stat}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [
                            {"Name": dims[i], "Value": dims[i + 1]} for i in range(0, len(dims), 2)
                        ],
                    },
                    "Period": int(options.get("period", widget_period)),
                    "Stat": stat,
                },
            }
        )
    return queries


def api_queries(queries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The queries as GetMetricData accepts them (no preview-only keys, no empty labels)."""
    out = []
    for query in queries:
        clean = {k: v for k, v in query.items() if not k.startswith("_")}
        if not clean.get("Label"):
            clean.pop("Label", None)
        out.append(clean)
    return out


def split_source(query: str) -> tuple[list[str], str]:
    """`SOURCE 'group' | query` -> ([group], query)."""
    match = _SOURCE.match(query)
    if not match:
        return [], query
    groups = [match.group(1)] + re.findall(r"'([^']+)'", match.group(2) or "")
    return groups, match.group(3)


@functools.cache
def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})  # raw HTML in the text is escaped


def _markdown(text: str) -> str:
    return str(_markdown_parser().render(text))


def build_views(
    body: Mapping[str, Any],
    *,
    start: datetime,
    end: datetime,
    fetch_metrics: MetricFetcher,
    run_query: QueryRunner,
    read_alarms: AlarmReader,
) -> list[WidgetView]:
    """One view per widget, in the body's order, with its data."""
    views = []
    for widget in body.get("widgets") or []:
        props = widget.get("properties") or {}
        view = WidgetView(
            kind=widget.get("type", "?"),
            x=int(widget.get("x", 0)),
            y=int(widget.get("y", 0)),
            width=int(widget.get("width", 6)),
            height=int(widget.get("height", 6)),
            title=str(props.get("title", "")),
        )
        try:
            if view.kind == "metric":
                view.body = _metric_view(props, start, end, fetch_metrics)
            elif view.kind == "log":
                groups, text = split_source(str(props.get("query", "")))
                columns, rows = run_query(groups, text, start, end)
                view.body = {"columns": columns, "rows": rows, "groups": groups}
            elif view.kind == "text":
                view.body = {"html": _markdown(str(props.get("markdown", "")))}
            elif view.kind == "alarm":
                names = [str(arn).rsplit(":alarm:", 1)[-1] for arn in props.get("alarms") or []]
                found = {a["AlarmName"]: a for a in read_alarms(names)} if names else {}
                view.body = {
                    "alarms": [
                        {
                            "name": name,
                            "state": found.get(name, {}).get("StateValue", "UNKNOWN"),
                            "reason": found.get(name, {}).get("StateReason", "not found"),
                        }
                        for name in names
                    ]
                }
            else:
                view.body = {"note": f"{view.kind} widgets are not previewed"}
        except Exception as exc:  # one broken widget must not lose the page
            view.body = {"error": f"{type(exc).__name__}: {exc}"}
        views.append(view)
    return views


def _metric_view(
    props: Mapping[str, Any], start: datetime, end: datetime, fetch: MetricFetcher
) -> dict[str, Any]:
    queries = metric_queries(props)
    results = {r["Id"]: r for r in fetch(api_queries(queries), start, end)}
    series = []
    for query in queries:
        if not query["ReturnData"]:
            continue
        result = results.get(query["Id"], {})
        points = sorted(
            zip(
                (int(t.timestamp()) for t in result.get("Timestamps", [])),
                result.get("Values", []),
                strict=True,
            )
        )
        series.append(
            {
                "label": query.get("Label") or result.get("Label") or query["Id"],
                "axis": "right" if query.get("_yAxis") == "right" else "left",
                "color": query.get("_color"),
                "points": points,
                "status": result.get("StatusCode", "Complete"),
            }
        )
    return {"series": series, "stacked": bool(props.get("stacked"))}


# ---- HTML


@functools.cache
def _asset(name: str) -> str:
    return resources.files("opskit.dashboards").joinpath("assets", name).read_text()


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no `</script>`, no `<!--`."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(
    views: list[WidgetView], *, title: str, start: datetime, end: datetime, source: str
) -> str:
    payload = {
        "title": title,
        "start": int(start.timestamp()),
        "end": int(end.timestamp()),
        "widgets": [view.__dict__ for view in views],
    }
    rows = max((v.y + v.height for v in views), default=1)
    header = (
        f"{html.escape(title)} · {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC · {html.escape(source)}"
    )
    return _PAGE.format(
        title=html.escape(title),
        header=header,
        rows=rows,
        uplot_css=_asset("uPlot.min.css"),
        uplot_js=_asset("uPlot.iife.min.js"),
        data=_script_json(payload),
        style=_STYLE,
        script=_SCRIPT,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
    )


def preview_window(
    body: Mapping[str, Any], now: datetime, hours: float | None
) -> tuple[datetime, datetime]:
    span = hours if hours is not None else window_hours(body)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(hours=span), end


_STYLE = """
:root { --bg:#f5f6f7; --card:#fff; --ink:#16191f; --muted:#5f6b7a; --line:#d5dbdb; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       background: var(--bg); color: var(--ink); }
header { padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 16px; margin: 0 0 2px; }
header p { margin: 0; color: var(--muted); }
#grid { display: grid; grid-template-columns: repeat(24, minmax(0, 1fr));
        grid-auto-rows: 44px; gap: 8px; padding: 8px; }
.widget { background: var(--card); border: 1px solid var(--line); border-radius: 4px;
          padding: 6px 8px; overflow: hidden; display: flex; flex-direction: column; min-width: 0; }
.widget h2 { font-size: 13px; margin: 0 0 4px; white-space: nowrap; overflow: hidden;
             text-overflow: ellipsis; }
.chart { flex: 1; min-height: 0; position: relative; }
.nodata { position: absolute; inset: 40% 0 auto 0; text-align: center; color: var(--muted); }
.scroll { overflow: auto; flex: 1; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--line);
         white-space: nowrap; }
th { position: sticky; top: 0; background: var(--card); }
.state { font-weight: 600; padding: 1px 6px; border-radius: 3px; color: #fff; }
.ALARM { background: #d13212; } .OK { background: #1d8102; }
.INSUFFICIENT_DATA, .UNKNOWN { background: #7d8998; }
.alarms { display: flex; flex-wrap: wrap; gap: 6px; overflow: auto; }
.alarm-item { border: 1px solid var(--line); border-radius: 3px; padding: 3px 6px;
              width: calc(25% - 6px); }
.alarm-item small { display: block; color: var(--muted); white-space: nowrap; overflow: hidden;
               text-overflow: ellipsis; }
.error { color: #d13212; }
.text p { margin: 0 0 4px; } .text h1 { font-size: 18px; margin: 0 0 4px; }
footer { color: var(--muted); padding: 0 16px 12px; }
"""

_SCRIPT = r"""
(function () {
  var data = JSON.parse(document.getElementById("preview-data").textContent);
  var grid = document.getElementById("grid");
  var palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var charts = [];
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function table(columns, rows) {
    var t = el("table"), head = el("tr");
    columns.forEach(function (c) { head.appendChild(el("th", "", c)); });
    t.appendChild(head);
    rows.forEach(function (r) {
      var tr = el("tr");
      columns.forEach(function (c) { tr.appendChild(el("td", "", r[c] === undefined ? "" : r[c])); });
      t.appendChild(tr);
    });
    return t;
  }
  function chart(box, w) {
    var stamps = {};
    w.body.series.forEach(function (s) { s.points.forEach(function (p) { stamps[p[0]] = 1; }); });
    var xs = Object.keys(stamps).map(Number).sort(function (a, b) { return a - b; });
    if (!xs.length) { xs = [data.start, data.end]; }
    var cols = [xs];
    var right = false;
    var series = [{}];
    w.body.series.forEach(function (s, i) {
      var byT = {};
      s.points.forEach(function (p) { byT[p[0]] = p[1]; });
      cols.push(xs.map(function (t) { return t in byT ? byT[t] : null; }));
      if (s.axis === "right") right = true;
      series.push({ label: s.label, stroke: s.color || palette[i % palette.length], width: 1.5,
                    scale: s.axis === "right" ? "y2" : "y", spanGaps: false,
                    points: { show: s.points.length < 3 } });
    });
    var axes = [{}, { scale: "y", size: 50 }];
    if (right) axes.push({ scale: "y2", side: 1, size: 50, grid: { show: false } });
    var rect = box.getBoundingClientRect();
    var opts = { width: Math.max(120, Math.floor(rect.width)),
                 height: Math.max(80, Math.floor(rect.height) - 28),
                 scales: { x: { time: true, range: [data.start, data.end] } },
                 tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
                 series: series, axes: axes, legend: { show: true, live: false } };
    var plot = new uPlot(opts, cols, box);
    charts.push({ widget: w, plot: plot });
    if (!w.body.series.some(function (s) { return s.points.length; })) {
      box.appendChild(el("div", "nodata", "No data in this window"));
    }
  }
  data.widgets.forEach(function (w) {
    var card = el("section", "widget " + w.kind);
    card.style.gridColumn = (w.x + 1) + " / span " + w.width;
    card.style.gridRow = (w.y + 1) + " / span " + w.height;
    card.dataset.kind = w.kind;
    if (w.title) card.appendChild(el("h2", "", w.title));
    grid.appendChild(card);
    if (w.body.error) { card.appendChild(el("div", "error", w.body.error)); return; }
    if (w.kind === "metric") {
      var box = el("div", "chart"); card.appendChild(box); chart(box, w);
    } else if (w.kind === "log") {
      var scroll = el("div", "scroll"); card.appendChild(scroll);
      if (!w.body.rows.length) scroll.appendChild(el("p", "", "No rows in this window"));
      else scroll.appendChild(table(w.body.columns, w.body.rows));
    } else if (w.kind === "text") {
      var text = el("div", "text scroll"); text.innerHTML = w.body.html; card.appendChild(text);
    } else if (w.kind === "alarm") {
      var list = el("div", "alarms"); card.appendChild(list);
      w.body.alarms.forEach(function (a) {
        var item = el("div", "alarm-item");
        item.appendChild(el("span", "state " + a.state, a.state));
        item.appendChild(document.createTextNode(" " + a.name));
        item.appendChild(el("small", "", a.reason));
        item.title = a.reason;
        list.appendChild(item);
      });
    } else {
      card.appendChild(el("p", "", w.body.note || ""));
    }
  });
  // Self-check for tests (file.html#selftest): how many charts drew, and ink on each canvas.
  if (location.hash === "#selftest") {
    setTimeout(selftest, 100);  // uPlot draws after the current task
  }
  function selftest() {
    var report = charts.map(function (c) {
      var canvas = c.plot.root.querySelector("canvas");
      var ctx = canvas.getContext("2d");
      var img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      var ink = 0, colored = 0;
      for (var i = 3; i < img.length; i += 4) {
        if (img[i] > 0) {
          ink++;
          var r = img[i - 3], g = img[i - 2], b = img[i - 1];
          if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colored++;
        }
      }
      var points = c.widget.body.series.reduce(function (n, s) { return n + s.points.length; }, 0);
      return { title: c.widget.title, canvases: c.plot.root.querySelectorAll("canvas").length,
               ink: ink, colored: colored, points: points };
    });
    var logs = Array.prototype.map.call(document.querySelectorAll("section.log"), function (card) {
      return { title: card.querySelector("h2").textContent,
               rows: card.querySelectorAll("tr").length - (card.querySelector("table") ? 1 : 0) };
    });
    var out = el("pre"); out.id = "selftest";
    out.textContent = JSON.stringify({ charts: report, logs: logs,
                                       errors: window.__previewErrors || [] });
    document.body.appendChild(out);
  }
})();
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<script>
window.__previewErrors = [];
window.addEventListener("error", function (e) {{ window.__previewErrors.push(String(e.message)); }});
</script>
<style>{uplot_css}</style>
<style>{style}</style>
</head>
<body>
<header><h1>{title}</h1><p>{header}</p></header>
<main id="grid" style="grid-template-rows: repeat({rows}, 44px)"></main>
<footer>Rendered by opskit dashboards preview at {generated}: a preview of the CloudWatch
dashboard body, not the CloudWatch console. Charts: uPlot (MIT).</footer>
<script id="preview-data" type="application/json">{data}</script>
<script>{uplot_js}</script>
<script>{script}</script>
</body>
</html>
"""


# ---- sources: CloudWatch, or the local account


def cloudwatch_fetcher(cw: CloudWatchClient) -> MetricFetcher:
    def fetch(
        queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        # The queries are the dashboard's JSON (api_queries), untyped data, as in top.fetch.
        request: dict[str, Any] = {"MetricDataQueries": queries}
        pages = cw.get_paginator("get_metric_data").paginate(
            StartTime=start, EndTime=end, ScanBy="TimestampAscending", **request
        )
        for page in pages:
            for result in page.get("MetricDataResults", []):
                into = merged.setdefault(result["Id"], {**result, "Timestamps": [], "Values": []})
                into["Timestamps"] += result.get("Timestamps", [])
                into["Values"] += result.get("Values", [])
        return list(merged.values())

    return fetch


def local_fetcher(state_dir: Any) -> MetricFetcher:
    from opskit.local.metric_query import MetricIndex, get_metric_data
    from opskit.local.metrics import RawStore, raw_metrics_path

    index = MetricIndex(RawStore(raw_metrics_path(state_dir)).read())

    def fetch(
        queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        return get_metric_data(index, queries, start, end)

    return fetch


def insights_runner(logs: CloudWatchLogsClient, sleep: Callable[[float], None]) -> QueryRunner:
    from opskit.insights.cloudwatch import run_query

    def run(
        groups: list[str], text: str, start: datetime, end: datetime
    ) -> tuple[list[str], list[dict[str, str]]]:
        result = run_query(logs, groups, text, start, end, sleep=sleep)
        return result.columns, result.rows

    return run


def local_runner(logs: CloudWatchLogsClient) -> QueryRunner:
    """The local engine over each log group's events, read once for all the log widgets."""
    from opskit.insights.engine import run_events
    from opskit.logs.cloudwatch import filter_events

    events: dict[tuple[str, int, int], list[dict[str, Any]]] = {}

    def run(
        groups: list[str], text: str, start: datetime, end: datetime
    ) -> tuple[list[str], list[dict[str, str]]]:
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        found: list[dict[str, Any]] = []
        for group in groups:
            key = (group, start_ms, end_ms)
            if key not in events:
                events[key] = [
                    {**e, "logGroupName": group}
                    for e in filter_events(logs, group, start_ms, end_ms)
                ]
            found += events[key]
        result = run_events(text, found, start_ms=start_ms, end_ms=end_ms)
        return result.columns, result.rows

    return run


def alarm_reader(cw: CloudWatchClient) -> AlarmReader:
    def read(names: list[str]) -> list[MetricAlarmTypeDef]:
        found: list[MetricAlarmTypeDef] = []
        wanted = [n for n in names if not n.startswith("${")]
        for i in range(0, len(wanted), 100):
            found += cw.describe_alarms(AlarmNames=wanted[i : i + 100]).get("MetricAlarms", [])
        return found

    return read
