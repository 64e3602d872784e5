"""Conformance: the documented examples of the CloudWatch Logs Insights docs, on small event
files, with expected results worked out by hand. Every case runs on both local engines
(Python reference and DuckDB) through the `run` fixture.

Sources (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/): CWL_QuerySyntax-Limit,
CWL_QuerySyntax-Stats, CWL_QuerySyntax-Parse, CWL_QuerySyntax-Sort, CWL_QuerySyntax-Dedup,
CWL_QuerySyntax-examples (general, Lambda, VPC flow log, Route 53 sections) and the AWS
Lambda Operator Guide's "useful Insights queries".
"""

from __future__ import annotations

from tests.opskit.insights.conftest import event

HOUR = 3_600_000


def report(
    rid: str, duration: str, billed: int, size: int, used: int, init: str | None = None
) -> str:
    line = f"REPORT RequestId: {rid}\tDuration: {duration} ms\tBilled Duration: {billed} ms\tMemory Size: {size} MB\tMax Memory Used: {used} MB\t"
    if init:
        line += f"Init Duration: {init} ms\t"
    return line + "\n"


LAMBDA = [
    event(0, "START RequestId: r1 Version: $LATEST\n"),
    event(1, '{"level": "INFO", "message": "request", "status": 200}'),
    event(2, "END RequestId: r1\n"),
    event(3, report("r1", "102.25", 103, 128, 70, "200.50")),
    event(1000, "START RequestId: r2 Version: $LATEST\n"),
    event(1003, report("r2", "10.00", 10, 128, 74)),
]


def test_limit_doc_25_most_recent_events(run):
    events = [event(i * 1000, f"line {i}") for i in range(30)]
    result = run("fields @timestamp, @message | sort @timestamp desc | limit 25", events)
    assert result.columns == ["@timestamp", "@message"]
    assert len(result.rows) == 25
    assert result.rows[0] == {"@timestamp": "2026-11-18 11:07:09.000", "@message": "line 29"}
    assert result.rows[-1]["@message"] == "line 5"


def test_stats_doc_count_by_query_type_and_hour(run):
    events = [
        event(0, {"queryType": "A"}),
        event(1000, {"queryType": "AAAA"}),
        event(10, {"queryType": "A"}),
        event(HOUR, {"queryType": "A"}),
    ]
    result = run("stats count(*) by queryType, bin(1h)", events)
    assert result.columns == ["queryType", "bin(1h)", "count(*)"]
    assert result.rows == [
        {"queryType": "A", "bin(1h)": "2026-11-18 11:00:00.000", "count(*)": "2"},
        {"queryType": "A", "bin(1h)": "2026-11-18 12:00:00.000", "count(*)": "1"},
        {"queryType": "AAAA", "bin(1h)": "2026-11-18 11:00:00.000", "count(*)": "1"},
    ]


def test_stats_doc_several_aggregates_by_5_minute_bins(run):
    events = [
        event(0, {"myfield1": 10, "myfield2": 5, "myfield3": 1}),  # 11:06:40 -> bin 11:05
        event(60_000, {"myfield1": 20, "myfield2": 3, "myfield3": 9}),  # 11:07:40 -> bin 11:05
        event(300_000, {"myfield1": 7, "myfield2": 8, "myfield3": 2}),  # 11:11:40 -> bin 11:10
    ]
    result = run("stats avg(myfield1), min(myfield2), max(myfield3) by bin(5m)", events)
    assert result.rows == [
        {
            "bin(5m)": "2026-11-18 11:05:00.000",
            "avg(myfield1)": "15",
            "min(myfield2)": "3",
            "max(myfield3)": "9",
        },
        {
            "bin(5m)": "2026-11-18 11:10:00.000",
            "avg(myfield1)": "7",
            "min(myfield2)": "8",
            "max(myfield3)": "2",
        },
    ]


PARSE_EVENTS = [
    event(0, "INFO user=alice, method:GET, latency := 20"),
    event(1, "user=alice, method:GET, latency := 40"),
    event(2, "user=bob, method:PUT, latency := 15"),
    event(3, "no match here"),
]


def test_parse_doc_glob_then_stats(run):
    query = 'parse @message "user=*, method:*, latency := *" as @user, @method, @latency | stats avg(@latency) by @method, @user'
    result = run(query, PARSE_EVENTS)
    assert result.columns == ["@method", "@user", "avg(@latency)"]
    # The event that does not match keeps no extracted fields: its group is (missing, missing).
    assert result.rows == [
        {"@method": "GET", "@user": "alice", "avg(@latency)": "30"},
        {"@method": "PUT", "@user": "bob", "avg(@latency)": "15"},
        {},
    ]


