"""Ship the local gateway's stdout into its CloudWatch log group on the emulator.

Run as `python -m opskit.local.shipper ...` with the gateway's stdout on stdin.

SYNTHESIZED PLATFORM LINES: no Lambda runtime runs locally, so nothing would write
the START / END / REPORT lines a real function produces. For every access line
(`"message": "request"`) this shipper writes them itself, from what it can know:
Duration = the line's latency_ms, Init Duration (first request only) = process
start -> first request, Billed Duration = Duration + Init Duration rounded up to
1 ms (INIT has been billed, and included, since 2025-08-01), Memory Size = the
MemorySize parameter, Max Memory Used = the gateway process's peak RSS (VmHWM),
and an XRAY line when the access line has a trace id, sampled by X-Ray's default
rule. They are estimates made by opskit, not measurements by Lambda.

DERIVED METRICS: nothing locally publishes what API Gateway and Lambda would publish
(AWS/ApiGateway Count, 4xx, 5xx, Latency, ...; AWS/Lambda Invocations, Errors,
Duration), so the shipper derives them from the same access lines, with every batch
of log events (see opskit.local.metrics for the mapping). It also runs the log group's
metric filters over every shipped event and publishes their metrics (moto never does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import queue
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from opskit.cost.xray import Sampler
from opskit.local.metrics import FilterMetrics, RawStore, Target, derived_buckets, put_calls
from opskit.logs import platform
from opskit.logs.platform import Report, Xray

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

MAX_BATCH = 500
FLUSH_SECONDS = 0.5


def rss_peak_mb(pid: int) -> int:
    """Peak resident set size of `pid` in MB (VmHWM), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def epoch_ms(value: Any, fallback: float) -> int:
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    return int(fallback * 1000)


class PlatformLines:
    """Builds the synthesized START/END/REPORT lines around one access line.

    The REPORT line is written as Lambda writes it today (opskit.logs.platform): Billed
    Duration includes INIT on a cold start; the XRAY line follows it when the access line
    carries a trace id, its `Sampled` decided by X-Ray's default rule (1/s + 5 %).
    """

    def __init__(
        self, memory_mb: int, gateway_pid: int, started: float, sampler: Sampler | None = None
    ):
        self.memory_mb, self.gateway_pid, self.started = memory_mb, gateway_pid, started
        self.cold = True
        self.sampler = sampler or Sampler()

    def around(self, access: dict[str, Any], line: str, now: float) -> list[tuple[int, str]]:
        request_id = str(access.get("function_request_id") or uuid.uuid4())
        duration = float(access.get("latency_ms") or 0.0)
        end_ms = epoch_ms(access.get("timestamp"), now)
        start = end_ms / 1000 - duration / 1000  # epoch seconds, not rounded
        start_ms = int(start * 1000)
        init_ms = None
        if self.cold:
            init_ms = round(max(0.0, start - self.started) * 1000, 2)
            self.cold = False
        trace_id = access.get("xray_trace_id")
        xray = None
        if isinstance(trace_id, str) and trace_id:
            xray = Xray(trace_id, uuid.uuid4().hex[:16], self.sampler.sampled(start_ms))
        report = Report(
            request_id,
            round(duration, 2),
            platform.billed_duration(duration, init_ms),
            self.memory_mb,
            rss_peak_mb(self.gateway_pid),
            init_ms,
            xray=xray,
        )
        # Without the final newline, like every line this shipper sends (it strips them).
        return [
            (start_ms, platform.format_start(request_id).rstrip("\n")),
            (end_ms, line),
            (end_ms, platform.format_end(request_id).rstrip("\n")),
            (end_ms, platform.format_report(report).rstrip("\n")),
        ]


def read_line(line: str) -> tuple[str, dict[str, Any] | None]:
    """The line without its newline, and the JSON object it holds (None if it holds none)."""
    line = line.rstrip("\n")
    try:
        record = json.loads(line) if line.strip() else None
    except ValueError:
        record = None
    return line, record if isinstance(record, dict) else None


def is_access(record: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """The gateway's one line per request."""
    return record is not None and record.get("message") == "request" and "latency_ms" in record


def events_for(
    line: str, record: dict[str, Any] | None, platform: PlatformLines, now: float
) -> list[tuple[int, str]]:
    if not line.strip():
        return []
    if is_access(record):
        return platform.around(record, line, now)
    if record is not None:
        return [(epoch_ms(record.get("timestamp"), now), line)]
    return [(int(now * 1000), line)]


def to_events(line: str, platform: PlatformLines, now: float) -> list[tuple[int, str]]:
    return events_for(*read_line(line), platform, now)


class Sink:
    """put_log_events in batches (sorted by time, as the API requires)."""

    def __init__(self, logs: CloudWatchLogsClient, group: str, stream: str):
        self.logs, self.group, self.stream = logs, group, stream
        self.ready = False

    def _prepare(self) -> None:
        exists = self.logs.exceptions.ResourceAlreadyExistsException
        with contextlib.suppress(exists):
            self.logs.create_log_group(logGroupName=self.group)
        with contextlib.suppress(exists):
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        self.ready = True

    def put(self, events: Iterable[tuple[int, str]]) -> None:
        batch: list[InputLogEventTypeDef] = [
            {"timestamp": ts, "message": msg} for ts, msg in sorted(events, key=lambda e: e[0])
        ]
        if not batch:
            return
        try:
            if not self.ready:
                self._prepare()
            for i in range(0, len(batch), MAX_BATCH):
                self.logs.put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=batch[i : i + MAX_BATCH],
                )
        except Exception as exc:  # the emulator may be gone: keep the gateway running
            _note(f"shipper: could not ship {len(batch)} events: {exc}")
            self.ready = False


