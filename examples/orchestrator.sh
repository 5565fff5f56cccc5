#!/bin/sh
# orchestrator.sh — a minimal twinctl orchestrator in POSIX sh: run one
# scenario on a controller (or the pool) and write its rows as CSV.
#
#   orchestrator.sh --controller ctl-1 scenarios/tank-overflow.json -o out.csv
#   orchestrator.sh --pool tank-overflow        # a stored scenario, any controller
#
# It needs mosquitto_pub and mosquitto_sub (Debian: mosquitto-clients), MQTT v5
# for the response topic.  The request is built as text (a scenario file is
# pasted in as it is); the answers are read with python3's json module, in one
# small program at the end (python3 is a twinctl dependency anyway; jq would do
# as well, but is not one).  Every message is assumed to be one line of JSON,
# as twinctl sends them.
#
# How it goes (docs/orchestrators.md): subscribe first — to a response topic of
# our own, and to the run's results and events — then publish the request with
# that response topic, wait (bounded) for the final response and for result
# seq 0 ... last_seq, and write them in seq order.
# Exit status: 0 finished; 1 rejected, failed, cancelled or rows missing;
# 2 bad usage; 3 no connection or no answer in time.

usage() {
    cat <<EOF
usage: orchestrator.sh [--broker tcp://HOST:PORT] [--prefix P]
                       (--controller ID | --pool) [-o FILE] [--timeout S]
                       SCENARIO
SCENARIO is a scenario JSON file, or the name of one stored on the controller.
  --broker URL      the broker (default tcp://127.0.0.1:1883)
  --prefix P        topic prefix (default twin)
  --controller ID   send the run to this controller
  --pool            send it to the pool: any controller of the group takes it
  -o FILE           write the CSV there (default: stdout)
  --timeout S       seconds to wait for the run to end (default 600)
EOF
}

broker=tcp://127.0.0.1:1883 prefix=twin controller='' pool='' out=- timeout=600
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --broker) broker=${2?}; shift ;;
        --prefix) prefix=${2?}; shift ;;
        --controller) controller=${2?}; shift ;;
        --pool) pool=1 ;;
        -o|--output) out=${2?}; shift ;;
        --timeout) timeout=${2?}; shift ;;
        -*) usage >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
