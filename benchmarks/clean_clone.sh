#!/usr/bin/env bash
# Time `make run` from a clean clone (the issue-2 figure): clone to /tmp, time `make install`
# (a new .venv), the sample ingest, and the server up to a populated search page; then stop
# the server and remove the clone.
#
#   benchmarks/clean_clone.sh [REPO]        (REPO defaults to this checkout)
#
# `make run` itself serves on port 8000 in the foreground; this script runs the same steps
# (install, `whoknows ingest`, `whoknows serve`) with the server on a free port so it can
# be stopped. Prints one JSON line with the seconds of each step, ingest chunks/s and the
# median latency of 100 search requests (GET /api/search, one at a time) on the result.
set -euo pipefail
src=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
dir=$(mktemp -d /tmp/whoknows-clone.XXXXXX)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 UNSTRUCTURED_DISABLE_NOTICE=1
now() { date +%s.%N; }
git clone -q "$src" "$dir/whoknows"
cd "$dir/whoknows"
t0=$(now)
make install >"$dir/install.log" 2>&1
t1=$(now)
.venv/bin/whoknows ingest --quiet --json >"$dir/ingest.json"
t2=$(now)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/whoknows serve --port "$port" >"$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$port/search?q=expenses" 2>/dev/null | grep -q 'class="hit"'; then break; fi
    sleep 0.2
done
t3=$(now)
curl -fsS "http://127.0.0.1:$port/search?q=expenses" | grep -q 'class="hit"' || { echo "search page not populated" >&2; exit 1; }
chunks=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks_embedded"])' "$dir/ingest.json")
# then 100 different queries, one at a time, against the running server (page titles of the sample)
python3 - "$t0" "$t1" "$t2" "$t3" "$chunks" "$port" <<'PY'
import http.client, json, pathlib, re, statistics, sys, time, urllib.parse
t0, t1, t2, t3 = map(float, sys.argv[1:5])
chunks, port = int(sys.argv[5]), int(sys.argv[6])
titles = []
for path in sorted(pathlib.Path("data/handbook").rglob("*.md")):
    m = re.search(r"^#\s+(.+)$", path.read_text(errors="replace"), re.M)
    t = (m.group(1) if m else path.stem.replace("-", " ")).strip().lower()
    if t not in titles:
        titles.append(t)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
took = []
for q in (titles * 2)[:110]:
    start = time.perf_counter()
    conn.request("GET", "/api/search?" + urllib.parse.urlencode({"q": q}))
    conn.getresponse().read()
    took.append((time.perf_counter() - start) * 1000)
took = took[10:]  # first 10 are warm-up
print(json.dumps({"install_s": round(t1 - t0, 1), "ingest_s": round(t2 - t1, 1),
                  "serve_until_populated_page_s": round(t3 - t2, 1), "make_run_total_s": round(t3 - t0, 1),
                  "chunks": chunks, "ingest_chunks_per_s": round(chunks / (t2 - t1), 1),
                  "search_http_median_ms_of_100": round(statistics.median(took), 1),
                  "search_http_p99_ms": round(sorted(took)[98], 1)}))
PY
