#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1 before the tests run; start them
# when they are installed here but stopped; otherwise say clearly what is missing.
set -uo pipefail
PGHOST=${PGHOST:-127.0.0.1}; PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}; REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PGHOST:$PGPORT; trying to start it..."
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 20); do pg_up && break; sleep 0.5; done
fi
if ! pg_up; then
  echo "ERROR: PostgreSQL is not reachable at $PGHOST:$PGPORT. Install and start PostgreSQL 15+," >&2
  echo "       or set DATABASE_URL to a server the tests may create databases on." >&2
  exit 1
fi

if ! redis_up; then
  echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT; trying to start it..."
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if ! redis_up; then
  echo "ERROR: Redis is not reachable at $REDIS_HOST:$REDIS_PORT. Install and start Redis 7+." >&2
  exit 1
fi
echo "PostgreSQL and Redis are up."
