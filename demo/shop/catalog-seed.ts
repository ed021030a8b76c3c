import { brandsSelect, catalogItemsSelect, dropSeedFunctionsSql, seedFunctionsSql, typesSelect } from './seed-sql.ts'

/** The Catalog service's schema and seed: brands, types and the items with their available stock. */
export const catalogSeedSql = `
  ${seedFunctionsSql}
  CREATE TABLE catalog_brands (id int PRIMARY KEY, brand text NOT NULL);
  CREATE TABLE catalog_types (id int PRIMARY KEY, type text NOT NULL);
  CREATE TABLE catalog_items (
    id int PRIMARY KEY,
    name text NOT NULL,
    description text,
    price numeric(10,2) NOT NULL,
    brand_id int NOT NULL REFERENCES catalog_brands (id),
    type_id int NOT NULL REFERENCES catalog_types (id),
    available_stock int NOT NULL,
    restock_threshold int NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
  );
  CREATE INDEX catalog_items_updated_at ON catalog_items (updated_at);

  INSERT INTO catalog_brands ${brandsSelect};
  INSERT INTO catalog_types ${typesSelect};
  INSERT INTO catalog_items
    SELECT id, name, description, price, brand_id, type_id, available_stock, restock_threshold, created_at, updated_at
    FROM (${catalogItemsSelect}) items;

  ${dropSeedFunctionsSql}
  ANALYZE;
`
