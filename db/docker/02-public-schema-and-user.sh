#!/bin/bash
# Run by the MariaDB entrypoint after 01-databases.sql, on first start only (it is executable,
# so it runs in its own shell rather than being sourced into the entrypoint).
# 1. An empty public schedule from the verbatim contract schema (mounted at /public-schema), so a
#    development stack has the tables the other system owns in production.
# 2. The service's account: everything on the private database; on the public one only SELECT and
#    UPDATE of the three `reserved` columns, which is all the service may write there.
set -euo pipefail

sql() {
  mariadb --protocol=socket -uroot -p"${MARIADB_ROOT_PASSWORD}" "$@"
}

sql freshtrak_public < /public-schema/schema.sql

sql <<SQL
CREATE USER IF NOT EXISTS 'freshtrak'@'%' IDENTIFIED BY '${FRESHTRAK_DB_PASSWORD}';
GRANT ALL PRIVILEGES ON freshtrak_private.* TO 'freshtrak'@'%';
GRANT SELECT ON freshtrak_public.* TO 'freshtrak'@'%';
GRANT UPDATE (reserved) ON freshtrak_public.event_dates TO 'freshtrak'@'%';
GRANT UPDATE (reserved) ON freshtrak_public.event_hours TO 'freshtrak'@'%';
GRANT UPDATE (reserved) ON freshtrak_public.event_slots TO 'freshtrak'@'%';
FLUSH PRIVILEGES;
SQL
