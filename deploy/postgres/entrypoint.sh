#!/bin/sh
# First start: a cluster with one database and its owner, password from POSTGRES_PASSWORD.
# A data folder that holds a cluster this script did not finish making is left alone.
set -eu
: "${POSTGRES_USER:=patchbot}" "${POSTGRES_DB:=patchbot}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "patchbot-postgres: set POSTGRES_PASSWORD (in the stack's env file)" >&2
    exit 1
fi
if [ ! -f "$PGDATA/patchbot-initialized" ]; then
    if [ -e "$PGDATA/PG_VERSION" ]; then
        echo "patchbot-postgres: $PGDATA holds a cluster whose first start did not finish, or" \
            "one made elsewhere; it is left as it is. Remove the volume to start afresh." >&2
        exit 1
    fi
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
