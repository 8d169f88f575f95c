#!/usr/bin/env bash
# A real git server for the e2e tests and the demo, from Debian packages only:
#   - git daemon        git://127.0.0.1:${CAIRN_GIT_DAEMON_PORT:-19418}/<name>.git (push allowed)
#   - nginx + fcgiwrap + git http-backend
#                       https://127.0.0.1:${CAIRN_GIT_HTTPS_PORT:-19443}/git/<name>.git
#                       (TLS 1.2+, a CA of its own, HTTP basic auth, push allowed)
#
# Usage: hack/git-server.sh start | stop | status | create-repo NAME
#
# All state lives in ${CAIRN_GIT_STATE:-<repo>/.cairn-git}: repos/ (the bare
# repositories served), pki/ (ca.crt, server.crt), logs/, pids/, nginx.conf,
# htpasswd, password, and git.env, which `start` writes for tests to source:
#   CAIRN_GIT_DAEMON_URL CAIRN_GIT_HTTPS_URL CAIRN_GIT_CA CAIRN_GIT_USER
#   CAIRN_GIT_PASSWORD CAIRN_GIT_REPOS
#
# Environment (all optional):
#   CAIRN_GIT_STATE         state directory (deleted by `stop`)
#   CAIRN_GIT_DAEMON_PORT   git daemon port          (default 19418)
#   CAIRN_GIT_HTTPS_PORT    nginx https port         (default 19443)
#   CAIRN_GIT_USER          basic-auth user          (default cairn)
#   CAIRN_GIT_PASSWORD      basic-auth password      (default: generated once, kept in state/password)
#
# `start` is idempotent: what already runs is left alone. `stop` stops only
# the processes `start` recorded (checked against /proc/PID/cmdline) and
# deletes the state directory. Nothing outside the state directory is touched:
# nginx runs with its own configuration, logs, pid and temp paths.
set -euo pipefail

log() { echo "git-server: $*" 2>/dev/null || true; }
die() {
  echo "git-server: error: $*" >&2 2>/dev/null || true
  exit 1
}
trap '' PIPE

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE=$(realpath -m -- "${CAIRN_GIT_STATE:-$REPO_ROOT/.cairn-git}")
case $STATE in
  / | /root | /home | /tmp | /usr | /etc | /var | "$REPO_ROOT" | "${HOME:-/root}")
    die "CAIRN_GIT_STATE=$STATE is not acceptable as a state directory (stop deletes it); pick a dedicated directory" ;;
esac
REPOS=$STATE/repos
PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids
MARKER=$STATE/.cairn-git-state
ENV_FILE=$STATE/git.env
SOCK=$STATE/fcgiwrap.sock
DAEMON_PORT=${CAIRN_GIT_DAEMON_PORT:-19418}
HTTPS_PORT=${CAIRN_GIT_HTTPS_PORT:-19443}
GIT_USER=${CAIRN_GIT_USER:-cairn}
# Stopped in reverse order.
DAEMONS=(git-daemon fcgiwrap nginx)

usage() {
  echo "usage: $0 start | stop | status | create-repo NAME" >&2
  exit 2
}

need_tool() { # tool debian-package
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' is missing: install Debian's '$2' package (make deps, i.e. hack/install-deps.sh)"
}

check_port_var() { # VAR value
  if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
    die "$1=$2 is not a port number (1-65535)"
  fi
}

# --------------------------------------------------------------- processes

# Succeeds if pid $2 is alive and is daemon $1 of this state directory: its
# command line names the daemon and mentions the state directory. (nginx
# rewrites its title to "nginx: master process nginx -c <state>/nginx.conf
# ...", which still matches.) Guards against pid reuse.
pid_is_ours() {
  local name=$1 pid=$2 cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [ -n "$cmd" ] || return 1 # exited (zombie)
  case $cmd in *"$name"*) ;; *) return 1 ;; esac
  case $cmd in *"$STATE/"* | *"$STATE "*) return 0 ;; esac
  return 1
}

recorded_pid() {
  local f=$PIDS/$1.pid
  if [ -f "$f" ]; then head -n1 "$f" | tr -dc 0-9; fi
}

daemon_running() {
  local pid
  pid=$(recorded_pid "$1")
  [ -n "$pid" ] && pid_is_ours "$1" "$pid"
}

port_listeners() { ss -Hltnp "( sport = :$1 )" 2>/dev/null || ss -Hltn "( sport = :$1 )"; }

