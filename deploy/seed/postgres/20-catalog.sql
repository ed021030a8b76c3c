\connect catalog
-- Catalog service.
CREATE TABLE catalog_brands (
  id    integer PRIMARY KEY,
  brand text NOT NULL
);
CREATE TABLE catalog_types (
  id   integer PRIMARY KEY,
  type text NOT NULL
);
CREATE TABLE catalog_items (
  id               integer PRIMARY KEY,
  name             text NOT NULL,
  description      text,
  price            numeric(10, 2) NOT NULL,
  catalog_type_id  integer NOT NULL REFERENCES catalog_types(id),
  catalog_brand_id integer NOT NULL REFERENCES catalog_brands(id),
  available_stock  integer NOT NULL,
  updated_at       timestamp(6) NOT NULL DEFAULT now()
);
ALTER TABLE catalog_brands REPLICA IDENTITY FULL;
ALTER TABLE catalog_types REPLICA IDENTITY FULL;
ALTER TABLE catalog_items REPLICA IDENTITY FULL;

INSERT INTO catalog_brands (id, brand) VALUES (1, '.NET'), (2, 'Other'), (3, 'Roslyn');
INSERT INTO catalog_types (id, type) VALUES (1, 'Mug'), (2, 'T-Shirt'), (3, 'Sheet'), (4, 'Hoodie');
INSERT INTO catalog_items (id, name, description, price, catalog_type_id, catalog_brand_id, available_stock) VALUES
  (1, '.NET Bot Black Hoodie', 'Warm hoodie', 19.50, 4, 1, 100),
  (2, '.NET Black & White Mug', 'Ceramic mug', 8.50, 1, 1, 89),
  (3, 'Prism White T-Shirt', 'Cotton T-shirt', 12.00, 2, 2, 56),
  (4, '.NET Foundation T-shirt', 'Cotton T-shirt', 13.50, 2, 1, 120),
  (5, 'Roslyn Red Sheet', 'Sticker sheet', 5.00, 3, 3, 55);
