"""opskit.logs.platform against REPORT lines Lambda really wrote, of both INIT-billing eras.

Fixtures (verbatim apart from the surrounding quotes):
* OLD_DOCS: AWS Lambda Developer Guide, python-logging example (awsdocs/aws-lambda-developer-guide,
  doc_source/python-logging.md, log stream 2020/01/31): Duration 15.74, Billed 16, Init 130.49
  -> INIT not in Billed Duration.
* OLD_100MS: lumigo-io/SAR-async-lambda-metrics issue #9 (2019-10-01), 100 ms billing era.
* OLD_TABS: the Developer Guide's get-log-events example (tabs, "ms \\t"), a warm start.
* NEW_DOCS / NEW_DOCS_2: the current guide, docs.aws.amazon.com/lambda/latest/dg/ruby-logging.html:
  the same invocation as OLD_DOCS now reads Billed 147 = ceil(15.74 + 130.49), and
  Duration 2.75 + Init 113.51 -> Billed 117.
* OLD_JSON: aws/aws-lambda-rust-runtime, lambda-extension/src/telemetry.rs, a platform.report of
  2022-10-21 with tracing (2599.4 ms -> billed 2600, Init 549.04 not included).
* NEW_JSON: a public CloudWatch export of a nodejs22.x function (tenner-notifier, eu-central-1,
  2026-10-08; GitHub code index): 1233.96 + 463.512 = 1697.47 -> billed 1698.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.logs import platform
from opskit.logs.platform import End, Report, Start, Xray

OLD_DOCS = (
    "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95  Duration: 15.74 ms  Billed Duration: 16 ms "
    "Memory Size: 128 MB Max Memory Used: 56 MB  Init Duration: 130.49 ms\n"
    "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1   SegmentId: 07f5xmpl2d1f6f85 Sampled: true"
)
OLD_100MS = (
    "REPORT RequestId: 2d7fd9b0-a17f-4482-bc6c-4b58bb47b884 Duration: 1201.12 ms Billed Duration: 1300 ms "
    "Memory Size: 128 MB Max Memory Used: 78 MB Init Duration: 287.33 ms"
)
OLD_TABS = (
    "REPORT RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf\tDuration: 26.73 ms\tBilled Duration: 27 ms "
    "\tMemory Size: 128 MB\tMax Memory Used: 75 MB\t\n"
)
NEW_DOCS = (
    "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95 Duration: 15.74 ms Billed Duration: 147 ms "
    "Memory Size: 128 MB Max Memory Used: 56 MB Init Duration: 130.49 ms\n"
    "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1 SegmentId: 07f5xmpl2d1f6f85 Sampled: true"
)
NEW_DOCS_2 = (
    "REPORT RequestId: 1c8df7d3-xmpl-46da-9778-518e6eca8125 Duration: 2.75 ms Billed Duration: 117 ms "
    "Memory Size: 128 MB Max Memory Used: 56 MB Init Duration: 113.51 ms\n"
    "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370 SegmentId: 073cxmpl3e442861 Sampled: true"
)
OLD_JSON = (
    '{"time":"2022-10-21T14:05:05.766Z","type":"platform.report","record":{"requestId":"459921b5-681c-4a96-beb0-81e0aa586026",'
    '"metrics":{"durationMs":2599.4,"billedDurationMs":2600,"memorySizeMB":128,"maxMemoryUsedMB":94,"initDurationMs":549.04},'
    '"tracing":{"spanId":"24cd7d670fa455f0","type":"X-Amzn-Trace-Id","value":"Root=1-6352a70e-1e2c502e358361800241fd45;'
    'Parent=35465b3a9e2f7c6a;Sampled=1"},"status":"success"}}'
)
NEW_JSON = (
    '{"time":"2026-10-08T07:30:29.470Z","type":"platform.report","record":{"requestId":"79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36",'
    '"metrics":{"durationMs":1233.96,"billedDurationMs":1698,"memorySizeMB":256,"maxMemoryUsedMB":123,"initDurationMs":463.512},'
    '"status":"success"}}'
)


def ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp() * 1000)


BEFORE = ms(2020, 1, 31)
AFTER = ms(2026, 10, 8)


def test_old_era_text_line_parses_with_its_xray_line():
    report = platform.parse(OLD_DOCS)
    assert isinstance(report, Report)
    assert (report.duration_ms, report.billed_ms, report.memory_mb, report.max_memory_mb) == (
        15.74,
        16,
        128,
        56,
    )
    assert report.init_ms == 130.49
    assert report.xray == Xray("1-5e34a614-10bdxmplf1fb44f07bc535a1", "07f5xmpl2d1f6f85", True)
    assert not report.init_included  # 16 < 15.74 + 130.49


def test_old_era_charges_billed_only_before_the_cutover_and_init_once_after():
    report = platform.parse_report(OLD_DOCS)
    assert report is not None
    assert report.charged_ms(BEFORE) == 16  # INIT was free for ZIP + managed runtimes then
    # The same invocation under today's rule: 16 + ceil(130.49) = 147, exactly what the current
    # guide prints as Billed Duration for it (NEW_DOCS).
    assert report.charged_ms(AFTER) == 16 + 131 == 147
    assert report.charged_ms(None) == 147  # undated: today's rule
    assert report.init_charged_ms(BEFORE) == 0
    assert report.init_charged_ms(AFTER) == 131


def test_new_era_text_lines_include_init_and_are_never_charged_twice():
    for line, billed, duration, init in (
        (NEW_DOCS, 147, 15.74, 130.49),
        (NEW_DOCS_2, 117, 2.75, 113.51),
    ):
        report = platform.parse_report(line)
        assert report is not None
        assert report.init_included
        assert billed == math.ceil(duration + init)
        assert report.charged_ms(AFTER) == billed  # not billed + ceil(init)
        assert report.init_charged_ms(AFTER) == init
        assert report.xray is not None and report.xray.sampled


def test_100ms_era_line_is_old_format():
    report = platform.parse_report(OLD_100MS)
    assert report is not None and not report.init_included  # 1300 < 1201.12 + 287.33
    assert report.charged_ms(ms(2019, 10, 1)) == 1300


def test_tab_separated_warm_line_with_the_old_space_before_the_tab():
    report = platform.parse(OLD_TABS)
    assert isinstance(report, Report)
    assert (report.request_id, report.duration_ms, report.billed_ms, report.init_ms) == (
        "4ce9340a-b765-490f-ad8a-02ab3415e2bf",
        26.73,
        27,
        None,
    )
    assert report.charged_ms(AFTER) == 27 and report.xray is None


def test_json_format_both_eras():
    old = platform.parse(OLD_JSON)
    assert isinstance(old, Report)
    assert (old.billed_ms, old.init_ms, old.memory_mb) == (2600, 549.04, 128)
    assert not old.init_included
    assert old.charged_ms(ms(2022, 10, 21)) == 2600
    assert old.xray == Xray("1-6352a70e-1e2c502e358361800241fd45", "24cd7d670fa455f0", True)
    new = platform.parse(NEW_JSON)
    assert isinstance(new, Report)
    assert new.init_included and new.charged_ms(AFTER) == 1698 == math.ceil(1233.96 + 463.512)


def test_start_end_and_separate_xray_events():
    assert platform.parse("START RequestId: abc Version: $LATEST\n") == Start("abc", "$LATEST")
    assert platform.parse("END RequestId: abc\n") == End("abc")
    assert platform.parse("XRAY TraceId: 1-a-b\tSegmentId: 0f\tSampled: false\t\n") == Xray(
        "1-a-b", "0f", False
    )
    start = '{"time":"2026-10-08T07:30:28.235Z","type":"platform.start","record":{"requestId":"79b5","version":"$LATEST"}}'
    assert platform.parse(start) == Start("79b5", "$LATEST")


@pytest.mark.parametrize(
    "message",
    [
        "",
        "REPORT",
        "REPORT RequestId: x Duration: abc ms",
        '{"message": "request", "route": "/api/users"}',
        '{"type": "platform.report", "record": {"requestId": "x", "metrics": {"durationMs": "?"}}}',
        '{"type": "platform.report", "record": "not a dict"}',
        "2026-10-08T07:30:29.443Z\tabc\tINFO\tREPORT RequestId: fake",
        '{"broken',
    ],
)
def test_anything_else_is_not_a_platform_line(message):
    assert platform.parse(message) is None


def test_today_billed_duration_rounds_the_sum_up_to_1ms():
    assert platform.billed_duration(2.75, 113.51) == 117
    assert platform.billed_duration(0.2) == 1  # never 0
    assert platform.billed_duration(40.0) == 40


def test_the_writer_writes_what_lambda_writes_today():
    report = Report(
        "79b5",
        2.75,
        platform.billed_duration(2.75, 113.51),
        128,
        56,
        113.51,
        xray=Xray("1-5e34a66a-474xmpl7c2534a87870b4370", "073cxmpl3e442861", True),
    )
    text = platform.format_report(report)
    assert text == (
        "REPORT RequestId: 79b5\tDuration: 2.75 ms\tBilled Duration: 117 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tInit Duration: 113.51 ms\t\n"
        "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370\tSegmentId: 073cxmpl3e442861\tSampled: true\t\n"
    )
    parsed = platform.parse(text)
    assert parsed == report and parsed.init_included
    document = orjson.loads(platform.format_report_json(report, AFTER))
    assert document["type"] == "platform.report" and document["time"] == "2026-10-08T12:00:00.000Z"
    assert document["record"]["metrics"]["billedDurationMs"] == 117
    assert platform.parse(platform.format_report_json(report, AFTER)) == report


reports = st.builds(
    Report,
    request_id=st.uuids().map(str),
    duration_ms=st.integers(0, 900_000_00).map(lambda n: n / 100),
    billed_ms=st.integers(1, 900_000).map(float),
    memory_mb=st.integers(128, 10240),
    max_memory_mb=st.integers(0, 10240),
    init_ms=st.none() | st.integers(0, 1_000_000).map(lambda n: n / 100),
    restore_ms=st.none(),
    billed_restore_ms=st.none(),
    status=st.none() | st.sampled_from(["timeout", "error"]),
    error_type=st.none(),
    xray=st.none()
    | st.builds(
        Xray,
        trace_id=st.from_regex(r"1-[0-9a-f]{8}-[0-9a-f]{24}", fullmatch=True),
        segment_id=st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
        sampled=st.booleans(),
    ),
)


@given(reports)
def test_text_and_json_round_trip(report):
    assert platform.parse(platform.format_report(report)) == report
    assert platform.parse(platform.format_report_json(report, AFTER)) == report


@given(st.text(max_size=200))
def test_the_parser_never_raises(message):
    line = platform.parse(message)
    assert line is None or isinstance(line, Start | End | Report | Xray)


@given(
    st.integers(0, 10_000_000).map(lambda n: n / 1000),
    st.integers(0, 10_000_000).map(lambda n: n / 1000),
)
def test_era_detection_of_lines_lambda_would_write(duration, init):
    rounded_d, rounded_i = round(duration, 2), round(init, 2)
    today = Report("r", rounded_d, platform.billed_duration(duration, init), 128, 1, rounded_i)
    assert today.init_included
    assert today.charged_ms(AFTER) == today.billed_ms
    old = Report("r", rounded_d, max(1, math.ceil(duration)), 128, 1, rounded_i)
    if old.billed_ms < rounded_d + rounded_i - platform.INCLUDED_TOLERANCE_MS:
        assert not old.init_included
        assert old.charged_ms(BEFORE) == old.billed_ms
        assert old.charged_ms(AFTER) == old.billed_ms + math.ceil(rounded_i)
    else:  # the INIT hides inside the rounding up (or the 1 ms minimum): both eras read the same
        assert old.init_included
        assert rounded_i <= old.billed_ms - rounded_d + platform.INCLUDED_TOLERANCE_MS + 1e-9
        assert rounded_i < 1.03  # so the ambiguity costs at most a millisecond
