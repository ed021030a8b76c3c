import type { DuckDBValueConverter, Json } from '@duckdb/node-api'

type NodeApi = typeof import('@duckdb/node-api')

/** DuckDB's DATE holds ±infinity as these day counts (DuckDBDateValue.PosInf / NegInf). */
const infiniteDays = 2 ** 31 - 1

let converter: DuckDBValueConverter<Json> | undefined

/**
 * A FLOAT (REAL) as the shortest decimal that reads back as the same 32-bit value, as DuckDB prints it: held as a
 * JavaScript double, 0.1f printed as 0.10000000149011612. NaN and the infinities as text, as node-api writes them.
 */
function shortestFloat(value: number): Json {
  if (!Number.isFinite(value)) return String(value)
  for (let digits = 1; digits <= 9; digits++) {
    const shorter = Number(value.toPrecision(digits))
    if (Math.fround(shorter) === value) return shorter
  }
  return value
}

/**
 * Values as JSON, the way DuckDB itself writes them (its CLI, `to_json`, `COPY … (FORMAT csv)`), for every result
 * that leaves the process: the reports API (JSON, CSV, NDJSON) and the SQL prompt. node-api's own JSON converter
 * differs in three places, all fixed here, nested values included:
 * - a DATE of ±infinity came out as the day count's calendar date (`5881580-07-11`, `5877642-06-24 (BC)`);
 *   PostgreSQL's `infinity` dates land as exactly these;
 * - an INTERVAL came out as `{"months":14,"days":3,"micros":"14706500000"}`, in CSV too; now
 *   `1 year 2 months 3 days 04:05:06.5`;
 * - a FLOAT came out widened to a double's digits (0.1 as 0.10000000149011612); PostgreSQL `real` and MariaDB
 *   `FLOAT` columns land as FLOAT.
 */
export function jsonValueConverter(api: NodeApi): DuckDBValueConverter<Json> {
  if (converter) return converter
  const { DuckDBTypeId, JsonDuckDBValueConverter } = api
  const convert: DuckDBValueConverter<Json> = (value, type, self) => {
    if (value == null) return null
    switch (type.typeId) {
      case DuckDBTypeId.DATE: {
        const days = (value as { days: number }).days
        return days === infiniteDays ? 'infinity' : days === -infiniteDays ? '-infinity' : String(value)
      }
      case DuckDBTypeId.INTERVAL:
        return String(value)
      case DuckDBTypeId.FLOAT:
        return shortestFloat(value as number)
      default:
        // Lists, structs and maps call back into `self`, so their elements are converted here too.
        return JsonDuckDBValueConverter(value, type, self)
    }
  }
  converter = convert
  return convert
}