def test_parse_doc_regex_named_groups(run):
    # As documented, the last group `(?<latency2>.*?)` is lazy and nothing follows it, so it
    # captures the empty string: the average has no numeric input and is left out.
    query = "parse @message /user=(?<user2>.*?), method:(?<method2>.*?), latency := (?<latency2>.*?)/ | stats avg(latency2) by method2, user2"
    result = run(query, PARSE_EVENTS[:3])
    assert result.rows == [{"method2": "GET", "user2": "alice"}, {"method2": "PUT", "user2": "bob"}]
    fixed = query.replace("(?<latency2>.*?)/", "(?<latency2>\\d+)/")
    assert run(fixed, PARSE_EVENTS[:3]).rows == [
        {"method2": "GET", "user2": "alice", "avg(latency2)": "30"},
        {"method2": "PUT", "user2": "bob", "avg(latency2)": "15"},
    ]


def test_parse_doc_uppercase_commands_in_list_and_display_expression(run):
    events = [
        event(0, "2026-11-18 [ERROR] disk full"),
        event(1000, "2026-11-18 [INFO] started"),
        event(2000, "2026-11-18 [DEBUG] noise"),
    ]
    query = (
        'FIELDS @message | PARSE @message "* [*] *" as loggingTime, loggingType, loggingMessage '
        '| FILTER loggingType IN ["ERROR", "INFO"] | DISPLAY loggingMessage, loggingType = "ERROR" as isError'
    )
    result = run(query, events)
    assert result.columns == ["loggingMessage", "isError"]
    assert result.rows == [
        {"loggingMessage": "started", "isError": "0"},
        {"loggingMessage": "disk full", "isError": "1"},
    ]


def test_parse_doc_vpc_flow_log_network_interface(run):
    line = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
    result = run(
        "parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message",
        [event(0, line)],
    )
    assert result.rows == [{"NetworkInterface": "eni-1235b8ca123456789", "@message": line}]


def test_lambda_doc_overprovisioned_memory(run):
    query = (
        'filter @type = "REPORT" | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB, '
        "min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB, avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB, "
        "max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB, provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB"
    )
    assert run(query, LAMBDA).rows == [
        {
            "provisonedMemoryMB": "128",
            "smallestMemoryRequestMB": "70",
            "avgMemoryUsedMB": "72",
            "maxMemoryUsedMB": "74",
            "overProvisionedMB": "54",
        }
    ]


def test_lambda_doc_top_billed_invocations(run):
    query = 'filter @type = "REPORT" | fields @requestId, @billedDuration | sort by @billedDuration desc | limit 100'
    assert run(query, LAMBDA).rows == [
        {"@requestId": "r1", "@billedDuration": "103"},
        {"@requestId": "r2", "@billedDuration": "10"},
    ]


def test_lambda_guide_cold_start_percentage(run):
    query = 'filter @type = "REPORT" | stats sum(strcontains(@message, "Init Duration"))/count(*) * 100 as coldStartPct, avg(@duration) by bin(5m)'
    assert run(query, LAMBDA).rows == [
        {"bin(5m)": "2026-11-18 11:05:00.000", "coldStartPct": "50", "avg(@duration)": "56.125"}
    ]


def test_lambda_discovered_fields_in_bytes_and_types(run):
    query = "fields @type, @requestId, @memorySize, @maxMemoryUsed, @initDuration | filter ispresent(@type) | sort @timestamp asc"
    rows = run(query, LAMBDA).rows
    assert rows[0] == {"@type": "START", "@requestId": "r1"}
    assert rows[1] == {"@type": "END", "@requestId": "r1"}
    assert rows[2] == {
        "@type": "REPORT",
        "@requestId": "r1",
        "@memorySize": "128000000",
        "@maxMemoryUsed": "70000000",
        "@initDuration": "200.5",
    }
    assert "@initDuration" not in rows[4]


def test_general_doc_exceptions_per_hour(run):
    events = [
        event(0, "java.lang.NullPointerException at x"),
        event(1000, "IOException: broken pipe"),
        event(2000, "all good"),
        event(HOUR, "Exception again"),
    ]
    query = "filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) | sort exceptionCount desc"
    assert run(query, events).rows == [
        {"bin(1h)": "2026-11-18 11:00:00.000", "exceptionCount": "2"},
        {"bin(1h)": "2026-11-18 12:00:00.000", "exceptionCount": "1"},
    ]
    assert [r["@message"] for r in run("filter @message not like /Exception/", events).rows] == [
        "all good"
    ]
    assert len(run("filter @message =~ /exception/", events).rows) == 0
    assert len(run("filter @message like /(?i)exception/", events).rows) == 3
    assert len(run('filter @message like "Exception"', events).rows) == 3


def test_general_doc_events_per_log_stream(run):
    events = [event(0, "a", "s1"), event(1, "b", "s2"), event(2, "c", "s1")]
    assert run("stats count(*) by @logStream | limit 100", events).rows == [
        {"@logStream": "s1", "count(*)": "2"},
        {"@logStream": "s2", "count(*)": "1"},
    ]


