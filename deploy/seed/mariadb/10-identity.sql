-- Identity service (MariaDB): exported nightly by coldpipe's exporter, no change stream.
CREATE DATABASE IF NOT EXISTS identity;
USE identity;
CREATE TABLE users (
  id         INT PRIMARY KEY,
  identity_guid VARCHAR(64) NOT NULL,
  user_name  VARCHAR(128) NOT NULL,
  email      VARCHAR(256) NOT NULL,
  name       VARCHAR(128) NOT NULL,
  last_name  VARCHAR(128) NOT NULL,
  city       VARCHAR(128),
  country    VARCHAR(2),
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
);
INSERT INTO users (id, identity_guid, user_name, email, name, last_name, city, country) VALUES
  (1, 'a1b2c3d4-0001', 'alice', 'alice@example.com', 'Alice', 'Martin', 'Berlin', 'DE'),
  (2, 'a1b2c3d4-0002', 'bruno', 'bruno@example.com', 'Bruno', 'Keller', 'Zurich', 'CH'),
  (3, 'a1b2c3d4-0003', 'chiara', 'chiara@example.com', 'Chiara', 'Rossi', 'Milan', 'IT');
