"""Turns the benchmark harness's results JSON into BENCHMARKS.md (at the repo root) and its
plots (benches/plots/*.png).

    python benches/python/report.py target/bench/results.json

Run by scripts/bench.sh with .venv-bench's Python (matplotlib) after `cargo bench --bench
gateway`. It only reads the JSON: every figure, goal and verdict in BENCHMARKS.md is computed
here from the raw numbers the harness measured.
"""

import json
import math
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOTS_REL = "benches/plots"
PLOTS = os.path.join(REPO, PLOTS_REL)
OUT = os.path.join(REPO, "BENCHMARKS.md")
FIGSIZE, DPI = (9, 5), 100  # 900 x 500 px
COLORS = {"echo": "#7f7f7f", "direct": "#1f77b4", "gateway": "#d62728",
          "gateway_by_id": "#ff7f0e", "grpc_python": "#d62728", "boto3": "#1f77b4",
          "awscli": "#9467bd"}

GOAL_P1 = "added p50 ≤ 1.5 × echo p50"
GOAL_P2_RATE = "≥ 0.8 × direct rate"
GOAL_P2_RSS = "peak RSS ≤ 64 MiB"
GOAL_P1B = "gateway CPU a call ≤ 2 × echo's"
GOAL_P2_CPU = "gateway CPU an instance ≤ 1.25 × the paginator's"
GOAL_P6_CPU = "gateway CPU < 1 core"
GOAL_P3 = "≥ 3 × faster than boto3"
GOAL_P4_THROTTLES = "0 throttles at EC2"
GOAL_P4_GOODPUT = "goodput ≥ 95 % of refill"
GOAL_P6_CALLS = "EC2 calls/s ≤ refill (20/s)"
GOAL_P6_THROTTLES = "0 throttles"
GOAL_P6_SERVED = "every client served"
GOAL_P6_P99 = "p99 ≤ window + one EC2 round trip"
GOAL_P8_THROTTLES = "0 throttles at EC2"
GOAL_P8_GOODPUT = "goodput ≥ 95 % of refill"
GOAL_P9_CALLS = "EC2 calls/s: the resync pages only"
GOAL_P9_STREAM = "view stream ≥ 10× the SDK paginator"
GOAL_P9_RSS = "RSS ≤ 256 MiB with 100,000 instances"
GOAL_P9E_LATENCY = "event put -> watcher: p99 under 1 s plus the debounce"
GOAL_P9E_CALLS = "at most 1 DescribeInstances per debounce window, never a full list"
GOAL_P11_LATENCY = "added p50 with the audit at request level: within 3 %"
GOAL_P11_LOST = "0 events lost at the fleet's rate"
GOAL_P10_LATENCY = "another account's p50 within 5 % of a home call's"
GOAL_P10_RSS = "50 accounts configured: < 5 MiB above one"
GOAL_P7_RSS = "RSS flat"
GOAL_P7_ERRORS = "no unexpected errors"


# ---------------------------------------------------------------------------------------------
# Numbers


