import { catalogItemsSelect, dropSeedFunctionsSql, placeCount, placesSelect, seedFunctionsSql, shopSeedDates, shopSeedSize, usersSelect } from './seed-sql.ts'

const { buyers, orders, items } = shopSeedSize
const minute = `interval '1 minute'`
/** Minutes in the ordering period, over which order ids are spread in time order. */
const periodMinutes = 184 * 1440

/**
 * The Ordering service's schema and seed. An order walks submitted → awaitingvalidation → stockconfirmed →
 * paid → shipped with hashed delays; about 6 % are cancelled after one of the first three steps, and steps
 * that would fall after the seed's "now" have not happened yet, so the latest orders are still in flight.
 * An order's status and updated_at are those of its last change; its total is the sum of its lines.
 */
export const orderingSeedSql = `
  ${seedFunctionsSql}
  CREATE TABLE buyers (
    id int PRIMARY KEY,
    user_id uuid NOT NULL UNIQUE,
    name text NOT NULL,
    payment_method text NOT NULL,
    created_at timestamptz NOT NULL
  );
  CREATE TABLE orders (
    id int PRIMARY KEY,
    buyer_id int NOT NULL REFERENCES buyers (id),
    status text NOT NULL,
    order_date timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    total numeric(12,2) NOT NULL,
    city text,
    country text
  );
  CREATE INDEX orders_updated_at ON orders (updated_at);
  CREATE TABLE order_items (
    id int PRIMARY KEY,
    order_id int NOT NULL REFERENCES orders (id),
    catalog_item_id int NOT NULL,
    product_name text NOT NULL,
    unit_price numeric(10,2) NOT NULL,
    units int NOT NULL,
    discount numeric(10,2) NOT NULL DEFAULT 0
  );
  CREATE INDEX order_items_order_id ON order_items (order_id);
  CREATE TABLE order_status_changes (
    id int PRIMARY KEY,
    order_id int NOT NULL REFERENCES orders (id),
    status text NOT NULL,
    changed_at timestamptz NOT NULL
  );
  CREATE INDEX order_status_changes_changed_at ON order_status_changes (changed_at);

  -- What Ordering knows of the other services' rows, recomputed from the same formulas (see seed-sql.ts).
  CREATE TEMP TABLE seed_users AS ${usersSelect};
  CREATE TEMP TABLE seed_items AS ${catalogItemsSelect};
  CREATE TEMP TABLE seed_places AS ${placesSelect};

  INSERT INTO buyers
    SELECT n, id, name, (ARRAY['visa', 'mastercard', 'amex', 'paypal'])[1 + seed_int(50, n, 4)],
           created_at + seed_int(51, n, 3 * 1440) * ${minute}
    FROM seed_users WHERE n <= ${buyers};

  -- Buyer ids are skewed (frac^1.5) so that a few buyers order much more than most.
  CREATE TEMP TABLE seed_orders AS
    SELECT n, 1 + floor(${buyers} * seed_frac(10, n) ^ 1.5)::int AS buyer_id, t1,
           t1 + d2 * ${minute} AS t2, t1 + (d2 + d3) * ${minute} AS t3,
           t1 + (d2 + d3 + d4) * ${minute} AS t4, t1 + (d2 + d3 + d4 + d5) * ${minute} AS t5,
           cancel_after, dc, seed_int(19, n, 100) < 8 AS ships_elsewhere, 1 + seed_int(20, n, ${placeCount}) AS other_place
    FROM (
      SELECT n,
             timestamptz '${shopSeedDates.ordersFrom} 00:00:00+00' + ((n - 1)::bigint * ${periodMinutes} / ${orders} + seed_int(11, n, 40)) * ${minute} AS t1,
             1 + seed_int(12, n, 30) AS d2, 5 + seed_int(13, n, 176) AS d3, 30 + seed_int(14, n, 48 * 60 - 30) AS d4,
             12 * 60 + seed_int(15, n, 84 * 60) AS d5,
             CASE WHEN seed_int(16, n, 100) < 6 THEN 1 + seed_int(17, n, 3) END AS cancel_after, 10 + seed_int(18, n, 24 * 60) AS dc
      FROM generate_series(1, ${orders}) n
    ) o;

  CREATE TEMP TABLE seed_changes AS
    SELECT o.n AS order_id, s.seq, s.status, s.at
    FROM seed_orders o
    CROSS JOIN LATERAL (VALUES
      (1, 'submitted', o.t1), (2, 'awaitingvalidation', o.t2), (3, 'stockconfirmed', o.t3), (4, 'paid', o.t4), (5, 'shipped', o.t5),
      (6, 'cancelled', (CASE o.cancel_after WHEN 1 THEN o.t1 WHEN 2 THEN o.t2 WHEN 3 THEN o.t3 END) + o.dc * ${minute})
    ) s (seq, status, at)
    WHERE s.at < timestamptz '${shopSeedDates.seedNow}' AND (o.cancel_after IS NULL OR s.seq <= o.cancel_after OR s.seq = 6);

  -- 1 to 5 lines per order, distinct items (steps of 37 through ${items} items), popular items skewed low.
  CREATE TEMP TABLE seed_lines AS
    SELECT o.n AS order_id, j, i.id AS catalog_item_id, i.name AS product_name, i.price AS unit_price, units,
           CASE WHEN seed_int(23, o.n * 8 + j, 100) < 12 THEN round(units * i.price * 0.10, 2) ELSE 0 END::numeric(10,2) AS discount
    FROM generate_series(1, ${orders}) o (n)
    CROSS JOIN LATERAL generate_series(0, seed_int(21, o.n, 5)) j
    CROSS JOIN LATERAL (SELECT 1 + floor(3 * seed_frac(22, o.n * 8 + j) ^ 2)::int AS units) u
    JOIN seed_items i ON i.id = 1 + (floor(${items} * seed_frac(24, o.n) ^ 1.6)::int + j * 37) % ${items};

  INSERT INTO orders
    SELECT o.n, o.buyer_id, last.status, o.t1, last.at, lines.total,
           CASE WHEN o.ships_elsewhere THEN p.city ELSE u.city END, CASE WHEN o.ships_elsewhere THEN p.country ELSE u.country END
    FROM seed_orders o
    JOIN seed_users u ON u.n = o.buyer_id
    JOIN seed_places p ON p.place = o.other_place
    JOIN (SELECT DISTINCT ON (order_id) order_id, status, at FROM seed_changes ORDER BY order_id, seq DESC) last ON last.order_id = o.n
    JOIN (SELECT order_id, sum(units * unit_price - discount) AS total FROM seed_lines GROUP BY order_id) lines ON lines.order_id = o.n
    ORDER BY o.n;

  INSERT INTO order_items
    SELECT row_number() OVER (ORDER BY order_id, j), order_id, catalog_item_id, product_name, unit_price, units, discount FROM seed_lines;
  INSERT INTO order_status_changes
    SELECT row_number() OVER (ORDER BY order_id, seq), order_id, status, at FROM seed_changes;

  DROP TABLE seed_users, seed_items, seed_places, seed_orders, seed_changes, seed_lines;
  ${dropSeedFunctionsSql}
  ANALYZE;
`
