import { dropSeedFunctionsSql, seedFunctionsSql, usersSelect } from './seed-sql.ts'

/** The Identity service's schema and seed: the users (buyers in Ordering point at them by id). */
export const identitySeedSql = `
  ${seedFunctionsSql}
  CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    phone_number text,
    country text NOT NULL,
    city text,
    email_confirmed boolean NOT NULL,
    created_at timestamptz NOT NULL
  );
  INSERT INTO users
    SELECT id, email, name, phone_number, country, city, email_confirmed, created_at FROM (${usersSelect}) u;

  ${dropSeedFunctionsSql}
  ANALYZE;
`
