// Small DOM helpers shared by the page's modules.
export const $ = (id) => document.getElementById(id)

export function el(tag, attrs = {}, text) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? '' : String(value))
  if (text !== undefined) node.textContent = text
  return node
}

const numericType = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|REAL|DOUBLE|DECIMAL|NUMERIC|INT)/i

export function isNumericType(type) {
  return numericType.test(type ?? '')
}

export function isTimeType(type) {
  return /^(DATE|TIMESTAMP)/i.test(type ?? '')
}

export function formatCount(n) {
  return Number(n).toLocaleString()
}
