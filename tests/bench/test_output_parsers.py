"""The benchmarks read their peers' text output: dnsperf's statistics, wrk's report line,
each peer's version, the kernel's /proc files. Every sample here is what the program
printed on this project's machine (dnsperf 2.10.0, wrk 4.1.0, NSD 4.6.1, Unbound 1.17.1,
nginx 1.22.1, Linux 6.18), ports and dates as they were."""

from __future__ import annotations

import re

import pytest

import dns_qps
import harness
import http_rps

DNSPERF_HEADER = """\
DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 52583 -d /tmp/webtrip-dns-qps-0rarc7ge/queries-repeated.txt -c 4 -q 32 -t 2 -l 2
[Status] Sending queries (to 127.0.0.1:52583)
[Status] Started at: Mon Dec  7 20:00:57 2026
[Status] Stopping after 2.000000 seconds
"""  # noqa: E501

DNSPERF_RUN = (
    DNSPERF_HEADER
    + """\
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         51326
  Queries completed:    51326 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 43627 (85.00%), NXDOMAIN 7699 (15.00%)
  Average packet size:  request 34, response 75
  Run time (s):         2.000247
  Queries per second:   25659.831011

  Average Latency (s):  0.001091 (min 0.000022, max 0.012547)
  Latency StdDev (s):   0.001706

"""
)

# Against a port nobody listens on, with -t 1.
DNSPERF_ALL_LOST = """\
DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 34794 -d q.txt -l 2 -t 1 -q 4
[Status] Sending queries (to 127.0.0.1:34794)
[Status] Started at: Mon Dec  7 20:01:57 2026
[Status] Stopping after 2.000000 seconds
[Timeout] Query timed out: msg id 0
[Timeout] Query timed out: msg id 1
[Timeout] Query timed out: msg id 2
[Timeout] Query timed out: msg id 3
[Timeout] Query timed out: msg id 4
[Timeout] Query timed out: msg id 5
[Timeout] Query timed out: msg id 6
[Timeout] Query timed out: msg id 7
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         8
  Queries completed:    0 (0.00%)
  Queries lost:         8 (100.00%)

  Response codes:       
  Average packet size:  request 34, response 0
  Run time (s):         2.000209
  Queries per second:   0.000000

  Average Latency (s):  0.000000 (min 0.000000, max 0.000000)

"""  # noqa: W291

# SIGINT after 1.5 s of a 5 s run.
DNSPERF_INTERRUPTED = """\
DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 52244 -d q.txt -l 5 -q 4
[Status] Sending queries (to 127.0.0.1:52244)
[Status] Started at: Mon Dec  7 20:02:06 2026
[Status] Stopping after 5.000000 seconds
[Status] Testing complete (interruption)

Statistics:

  Queries sent:         30778
  Queries completed:    30774 (99.99%)
  Queries lost:         0 (0.00%)
  Queries interrupted:  4 (0.01%)

  Response codes:       NOERROR 30774 (100.00%)
  Average packet size:  request 34, response 50
  Run time (s):         1.493398
  Queries per second:   20606.696942

  Average Latency (s):  0.000148 (min 0.000019, max 0.005496)
  Latency StdDev (s):   0.000112

"""

DNSPERF_NO_FILE = """\
DNS Performance Testing Tool
Version 2.10.0

Error: unable to open file: /nonexistent/queries.txt
"""

WRK_RUN = """\
Running 1s test @ http://127.0.0.1:57997/index.html
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.47ms    0.97ms   8.14ms   90.50%
    Req/Sec     7.40k   683.42     8.80k    80.00%
  7388 requests in 1.01s, 5.15MB read
Requests/sec:   7335.49
Transfer/sec:      5.11MB
WRK_RESULT {"duration_us": 1007159, "requests": 7388, "bytes": 5400628, "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}, "latency_us": {"min": 214, "mean": 1467.9, "stdev": 965.1, "max": 8144, "p50": 1246, "p90": 2183, "p99": 6494, "p99_9": 7923}}
"""  # noqa: E501