def _note(message: str) -> None:
    """The shipper's stderr is the gateway's error log (.opskit/gateway.err.log)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class MetricSink:
    """put_metric_data for the metrics AWS would derive from the shipped access lines, and
    (with `filters`) for the log group's metric filters; every value also goes to `store`."""

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        target: Target,
        filters: FilterMetrics | None = None,
        store: RawStore | None = None,
    ):
        self.cloudwatch, self.target = cloudwatch, target
        self.filters, self.store = filters, store

    def put(
        self,
        accesses: list[tuple[int, dict[str, Any]]],
        events: Sequence[tuple[int, str]] = (),
    ) -> None:
        try:
            buckets = derived_buckets(accesses, self.target)
            if self.filters is not None and events:
                self.filters.refresh()
                buckets.update(self.filters.buckets(events))
            if not buckets:
                return
            for namespace, data in put_calls(buckets):
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
            if self.store is not None:
                self.store.append(buckets)
        except Exception as exc:  # metrics are a bonus: never stop shipping the logs
            _note(
                f"shipper: warning: could not publish metrics for {len(accesses)} requests: {exc}"
            )


def stream_name(now: datetime) -> str:
    return now.strftime("%Y/%m/%d/") + "[$LATEST]" + uuid.uuid4().hex


def run(
    lines: Iterable[str],
    sink: Sink,
    platform: PlatformLines,
    tee: Any = None,
    metrics: MetricSink | None = None,
) -> int:
    """Read lines (in a thread), flush every FLUSH_SECONDS or MAX_BATCH events; return count.

    Each flush ships the log events, then (with `metrics`) the metrics of its access lines.
    """
    inbox: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        for line in lines:
            inbox.put(line)
        inbox.put(None)

    threading.Thread(target=reader, daemon=True).start()
    pending: list[tuple[int, str]] = []
    accesses: list[tuple[int, dict[str, Any]]] = []  # (epoch ms, access record) since the flush
    shipped = 0

    def flush() -> None:
        sink.put(pending)
        if metrics is not None:
            metrics.put(accesses, pending)

    deadline = time.monotonic() + FLUSH_SECONDS
    while True:
        try:
            line = inbox.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            if tee is not None:
                tee.write(line if line.endswith("\n") else line + "\n")
                tee.flush()
            now = time.time()
            text, record = read_line(line)
            pending.extend(events_for(text, record, platform, now))
            if is_access(record):
                accesses.append((epoch_ms(record.get("timestamp"), now), record))
        if len(pending) >= MAX_BATCH or (pending and time.monotonic() >= deadline):
            flush()
            shipped += len(pending)
            pending, accesses = [], []
        if time.monotonic() >= deadline:
            deadline = time.monotonic() + FLUSH_SECONDS
    flush()
    return shipped + len(pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskit.local.shipper")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--group", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the gateway process (for its RSS)")
    parser.add_argument("--memory", type=int, default=512, help="MemorySize parameter, MB")
    parser.add_argument("--started", type=float, required=True, help="gateway start, epoch seconds")
    parser.add_argument("--tee", default=None, help="also append the raw lines to this file")
    parser.add_argument("--api-id", default="local", help="ApiId dimension of AWS/ApiGateway")
    parser.add_argument("--stage", default="$default", help="Stage dimension of AWS/ApiGateway")
    parser.add_argument(
        "--function-name", default=None, help="FunctionName of AWS/Lambda (default: from --group)"
    )
    parser.add_argument(
        "--raw-metrics", default=None, help="also append every published value to this file"
    )
    args = parser.parse_args(argv)

    from opskit.aws import ClientFactory

    # Its own process (started by `opskit local up`, arguments on its command line): no App
    # here, so the clients come from the one factory, pointed at the emulator.
    clients = ClientFactory(args.region, endpoint_url=args.endpoint)
    sink = Sink(clients.logs(), args.group, stream_name(datetime.now(UTC)))
    function_name = args.function_name or args.group.rsplit("/", 1)[-1]
    metrics = MetricSink(
        clients.cloudwatch(),
        Target(args.api_id, args.stage, function_name),
        filters=FilterMetrics(clients.logs(), args.group),
        store=RawStore(Path(args.raw_metrics)) if args.raw_metrics else None,
    )
    platform = PlatformLines(args.memory, args.pid, args.started)
    tee = open(args.tee, "a") if args.tee else None  # noqa: SIM115 - lives as long as the process
    lines = iter(sys.stdin.readline, "")
    run(lines, sink, platform, tee, metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