STARTED=()
# start NAME BINARY ARGS...: detached in a session of its own (setsid, which
# execs the daemon, so $! is its pid and it leads its process group), stdin
# from /dev/null, output to logs/NAME.log.
start_daemon() {
  local name=$1 bin=$2 logf=$LOGS/$1.log pid i
  shift 2
  [ -f "$logf" ] && mv -f "$logf" "$logf.prev"
  echo "# $(date -Is) $bin $*" >"$logf"
  (
    trap - PIPE
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid "$bin" "$@" </dev/null >>"$logf" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$PIDS/$name.pid"
  STARTED+=("$name")
  for ((i = 0; i < 100; i++)); do
    pid_is_ours "$name" "$pid" && return 0
    [ -e "/proc/$pid" ] || break
    sleep 0.1
  done
  failed "$name" "exited right after starting"
}

failed() { # name message
  echo "git-server: ---- last lines of $LOGS/$1.log ----" >&2 2>/dev/null || true
  tail -n 20 "$LOGS/$1.log" >&2 2>/dev/null || true
  die "$1 $2 (log: $LOGS/$1.log)"
}

# Stops daemon $1 and its process group if its recorded pid is still that
# daemon: SIGTERM, up to 10 s, then SIGKILL. A pid that now belongs to some
# other process is left alone.
stop_daemon() {
  local name=$1 pid i f=$PIDS/$1.pid
  [ -f "$f" ] || return 0
  pid=$(recorded_pid "$name")
  if [ -n "$pid" ] && pid_is_ours "$name" "$pid"; then
    log "stopping $name (pid $pid)"
    # The daemon leads its own process group (setsid): this also ends the
    # workers it forked (nginx workers, fcgiwrap children, upload-packs).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_is_ours "$name" "$pid" || break
      sleep 0.1
    done
    if pid_is_ours "$name" "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  elif [ -n "$pid" ]; then
    log "$name (pid $pid) was not running"
  fi
  rm -f "$f"
}

cleanup_failed_start() {
  local rc=$? i
  if [ $rc -ne 0 ] && [ ${#STARTED[@]} -gt 0 ]; then
    log "start failed; stopping what this run started"
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_daemon "${STARTED[$i]}"; done
  fi
  exit $rc
}

lock_state() {
  exec 9>"$STATE/.lock"
  flock -w 30 9 || die "another hack/git-server.sh holds $STATE/.lock; wait for it to finish"
}

prepare_state() {
  if [ -d "$STATE" ] && [ ! -e "$MARKER" ] && [ -n "$(ls -A "$STATE")" ]; then
    die "$STATE exists, is not empty and was not created by hack/git-server.sh; set CAIRN_GIT_STATE to another directory"
  fi
  mkdir -p "$STATE" "$REPOS" "$PKI" "$LOGS" "$PIDS" "$STATE/tmp"
  touch "$MARKER"
  [ -e "$STATE/.gitignore" ] || echo '*' >"$STATE/.gitignore"
}

# --------------------------------------------------------------- setup

make_pki() {
  [ -s "$PKI/ca.crt" ] && [ -s "$PKI/server.crt" ] && [ -s "$PKI/server.key" ] && return 0
  log "making a CA and a server certificate for 127.0.0.1/localhost in $PKI"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 \
    -subj "/CN=cairn git server CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>"$LOGS/pki.log" || { cat "$LOGS/pki.log" >&2; die "openssl could not make the CA"; }
  openssl req "${ec[@]}" -keyout "$PKI/server.key" -out "$PKI/server.csr" -subj "/CN=127.0.0.1" \
    2>>"$LOGS/pki.log" || { cat "$LOGS/pki.log" >&2; die "openssl could not make the server key"; }
  cat >"$PKI/server.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
  openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -out "$PKI/server.crt" -days 825 -extfile "$PKI/server.ext" \
    2>>"$LOGS/pki.log" || { cat "$LOGS/pki.log" >&2; die "openssl could not sign the server certificate"; }
  chmod 600 "$PKI/ca.key" "$PKI/server.key"
}

make_auth() {
  local pw
  if [ -n "${CAIRN_GIT_PASSWORD:-}" ]; then
    pw=$CAIRN_GIT_PASSWORD
  elif [ -s "$STATE/password" ]; then
    pw=$(cat "$STATE/password")
  else
    pw=$(openssl rand -hex 12)
  fi
  case $GIT_USER in *:* | "") die "CAIRN_GIT_USER='$GIT_USER' is not a usable user name (non-empty, no ':')" ;; esac
  (umask 077 && printf '%s\n' "$pw" >"$STATE/password")
  local hash
  hash=$(printf '%s\n' "$pw" | openssl passwd -apr1 -stdin)
  (umask 077 && printf '%s:%s\n' "$GIT_USER" "$hash" >"$STATE/htpasswd")
  # nginx workers read it as the user they run as.
  chmod 644 "$STATE/htpasswd"
  PASSWORD=$pw
}

write_nginx_conf() {
  local user_line=""
  # As root, nginx would drop its workers to "nobody", which could not reach
  # the fcgiwrap socket or the state directory.
  [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
  local tmp=$STATE/tmp
  cat >"$STATE/nginx.conf" <<EOF
# Written by hack/git-server.sh; regenerated by every start.
$user_line
worker_processes 1;
pid $PIDS/nginx.master.pid;
error_log $LOGS/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $LOGS/nginx-access.log;
  client_body_temp_path $tmp/client_body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  client_max_body_size 0;
  server_tokens off;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    server_name localhost;
    ssl_certificate $PKI/server.crt;
    ssl_certificate_key $PKI/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location ~ ^/git(/.*)\$ {
      auth_basic "cairn git";
      auth_basic_user_file $STATE/htpasswd;
      fastcgi_pass unix:$SOCK;
      fastcgi_request_buffering off;
      fastcgi_buffering off;
      fastcgi_read_timeout 300s;
      fastcgi_param SCRIPT_FILENAME $GIT_EXEC_PATH/git-http-backend;
      fastcgi_param GIT_PROJECT_ROOT $REPOS;
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param PATH_INFO \$1;
      fastcgi_param REMOTE_USER \$remote_user;
      fastcgi_param REMOTE_ADDR \$remote_addr;
      fastcgi_param REQUEST_METHOD \$request_method;
      fastcgi_param QUERY_STRING \$query_string;
      fastcgi_param CONTENT_TYPE \$content_type;
      fastcgi_param CONTENT_LENGTH \$content_length;
      fastcgi_param SERVER_PROTOCOL \$server_protocol;
      fastcgi_param HTTP_GIT_PROTOCOL \$http_git_protocol;
      fastcgi_param HTTP_CONTENT_ENCODING \$http_content_encoding;
    }
    location / { return 404; }
  }
}
EOF
}

write_env() {
  (umask 077 && cat >"$ENV_FILE" <<EOF
CAIRN_GIT_DAEMON_URL=git://127.0.0.1:$DAEMON_PORT
CAIRN_GIT_HTTPS_URL=https://127.0.0.1:$HTTPS_PORT/git
CAIRN_GIT_CA=$PKI/ca.crt
CAIRN_GIT_USER=$GIT_USER
CAIRN_GIT_PASSWORD=$PASSWORD
CAIRN_GIT_REPOS=$REPOS
EOF
  )
}

# Fails with a clear message if $2 (variable $1) is taken by someone else.
check_port_free() {
  local var=$1 port=$2 who
  who=$(port_listeners "$port")
  [ -z "$who" ] && return 0
  die "port $port is already in use: $(echo "$who" | head -1 | tr -s ' ')
  set $var to a free port (or stop what listens there)"
}

wait_until() { # name seconds what check...
  local name=$1 timeout=$2 what=$3 deadline=$((SECONDS + $2))
  shift 3
  until "$@"; do
    daemon_running "$name" || failed "$name" "exited during start-up"
    [ $SECONDS -lt $deadline ] || failed "$name" "did not get ready within ${timeout}s ($what)"
    sleep 0.2
  done
}

https_ready() {
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$PKI/ca.crt" \
    "https://127.0.0.1:$HTTPS_PORT/git/" 2>/dev/null) || return 1
  [ "$code" = 401 ]
}

# --------------------------------------------------------------- commands

cmd_start() {
  check_port_var CAIRN_GIT_DAEMON_PORT "$DAEMON_PORT"
  check_port_var CAIRN_GIT_HTTPS_PORT "$HTTPS_PORT"
  [ "$DAEMON_PORT" != "$HTTPS_PORT" ] || die "CAIRN_GIT_DAEMON_PORT and CAIRN_GIT_HTTPS_PORT are both $DAEMON_PORT; they must differ"
  need_tool git git
  need_tool nginx nginx-light
  need_tool fcgiwrap fcgiwrap
  need_tool openssl openssl
  need_tool curl curl
  need_tool ss iproute2
  need_tool setsid util-linux
  need_tool flock util-linux
  GIT_EXEC_PATH=$(git --exec-path)
  [ -x "$GIT_EXEC_PATH/git-daemon" ] || die "$GIT_EXEC_PATH/git-daemon is missing: install Debian's 'git' package"
  [ -x "$GIT_EXEC_PATH/git-http-backend" ] || die "$GIT_EXEC_PATH/git-http-backend is missing: install Debian's 'git' package"

  prepare_state
  lock_state
  trap cleanup_failed_start EXIT

  daemon_running git-daemon || { rm -f "$PIDS/git-daemon.pid"; check_port_free CAIRN_GIT_DAEMON_PORT "$DAEMON_PORT"; }
  daemon_running nginx || { rm -f "$PIDS/nginx.pid"; check_port_free CAIRN_GIT_HTTPS_PORT "$HTTPS_PORT"; }

  make_pki
  make_auth
  write_nginx_conf

  if daemon_running git-daemon; then
    log "git daemon already running (pid $(recorded_pid git-daemon))"
  else
    log "starting git daemon on 127.0.0.1:$DAEMON_PORT"
    start_daemon git-daemon "$GIT_EXEC_PATH/git-daemon" --reuseaddr --base-path="$REPOS" \
      --export-all --enable=receive-pack --listen=127.0.0.1 --port="$DAEMON_PORT" \
      --pid-file="$PIDS/git-daemon.self.pid" "$REPOS"
    wait_until git-daemon 10 "port $DAEMON_PORT not listening" \
      bash -c "[ -n \"\$(ss -Hltn '( sport = :$DAEMON_PORT )')\" ]"
  fi

  if daemon_running fcgiwrap; then
    log "fcgiwrap already running (pid $(recorded_pid fcgiwrap))"
  else
    rm -f "$SOCK"
    log "starting fcgiwrap on $SOCK"
    start_daemon fcgiwrap "$(command -v fcgiwrap)" -c 4 -s "unix:$SOCK"
    wait_until fcgiwrap 10 "socket $SOCK not created" test -S "$SOCK"
  fi

  if daemon_running nginx; then
    log "nginx already running (pid $(recorded_pid nginx)); reloading its configuration"
    kill -HUP "$(recorded_pid nginx)"
  else
    log "starting nginx on https://127.0.0.1:$HTTPS_PORT/git"
    nginx -t -q -c "$STATE/nginx.conf" -p "$STATE/" -e "$LOGS/nginx-error.log" \
      >"$LOGS/nginx-check.log" 2>&1 || { cat "$LOGS/nginx-check.log" >&2; die "nginx rejects $STATE/nginx.conf"; }
    start_daemon nginx "$(command -v nginx)" -c "$STATE/nginx.conf" -p "$STATE/" \
      -e "$LOGS/nginx-error.log" -g "daemon off;"
  fi
  wait_until nginx 15 "https://127.0.0.1:$HTTPS_PORT/git/ does not answer 401" https_ready

  write_env
  trap - EXIT
  log "ready: git://127.0.0.1:$DAEMON_PORT/<name>.git and https://127.0.0.1:$HTTPS_PORT/git/<name>.git (user $GIT_USER)"
  log "environment for tests: $ENV_FILE; new repositories: $0 create-repo NAME"
}

cmd_stop() {
  if [ ! -d "$STATE" ]; then
    log "nothing to stop ($STATE does not exist)"
    return 0
  fi
  [ -e "$MARKER" ] || die "$STATE was not created by hack/git-server.sh; not touching it"
  lock_state
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_daemon "${DAEMONS[$i]}"; done
  exec 9>&-
  rm -rf -- "$STATE"
  log "stopped; removed $STATE"
}

cmd_status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if daemon_running "$d"; then
      log "$d: running (pid $(recorded_pid "$d"))"
    else
      log "$d: not running"
      rc=3
    fi
  done
  if [ $rc -eq 0 ] && [ -f "$ENV_FILE" ]; then
    grep -v PASSWORD "$ENV_FILE" || true
  fi
  return $rc
}

cmd_create_repo() {
  local name=${1:-}
  [ -n "$name" ] || die "create-repo needs a NAME (letters, digits, '.', '_', '-', '/')"
  name=${name%.git}
  if ! [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]] || [[ $name == *..* ]] || [[ $name == */ ]]; then
    die "repository name '$1' is not acceptable: use letters, digits, '.', '_', '-' and '/', no '..'"
  fi
  prepare_state
  local dir=$REPOS/$name.git
  if [ -d "$dir" ]; then
    log "$dir already exists"
  else
    git init -q --bare -b main "$dir"
    git -C "$dir" config http.receivepack true
    git -C "$dir" config receive.denyNonFastForwards false
    log "created $dir"
  fi
  echo "git://127.0.0.1:$DAEMON_PORT/$name.git"
  echo "https://127.0.0.1:$HTTPS_PORT/git/$name.git"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  create-repo)
    shift
    cmd_create_repo "$@"
    ;;
  *) usage ;;
esac
