// The reports page. The URL holds the view (url-state.js); this module keeps it, the form, the result and the
// freshness in step, and switches to the SQL view for keys that may run SQL.
import { apiKey, describeError, download, getJson } from './api.js'
import { $, el, formatCount } from './dom.js'
import { renderFreshness, snapshotText } from './freshness-view.js'
import { ParamsForm } from './params-form.js'
import { renderChart } from './result-chart.js'
import { parseSort, renderTable, sortRows } from './result-table.js'
import { SqlPanel } from './sql-panel.js'
import { apiQuery, readUrl, writeUrl } from './url-state.js'

const keyStore = 'coldpipe.apiKey'
const form = new ParamsForm($('params'))
let reports = []
let sqlAllowed = false
let state = readUrl()
let report = null
let running = null
const sql = new SqlPanel({
  onSqlChange: (text) => {
    state = { ...state, view: 'sql', sql: text }
    writeUrl(state, { replace: true })
  },
})

/** Sorting goes to the API for declared columns; other columns sort in the browser when the result is whole. */
function serverSortable(column) {
  return Boolean(report?.columns?.includes(column))
}

async function loadCatalog() {
  $('invalid').textContent = ''
  try {
    const catalog = await getJson('/reports')
    reports = catalog.reports
    sqlAllowed = catalog.sql === true
    $('invalid').textContent = catalog.invalid.map((p) => `${p.file}: ${p.message}`).join('\n')
  } catch (error) {
    reports = []
    sqlAllowed = false
    $('invalid').textContent = error.code === 'AUTH_REQUIRED' || error.code === 'AUTH_INVALID' ? `${describeError(error)}. Enter an API key above.` : describeError(error)
    if (error.code === 'AUTH_REQUIRED') $('api-key').focus()
  }
  renderNav()
  $('loading').hidden = true
}

function renderNav() {
  const items = reports.map((r) => {
    const link = el('a', { href: `/?report=${encodeURIComponent(r.name)}`, 'data-report': r.name })
    link.append(el('span', {}, r.title), el('small', {}, r.name))
    link.addEventListener('click', (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey) return
      event.preventDefault()
      navigate({ view: 'report', report: r.name, params: {}, offset: 0, limit: state.limit })
    })
    const li = el('li')
    li.append(link)
    return li
  })
  if (sqlAllowed) {
    const link = el('a', { href: '/?view=sql', 'data-view': 'sql' })
    link.append(el('span', {}, 'SQL editor'), el('small', {}, 'ad-hoc queries'))
    link.addEventListener('click', (event) => {
      event.preventDefault()
      navigate({ view: 'sql', sql: state.sql })
    })
    const li = el('li', { class: 'sql-entry' })
    li.append(link)
    items.push(li)
  }
  $('report-list').replaceChildren(...items)
  markActive()
}

function markActive() {
  for (const link of $('report-list').querySelectorAll('a')) {
    const active = state.view === 'sql' ? link.dataset.view === 'sql' : link.dataset.report === report?.name
    link.classList.toggle('active', active)
    if (active) {
      link.setAttribute('aria-current', 'page')
      // On narrow screens the list is one scrolling row: bring the current entry into it (horizontally only).
      const row = $('report-list')
      if (row.scrollWidth > row.clientWidth) row.scrollLeft = link.offsetLeft - row.offsetLeft - (row.clientWidth - link.offsetWidth) / 2
    } else link.removeAttribute('aria-current')
  }
}

function navigate(next) {
  state = { limit: state.limit, ...next }
  writeUrl(state)
  apply()
}

/** Shows what the URL says; runs the report when its parameters (given or default) pass their checks. */
async function apply() {
  if (state.view === 'sql' && sqlAllowed) {
    report = null
    $('report').hidden = true
    $('sql').hidden = false
    markActive()
    await sql.open(state.sql)
    return
  }
  $('sql').hidden = true
  report = reports.find((r) => r.name === state.report) ?? reports[0] ?? null
  // (With no catalog yet, e.g. before the key is entered, the link's view is kept for when it loads.)
  const missing = report && state.report && report.name !== state.report
  if (missing) {
    // A link to a report this key may not run (or that is gone): say so rather than silently show another.
    $('notice').textContent = `No report "${state.report}" for ${apiKey() ? 'this API key' : 'visitors without a key'}; showing ${report.name} instead.`
    state = { ...state, report: report.name, params: {}, sort: undefined, offset: 0 }
  } else $('notice').textContent = state.asOf ? `Answered from the newest snapshot published at or before ${new Date(state.asOf).toLocaleString()} (asOf in the link).` : ''
  if (!report) {
    $('report').hidden = true
    return
  }
  if (state.view === 'sql') state = { ...state, view: 'report' }
  $('report').hidden = false
  $('report-title').textContent = report.title
  $('report-description').textContent = report.description ?? ''
  document.title = `${report.title} · coldpipe reports`
  form.build(report, state.params)
  markActive()
  clearResult()
  const { values, errors } = form.read()
  updateDownloads({ ...state, params: values })
  if (Object.keys(errors).length > 0) {
    // A link with bad values (or a report without defaults) waits for the reader instead of running.
    if (Object.keys(state.params).length > 0) form.showErrors(errors)
    $('status').textContent = 'Fill in the parameters and press Run.'
    return
  }
  form.showErrors({})
  await run({ ...state, report: report.name, params: values })
}