# http.server answering 404 to every request.
WRK_NOT_FOUND = """\
Running 1s test @ http://127.0.0.1:42435/missing.html
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.94ms    1.85ms  15.01ms   85.79%
    Req/Sec     1.10k   174.96     1.39k    70.00%
  1102 requests in 1.00s, 559.61KB read
  Non-2xx or 3xx responses: 1102
Requests/sec:   1097.83
Transfer/sec:    557.49KB
WRK_RESULT {"duration_us": 1003800, "requests": 1102, "bytes": 573040, "errors": {"connect": 0, "read": 0, "write": 0, "status": 1102, "timeout": 0}, "latency_us": {"min": 303, "mean": 1943.7, "stdev": 1847.0, "max": 15010, "p50": 1208, "p90": 4645, "p99": 8601, "p99_9": 13189}}
"""  # noqa: E501

# A server that closes every connection as soon as it accepts it: no response at all
# (wrk's minimum latency is then 2^64).
WRK_CLOSED = """\
Running 1s test @ http://127.0.0.1:35867/index.html
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  0 requests in 1.10s, 0.00B read
  Socket errors: connect 0, read 7405, write 0, timeout 0
Requests/sec:      0.00
Transfer/sec:       0.00B
WRK_RESULT {"duration_us": 1100008, "requests": 0, "bytes": 0, "errors": {"connect": 0, "read": 7405, "write": 0, "status": 0, "timeout": 0}, "latency_us": {"min": 18446744073709551616, "mean": 0.0, "stdev": 0.0, "max": 0, "p50": 0, "p90": 0, "p99": 0, "p99_9": 0}}
"""  # noqa: E501

# The same run as WRK_RUN's kind, without ``-s report.lua``.
WRK_WITHOUT_SCRIPT = """\
Running 1s test @ http://127.0.0.1:42435/index.html
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.33ms    1.96ms  11.10ms   83.64%
    Req/Sec     0.92k   198.17     1.25k    70.00%
  914 requests in 1.00s, 169.59KB read
Requests/sec:    913.05
Transfer/sec:    169.41KB
"""

WRK_REFUSED = "unable to connect to 127.0.0.1:42435 Connection refused\n"


# --- dnsperf ---------------------------------------------------------------------------


def test_dnsperf_statistics_become_numbers():
    result = dns_qps.parse_dnsperf(DNSPERF_RUN)
    assert result["queries_sent"] == result["queries_completed"] == 51326
    assert result["queries_lost"] == 0 and result["loss_pct"] == 0.0
    assert result["qps"] == pytest.approx(25659.831011)
    assert result["avg_latency_ms"] == pytest.approx(1.091)
    assert (result["min_latency_s"], result["max_latency_s"]) == (0.000022, 0.012547)
    assert (result["avg_request_bytes"], result["avg_response_bytes"]) == (34, 75)
    assert result["rcodes"] == {"NOERROR": 43627, "NXDOMAIN": 7699}


def test_dnsperf_run_where_every_query_was_lost_has_full_loss_and_no_response_codes():
    result = dns_qps.parse_dnsperf(DNSPERF_ALL_LOST)
    assert result["loss_pct"] == 100.0
    assert result["qps"] == 0.0
    assert result["rcodes"] == {}
    assert "latency_stddev_s" not in result


def test_dnsperf_interrupted_run_counts_its_interrupted_queries():
    result = dns_qps.parse_dnsperf(DNSPERF_INTERRUPTED)
    assert result["queries_interrupted"] == 4
    assert result["queries_completed"] == 30774


@pytest.mark.parametrize(
    "output",
    [DNSPERF_NO_FILE, DNSPERF_HEADER, ""],
    ids=["error message only", "cut before the statistics", "nothing"],
)
def test_dnsperf_output_without_statistics_is_a_clear_error(output):
    with pytest.raises(harness.BenchError, match="dnsperf output lacks queries_sent") as error:
        dns_qps.parse_dnsperf(output)
    assert output.strip()[-40:] in str(error.value)  # what dnsperf said, for the reader


def test_dnsperf_output_missing_one_statistic_names_it():
    output = re.sub(r"  Queries lost: .*\n", "", DNSPERF_RUN)
    with pytest.raises(harness.BenchError, match=r"lacks queries_lost:"):
        dns_qps.parse_dnsperf(output)


# --- wrk -------------------------------------------------------------------------------


