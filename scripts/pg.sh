#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `bash scripts/pg.sh CMD ARGS…`.
#
# Installs Debian's `postgresql` when it is missing (as root, non-interactive),
# makes a cluster in a fresh temp dir (data, unix socket and TLS files), on a
# free loopback port, TLS on (a private CA; the server cert names localhost
# and 127.0.0.1), trust auth on loopback, fsync left on. Then runs CMD with
#   ARMORIQ_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres
#   ARMORIQ_TEST_PG_CTL=<script taking stop|start|restart|kill|pause|resume>
#   ARMORIQ_TEST_PG_TLS_DIR=<dir with ca.crt (the server's CA) and other-ca.crt>
# and stops the server and removes the temp dir on exit, with CMD's status.
# Progress goes to stderr. Works as root (runs the server as `postgres`) or
# as a plain user (runs it as that user).
set -euo pipefail

say() { echo "pg.sh: $*" >&2; }

if [ "$#" -eq 0 ]; then
  say "usage: bash scripts/pg.sh CMD [ARGS…]"
  exit 2
fi

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "PostgreSQL is not installed and this is not root: apt-get install postgresql"
    exit 1
  fi
  say "installing postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN="$(bindir)"
if ! command -v openssl >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    say "openssl is needed for the TLS certificates: apt-get install openssl"
    exit 1
  fi
  say "installing openssl (apt-get)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2
fi

DIR="$(mktemp -d /tmp/armoriq-pg.XXXXXX)"
chmod 755 "$DIR"
if [ "$(id -u)" -eq 0 ]; then
  AS=(runuser -u postgres --)
  chown postgres: "$DIR"
else
  AS=()
fi
DATA="$DIR/data"
TLS="$DIR/tls"

cleanup() {
  local status=$?
  if [ -f "$DATA/postmaster.pid" ]; then
    # A test that failed while the server was paused leaves it stopped.
    pid="$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$pid" ]; then
      kill -CONT $pid $(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ') 2>/dev/null || true
    fi
    say "stopping the server"
    "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "initdb in $DIR ($BIN)"
"${AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-instructions >/dev/null

# TLS: a CA, a server cert it signs (localhost, 127.0.0.1), and a second CA
# that signed nothing (for the refused-chain test).
mkdir -p "$TLS"
(
  cd "$TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=armoriq test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=armoriq other CA" \
    -keyout other-ca.key -out other-ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out server.crt 2>/dev/null
  chmod 600 server.key
)
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$TLS"; fi
chmod 755 "$TLS"
chmod 644 "$TLS/ca.crt" "$TLS/other-ca.crt"

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo 0
}

started=0
for attempt in 1 2 3 4 5; do
  PORT="$(free_port)"
  cat >"$DIR/postgresql.auto.conf.add" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 400
ssl = on
ssl_cert_file = '$TLS/server.crt'
ssl_key_file = '$TLS/server.key'
fsync = on
# After a crash (the outage test's kill -9) the server syncs its data
# directory before recovery; file by file that is minutes on a slow disk
# once the tests have made a few hundred databases. One syncfs is not.
recovery_init_sync_method = syncfs
EOF
  "${AS[@]}" sh -c "cat '$DIR/postgresql.auto.conf.add' >> '$DATA/postgresql.conf'"
  if "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 30 start >/dev/null; then
    started=1
    break
  fi
  say "start on port $PORT failed (attempt $attempt): $(tail -3 "$DIR/server.log" 2>/dev/null)"
done
if [ "$started" -ne 1 ]; then
  say "could not start PostgreSQL"
  exit 1
fi

# stop|start|restart|kill|pause|resume, for tests that take the server away
# under load (pause: SIGSTOP, a server that stops answering but keeps its
# connections open).
CTL="$DIR/ctl.sh"
{
  echo '#!/usr/bin/env bash'
  echo 'set -eu'
  printf 'AS=(%s)\n' "${AS[*]:-}"
  printf 'BIN=%q DATA=%q LOG=%q SOCK=%q\n' "$BIN" "$DATA" "$DIR/server.log" "$DIR"
  cat <<'EOF'
case "${1:-}" in
  stop) "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null ;;
  start|restart)
    # Crash recovery can be slow on a loaded machine: wait up to 120 s, and
    # say what the server logged when it still is not up.
    if ! "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -m fast -w -t 120 "$1" >/dev/null; then
      echo "ctl.sh: $1 failed; the server log ends with:" >&2
      tail -20 "$LOG" >&2
      exit 1
    fi ;;
  kill)
    pid="$(head -1 "$DATA/postmaster.pid")"
    # The server as a crash leaves it: the postmaster and every backend
    # (each in a session of its own) killed at once. Wait until all are
    # dead, so none still holds the shared memory. Zombies do not count:
    # in a container PID 1 may be slow to reap them.
    procs="$pid $(pgrep -P "$pid" | tr '\n' ' ')"
    kill -9 $procs 2>/dev/null || true
    for _ in $(seq 200); do
      ps -o stat= -p "${procs// /,}" 2>/dev/null | grep -qv '^Z' || break
      sleep 0.05
    done
    # A zombie postmaster still matches the PID in its lock files, and a
    # new server would take it for a live one; it is dead, so they are stale.
    rm -f "$DATA/postmaster.pid" "$SOCK"/.s.PGSQL.*.lock ;;
  pause|resume)
    # A server that stops answering without closing anything (a hung host,
    # a stalled disk): the postmaster and every backend (each in a session
    # of its own, so signalled one by one) stopped, or continued. The
    # kernel still accepts connections and acknowledges data meanwhile.
    pid="$(head -1 "$DATA/postmaster.pid")"
    sig=STOP
    [ "$1" = resume ] && sig=CONT
    kill -s "$sig" $pid $(pgrep -P "$pid" | tr '\n' ' ') ;;
  *) echo "usage: $0 stop|start|restart|kill|pause|resume" >&2; exit 2 ;;
esac
EOF
} >"$CTL"
chmod 755 "$CTL"

export ARMORIQ_TEST_PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export ARMORIQ_TEST_PG_CTL="$CTL"
export ARMORIQ_TEST_PG_TLS_DIR="$TLS"
say "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (TLS on)"

status=0
"$@" || status=$?
exit "$status"