if [ $# -ne 1 ] || { [ -n "$pool" ] && [ -n "$controller" ]; } ||
   { [ -z "$pool" ] && [ -z "$controller" ]; }; then
    usage >&2; exit 2
fi
scenario=$1
case $scenario in *[\"\\]*) echo "orchestrator: bad scenario name" >&2; exit 2 ;; esac

hostport=${broker#*://}
host=${hostport%:*} port=${hostport##*:}
[ "$host" = "$hostport" ] && port=1883
pub() { mosquitto_pub -h "$host" -p "$port" -V mqttv5 -q 1 "$@"; }

# The request id, and so the run id: unique per orchestrator (a UUID).
id=orch-$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo "$(date +%s)-$$")
own=$prefix/orchestrator/$id            # our own topics: response, probe
c=${controller:-+}                      # '+': whichever controller takes it
tmp=$(mktemp -d) || exit 3
subpid=''
# On the way out, stop the subscriber and wait for it, so that nothing of
# ours outlives us.
trap '[ -n "$subpid" ] && { kill "$subpid" 2>/dev/null; wait "$subpid"; }
      rm -rf "$tmp"' EXIT
trap 'exit 3' INT TERM

nap() { sleep 0.1 2>/dev/null || sleep 1; }
now() { date +%s; }

# 1. Subscribe first, in the background, one line "topic payload" per message.
mosquitto_sub -h "$host" -p "$port" -V mqttv5 -q 1 -v -W $((timeout + 60)) \
    -t "$own/#" \
    -t "$prefix/$c/result/$id" -t "$prefix/$c/event/$id" \
    >"$tmp/msgs" 2>"$tmp/sub.err" &
subpid=$!
# The subscription is live once a probe we publish to it comes back.
deadline=$(($(now) + 10))
until grep -q "^$own/probe " "$tmp/msgs"; do
    if ! kill -0 "$subpid" 2>/dev/null || [ "$(now)" -ge "$deadline" ]; then
        echo "orchestrator: cannot subscribe at $broker:" \
             "$(cat "$tmp/sub.err")" >&2
        exit 3
    fi
    pub -t "$own/probe" -m probe 2>/dev/null
    nap
done

# 2. Then publish the run request, with our response topic and correlation.
{
    printf '{"contract": "twin.request/1", "id": "%s", "type": "run", "scenario": ' "$id"
    if [ -f "$scenario" ]; then cat "$scenario"; else printf '"%s"' "$scenario"; fi
    printf '}\n'
} >"$tmp/request.json"
if [ -n "$pool" ]; then dest=$prefix/pool/request; else dest=$prefix/$controller/request; fi
pub -t "$dest" -f "$tmp/request.json" \
    -D PUBLISH response-topic "$own/response" \
    -D PUBLISH correlation-data "$id" || exit 3

# 3. Wait for the final response.
deadline=$(($(now) + timeout))
until grep -F "$own/response " "$tmp/msgs" |
      grep -Eq '"status" *: *"(finished|failed|cancelled|rejected)"'; do
    if [ "$(now)" -ge "$deadline" ] || ! kill -0 "$subpid" 2>/dev/null; then
        grep -F "$own/response " "$tmp/msgs" | cut -d' ' -f2- >&2
        echo "orchestrator: no final response in time" >&2
        exit 3
    fi
    nap
done

# 4. Print the responses, wait (bounded) for result seq 0 ... last_seq of the
# controller that answered, write the CSV.  The program exits 4 while
# results are still missing.
deadline=$(($(now) + 10))
while :; do
    python3 - "$tmp/msgs" "$own/response" "$prefix" "$id" "$out" <<'EOF'
import csv, json, sys
msgs, rtopic, prefix, run, out = sys.argv[1:]
responses, results, events = [], {}, []
with open(msgs) as f:
    for line in f:
        topic, _, payload = line.rstrip("\n").partition(" ")
        if topic == rtopic:
            responses.append(json.loads(payload))
        elif topic.split("/")[-2] == "result":
            results.setdefault(topic, {})[json.loads(payload)["seq"]] = payload
        elif topic.split("/")[-2] == "event":
            events.append((topic, payload))
final = [r for r in responses if r["status"] != "accepted"][0]
ctl = final["controller"]
batches = results.get("%s/%s/result/%s" % (prefix, ctl, run), {})
missing = [s for s in range(final.get("last_seq", -1) + 1) if s not in batches]
if missing:
    print("orchestrator: waiting for result seq %s" % missing[:10], file=sys.stderr)
    sys.exit(4)
for r in responses:
    print(json.dumps(r), file=sys.stderr)
for topic, payload in events:
    if topic == "%s/%s/event/%s" % (prefix, ctl, run):
        print("event: " + payload, file=sys.stderr)
if final["status"] != "rejected":
    columns = [r for r in responses if r["status"] == "accepted"][0]["columns"]
    f = sys.stdout if out == "-" else open(out, "w")
    w = csv.writer(f, lineterminator="\n")
    w.writerow(columns)
    for s in sorted(batches):
        for row in json.loads(batches[s])["rows"]:
            w.writerow(["nan" if v is None else v for v in row])
    f.close()
sys.exit(0 if final["status"] == "finished" else 1)
EOF
    rc=$?
    [ $rc -ne 4 ] && exit $rc
    if [ "$(now)" -ge "$deadline" ]; then
        echo "orchestrator: results missing (ask \`status\`, then \`replay\`)" >&2
        exit 1
    fi
    nap
done
