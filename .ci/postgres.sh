#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests: `start FOLDER` runs initdb and pg_ctl as the
# unprivileged `postgres` user in FOLDER, on a free loopback port, and prints the database URL
# (postgres://…) on its last line; `stop FOLDER` stops it. Trust authentication, loopback only:
# nothing but this machine's own tests can reach it, and it is gone with its folder.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 1; }

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    folder=${2:?usage: postgres.sh start FOLDER}
    mkdir -p "$folder"
    [ "$(id -u)" -eq 0 ] && chown postgres "$folder"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$bin/initdb" -D "$folder/data" -U postgres --auth=trust --encoding=UTF8 --no-sync >"$folder/initdb.log" 2>&1 \
        || { cat "$folder/initdb.log" >&2; exit 1; }
    # TLS offered (not required) with a self-signed certificate for 127.0.0.1: the tests connect with
    # each sslmode, and verify the server against this certificate (`SHOW ssl_cert_file` finds it).
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$folder/server.key" -out "$folder/server.crt" >"$folder/openssl.log" 2>&1 || { cat "$folder/openssl.log" >&2; exit 1; }
    chmod 600 "$folder/server.key"
    [ "$(id -u)" -eq 0 ] && chown postgres "$folder/server.key" "$folder/server.crt"
    # fsync off: a test cluster is thrown away, and the tests measure nothing.
    as_postgres "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 60 \
        -o "-p $port -k $folder -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$folder/server.crt -c ssl_key_file=$folder/server.key" start >/dev/null \
        || { cat "$folder/server.log" >&2; exit 1; }
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres jobengine
    echo "postgres://postgres@127.0.0.1:$port/jobengine"
    ;;
stop)
    folder=${2:?usage: postgres.sh stop FOLDER}
    [ -d "$folder/data" ] && as_postgres "$bin/pg_ctl" -D "$folder/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$folder"
    ;;
*)
    echo "usage: postgres.sh start FOLDER | stop FOLDER" >&2; exit 2
    ;;
esac