function clearResult() {
  $('chart').__chart?.destroy()
  $('chart').__chart = undefined
  for (const id of ['chart', 'table', 'freshness', 'error']) $(id).replaceChildren()
  $('status').textContent = ''
}

function updateDownloads(view) {
  if (!report) return
  const query = (format) => `/reports/${report.name}?${apiQuery({ ...view, sort: serverSortable(parseSort(view.sort).column) ? view.sort : undefined }, { stream: 'true', format })}`
  $('download-csv').href = query('csv')
  $('download-parquet').href = query('parquet')
}

async function run(view) {
  running?.abort()
  const controller = new AbortController()
  running = controller
  const definition = report
  $('error').replaceChildren()
  $('status').textContent = 'Running…'
  const { column } = parseSort(view.sort)
  const serverSort = column && serverSortable(column)
  const query = apiQuery({ ...view, sort: serverSort ? view.sort : undefined }, { limit: view.limit, offset: view.offset })
  const started = performance.now()
  try {
    const body = await getJson(`/reports/${definition.name}?${query}`, { signal: controller.signal })
    if (running !== controller) return
    const ms = Math.round(performance.now() - started)
    const whole = body.page.offset === 0 && !body.page.hasMore
    const rows = column && !serverSort && whole ? sortRows(body.rows, body.columns, view.sort) : body.rows
    renderTable($('table'), {
      columns: body.columns,
      rows,
      sort: view.sort,
      caption: definition.title,
      sortable: (name) => serverSortable(name) || whole,
      onSort: (sort) => navigate({ ...state, sort, offset: 0 }),
      page: { ...body.page, limit: view.limit },
      onPage: (offset) => navigate({ ...state, offset }),
      onLimit: (limit) => navigate({ ...state, limit, offset: 0 }),
    })
    renderFreshness($('freshness'), { sources: body.freshness, maxStalenessSeconds: definition.maxStalenessSeconds, snapshot: body.snapshot })
    $('snapshot').textContent = snapshotText(body.snapshot)
    const pageNote = definition.chart && (body.page.hasMore || body.page.offset > 0) ? ' (the chart shows this page)' : ''
    $('status').textContent = `${formatCount(body.rows.length)} rows in ${ms} ms${pageNote}`
    await renderChart($('chart'), definition.chart, body.columns, rows)
  } catch (error) {
    if (running !== controller) return
    $('status').textContent = ''
    $('chart').__chart?.destroy()
    $('chart').__chart = undefined
    $('chart').replaceChildren()
    $('table').replaceChildren()
    showRunError(error, view)
  } finally {
    if (running === controller) running = null
  }
}

function showRunError(error, view) {
  if (error.code === 'REPORT_STALE') {
    renderFreshness($('freshness'), {
      sources: error.details.staleSources ?? [],
      maxStalenessSeconds: error.details.maxStalenessSeconds,
      refused: true,
      onAcceptStale: () => {
        state = { ...state, acceptStale: true }
        writeUrl(state, { replace: true })
        run({ ...view, acceptStale: true })
      },
    })
    return
  }
  if (form.showServerError(error)) {
    $('error').textContent = 'The server refused a parameter; see the field above.'
    return
  }
  $('error').textContent = describeError(error)
}

$('params-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const { values, errors } = form.read()
  const first = form.showErrors(errors)
  if (first) {
    form.input(first).focus()
    $('status').textContent = ''
    $('error').textContent = 'Check the marked parameters.'
    return
  }
  // Same values again is a re-run (fresh data), not a new history entry.
  const next = { ...state, view: 'report', report: report.name, params: values, offset: 0, acceptStale: false }
  const same = JSON.stringify(next) === JSON.stringify({ ...state, report: report.name })
  state = next
  writeUrl(state, { replace: same })
  updateDownloads(state)
  run(state)
})

$('params-form').addEventListener('input', () => updateDownloads({ ...state, params: form.read().values }))

for (const id of ['download-csv', 'download-parquet']) {
  // A plain link cannot send X-Api-Key: with a key the file is fetched with it and saved from a blob.
  $(id).addEventListener('click', async (event) => {
    const { errors } = form.read()
    if (form.showErrors(errors)) {
      event.preventDefault()
      return
    }
    if (!apiKey()) return
    event.preventDefault()
    const format = id === 'download-csv' ? 'csv' : 'parquet'
    try {
      await download($(id).href, `${report.name}.${format}`)
    } catch (error) {
      $('error').textContent = `Download failed: ${describeError(error)}`
    }
  })
}

$('api-key').value = sessionStorage.getItem(keyStore) ?? ''
$('api-key').addEventListener('change', async () => {
  const key = apiKey()
  if (key) sessionStorage.setItem(keyStore, key)
  else sessionStorage.removeItem(keyStore)
  await loadCatalog()
  await apply()
})

window.addEventListener('popstate', () => {
  state = readUrl()
  apply()
})

await loadCatalog()
await apply()
