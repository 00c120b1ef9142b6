#!/usr/bin/env bash
# Throughput of the worker against moto_server: messages per second for no-op jobs, at several
# queue depths and concurrencies. For each case: a fresh queue, DEPTH messages sent up front, then
# the worker binary runs until it logged DEPTH jobs, and the queue must then be empty. The rate is
# DEPTH / (last job's log time - the worker's "worker starting" log time).
#
# moto keeps a queue's messages in a Python list and scans it on every receive and delete (and
# GetQueueAttributes), so its cost per call grows with the queue's depth: compare the rates at 100
# and 1000 messages. Real SQS does not slow down that way; read these figures as the worker's behaviour against moto, not as
# SQS throughput. The worker's own per-message overhead is BenchmarkConsumerOverhead
# (go test -run '^$' -bench ConsumerOverhead ./worker/internal/consumer).
#
# Usage: scripts/bench-worker.sh
#   DEPTHS="100 1000"  CONCURRENCY="1 10"  JOB_COMMAND=/bin/true   (defaults: as shown; JOB_COMMAND
#   unset runs the built-in job, which prints Hello World and the message)
# Needs: go, moto_server, curl, jq, python3 (to pick a free port).
set -euo pipefail
cd "$(dirname "$0")/.."
depths=${DEPTHS:-100 1000}
concurrencies=${CONCURRENCY:-1 10}
job=${JOB_COMMAND:-}

for tool in go moto_server curl jq python3; do
  command -v "$tool" >/dev/null || { echo "bench-worker: $tool is not on PATH" >&2; exit 1; }
done

tmp=$(mktemp -d)
moto_pid=
worker_pid=
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null || true
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/worker" ./worker

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
endpoint=http://127.0.0.1:$port
moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "$endpoint/moto-api/data.json" && break
  sleep 0.1
done
curl -sf -o /dev/null "$endpoint/moto-api/data.json" || { echo "bench-worker: moto_server did not start" >&2; cat "$tmp/moto.log" >&2; exit 1; }

# sqs ACTION JSON: one SQS call (JSON protocol) to moto; prints the answer.
sqs() {
  curl -sf -X POST "$endpoint/" -H 'Content-Type: application/x-amz-json-1.0' -H "X-Amz-Target: AmazonSQS.$1" \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0' \
    -d "$2"
}

# epoch TIME: an RFC 3339 time as seconds since the epoch, with fractions.
epoch() { date -d "$1" +%s.%N; }

printf '%-7s %-11s %-9s %10s %10s\n' depth concurrency job seconds "msgs/s"
for depth in $depths; do
  for conc in $concurrencies; do
    name=bench-$depth-$conc-$RANDOM
    url=$(sqs CreateQueue "{\"QueueName\":\"$name\",\"Attributes\":{\"VisibilityTimeout\":\"300\"}}" | jq -r .QueueUrl)
    for ((i = 0; i < depth; i += 10)); do
      entries=$(jq -nc --argjson start "$i" --argjson n "$((depth - i < 10 ? depth - i : 10))" \
        '[range($n) | {Id: "e\(.)", MessageBody: "message \($start + .)"}]')
      sqs SendMessageBatch "{\"QueueUrl\":\"$url\",\"Entries\":$entries}" >/dev/null
    done

    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$endpoint \
      AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
      QUEUE_URL=$url WORKER_CONCURRENCY=$conc JOB_COMMAND=$job "$tmp/worker" >"$tmp/worker.log" 2>&1 &
    worker_pid=$!
    # Watch the worker's log, not the queue: moto's GetQueueAttributes costs as much as a receive.
    while [ "$(grep -c '"msg":"job"' "$tmp/worker.log" || true)" -lt "$depth" ]; do
      kill -0 "$worker_pid" 2>/dev/null || { echo "bench-worker: the worker exited" >&2; cat "$tmp/worker.log" >&2; exit 1; }
      sleep 0.05
    done
    kill -TERM "$worker_pid"
    wait "$worker_pid" || { echo "bench-worker: the worker exited non-zero after SIGTERM" >&2; cat "$tmp/worker.log" >&2; exit 1; }
    worker_pid=
    left=$(sqs GetQueueAttributes "{\"QueueUrl\":\"$url\",\"AttributeNames\":[\"All\"]}" |
      jq -r '(.Attributes.ApproximateNumberOfMessages | tonumber) + (.Attributes.ApproximateNumberOfMessagesNotVisible | tonumber)')
    # Every job was logged after its DeleteMessage succeeded. Messages still counted are moto's:
    # concurrent DeleteMessage calls race in moto (a read-modify-write of its message list without a
    # lock) and can bring a deleted message back. Real SQS does not.
    [ "$left" = 0 ] || echo "note: moto still counts $left deleted messages (its concurrent-delete race)" >&2

    logs=$(grep '^{' "$tmp/worker.log")
    jobs=$(jq -r 'select(.msg == "job" and .outcome == "succeeded") | .time' <<<"$logs" | wc -l)
    [ "$jobs" = "$depth" ] || { echo "bench-worker: $jobs jobs succeeded; want $depth" >&2; exit 1; }
    start=$(epoch "$(jq -r 'select(.msg == "worker starting") | .time' <<<"$logs")")
    end=$(epoch "$(jq -r 'select(.msg == "job") | .time' <<<"$logs" | tail -n 1)")
    awk -v d="$depth" -v c="$conc" -v j="${job:-built-in}" -v s="$start" -v e="$end" \
      'BEGIN { printf "%-7d %-11d %-9s %10.2f %10.1f\n", d, c, substr(j, 1, 9), e - s, d / (e - s) }'
    sqs DeleteQueue "{\"QueueUrl\":\"$url\"}" >/dev/null
  done
done
