#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus`) for the e2e tests and the demo.
# It scrapes, every second, the targets listed in files under
# <state>/targets/*.json (Prometheus file_sd format: [{"targets":
# ["127.0.0.1:PORT"], "labels": {...}}]), so a test adds the operator, the
# webhook or an application of its own by writing one file.
#
# Usage: hack/prometheus.sh start | stop | status
#
# State lives in ${CAIRN_PROM_STATE:-<repo>/.cairn-prom} (deleted by `stop`):
# prometheus.yml, data/, targets/, prometheus.log, prometheus.pid and
# prom.env (CAIRN_PROMETHEUS_URL, CAIRN_PROMETHEUS_TARGETS), which `start`
# writes for tests to read. Port: ${CAIRN_PROMETHEUS_PORT:-19090}, on
# 127.0.0.1 only. `start` is idempotent.
set -euo pipefail

die() {
  echo "prometheus.sh: error: $*" >&2
  exit 1
}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE=$(realpath -m -- "${CAIRN_PROM_STATE:-$REPO_ROOT/.cairn-prom}")
case $STATE in
  / | /root | /home | /tmp | /usr | /etc | /var | "$REPO_ROOT" | "${HOME:-/root}")
    die "CAIRN_PROM_STATE=$STATE is not acceptable as a state directory (stop deletes it)" ;;
esac
PORT=${CAIRN_PROMETHEUS_PORT:-19090}
PIDFILE=$STATE/prometheus.pid

running() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$STATE/prometheus.yml"
}

start() {
  command -v prometheus >/dev/null || die "prometheus is not installed (apt-get install prometheus; hack/install-deps.sh does)"
  if running; then
    echo "prometheus.sh: already running on 127.0.0.1:$PORT"
    return 0
  fi
  mkdir -p "$STATE/targets" "$STATE/data"
  touch "$STATE/.cairn-prom-state"
  cat >"$STATE/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: cairn
  file_sd_configs:
  - files: ["$STATE/targets/*.json"]
    refresh_interval: 1s
YAML
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is in use; set CAIRN_PROMETHEUS_PORT"
  fi
  setsid prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/data" \
    --storage.tsdb.retention.time=2h --web.listen-address="127.0.0.1:$PORT" \
    --web.enable-lifecycle >"$STATE/prometheus.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then
      printf 'CAIRN_PROMETHEUS_URL=http://127.0.0.1:%s\nCAIRN_PROMETHEUS_TARGETS=%s\n' "$PORT" \
        "$STATE/targets" >"$STATE/prom.env"
      echo "prometheus.sh: up on http://127.0.0.1:$PORT (targets in $STATE/targets)"
      return 0
    fi
    running || { tail -20 "$STATE/prometheus.log" >&2; die "prometheus exited"; }
    sleep 0.1
  done
  tail -20 "$STATE/prometheus.log" >&2
  die "prometheus did not become ready within 30s"
}

stop() {
  if running; then
    local pid
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -f "$STATE/.cairn-prom-state" ]; then rm -rf "$STATE"; fi
  echo "prometheus.sh: stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start | stop | status" >&2; exit 2 ;;
esac