def test_sort_doc_natural_order(run):
    documented = [
        "!:",
        "#",
        "*%04",
        "0#",
        "5A",
        "111A",
        "2345_",
        "@",
        "@_",
        "A",
        "A9876fghj",
        "a12345hfh",
        "0",
        "7",
        "12",
    ]
    shuffled = [documented[i] for i in (5, 12, 0, 9, 3, 14, 7, 1, 11, 4, 13, 2, 10, 6, 8)]
    events = [event(i, {"v": value}) for i, value in enumerate(shuffled)]
    assert [r["v"] for r in run("fields v | sort v asc", events).rows] == documented
    assert [r["v"] for r in run("fields v | sort v desc", events).rows] == documented[::-1]


def test_dedup_doc_latest_event_per_server(run):
    events = [
        event(0, {"server": "s1", "severity": "INFO", "message": "old"}),
        event(1000, {"server": "s2", "severity": "WARN", "message": "mid"}),
        event(2000, {"server": "s1", "severity": "ERROR", "message": "new"}),
    ]
    result = run(
        "fields @timestamp, server, severity, message | sort @timestamp desc | dedup server", events
    )
    assert [(r["server"], r["message"]) for r in result.rows] == [("s1", "new"), ("s2", "mid")]


def test_filter_doc_regex_status_and_ranges(run):
    events = [
        event(i, {"statusCode": code, "range": rng})
        for i, (code, rng) in enumerate([(200, 3000), (204, 3200), (404, 3050), (500, 10)])
    ]
    assert [
        r["statusCode"]
        for r in run(
            r"filter statusCode like /2\d\d/ | fields statusCode | sort statusCode", events
        ).rows
    ] == ["200", "204"]
    assert [
        r["statusCode"]
        for r in run(
            "filter range >= 3000 and range <= 3100 | fields statusCode | sort statusCode", events
        ).rows
    ] == ["200", "404"]
    assert [
        r["statusCode"]
        for r in run(
            "filter statusCode in [404, 500] | fields statusCode | sort statusCode", events
        ).rows
    ] == ["404", "500"]
    assert [
        r["statusCode"]
        for r in run(
            "filter statusCode not in [404, 500] | fields statusCode | sort statusCode", events
        ).rows
    ] == ["200", "204"]


def test_pct_interpolates_between_ranks(run):
    events = [event(i, {"latency": v}) for i, v in enumerate([7, 1, 10, 4, 2, 9, 3, 8, 6, 5])]
    result = run(
        "stats pct(latency, 50) as p50, pct(latency, 99) as p99, pct(latency, 0) as p0, stddev(latency) as sd",
        events,
    )
    assert result.rows == [{"p50": "5.5", "p99": "9.91", "p0": "1", "sd": "3.0276503541"}]


def test_lambda_doc_dedup_slow_invocations_then_limit(run):
    # CWL_QuerySyntax-examples (Lambda): fields @timestamp, @requestId, @message, @logStream
    # | filter @type = "REPORT" and @duration > 1000 | sort @timestamp desc | dedup @requestId | limit 20
    events = [
        event(0, report("a", "1500.00", 1500, 128, 60)),
        event(1, report("b", "20.00", 20, 128, 60)),
        event(2, report("a", "1700.00", 1700, 128, 60)),  # a retry of `a`: dedup keeps the newest
        event(3, report("c", "2500.00", 2500, 128, 60)),
    ]
    query = (
        'fields @timestamp, @requestId, @message, @logStream | filter @type = "REPORT" and '
        "@duration > 1000 | sort @timestamp desc | dedup @requestId | limit 20"
    )
    rows = run(query, events).rows
    assert [(r["@requestId"], r["@message"].split("\t")[1]) for r in rows] == [
        ("c", "Duration: 2500.00 ms"),
        ("a", "Duration: 1700.00 ms"),
    ]


def test_vpc_doc_top_byte_transfers_on_a_subnet(run):
    # CWL_QuerySyntax-examples (VPC flow logs): filter isIpv4InSubnet(srcAddr, "192.0.2.0/24")
    # | stats sum(bytes) as bytesTransferred by dstAddr | sort bytesTransferred desc | limit 15
    flows = [
        ("192.0.2.10", "198.51.100.1", 500),
        ("192.0.2.11", "198.51.100.1", 700),
        ("192.0.2.12", "198.51.100.2", 300),
        ("203.0.113.5", "198.51.100.2", 9000),  # outside the subnet
    ]
    events = [
        event(i, {"srcAddr": s, "dstAddr": d, "bytes": b}) for i, (s, d, b) in enumerate(flows)
    ]
    query = (
        'filter isIpv4InSubnet(srcAddr, "192.0.2.0/24") | stats sum(bytes) as bytesTransferred '
        "by dstAddr | sort bytesTransferred desc | limit 15"
    )
    assert run(query, events).rows == [
        {"dstAddr": "198.51.100.1", "bytesTransferred": "1200"},
        {"dstAddr": "198.51.100.2", "bytesTransferred": "300"},
    ]
