\connect ordering
-- Ordering service. REPLICA IDENTITY FULL makes delete events carry the whole old row, not only the key.
CREATE TABLE buyers (
  id            integer PRIMARY KEY,
  identity_guid text NOT NULL,
  name          text NOT NULL,
  updated_at    timestamp(6) NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          integer PRIMARY KEY,
  buyer_id    integer NOT NULL REFERENCES buyers(id),
  order_date  timestamptz NOT NULL,
  status      text NOT NULL,
  street      text,
  city        text,
  country     text,
  total       numeric(12, 2) NOT NULL,
  updated_at  timestamp(6) NOT NULL DEFAULT now()
);
CREATE TABLE order_items (
  id           integer PRIMARY KEY,
  order_id     integer NOT NULL REFERENCES orders(id),
  product_id   integer NOT NULL,
  product_name text NOT NULL,
  unit_price   numeric(10, 2) NOT NULL,
  discount     numeric(10, 2) NOT NULL DEFAULT 0,
  units        integer NOT NULL
);
CREATE TABLE order_status_changes (
  id         bigint PRIMARY KEY,
  order_id   integer NOT NULL REFERENCES orders(id),
  status     text NOT NULL,
  changed_at timestamptz NOT NULL
);
ALTER TABLE buyers REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
ALTER TABLE order_items REPLICA IDENTITY FULL;
ALTER TABLE order_status_changes REPLICA IDENTITY FULL;

INSERT INTO buyers (id, identity_guid, name) VALUES
  (1, 'a1b2c3d4-0001', 'Alice Martin'),
  (2, 'a1b2c3d4-0002', 'Bruno Keller'),
  (3, 'a1b2c3d4-0003', 'Chiara Rossi');
INSERT INTO orders (id, buyer_id, order_date, status, street, city, country, total) VALUES
  (1, 1, '2026-11-20 09:15:00+00', 'paid', '1 Main St', 'Berlin', 'DE', 41.50),
  (2, 2, '2026-11-21 14:02:00+00', 'shipped', '5 Lake Rd', 'Zurich', 'CH', 12.00),
  (3, 3, '2026-11-22 18:40:00+00', 'submitted', '9 Via Roma', 'Milan', 'IT', 27.00);
INSERT INTO order_items (id, order_id, product_id, product_name, unit_price, discount, units) VALUES
  (1, 1, 1, '.NET Bot Black Hoodie', 19.50, 0, 1),
  (2, 1, 2, '.NET Black & White Mug', 8.50, 0, 2),
  (3, 1, 5, 'Roslyn Red Sheet', 5.00, 0, 1),
  (4, 2, 3, 'Prism White T-Shirt', 12.00, 0, 1),
  (5, 3, 4, '.NET Foundation T-shirt', 13.50, 0, 2);
INSERT INTO order_status_changes (id, order_id, status, changed_at) VALUES
  (1, 1, 'submitted', '2026-11-20 09:15:00+00'),
  (2, 1, 'paid', '2026-11-20 09:20:00+00'),
  (3, 2, 'submitted', '2026-11-21 14:02:00+00'),
  (4, 2, 'paid', '2026-11-21 14:05:00+00'),
  (5, 2, 'shipped', '2026-11-22 08:00:00+00'),
  (6, 3, 'submitted', '2026-11-22 18:40:00+00');
