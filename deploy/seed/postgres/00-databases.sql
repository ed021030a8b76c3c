-- One Postgres server holds the shop's Ordering and Catalog databases (each service owns its own database).
-- wal_level=logical is set on the server's command line (docker-compose.yml) so Debezium can stream them.
CREATE DATABASE ordering;
CREATE DATABASE catalog;
