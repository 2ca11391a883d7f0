"""Aggregates `perf script` output of crates/bench/profile.sh: samples by phase of the collator
or ingest scenario (cut at the harness's log lines), by process (harness, tansu) and by group
(leaf symbol or DSO; kernel samples by their kernel call chain). Prints markdown tables, in CPU
µs per input event (collator) or per request (ingest).

Usage: perf script ... | python3 profile.py SCENARIO HARNESS_LOG HARNESS_PID TANSU_PID TOP
"""
import re, sys, calendar
from collections import Counter, defaultdict
from datetime import datetime

scenario, log = sys.argv[1], sys.argv[2]
harness, tansu, top = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

# --- phase boundaries from the harness log (UTC timestamps, µs) ---
marks, events, requests = [], None, {}
for line in open(log, errors="replace"):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z\s+\w+\s+(.*)", line)
    if not m:
        continue
    t = calendar.timegm(datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%S").timetuple()) + float(m[2] or 0)
    marks.append((t, m[3]))
    if (e := re.search(r"pre-filling raw events=(\d+)", m[3])):
        events = int(e[1])
    if (e := re.search(r'ingest load done phase="([^"]+)" requests=(\d+)', m[3])):
        requests[e[1]] = int(e[2])

def at(text, after=0.0, last_before=None):
    hits = [t for t, msg in marks if text in msg and t >= after and (last_before is None or t <= last_before)]
    if not hits:
        sys.exit(f"profile: no log line '{text}' in {log}")
    return hits[-1] if last_before is not None else hits[0]

if scenario == "collator":
    START, STOP = "Polling thread loop started", "ThreadedProducer destroyed"
    pre = at("pre-filling raw")
    pass_done = at("passthrough done")
    coll_end = at(STOP, at("collator stopped"))
    writes = at(START, at("collator done"))
    again = at(START, at("passthrough.again"))
    phases = [  # name, start, end
        ("prefill", pre, at(STOP, pre)),
        ("passthrough", at(START, pre, pass_done), pass_done),
        ("collator", pass_done, coll_end),
        ("read-back", coll_end, writes),
        ("writes alone", writes, at(STOP, writes)),
        ("passthrough again", again, at(STOP, again)),
    ]
    REPORTED, MAIN, UNIT = ["passthrough", "collator", "writes alone", "passthrough again"], "collator", "input event"
    per = {name: events for name, _, _ in phases}
else:
    names = ["bare axum", "broker writes alone", "ingest"]
    phases = [(n, at(f'ingest load started phase="{n}"'), at(f'ingest load done phase="{n}"')) for n in names]
    REPORTED, MAIN, UNIT = names, "ingest", "request"
    per = requests

# --- sample classification ---
NET = re.compile(r"tcp|inet|sock|skb|^ip_|^__ip|ipv4|net_rx|netif|__dev_queue|dev_hard_start|loopback|napi|sendto|recvfrom|sendmsg|recvmsg|__sys_|nf_")
MEM = re.compile(r"page_fault|handle_mm_fault|do_anonymous|clear_page|mmap|munmap|madvise|brk|mprotect|folio|zap_")
WAIT = re.compile(r"futex|schedule|ep_poll|epoll|do_sys_poll|do_poll|select|nanosleep|pipe_|eventfd|wake_up|switch|sched_yield")
ALLOC_LIBC = re.compile(r"^(__libc_)?(malloc|free|cfree|realloc|calloc)$|^_int_|malloc_consolidate|tcache|unlink_chunk|arena_get")
RUST_WRAP = re.compile(r"tokio::|mio::|rdkafka::|rdkafka_sys::|futures|tracing|parking_lot|crossbeam")

def kernel_group(chain):
    ksyms = [s for s, d in chain if d == "[kernel.kallsyms]"]
    for name, rx in (("net", NET), ("memory", MEM), ("wait/sync", WAIT)):
        if any(rx.search(s) for s in ksyms):
            return "kernel: " + name
    return "kernel: other"

def group(pid, chain):
    sym, dso = chain[0] if chain else ("[unknown]", "[unknown]")
    who = "harness" if pid == harness else "tansu" if pid == tansu else "idle" if pid == 0 else "other processes"
    if who in ("idle", "other processes"):
        return who, who
    if dso == "[kernel.kallsyms]":
        return who, kernel_group(chain)
    if who == "tansu":
        return who, "tansu (user)"
    base = dso.rsplit("/", 1)[-1]
    if base == "[vdso]":
        return who, "vdso (clock_gettime)"
    if base.startswith("libc.so"):
        if ALLOC_LIBC.search(sym):
            return who, "allocator (glibc malloc)"
        return who, "libc memcpy/memmove/memset" if re.search(r"mem(cpy|move|set)", sym) else "libc other (pthread, ...)"
    if "auditstream-bench" not in base:
        return who, "other libraries (" + base + ")" if base != "[unknown]" else "unknown"
    if sym.startswith("ingest::") or "<ingest::" in sym:
        return who, "ingest (normalize, handler)"
    if "serde_json::" in sym or "serde_core::" in sym:
        return who, "serde_json (parse, render)"
    if re.search(r"hyper::|axum::|tower::|http::|httparse", sym):
        return who, "HTTP stack (hyper, axum)"
    if "LZ4" in sym:
        return who, "lz4 (librdkafka's compression)"
    if "collator::shell" in sym:
        return who, "collator::shell (Rust shell)"
    if "collator::" in sym:
        return who, "collator core"
    if re.match(r"_*mi_|__rust_(alloc|dealloc|realloc)", sym):
        return who, "allocator (mimalloc)"
    if "prost::" in sym or "schema::" in sym:
        return who, "protobuf (prost, schema::)"
    if re.search(r"auditstream_bench::|(^|[<&*( ])common::", sym):
        return who, "harness code (bench, common::)"
    if RUST_WRAP.search(sym):
        return who, "tokio / rdkafka Rust wrapper"
    if "::" not in sym and sym != "[unknown]":
        return who, "librdkafka C (+lz4, zstd, crc)"
    return who, "other Rust (std, core, hashbrown, ...)" if "::" in sym else "unknown"

cpu = defaultdict(Counter)        # phase -> (who, group) -> ns
syms = defaultdict(Counter)       # phase -> (who, leaf symbol) -> ns
def add(hdr, chain):
    if hdr is None:
        return
    pid, t, period = hdr
    for name, a, b in phases:
        if a <= t < b:
            who, g = group(pid, chain)
            cpu[name][(who, g)] += period
            if who in ("harness", "tansu"):
                syms[name][(who, chain[0][0] if chain else "[unknown]")] += period
            return

HDR = re.compile(r"^(.*?)\s+(-?\d+)/(-?\d+)\s+(\d+\.\d+):\s+(\d+)\s*$")
FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")
hdr, chain = None, []
for line in sys.stdin:
    if (m := HDR.match(line)):
        add(hdr, chain)
        hdr, chain = (int(m[2]), float(m[4]), int(m[5])), []
    elif (f := FRAME.match(line)):
        chain.append((re.sub(r"\+0x[0-9a-f]+$", "", f[1]), f[2]))
add(hdr, chain)

# --- report ---
us = lambda ns, n: ns / 1000 / (per.get(n) or 1)
counts = ", ".join(f"{n} {per.get(n)}" for n in REPORTED) if scenario == "ingest" else f"{events}"
print(f"\n{UNIT}s: {counts}; harness pid {harness}, tansu pid {tansu}; CPU from perf cpu-clock samples\n")
print("| phase | wall s | harness CPU s | tansu CPU s | other processes CPU s | idle CPU s |")
print("|---|---|---|---|---|---|")
for name, a, b in phases:
    by = Counter()
    for (who, _), ns in cpu[name].items():
        by[who] += ns
    print(f"| {name} | {b - a:.1f} | {by['harness']/1e9:.2f} | {by['tansu']/1e9:.2f} | {by['other processes']/1e9:.2f} | {by['idle']/1e9:.2f} |")

groups = sorted({k for n in REPORTED for k in cpu[n] if k[0] in ("harness", "tansu")},
                key=lambda k: (k[0] != "harness", -cpu[MAIN][k]))
print(f"\nµs of CPU per {UNIT}, and share of the phase's harness + tansu CPU:\n")
print("| process | group | " + " | ".join(REPORTED) + " |")
print("|---|---|" + "---|" * len(REPORTED))
tot = {n: sum(ns for (w, _), ns in cpu[n].items() if w in ("harness", "tansu")) for n in REPORTED}
for k in groups + [("all", "harness + tansu")]:
    cells = []
    for n in REPORTED:
        ns = tot[n] if k[0] == "all" else cpu[n][k]
        cells.append(f"{us(ns, n):.2f} ({100 * ns / max(tot[n], 1):.1f}%)")
    print(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")

print(f"\nBottom line (share of harness + tansu CPU; µs per {UNIT}):\n")
print("| bucket | " + " | ".join(REPORTED) + " |")
print("|---|" + "---|" * len(REPORTED))
RUNTIME = ("protobuf", "allocator (mimalloc)", "other Rust", "serde_json")
collator_buckets = {
    "auditstream's collator (collator core + collator::shell)":
        lambda w, g: w == "harness" and g.startswith("collator"),
    "… plus protobuf, mimalloc, other Rust std/core":
        lambda w, g: w == "harness" and (g.startswith("collator") or g.startswith("protobuf")
                                         or g == "allocator (mimalloc)" or g.startswith("other Rust")),
    "broker (tansu, user + kernel)": lambda w, g: w == "tansu",
    "librdkafka C + harness kernel (net, wait, memory, other)":
        lambda w, g: w == "harness" and (g.startswith("librdkafka") or g.startswith("kernel")),
    "broker + librdkafka + all kernel": lambda w, g: w == "tansu" or (w == "harness" and (g.startswith("librdkafka") or g.startswith("kernel"))),
}
ingest_buckets = {
    "auditstream's ingest (ingest::)": lambda w, g: w == "harness" and g.startswith("ingest"),
    "… plus serde_json, protobuf, mimalloc, other Rust std/core":
        lambda w, g: w == "harness" and (g.startswith("ingest") or g.startswith(RUNTIME)),
    "HTTP stack, tokio and rdkafka wrappers, libc (load generator, server)":
        lambda w, g: w == "harness" and (g.startswith(("HTTP", "tokio", "libc", "vdso"))),
    "broker (tansu, user + kernel)": lambda w, g: w == "tansu",
    "librdkafka C + lz4": lambda w, g: w == "harness" and g.startswith(("librdkafka", "lz4")),
    "harness kernel (net, wait, memory, other)": lambda w, g: w == "harness" and g.startswith("kernel"),
}
buckets = collator_buckets if scenario == "collator" else ingest_buckets
for label, pred in buckets.items():
    cells = []
    for n in REPORTED:
        ns = sum(v for (w, g), v in cpu[n].items() if pred(w, g))
        cells.append(f"{100 * ns / max(tot[n], 1):.1f}% / {us(ns, n):.2f}")
    print(f"| {label} | " + " | ".join(cells) + " |")

for n in REPORTED:
    print(f"\nTop {top} leaf symbols, {n} (share of harness + tansu CPU):\n")
    for (w, s), ns in syms[n].most_common(top):
        print(f"- {100 * ns / max(tot[n], 1):.1f}% {w}: {s[:110]}")
