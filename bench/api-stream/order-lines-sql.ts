/** The streamed-download benchmarks' table: 10 M order lines of eight columns (ids, integers, decimals, a timestamp, text). */
export function orderLinesSql(rows: number): string {
  return `
      CREATE SCHEMA ordering;
      CREATE TABLE ordering.order_lines AS
        SELECT range::BIGINT AS id, (range // 4)::BIGINT AS order_id, (hash(range) % 5000)::INTEGER AS product_id,
               (1 + range % 5)::INTEGER AS quantity, (2 + (range % 400) * 0.25)::DECIMAL(10,2) AS unit_price,
               ((1 + range % 5) * (2 + (range % 400) * 0.25))::DECIMAL(12,2) AS line_total,
               TIMESTAMP '2025-01-01 00:00:00' + to_seconds((range * 3) % 31536000) AS created_at,
               ['submitted', 'paid', 'shipped', 'cancelled'][(range % 4) + 1] AS status
        FROM range(${rows});`
}