def test_wrk_report_line_gives_rate_throughput_latency_and_errors():
    result = http_rps.parse_wrk(WRK_RUN)
    assert result["requests"] == 7388 and result["bytes"] == 5400628
    assert result["rps"] == pytest.approx(7388 / 1.007159)
    assert result["mb_per_s"] == pytest.approx(5.400628 / 1.007159)
    assert result["bytes_per_response"] == pytest.approx(5400628 / 7388)
    assert result["latency_ms"]["p50"] == 1.246 and result["latency_ms"]["p99"] == 6.494
    assert result["error_total"] == 0
    assert result["wrk_requests_per_sec"] == "7335.49"


def test_wrk_counts_http_error_statuses():
    result = http_rps.parse_wrk(WRK_NOT_FOUND)
    assert result["errors"]["status"] == result["error_total"] == 1102
    assert result["wrk_non_2xx_3xx"] == "1102"


def test_wrk_run_without_a_response_has_no_rate_and_counts_its_socket_errors():
    result = http_rps.parse_wrk(WRK_CLOSED)
    assert result["rps"] == 0.0 and result["bytes_per_response"] is None
    assert result["errors"]["read"] == result["error_total"] == 7405
    assert result["wrk_socket_errors"] == "connect 0, read 7405, write 0, timeout 0"


@pytest.mark.parametrize(
    "output", [WRK_WITHOUT_SCRIPT, WRK_REFUSED], ids=["no report script", "no connection"]
)
def test_wrk_output_without_the_report_line_is_a_clear_error(output):
    with pytest.raises(harness.BenchError, match="lacks the WRK_RESULT line") as error:
        http_rps.parse_wrk(output)
    assert output.splitlines()[-1] in str(error.value)


@pytest.mark.parametrize(
    "line",
    [
        WRK_RUN.splitlines()[-1][:120],  # cut in the middle
        'WRK_RESULT {"duration_us": 1007159, "requests": 7388}',  # fields missing
    ],
    ids=["cut", "incomplete"],
)
def test_wrk_broken_report_line_is_a_clear_error(line):
    with pytest.raises(harness.BenchError, match="broken WRK_RESULT line"):
        http_rps.parse_wrk(WRK_WITHOUT_SCRIPT + line + "\n")


# --- versions and /proc ----------------------------------------------------------------

VERSIONS = {
    "dnsperf": ("  -O set long options: <name>=<value>\nDNS Performance Testing Tool\n"
                "Version 2.10.0\n\n", "2.10.0"),
    "nsd": ("NSD version 4.6.1\nWritten by NLnet Labs.\n\nConfigure line: --build=x86_64\n",
            "4.6.1"),
    "unbound": ("Version 1.17.1\n\nConfigure line: --build=x86_64-linux-gnu --prefix=/usr\n",
                "1.17.1"),
    "nginx": ("nginx version: nginx/1.22.1\n", "1.22.1"),
    "wrk": ("wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\n"
            "Usage: wrk <options> <url>\n", "debian/4.1.0-3+b2"),
}  # fmt: skip


@pytest.mark.parametrize("program", sorted(VERSIONS))
def test_each_peers_version_is_read_from_its_own_words(program):
    text, version = VERSIONS[program]
    assert harness.version_in(text, program) == version
    assert harness.version_in("command not found\n", program) is None


def test_pid_stat_command_name_may_hold_parentheses_and_spaces():
    line = (
        "25362 (a) (b c) R 25356 25356 6316 0 -1 4194304 2863 6508 0 0 5 3 4 4 20 0 1 0 "
        "281549 16977920 3377 18446744073709551615 94531387293696 94531387294037\n"
    )
    assert harness.parse_pid_stat(line) == harness.ProcStat("a) (b c", 25356, 5, 3)


def test_text_that_is_not_a_pid_stat_line_is_refused():
    with pytest.raises(ValueError, match="not a /proc/<pid>/stat line"):
        harness.parse_pid_stat("25362 (python3) R 25356")


def test_proc_stat_gives_each_cpu_and_leaves_out_the_total():
    text = (
        "cpu  277765 1378 41755 232009 1733 0 3455 4759 0 0\n"
        "cpu0 124994 728 19832 131305 511 0 1676 2433 0 0\n"
        "cpu1 152770 649 21922 100703 1221 0 1778 2326 0 0\n"
        "intr 4215836 18 0 0\n"
    )
    assert harness.parse_proc_stat(text) == {
        "cpu0": [124994, 728, 19832, 131305, 511, 0, 1676, 2433],
        "cpu1": [152770, 649, 21922, 100703, 1221, 0, 1778, 2326],
    }
