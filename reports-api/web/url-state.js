// The view lives in the URL so a link reproduces it: `/?report=top_buyers&top=7&sort=-revenue&offset=100`.
// Report parameters go under their own names (the API reserves its names, so they cannot clash) except `report`
// `view` and `sql`, which only the page uses: a parameter of one of those names goes as `p.report` and so on.
const pageKeys = ['report', 'view', 'sort', 'offset', 'limit', 'asOf', 'acceptStale', 'sql']
const ownKeys = new Set(['report', 'view', 'sql'])
export const pageSizes = [50, 100, 500, 1000]
export const defaultPageSize = 100

export function readUrl(search = location.search) {
  const query = new URLSearchParams(search)
  const params = {}
  for (const [key, value] of query) {
    if (key.startsWith('p.')) params[key.slice(2)] = value
    else if (!pageKeys.includes(key)) params[key] = value
  }
  const number = (key, fallback) => (/^\d+$/.test(query.get(key) ?? '') ? Number(query.get(key)) : fallback)
  return {
    view: query.get('view') === 'sql' ? 'sql' : 'report',
    report: query.get('report') ?? undefined,
    params,
    sort: query.get('sort') ?? undefined,
    offset: number('offset', 0),
    limit: pageSizes.includes(number('limit', defaultPageSize)) ? number('limit', defaultPageSize) : defaultPageSize,
    asOf: query.get('asOf') ?? undefined,
    acceptStale: query.get('acceptStale') === 'true',
    sql: query.get('sql') ?? undefined,
  }
}

export function stateUrl(state) {
  const query = new URLSearchParams()
  if (state.view === 'sql') {
    query.set('view', 'sql')
    if (state.sql) query.set('sql', state.sql)
    return `/?${query}`
  }
  if (state.report) query.set('report', state.report)
  for (const [name, value] of Object.entries(state.params ?? {})) {
    if (value === '' || value === undefined || value === null) continue
    query.set(ownKeys.has(name) ? `p.${name}` : name, value)
  }
  if (state.sort) query.set('sort', state.sort)
  if (state.offset) query.set('offset', String(state.offset))
  if (state.limit && state.limit !== defaultPageSize) query.set('limit', String(state.limit))
  if (state.asOf) query.set('asOf', state.asOf)
  if (state.acceptStale) query.set('acceptStale', 'true')
  return `/?${query}`
}

/** A new history entry for a new view (back returns to the previous one); `replace` for refinements of the same. */
export function writeUrl(state, { replace = false } = {}) {
  const url = stateUrl(state)
  if (url === `${location.pathname}${location.search}`) return
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
}

/** The API query for a report view: parameters and the API's own paging, sorting and snapshot keys. */
export function apiQuery(state, extra = {}) {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(state.params ?? {})) if (value !== '' && value !== undefined && value !== null) query.set(name, value)
  if (state.sort) query.set('sort', state.sort)
  if (state.asOf) query.set('asOf', state.asOf)
  if (state.acceptStale) query.set('acceptStale', 'true')
  for (const [key, value] of Object.entries(extra)) query.set(key, String(value))
  return query.toString()
}
