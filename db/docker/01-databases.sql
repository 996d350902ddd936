-- Runs once, when the MariaDB volume is first created (docker-entrypoint-initdb.d).
-- The public and private databases are separate (in production they may live on different
-- servers), so each is created explicitly; nothing here runs against a default database.
CREATE DATABASE IF NOT EXISTS freshtrak_public CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS freshtrak_private CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
