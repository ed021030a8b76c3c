// The result table (reports and SQL): sortable headers, numbers right-aligned, and a pager for paged results.
import { el, formatCount, isNumericType } from './dom.js'
import { pageSizes } from './url-state.js'

function cellText(value) {
  if (value === null || value === undefined) return ''
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** `sort` is `col` or `-col`. */
export function parseSort(sort) {
  if (!sort) return { column: undefined, descending: false }
  return sort.startsWith('-') ? { column: sort.slice(1), descending: true } : { column: sort, descending: false }
}

/** Sorts rows in the browser, for results that are whole (one page, or SQL): numbers as numbers, NULLs last. */
export function sortRows(rows, columns, sort) {
  const { column, descending } = parseSort(sort)
  const info = columns.find((c) => c.name === column)
  if (!info) return rows
  const numeric = isNumericType(info.type)
  const compare = (a, b) => {
    const x = a[column]
    const y = b[column]
    if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1
    if (y === null || y === undefined) return -1
    const order = numeric ? Number(x) - Number(y) : String(x).localeCompare(String(y))
    return descending ? -order : order
  }
  return [...rows].sort(compare)
}

/**
 * Renders `columns`/`rows` into `container`. `sortable(column)` says which headers can be clicked; `onSort`
 * gets the new sort string. `page` (optional) adds the pager: `{ offset, limit, returned, hasMore, total }`.
 */
export function renderTable(container, { columns, rows, sort, sortable = () => true, onSort, page, onPage, onLimit, caption }) {
  const { column: sortColumn, descending } = parseSort(sort)
  const table = el('table')
  if (caption) table.append(el('caption', { class: 'visually-hidden' }, caption))
  const headRow = el('tr')
  for (const column of columns) {
    const numeric = isNumericType(column.type)
    const th = el('th', { scope: 'col', class: numeric ? 'num' : undefined, title: column.type })
    const state = column.name === sortColumn ? (descending ? 'descending' : 'ascending') : 'none'
    th.setAttribute('aria-sort', state)
    if (sortable(column.name) && onSort) {
      const button = el('button', { type: 'button', class: 'sort', 'data-column': column.name })
      button.append(el('span', {}, column.name), el('span', { class: 'sort-mark', 'aria-hidden': 'true' }, state === 'ascending' ? '▲' : state === 'descending' ? '▼' : '↕'))
      button.setAttribute('aria-label', `${column.name}: sort ${state === 'ascending' ? 'descending' : 'ascending'}`)
      button.addEventListener('click', () => onSort(column.name === sortColumn && !descending ? `-${column.name}` : column.name))
      th.append(button)
    } else th.append(el('span', { title: `${column.type}; this report does not declare it as a column the API can sort by` }, column.name))
    headRow.append(th)
  }
  const thead = el('thead')
  thead.append(headRow)
  const tbody = el('tbody')
  for (const row of rows) {
    const tr = el('tr')
    for (const column of columns) {
      const value = row[column.name]
      const text = cellText(value)
      const td = el('td', { class: [isNumericType(column.type) ? 'num' : '', value === null ? 'null' : ''].join(' ').trim() || undefined }, text)
      if (text.length > 60) td.title = text
      tr.append(td)
    }
    tbody.append(tr)
  }
  table.append(thead, tbody)
  const wrap = el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption ?? 'Result' })
  wrap.append(table)
  const parts = [wrap]
  if (rows.length === 0) parts.unshift(el('p', { class: 'empty' }, 'No rows.'))
  if (page) parts.push(pager(page, onPage, onLimit))
  container.replaceChildren(...parts)
}

function pager(page, onPage, onLimit) {
  const nav = el('nav', { class: 'pager', 'aria-label': 'Pages' })
  const first = page.offset + (page.returned > 0 ? 1 : 0)
  const last = page.offset + page.returned
  const of = page.total !== undefined ? formatCount(page.total) : page.hasMore ? `more than ${formatCount(last)}` : formatCount(last)
  const prev = el('button', { type: 'button', 'data-page': 'prev', disabled: page.offset === 0 }, '← Previous')
  const next = el('button', { type: 'button', 'data-page': 'next', disabled: !page.hasMore }, 'Next →')
  const start = el('button', { type: 'button', 'data-page': 'first', disabled: page.offset === 0 }, '⇤ First')
  prev.addEventListener('click', () => onPage(Math.max(0, page.offset - page.limit)))
  next.addEventListener('click', () => onPage(page.offset + page.limit))
  start.addEventListener('click', () => onPage(0))
  const size = el('select', { 'aria-label': 'Rows per page', class: 'page-size' })
  for (const n of pageSizes) size.append(el('option', { value: String(n) }, `${n} rows`))
  size.value = String(page.limit)
  size.addEventListener('change', () => onLimit(Number(size.value)))
  const label = el('span', { class: 'range' }, `Rows ${formatCount(first)}–${formatCount(last)} of ${of}`)
  nav.append(start, prev, label, next, size)
  return nav
}
