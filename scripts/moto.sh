#!/usr/bin/env bash
# A local AWS emulator (moto_server) for trying cfnbuild without an AWS account.
#
#   scripts/moto.sh start        start moto_server on a free 127.0.0.1 port; print the env to use
#   eval "$(scripts/moto.sh env)"  point this shell's AWS SDKs (and cfnbuild) at it
#   scripts/moto.sh reset        forget every resource (moto leaves some behind when a stack is deleted)
#   scripts/moto.sh stop         stop it, by its PID
#
# State (PID, URL, log) lives in .tmp/moto/. The Go tests start their own server (internal/motoserver).
set -euo pipefail
cd "$(dirname "$0")/.."
state=.tmp/moto

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

print_env() {
  url=$(cat "$state/url")
  cat <<ENV
export AWS_ENDPOINT_URL=$url
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE
ENV
}

case "${1:-}" in
start)
  if running; then
    echo "moto_server already runs (pid $(cat "$state/pid")) at $(cat "$state/url")" >&2
    print_env
    exit 0
  fi
  command -v moto_server >/dev/null || { echo "moto_server is not on PATH (pip install 'moto[server]')" >&2; exit 1; }
  mkdir -p "$state"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  nohup moto_server -H 127.0.0.1 -p "$port" >"$state/log" 2>&1 &
  echo $! >"$state/pid"
  echo "http://127.0.0.1:$port" >"$state/url"
  if ! python3 - "http://127.0.0.1:$port/moto-api/" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
  then
    echo "moto_server did not answer within 30s; its log ($state/log):" >&2
    cat "$state/log" >&2
    kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid" "$state/url"
    exit 1
  fi
  echo "moto_server runs (pid $(cat "$state/pid")) at $(cat "$state/url"); log: $state/log" >&2
  print_env
  ;;
env)
  running || { echo "moto_server is not running: scripts/moto.sh start" >&2; exit 1; }
  print_env
  ;;
reset)
  running || { echo "moto_server is not running" >&2; exit 1; }
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"))' "$(cat "$state/url")/moto-api/reset"
  echo "moto_server reset" >&2
  ;;
stop)
  if running; then
    pid=$(cat "$state/pid")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "moto_server (pid $pid) stopped" >&2
  else
    echo "moto_server is not running" >&2
  fi
  rm -f "$state/pid" "$state/url"
  ;;
*)
  echo "usage: scripts/moto.sh start|env|reset|stop" >&2
  exit 2
  ;;
esac