def num(x, digits=3):
    """x with `digits` significant digits (never fewer integer digits), thousands separated."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** (digits - 1):
        return f"{round(x):,}"
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_us(us):
    """A duration given in µs, in µs, ms or s with 3 significant digits."""
    if us is None:
        return "—"
    if abs(us) < 1000:
        return f"{num(us)} µs"
    if abs(us) < 1_000_000:
        return f"{num(us / 1000)} ms"
    if abs(us) < 600_000_000:
        return f"{num(us / 1_000_000)} s"
    return f"{num(us / 60_000_000)} min"


def fmt_ms(ms):
    return fmt_us(ms * 1000)


def fmt_s(seconds):
    return fmt_us(seconds * 1_000_000)


def fmt_rate(x, unit="/s"):
    """A rate with thousands separators; small rates keep 3 significant digits."""
    return f"{num(x)}{unit}"


def fmt_mib(x):
    return f"{num(x)} MiB"


def ratio(a, b):
    return a / b if b else math.inf


def percentile(values, p):
    """Linear-interpolated percentile (as numpy's default) of a non-empty list."""
    data = sorted(values)
    if not data:
        return None
    k = (len(data) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values):
    return statistics.median(values) if values else None


def codes(counts):
    """{code: count} as `CODE n, ...`, or none."""
    return ", ".join(f"{code} {n:,}" for code, n in sorted((counts or {}).items())) or "none"


def yes_no(ok):
    return "yes" if ok else "no"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def image(name, alt):
    return f"![{alt}]({PLOTS_REL}/{name})"


# ---------------------------------------------------------------------------------------------
# Plots


def new_figure(title, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    ax.set_title(title, fontsize=13)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(True, alpha=0.3)
    return fig, ax


def save(fig, name):
    fig.tight_layout()
    fig.savefig(os.path.join(PLOTS, name), dpi=DPI)
    plt.close(fig)


THOUSANDS = FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def us_tick(v, _pos):
    return fmt_us(v)


def log_us_axis(ax):
    """A log x axis of µs values, labelled at 1-2-5 steps in µs / ms / s."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(us_tick))
    ax.xaxis.set_minor_formatter(NullFormatter())


def cdf(ax, values, label, color=None):
    data = sorted(values)
    n = len(data)
    ax.step(data, [(i + 1) / n for i in range(n)], where="post", label=label, color=color,
            linewidth=1.8)


def plot_p1_latency(p1):
    fig, ax = new_figure("P1: latency per call (calls one after another)",
                         "latency (log scale)", "fraction of calls ≤ latency")
    for name in ("echo", "direct", "gateway", "gateway_by_id"):
        values = p1["latency_us"].get(name) or []
        if values:
            cdf(ax, values, f"{name} (p50 {fmt_us(median(values))})", COLORS[name])
    log_us_axis(ax)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    save(fig, "p1_latency.png")


def plot_p1_throughput(p1):
    rows = p1["throughput"]
    fig, ax = new_figure("P1: throughput by concurrency", "concurrent callers", "calls per second")
    width = 0.26
    for i, name in enumerate(("echo", "direct", "gateway")):
        xs = [j + (i - 1) * width for j in range(len(rows))]
        bars = ax.bar(xs, [r[name] for r in rows], width, label=name, color=COLORS[name])
        ax.bar_label(bars, labels=[f"{r[name]:,.0f}" for r in rows], fontsize=8, padding=2)
    ax.set_xticks(range(len(rows)), [str(r["concurrency"]) for r in rows])
    ax.yaxis.set_major_formatter(THOUSANDS)
    ax.margins(y=0.12)
    ax.grid(True, axis="y", alpha=0.3)
    ax.grid(False, axis="x")
    ax.legend()
    save(fig, "p1_throughput.png")


def plot_p2_stream(p2):
    fig, ax = new_figure(f"P2: streaming {p2['instances']:,} instances",
                         "time since the call started (s)", "instances received")
    for name in ("gateway", "direct"):
        progress = p2[name].get("progress") or []
        if progress:
            ax.plot([p[0] for p in progress], [p[1] for p in progress], color=COLORS[name],
                    linewidth=2, label=f"{name} ({fmt_rate(p2[name]['rate'], ' instances/s')})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")
    save(fig, "p2_stream.png")


def plot_p3_clients(p3):
    names = [n for n in ("grpc_python", "boto3", "awscli") if p3.get(n)]
    medians = [median(p3[n]) for n in names]
    fig, ax = new_figure(f"P3: a Python program lists {p3['instances']:,} instances "
                         f"(median of {p3['runs']} runs)", "client", "seconds per run (median)")
    bars = ax.bar(names, medians, color=[COLORS[n] for n in names], width=0.55)
    ax.bar_label(bars, labels=[fmt_s(m) for m in medians], padding=3)
    ax.margins(y=0.12)
    ax.grid(False, axis="x")
    save(fig, "p3_clients.png")


def plot_p6_latency(p6, bound_us, name="p6_latency.png"):
    fig, ax = new_figure(f"P6: latency with {p6['clients']:,} clients at "
                         f"{num(p6['rate_per_client'])}/s each",
                         "latency (log scale)", "fraction of calls ≤ latency")
    cdf(ax, p6["latency_us"], "calls through the gateway", COLORS["gateway"])
    ax.axhline(0.99, color="gray", linestyle=":", linewidth=1, label="p99")
    ax.axvline(bound_us, color="black", linestyle="--", linewidth=1.2,
               label=f"window + one EC2 round trip ({fmt_us(bound_us)})")
    log_us_axis(ax)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="upper left")
    save(fig, name)


SOAK_WARMUP_S = 60


def soak_halves(points):
    """Peak RSS of the first and second halves of the soak, after the warm-up."""
    warm = [p for p in points if p[0] >= SOAK_WARMUP_S] or points
    middle = (warm[0][0] + warm[-1][0]) / 2
    first = max(p[1] for p in warm if p[0] <= middle)
    second = max((p[1] for p in warm if p[0] > middle), default=first)
    return first, second


def plot_p7_rss(p7):
    points = p7["rss_mib"]
    minutes = p7["seconds"] >= 600
    scale = 60 if minutes else 1
    fig, ax = new_figure("P7: gateway resident memory during the soak",
                         "time since the soak started (min)" if minutes else
                         "time since the soak started (s)", "RSS (MiB)")
    ax.plot([p[0] / scale for p in points], [p[1] for p in points], color=COLORS["gateway"],
            linewidth=2, marker="." if len(points) < 200 else None, label="gateway RSS")
    first, _ = soak_halves(points)
    ax.axhline(first * 1.1, color="black", linestyle="--", linewidth=1.2,
               label=f"flat limit: 1.1 × first half's peak ({fmt_mib(first * 1.1)})")
    ax.legend(loc="lower right")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0, top=max(p[1] for p in points) * 1.2)
    save(fig, "p7_rss.png")


# ---------------------------------------------------------------------------------------------
# Sections: each answers (summary rows, markdown body)


def section_p1(p1):
    lat = p1["latency_us"]
    med = {k: median(v) for k, v in lat.items() if v}
    added = med["gateway"] - med["direct"]
    allowance = 1.5 * med["echo"]
    r = ratio(added, allowance)
    summary = [["P1 added latency", GOAL_P1,
                f"added p50 {fmt_us(added)} (gateway {fmt_us(med['gateway'])} − direct "
                f"{fmt_us(med['direct'])}; echo p50 {fmt_us(med['echo'])})",
                f"{num(r)} of the allowed {fmt_us(allowance)}", yes_no(r <= 1)]]
    labels = {"echo": "echo (gRPC floor, no EC2)", "direct": "direct (client → EC2)",
              "gateway": "gateway (client → gateway → EC2)",
              "gateway_by_id": "gateway, describe by instance id"}
    rows = []
    for name in ("echo", "direct", "gateway", "gateway_by_id"):
        values = lat.get(name) or []
        if values:
            rows.append([labels[name], f"{len(values):,}", fmt_us(percentile(values, 50)),
                         fmt_us(percentile(values, 90)), fmt_us(percentile(values, 99)),
                         fmt_us(max(values))])
    throughput = [[f"{t['concurrency']:,}", fmt_s(t["seconds"]), fmt_rate(t["echo"]),
                   fmt_rate(t["direct"]), fmt_rate(t["gateway"]),
                   num(ratio(t["gateway"], t["direct"])),
                   *cpu_cells(t.get("cpu_us_per_call"))] for t in p1["throughput"]]
    cpu = p1.get("cpu_us_per_call")
    if cpu:
        cpu_ratio = ratio(cpu["gateway"], cpu["echo"])
        summary.append(["P1b CPU per call", GOAL_P1B,
                        f"gateway {fmt_us(cpu['gateway'])} vs echo {fmt_us(cpu['echo'])} a call "
                        "(one at a time)", f"{num(cpu_ratio)} × echo", yes_no(cpu_ratio <= 2)])
    body = [
        "## P1: added latency and throughput",
        f"Calls one after another, up to {p1['calls']:,} of each kind (the table's *samples* "
        "column counts the latencies kept). *echo* is a health check on a bare gRPC server "
        "(the floor of one gRPC hop on this machine), *direct* calls DescribeInstances on "
        "the EC2 stand-in with the Rust SDK, *gateway* makes the same call through the "
        "gateway, and "
        "*gateway, describe by instance id* asks the gateway for one instance by id "
        "(reported, no goal). The gateway's added latency is the difference of the "
        "gateway's and direct medians.",
        table(["calls", "samples", "p50", "p90", "p99", "max"], rows),
        f"Added p50: **{fmt_us(added)}** against an allowance of 1.5 × echo p50 = "
        f"{fmt_us(allowance)} (ratio {num(r)}); added p99: "
        f"{fmt_us(percentile(lat['gateway'], 99) - percentile(lat['direct'], 99))}.",
        image("p1_latency.png", "P1 latency CDF"),
        *([f"**P1b, CPU per call.** The gateway's process used **{fmt_us(cpu['gateway'])}** of "
           f"CPU (user + system, from `/proc/<pid>/stat`) per DescribeInstances during the "
           f"calls above, the echo server's process {fmt_us(cpu['echo'])} per health check: "
           f"{num(ratio(cpu['gateway'], cpu['echo']))} × (goal ≤ 2 ×). The gateway's figure "
           "includes its own EC2 call (the SDK's request, signing, HTTP/1 exchange and XML "
           "decoding): aws-sdk-ec2 making the same calls one after another in a process of its "
           f"own used {fmt_us(cpu['sdk'])} a call, so echo + SDK = "
           f"{fmt_us(cpu['echo'] + cpu['sdk'])} is the floor of a gateway that calls EC2 "
           "itself; see *Profile* for where the rest goes."] if cpu and "sdk" in cpu else []),
        "Throughput, each caller issuing calls back to back (CPU a call: each server "
        "process's CPU time over the run divided by the calls it answered):",
        table(["concurrency", "duration", "echo calls/s", "direct calls/s", "gateway calls/s",
               "gateway / direct", "echo CPU a call", "gateway CPU a call"], throughput),
        image("p1_throughput.png", "P1 throughput by concurrency"),
    ]
    plot_p1_latency(p1)
    plot_p1_throughput(p1)
    return summary, body


def cpu_cells(cpu):
    """The echo's and the gateway's CPU a call, as two table cells."""
    if not cpu:
        return ["—", "—"]
    return [fmt_us(cpu["echo"]), fmt_us(cpu["gateway"])]


def section_p2(p2):
    gw, direct = p2["gateway"], p2["direct"]
    r = ratio(gw["rate"], direct["rate"])
    summary = [
        ["P2 streaming rate", GOAL_P2_RATE,
         f"gateway {fmt_rate(gw['rate'], ' instances/s')} vs direct "
         f"{fmt_rate(direct['rate'], ' instances/s')}", f"{num(r)} × direct", yes_no(r >= 0.8)],
        ["P2 memory while streaming", GOAL_P2_RSS, f"peak {fmt_mib(gw['peak_rss_mib'])}",
         f"{num(gw['peak_rss_mib'] / 64)} of 64 MiB", yes_no(gw["peak_rss_mib"] <= 64)],
    ]
    cpu = p2.get("cpu_us_per_instance")
    if cpu:
        cpu_ratio = ratio(cpu["gateway"], cpu["direct"])
        summary.append(["P2 CPU per instance", GOAL_P2_CPU,
                        f"gateway {num(cpu['gateway'])} µs vs paginator {num(cpu['direct'])} µs "
                        "an instance", f"{num(cpu_ratio)} × the paginator's",
                        yes_no(cpu_ratio <= 1.25)])
    rows = [["gateway (DescribeInstancesStream)", f"{gw['instances']:,}", fmt_s(gw["seconds"]),
             fmt_rate(gw["rate"]), f"{fmt_mib(gw['start_rss_mib'])} → "
             f"{fmt_mib(gw['peak_rss_mib'])}"],
            ["direct (paging DescribeInstances)", f"{direct['instances']:,}",
             fmt_s(direct["seconds"]), fmt_rate(direct["rate"]), "—"]]
    body = [
        "## P2: streaming every instance",
        f"One client lists all {p2['instances']:,} instances: through the gateway with "
        "`DescribeInstancesStream`, and directly by paging DescribeInstances on the stand-in. "
        "The gateway's resident memory is sampled during the stream.",
        table(["path", "instances", "duration", "instances/s", "gateway RSS (start → peak)"],
              rows),
        *([f"CPU per instance: the gateway's process **{num(cpu['gateway'])} µs** (reading "
           "EC2's pages, converting, encoding, sending), aws-sdk-ec2's paginator in a process "
           f"of its own {num(cpu['direct'])} µs (reading the same pages): "
           f"{num(ratio(cpu['gateway'], cpu['direct']))} × (goal ≤ 1.25 ×)."] if cpu else []),
        image("p2_stream.png", "P2 instances streamed over time"),
    ]
    plot_p2_stream(p2)
    return summary, body


def section_p3(p3):
    med = {n: median(p3.get(n) or []) for n in ("grpc_python", "boto3", "awscli")}
    speedup = ratio(med["boto3"], med["grpc_python"])
    summary = [["P3 Python client vs boto3", GOAL_P3,
                f"gRPC {fmt_s(med['grpc_python'])} vs boto3 {fmt_s(med['boto3'])}"
                + (f", AWS CLI {fmt_s(med['awscli'])}" if med["awscli"] is not None else "")
                + " (medians)",
                f"{num(speedup)} × faster", yes_no(speedup >= 3)]]
    labels = {"grpc_python": "Python gRPC client → gateway (DescribeInstancesStream)",
              "boto3": "boto3 → EC2 (describe_instances paginator)",
              "awscli": "AWS CLI v1 → EC2 (`aws ec2 describe-instances`)"}
    rows = []
    for name in ("grpc_python", "boto3", "awscli"):
        runs = p3.get(name) or []
        if runs:
            rows.append([labels[name], str(len(runs)), fmt_s(med[name]), fmt_s(min(runs)),
                         fmt_s(max(runs)),
                         "—" if name == "grpc_python" else
                         f"{num(ratio(med[name], med['grpc_python']))} × slower"])
    body = [
        "## P3: a Python program listing every instance",
        f"Each client lists all {p3['instances']:,} instances, {p3['runs']} runs each. A "
        "Python run is timed from creating the channel or boto3 client to the last instance "
        "read (`benches/python/clients.py`); an AWS CLI run is the whole process.",
        table(["client", "runs", "median", "min", "max", "vs gRPC"], rows),
    ]
    if med["awscli"] is not None:
        body.append(f"The gRPC client is **{num(speedup)} ×** faster than boto3 and "
                    f"**{num(ratio(med['awscli'], med['grpc_python']))} ×** faster than the "
                    "AWS CLI.")
    body.append(image("p3_clients.png", "P3 median seconds per client"))
    plot_p3_clients(p3)
    return summary, body


def section_p4(p4):
    goodput = ratio(p4["goodput_per_sec"], p4["refill_per_sec"])
    summary = [
        ["P4 rate limit: throttles", GOAL_P4_THROTTLES,
         f"{p4['throttles_seen_by_ec2']:,} throttles", "—",
         yes_no(p4["throttles_seen_by_ec2"] == 0)],
        ["P4 rate limit: goodput", GOAL_P4_GOODPUT,
         f"{fmt_rate(p4['goodput_per_sec'])} served of {fmt_rate(p4['refill_per_sec'])} refill",
         f"{num(goodput)} of refill", yes_no(goodput >= 0.95)],
    ]
    rows = [
        ["bucket", f"capacity {num(p4['capacity'])}, refill {fmt_rate(p4['refill_per_sec'])}"],
        ["offered", f"{fmt_rate(p4['offered_per_sec'])} ({p4['calls']:,} calls in "
                    f"{fmt_s(p4['seconds'])})"],
        ["served", f"{p4['served']:,}"],
        ["refused by the gateway", f"{p4['refused']:,}"
                                   + (f" ({codes(p4['refused_codes'])})"
                                      if p4.get("refused_codes") else "")],
        ["EC2 calls", f"{p4['ec2_calls']:,}"],
        ["throttles seen by EC2", f"{p4['throttles_seen_by_ec2']:,}"],
        ["goodput", f"{fmt_rate(p4['goodput_per_sec'])} ({num(goodput)} of refill)"],
    ]
    body = [
        "## P4: the gateway's rate limit in front of EC2",
        f"Clients offer `{p4['action']}` above the gateway's token-bucket rate for that action; "
        "the gateway should refuse the excess itself, so that EC2 never throttles, while "
        "serving close to the refill rate.",
        table(["measure", "value"], rows),
    ]
    return summary, body


def section_p5(p5):
    ident, single = p5["identical"], p5["single_id"]
    r_ident = ratio(ident["requests"], ident["ec2_calls"])
    r_single = ratio(single["requests"], single["ec2_calls"])
    summary = [
        [f"P5 EC2 calls per {ident['requests']:,} identical concurrent describes", "—",
         f"{ident['ec2_calls']:,} EC2 calls", f"{num(r_ident)} requests per EC2 call", "—"],
        [f"P5 EC2 calls per {single['requests']:,} single-id describes", "—",
         f"{single['ec2_calls']:,} EC2 calls", f"{num(r_single)} requests per EC2 call", "—"],
    ]
    rows = [
        ["identical concurrent describes",
         f"{ident['requests']:,}", f"{ident['ec2_calls']:,}", num(r_ident)],
        ["single-id describes (one instance id each)", f"{single['requests']:,}",
         f"{single['ec2_calls']:,}", num(r_single)],
    ]
    body = [
        "## P5: EC2 calls saved",
        "How many EC2 calls the gateway makes for many concurrent describes: identical "
        "requests, and requests for one instance id each. No goal; the ratio is what it saves.",
        table(["case", "requests", "EC2 calls", "requests per EC2 call"], rows),
    ]
    return summary, body


def section_p6(p6, key="p6", label="P6 many clients"):
    plot = f"{key}_latency.png"
    lat = p6["latency_us"]
    p99 = percentile(lat, 99)
    bound = p6["window_ms"] * 1000 + p6["ec2_round_trip_us"]
    calls_ratio = ratio(p6["ec2_calls_per_sec"], p6["refill_per_sec"])
    served_ratio = ratio(p6["served_per_sec"], p6["offered_per_sec"])
    served_ok = p6["errors"] == 0 and served_ratio >= 0.95
    errors = codes(p6["error_codes"])
    summary = [
        ["P6 many clients: EC2 calls", GOAL_P6_CALLS,
         f"{fmt_rate(p6['ec2_calls_per_sec'])} (refill {fmt_rate(p6['refill_per_sec'])})",
         f"{num(calls_ratio)} of refill", yes_no(p6["ec2_calls_per_sec"] <= p6["refill_per_sec"])],
        ["P6 many clients: throttles", GOAL_P6_THROTTLES, f"{p6['throttles']:,} throttles", "—",
         yes_no(p6["throttles"] == 0)],
        ["P6 many clients: served", GOAL_P6_SERVED,
         f"{fmt_rate(p6['served_per_sec'])} of {fmt_rate(p6['offered_per_sec'])} offered, "
         f"{p6['errors']:,} errors", f"{num(served_ratio)} served", yes_no(served_ok)],
        ["P6 many clients: latency", GOAL_P6_P99,
         f"p99 {fmt_us(p99)} (bound {fmt_us(bound)})", f"{num(ratio(p99, bound))} of bound",
         yes_no(p99 <= bound)],
    ]
    if "gateway_cpu_cores" in p6:
        summary.append(["P6 many clients: gateway CPU", GOAL_P6_CPU,
                        f"{num(p6['gateway_cpu_cores'])} cores "
                        f"({fmt_us(p6['gateway_cpu_us_per_call'])} a served call)",
                        f"{num(p6['gateway_cpu_cores'])} of 1 core",
                        yes_no(p6["gateway_cpu_cores"] < 1)])
    rows = [
        ["clients", f"{p6['clients']:,} at {fmt_rate(p6['rate_per_client'])} each, for "
                    f"{fmt_s(p6['seconds'])}"],
        ["offered / served", f"{fmt_rate(p6['offered_per_sec'])} / "
                             f"{fmt_rate(p6['served_per_sec'])}"],
        ["errors", f"{p6['errors']:,} ({errors})"],
        ["EC2 calls", f"{fmt_rate(p6['ec2_calls_per_sec'])} (refill "
                      f"{fmt_rate(p6['refill_per_sec'])}), {p6['throttles']:,} throttles"],
        ["latency p50 / p90 / p99 / max",
         f"{fmt_us(percentile(lat, 50))} / {fmt_us(percentile(lat, 90))} / {fmt_us(p99)} / "
         f"{fmt_us(max(lat))}"],
        ["bound: window + one EC2 round trip", f"{num(p6['window_ms'])} ms + "
                                                f"{fmt_us(p6['ec2_round_trip_us'])} = "
                                                f"{fmt_us(bound)}"],
    ]
    if "gateway_cpu_cores" in p6:
        rows.append(["gateway CPU (user + system)",
                     f"{num(p6['gateway_cpu_cores'])} cores, "
                     f"{fmt_us(p6['gateway_cpu_us_per_call'])} a served call"])
    if key == "p6":
        heading = "## P6: many clients, one EC2 budget"
        text = ("Many clients each describe their own instance by id at a steady rate, on their "
                "own clocks (an open loop: a slow answer does not lower the offered load); the "
                "gateway should gather their requests into few EC2 calls, within EC2's refill "
                "rate, and still answer every client within its batching window plus one EC2 "
                "round trip.")
    elif key == "p6_view":
        heading = "## P6, from the view: the same fleet with `max_staleness`"
        text = ("The same 1,000 clients at 10 describes a second each, accepting answers up to "
                "30 s old (`max_staleness`): the gateway keeps a view of the account's "
                "instances (a full list every 10 s here) and answers from it, so EC2 sees the "
                "view's own lists and nothing else. The bound below is the fresh reads' bound, "
                "kept for comparison.")
    else:
        heading = "## P6, scaled: the same fleet at a rate this machine can carry"
        text = ("The same measurement with each client polling less often, so that the offered "
                "load fits what the gateway and the load generator can do together on this "
                "machine's cores: it shows the batching itself, without the queueing of an "
                "overloaded machine.")
    summary = [[label + row[0][len("P6 many clients"):], *row[1:]] for row in summary]
    body = [heading, text, table(["measure", "value"], rows), image(plot, label + " latency CDF")]
    plot_p6_latency(p6, bound, plot)
    return summary, body


def section_p6_scaled(p6):
    return section_p6(p6, "p6_scaled", "P6 scaled fleet")


def section_p6_view(p6):
    return section_p6(p6, "p6_view", "P6 from the view")


def section_profile(profile):
    per_call = profile["instructions_per_call"]
    steps = [[s["step"], f"{s['instructions_per_call']:,.0f}", f"{100 * s['share']:.1f} %"]
             for s in profile["steps"]]
    own = [[f"`{f['function'][:110]}`", f"{f['instructions_per_call']:,.0f}", f["step"]]
           for f in profile["top_functions_own"][:20]]
    inclusive = [[f"`{f['function'][:110]}`", f"{f['instructions_per_call']:,.0f}"]
                 for f in profile["gateway_functions_inclusive"][:15]]
    body = [
        "## Profile: where a call's CPU goes",
        f"The gateway's release binary under valgrind's callgrind, serving "
        f"{profile['calls']:,} DescribeInstances one at a time (1 instance each, as P1), counted "
        "after a warm-up: instructions are exact and repeat from run to run, unlike times on "
        "this shared machine. Each function's own instructions (not its callees') are summed "
        "into the step of a call its name belongs to and divided by the calls; the kernel's "
        "work (syscalls) is not counted, and a function the compiler inlined counts in the one "
        "it was inlined into (some of the gateway's layers sit inside tower's and tokio's "
        f"generic code). **{per_call:,.0f} instructions a call** in all.",
        table(["step", "instructions a call", "share"], steps),
        "The functions with the most instructions of their own:",
        table(["function", "instructions a call", "step"], own),
        "The gateway's own functions with everything they call (inclusive; they nest, so the "
        "rows do not add up):",
        table(["function", "instructions a call"], inclusive),
    ]
    return [], body


def section_p7(p7):
    if p7 is None:
        summary = [["P7 soak: memory", GOAL_P7_RSS, "not run", "—", "not run"],
                   ["P7 soak: errors", GOAL_P7_ERRORS, "not run", "—", "not run"]]
        body = ["## P7: soak",
                "Not run: the soak is a mode of the harness that is not run by default "
                "(`bash scripts/bench.sh --soak`)."]
        return summary, body
    points = p7["rss_mib"]
    start, end = points[0][1], points[-1][1]
    first, second = soak_halves(points)
    growth = ratio(second, first)
    summary = [
        ["P7 soak: memory", GOAL_P7_RSS,
         f"peak {fmt_mib(first)} in the first half, {fmt_mib(second)} in the second "
         f"(after {SOAK_WARMUP_S} s of warm-up; {fmt_mib(start)} before any load)",
         f"{num(growth)} × first half (≤ 1.1)", yes_no(growth <= 1.1)],
        ["P7 soak: errors", GOAL_P7_ERRORS, f"{p7['unexpected_errors']:,} unexpected", "—",
         yes_no(p7["unexpected_errors"] == 0)],
    ]
    rows = [
        ["duration", fmt_s(p7["seconds"])],
        ["calls", f"{p7['calls']:,}"],
        ["RSS start / end / max", f"{fmt_mib(start)} / {fmt_mib(end)} / "
                                  f"{fmt_mib(max(p[1] for p in points))}"],
        ["expected errors", codes(p7["expected_errors"])],
        ["unexpected errors", f"{p7['unexpected_errors']:,}"
                              + (f" ({codes(p7['unexpected'])})" if p7.get("unexpected") else "")],
    ]
    body = ["## P7: soak",
            "The harness's soak mode: calls against the gateway for a long time, sampling its "
            "resident memory; errors the load provokes on purpose are counted apart. Memory is "
            f"flat when the peak RSS of the second half of the run (after {SOAK_WARMUP_S} s of "
            "warm-up: connection buffers, allocator arenas) is within 1.1 × the first half's; "
            "a leak keeps climbing.",
            table(["measure", "value"], rows),
            image("p7_rss.png", "P7 RSS over time")]
    plot_p7_rss(p7)
    return summary, body


# ---------------------------------------------------------------------------------------------


def section_p8(p8):
    goodput = ratio(p8["goodput_per_sec"], p8["refill_per_sec"])
    per_call = ratio(p8["redis_round_trips"], p8["ec2_calls"])
    added = p8["p50_shared_us"] - p8["p50_in_process_us"]
    summary = [
        ["P8 shared budget: throttles", GOAL_P8_THROTTLES,
         f"{p8['throttles_seen_by_ec2']:,} throttles ({p8['replicas']} replicas)", "—",
         yes_no(p8["throttles_seen_by_ec2"] == 0)],
        ["P8 shared budget: goodput", GOAL_P8_GOODPUT,
         f"{fmt_rate(p8['goodput_per_sec'])} served of {fmt_rate(p8['refill_per_sec'])} refill",
         f"{num(goodput)} of refill", yes_no(goodput >= 0.95)],
        ["P8 shared budget: Redis round trips", "—",
         f"{p8['redis_round_trips']:,.0f} for {p8['ec2_calls']:,} EC2 calls",
         f"{num(per_call)} per EC2 call", "—"],
        ["P8 shared budget: added p50", "—",
         f"{fmt_us(added)} (shared {fmt_us(p8['p50_shared_us'])} − in-process "
         f"{fmt_us(p8['p50_in_process_us'])})", "—", "—"],
    ]
    rows = [
        ["replicas", f"{p8['replicas']}, one redis-server on loopback"],
        ["bucket", f"capacity {num(p8['capacity'])}, refill {fmt_rate(p8['refill_per_sec'])}"],
        ["offered", f"{fmt_rate(p8['offered_per_sec'])} over the replicas ({p8['calls']:,} "
                    f"calls in {fmt_s(p8['seconds'])})"],
        ["served", f"{p8['served']:,}"],
        ["refused by the gateways", f"{p8['refused']:,}"
                                    + (f" ({codes(p8['refused_codes'])})"
                                       if p8.get("refused_codes") else "")],
        ["EC2 calls", f"{p8['ec2_calls']:,}"],
        ["throttles seen by EC2", f"{p8['throttles_seen_by_ec2']:,}"],
        ["goodput", f"{fmt_rate(p8['goodput_per_sec'])} ({num(goodput)} of refill)"],
        ["Redis round trips (reservations)", f"{p8['redis_round_trips']:,.0f} "
                                             f"({num(per_call)} per EC2 call)"],
        ["replicas in shared mode at the end", f"{p8['replicas_in_shared_mode']:.0f}"],
        ["p50 / p99, in-process budget", f"{fmt_us(p8['p50_in_process_us'])} / "
                                         f"{fmt_us(p8['p99_in_process_us'])}"],
        ["p50 / p99, shared budget", f"{fmt_us(p8['p50_shared_us'])} / "
                                     f"{fmt_us(p8['p99_shared_us'])}"],
    ]
    body = [
        "## P8: one EC2 budget shared by three replicas through Redis",
        f"P4's load ({fmt_rate(p8['offered_per_sec'])} distinct describes, 1 s deadlines) spread "
        f"round-robin over {p8['replicas']} gateway processes that share one budget in Redis "
        "(`--ec2-budget-redis-url`): together they should keep EC2 from throttling and still "
        "spend the refill. Then the price per call: "
        f"{p8['latency_calls']:,} describes one after another, with the budget lifted so that "
        "it never binds, through a gateway with the in-process budget and through one with the "
        "shared budget, which asks Redis on every one of them (a full bucket grants no lease).",
        table(["measure", "value"], rows),
    ]
    return summary, body


def section_p9(p9):
    w, b = p9["watchers"], p9["big_view"]
    summary = [
        ["P9 inventory: EC2 calls with 1,000 idle watchers", GOAL_P9_CALLS,
         f"{w['idle_describe_calls_per_sec']:.2f} DescribeInstances/s (list pages "
         f"{w['list_calls_per_sec']:.2f}/s)",
         f"{num(w['idle_describe_calls_per_sec'] / w['list_calls_per_sec'])}× the list pages",
         yes_no(w["idle_describe_calls"] <= round(w["list_calls_per_sec"]
                                                  * w["idle_window_secs"]) + 10)],
        ["P9 inventory: EC2 calls with 50 stops", "—",
         f"{w['describe_calls_per_sec']:.2f} DescribeInstances/s (the lists and the targeted "
         "refreshes)", "—", "—"],
        ["P9 inventory: change -> watcher event", "—",
         f"p50 {w['event_p50_ms']:.1f} ms, p99 {w['event_p99_ms']:.1f} ms", "—", "—"],
        ["P9 inventory: 100,000-instance stream", GOAL_P9_STREAM,
         f"view {fmt_s(b['view_stream_secs'])} vs SDK {fmt_s(b['sdk_paginator_secs'])}",
         f"{num(b['speedup'])}×", yes_no(b["speedup"] >= 10)],
        ["P9 inventory: RSS with 100,000 instances", GOAL_P9_RSS, fmt_mib(b["rss_mib"]),
         f"{num(b['rss_mib'] / 256)} of goal", yes_no(b["rss_mib"] <= 256)],
    ]
    rows = [
        ["watchers", f"{w['watchers']:,}, each of one instance (instance-id filter), over 8 "
                     f"connections; all listed in {fmt_s(w['opened_secs'])}"],
        ["instances", f"{w['instances']:,}, EC2's throttling on; full list every "
                      f"{w['resync_seconds']} s"],
        ["idle window", f"{fmt_s(w['idle_window_secs'])}: "
                        f"{w['idle_describe_calls']:,} DescribeInstances at EC2 "
                        f"({w['idle_describe_calls_per_sec']:.2f}/s)"],
        ["change window", f"{fmt_s(w['window_secs'])}: {w['changes']} stops through the gateway "
                          "(2 s stopping -> stopped), then idle to three resyncs"],
        ["DescribeInstances at EC2 in it", f"{w['describe_calls']:,} calls, "
                                           f"{w['describe_calls_per_sec']:.2f}/s (throttled "
                                           f"{w['throttled']})"],
        ["the same watchers polling every 15 s (boto3's waiter period)",
         f"{w['pollers_equivalent_calls_per_sec']:.1f} calls/s"],
        ["stop -> watcher event", f"p50 {w['event_p50_ms']:.1f} ms, p99 "
                                  f"{w['event_p99_ms']:.1f} ms (the stop's own answer: p50 "
                                  f"{w['stop_answer_p50_ms']:.1f} ms)"],
        ["gateway RSS with 1,000 watchers", fmt_mib(w["rss_mib"])],
        ["100,000 instances: first list", fmt_s(b["first_list_secs"])],
        ["DescribeInstancesStream from the view (best of 3)", fmt_s(b["view_stream_secs"])],
        ["the SDK's paginator on the stand-in (best of 3)", fmt_s(b["sdk_paginator_secs"])],
        ["gateway RSS / peak with 100,000 in the view", f"{fmt_mib(b['rss_mib'])} / "
                                                        f"{fmt_mib(b['peak_rss_mib'])}"],
    ]
    body = [
        "## P9: the instance inventory",
        "A thousand watchers on 10,000 instances, served from one replica's view: what EC2 sees "
        "is the view's own full list (10 pages every resync) and the targeted refresh of what "
        "the gateway stopped, whatever the number of watchers. Each stop is timed from the "
        "StopInstances call to the MODIFIED (stopping) event at the instance's watcher. Then "
        "a 100,000-instance DescribeInstancesStream with `max_staleness` (from the view) "
        "against aws-sdk-ec2's own paginator on the stand-in, and the gateway's memory with "
        "the 100,000 instances in its view.",
        table(["measure", "value"], rows),
    ]
    return summary, body


def section_p10(p10):
    ratio_p50 = p10["other_p50_us"] / p10["home_p50_us"]
    configured = p10["configured_rss_mib"] - p10["one_target_rss_mib"]
    per_target = (p10["built_rss_mib"] - p10["configured_rss_mib"]) / p10["accounts"]
    summary = [
        ["P10 targets: a call to another account", GOAL_P10_LATENCY,
         f"p50 {fmt_us(p10['other_p50_us'])} vs home {fmt_us(p10['home_p50_us'])}",
         f"{num(ratio_p50)}×", yes_no(ratio_p50 <= 1.05)],
        ["P10 targets: memory of 50 accounts configured", GOAL_P10_RSS,
         f"+{configured:.1f} MiB", f"{num(configured / 5)} of goal", yes_no(configured < 5)],
    ]
    rows = [
        ["calls", f"{p10['calls_each']:,} each, in alternating blocks of home and another "
                  "account (its role assumed before the first block)"],
        ["home p50 / p99", f"{fmt_us(p10['home_p50_us'])} / {fmt_us(p10['home_p99_us'])}"],
        ["another account p50 / p99", f"{fmt_us(p10['other_p50_us'])} / "
                                      f"{fmt_us(p10['other_p99_us'])}"],
        ["AssumeRole calls for all of them", f"{p10['assume_role_calls']:.0f}"],
        ["RSS: home only", fmt_mib(p10["one_target_rss_mib"])],
        [f"RSS: {p10['accounts']} accounts configured", fmt_mib(p10["configured_rss_mib"])],
        [f"RSS: {p10['accounts']} accounts called once each (clients, budgets built)",
         f"{fmt_mib(p10['built_rss_mib'])} ({per_target:.2f} MiB a target)"],
    ]
    body = [
        "## P10: targets",
        "One gateway, many accounts: a DescribeInstances of the stand-in's one instance in the "
        "home account and in another account reached through an assumed role (moto plays STS; "
        "the stand-in answers both), then the gateway's memory with one target, with 50 "
        "accounts in its accounts file, and with all 50 called once (each built on first use: "
        "SDK client, budget, coalescers; inventory off, as in P1-P8).",
        table(["measure", "value"], rows),
    ]
    return summary, body


def section_p9_events(p9e):
    debounce = p9e["debounce_ms"]
    goal_ms = 1000 + debounce
    summary = [
        ["P9 events: event put -> watcher message", GOAL_P9E_LATENCY,
         f"p99 {fmt_ms(p9e['event_p99_ms'])} (p50 {fmt_ms(p9e['event_p50_ms'])})",
         f"{num(p9e['event_p99_ms'] / goal_ms)} of goal", yes_no(p9e["event_p99_ms"] < goal_ms)],
        ["P9 events: EC2 calls for a burst of events", GOAL_P9E_CALLS,
         f"{p9e['burst_describe_calls']} DescribeInstances for {p9e['burst']} events",
         "—", yes_no(p9e["burst_describe_calls"] <= 2)],
    ]
    rows = [
        ["watchers", f"{p9e['watchers']:,}, each of one instance, on {p9e['instances']:,} "
                     "stand-in instances; the view's full list 10 minutes away"],
        ["debounce", f"{debounce} ms (the default)"],
        ["one at a time", f"{p9e['one_by_one']} instances stopped behind the gateway's back, "
                          "each then its state-change event sent to the queue (moto's SQS)"],
        ["event sent -> watcher MODIFIED", f"p50 {fmt_ms(p9e['event_p50_ms'])}, "
                                          f"p99 {fmt_ms(p9e['event_p99_ms'])}"],
        ["DescribeInstances for them", f"{p9e['one_by_one_describe_calls']} (one per event: "
                                       "each its own window)"],
        ["a burst", f"{p9e['burst']} events sent at once (10 batches of 10)"],
        ["burst: sent -> each watcher's MODIFIED", f"p50 {fmt_ms(p9e['burst_p50_ms'])}, "
                                                  f"p99 {fmt_ms(p9e['burst_p99_ms'])}"],
        ["DescribeInstances for the burst", f"{p9e['burst_describe_calls']}"],
        ["gateway RSS", fmt_mib(p9e["rss_mib"])],
    ]
    body = [
        "## P9 events: EC2's events into the view",
        "Issue 28's P9b. 1,000 watchers on 10,000 stand-in instances, the view's full list ten "
        "minutes away: an instance stopped behind the gateway's back (in the stand-in), then "
        "its `EC2 Instance State-change Notification` sent to the SQS queue (moto) the gateway "
        "long-polls, timed to the MODIFIED at that instance's watcher; one at a time, then 100 "
        "at once. The window includes the debounce: the events after the first of a window "
        "gather that long, then one DescribeInstances by id refreshes all their instances.",
        table(["measure", "value"], rows),
    ]
    return summary, body


def section_p11(p11):
    ratio = p11["added_ratio"]
    lost = p11["fleet_served"] - p11["fleet_written"]
    summary = [
        ["P11 audit: added p50 of a change", GOAL_P11_LATENCY,
         f"p50 {fmt_us(p11['on_p50_us'])} with the trail vs {fmt_us(p11['off_p50_us'])} without",
         f"{ratio:.3f}×", yes_no(ratio <= 1.03)],
        ["P11 audit: events lost under load", GOAL_P11_LOST,
         f"{lost} lost of {p11['fleet_served']:,} ({num(p11['fleet_rate'])} calls/s)",
         "—", yes_no(lost == 0 and p11["fleet_dropped"] == 0)],
    ]
    rows = [
        ["change", f"CreateNetworkInterface in the stand-in, {p11['calls_each']:,} calls each "
                   "way in alternating blocks of 500, one at a time"],
        ["without the trail: p50 / p99", f"{fmt_us(p11['off_p50_us'])} / {fmt_us(p11['off_p99_us'])}"],
        ["with the trail (request level): p50 / p99",
         f"{fmt_us(p11['on_p50_us'])} / {fmt_us(p11['on_p99_us'])}"],
        ["change events written", f"{p11['changes_written']:,} (warm-up included)"],
        ["fleet", f"{p11['fleet_callers']} callers for {p11['fleet_secs']:.0f} s, DescribeInstances "
                  "audited at request level: " f"{num(p11['fleet_rate'])} calls/s"],
        ["fleet: served / written / dropped",
         f"{p11['fleet_served']:,} / {p11['fleet_written']:,} / {abs(int(p11['fleet_dropped']))}"],
    ]
    body = [
        "## P11: the audit trail",
        "Issue 27's benchmark. The same change through a gateway writing the audit trail (to a "
        "file, at `request` level: the event with the request's parameters) and through one "
        "without, against the unthrottled stand-in; then 64 callers as fast as they go with "
        "reads audited too, counting the events written against the calls served (the writer is "
        "a thread of its own behind a bounded queue of 10,000). Both gateways serve metrics, so "
        "they differ by the trail alone. The call's own path notes into the record and queues "
        "the event; the writer thread drains the queue every 10 ms and writes what it found in "
        "one write (the event's JSON, the request decoded with the contract's descriptors), so "
        "no call wakes it. Figures move by a few percent between runs on this 2-core machine, "
        "where the writer shares the cores with the one-at-a-time client, the gateway and the "
        "stand-in.",
        table(["measure", "value"], rows),
    ]
    return summary, body


def machine(meta):
    rows = [["date", meta.get("date", "—")], ["CPU", meta.get("cpu", "—")],
            ["cores", str(meta.get("cores", "—"))],
            ["memory", f"{num(meta['memory_gib'])} GiB" if "memory_gib" in meta else "—"],
            ["rustc", meta.get("rustc", "—")], ["commit", f"`{meta.get('commit', '—')}`"]]
    out = [table(["machine", ""], rows)]
    notes = meta.get("notes") or []
    if notes:
        out.append("\n".join(f"- {note}" for note in notes))
    return out


SCENARIOS = [
    ("p1", "P1: added latency and throughput", [GOAL_P1, GOAL_P1B], section_p1,
     ["p1_latency.png", "p1_throughput.png"]),
    ("p2", "P2: streaming every instance", [GOAL_P2_RATE, GOAL_P2_RSS, GOAL_P2_CPU], section_p2,
     ["p2_stream.png"]),
    ("p3", "P3: a Python program listing every instance", [GOAL_P3], section_p3,
     ["p3_clients.png"]),
    ("p4", "P4: the gateway's rate limit in front of EC2",
     [GOAL_P4_THROTTLES, GOAL_P4_GOODPUT], section_p4, []),
    ("p5", "P5: EC2 calls saved", ["—"], section_p5, []),
    ("p6", "P6: many clients, one EC2 budget",
     [GOAL_P6_CALLS, GOAL_P6_THROTTLES, GOAL_P6_SERVED, GOAL_P6_P99, GOAL_P6_CPU], section_p6,
     ["p6_latency.png"]),
    ("p6_view", "P6 from the view",
     [GOAL_P6_CALLS, GOAL_P6_THROTTLES, GOAL_P6_SERVED, GOAL_P6_P99, GOAL_P6_CPU], section_p6_view,
     ["p6_view_latency.png"]),
    ("p6_scaled", "P6 scaled fleet",
     [GOAL_P6_CALLS, GOAL_P6_THROTTLES, GOAL_P6_SERVED, GOAL_P6_P99, GOAL_P6_CPU],
     section_p6_scaled,
     ["p6_scaled_latency.png"]),
    ("p7", "P7: soak", [GOAL_P7_RSS, GOAL_P7_ERRORS], section_p7, ["p7_rss.png"]),
    ("p8", "P8: one EC2 budget shared by three replicas through Redis",
     [GOAL_P8_THROTTLES, GOAL_P8_GOODPUT, "—", "—"], section_p8, []),
    ("p9", "P9: the instance inventory",
     [GOAL_P9_CALLS, "—", GOAL_P9_STREAM, GOAL_P9_RSS], section_p9, []),
    ("p9_events", "P9 events: EC2's events into the view", [GOAL_P9E_LATENCY, GOAL_P9E_CALLS],
     section_p9_events, []),
    ("p10", "P10: targets", [GOAL_P10_LATENCY, GOAL_P10_RSS], section_p10, []),
    ("p11", "P11: the audit trail", [GOAL_P11_LATENCY, GOAL_P11_LOST], section_p11, []),
    ("profile", "Profile: where a call's CPU goes", [], section_profile, []),
]


def one_section(key, path):
    """Prints one scenario's summary rows and section, for a run of that scenario alone
    (`cargo bench --bench gateway -- --only KEY`) added to a BENCHMARKS.md of an earlier run."""
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    for scenario, title, _goals, section, _plots in SCENARIOS:
        if scenario == key:
            rows, body = section(results[key])
            meta = results.get("meta", {})
            print(table(["scenario", "goal", "figure", "ratio (figure vs goal)", "met"], rows))
            print()
            print("\n\n".join(body))
            print(f"\n({title} measured alone on {meta.get('date', '?')} at commit "
                  f"`{meta.get('commit', '?')}`.)")
            return
    sys.exit(f"no scenario {key}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--section":
        one_section(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        sys.exit("usage: python benches/python/report.py [--section KEY] target/bench/results.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        results = json.load(f)
    os.makedirs(PLOTS, exist_ok=True)

    summary, sections = [], []
    for key, title, goals, section, plots in SCENARIOS:
        data = results.get(key)
        if data is None and key != "p7":  # the harness was run with --only
            rows = [[title.replace(":", ""), goal, "not run", "—", "not run"] for goal in goals]
            body = [f"## {title}", "Not run in this run (the harness was given `--only`)."]
        else:
            rows, body = section(data)
        if data is None:
            for name in plots:  # an earlier run's plot must not pass for this one's
                if os.path.exists(os.path.join(PLOTS, name)):
                    os.remove(os.path.join(PLOTS, name))
        summary += rows
        sections += body

    parts = [
        "# Benchmarks",
        "Everything below was measured on loopback on one machine, in one run of the "
        "benchmark harness (`cargo bench --bench gateway`): the project's EC2 stand-in "
        "(`tools/ec2-standin`) played EC2, the gateway's release binary ran as a child process "
        "of the harness, and the load came from Rust clients inside the harness; P3's clients "
        "are Python programs and the AWS CLI. Timings are asserted only here, never in the "
        "tests: these are one machine's figures, to compare paths with each other, not "
        "absolute numbers for production.",
        *machine(results.get("meta", {})),
        "## Summary",
        table(["scenario", "goal", "figure", "ratio (figure vs goal)", "met"], summary),
        "## Findings",
        *[p.strip() for p in results.get("findings") or [] if p.strip()],
        *sections,
        "How to regenerate: `bash scripts/bench.sh`",
    ]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n\n".join(parts) + "\n")
    print(f"report: wrote {os.path.relpath(OUT, REPO)} and plots in {PLOTS_REL}/", file=sys.stderr)


if __name__ == "__main__":
    main()
