#!/bin/sh
# First start: a cluster with one database and its owner, password from POSTGRES_PASSWORD.
# A first start that did not finish (no marker) is made again from nothing.
set -eu
: "${POSTGRES_USER:=patchbot}" "${POSTGRES_DB:=patchbot}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "patchbot-postgres: set POSTGRES_PASSWORD (in the stack's env file)" >&2
    exit 1
fi
if [ ! -f "$PGDATA/patchbot-initialized" ]; then
    find "$PGDATA" -mindepth 1 -delete
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-host=scram-sha-256 \
        --auth-local=trust -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
    createdb --username="$POSTGRES_USER" -h /tmp "$POSTGRES_DB"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    touch "$PGDATA/patchbot-initialized"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
