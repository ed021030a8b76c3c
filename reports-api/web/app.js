// The reports page: list, a form from each report's parameter schemas, a table, an SVG chart. No dependencies.
const $ = (id) => document.getElementById(id)
const svgNs = 'http://www.w3.org/2000/svg'
let current = null

function headers() {
  const key = $('api-key').value.trim()
  return key ? { 'x-api-key': key } : {}
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json', ...headers() } })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new Error(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`)
  return body
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v)
  if (text !== undefined) node.textContent = text
  return node
}

async function loadList() {
  $('error').textContent = ''
  try {
    const catalog = await getJson('/reports')
    const list = $('report-list')
    list.replaceChildren()
    for (const report of catalog.reports) {
      const button = el('button', { type: 'button', 'data-report': report.name })
      button.append(el('span', {}, report.title))
      button.append(el('small', {}, report.name))
      button.addEventListener('click', () => selectReport(report))
      const item = el('li')
      item.append(button)
      list.append(item)
    }
    $('invalid').textContent = catalog.invalid.map((p) => `${p.file}: ${p.message}`).join('\n')
    const wanted = new URLSearchParams(location.hash.slice(1)).get('report')
    const first = catalog.reports.find((r) => r.name === wanted) ?? catalog.reports[0]
    if (first && !current) selectReport(first)
  } catch (error) {
    $('invalid').textContent = String(error.message ?? error)
  }
}

function inputFor(param) {
  const schema = param.schema
  let input
  if (schema.enum) {
    input = el('select', { name: param.name })
    if (!param.required) input.append(el('option', { value: '' }, '(any)'))
    for (const choice of schema.enum) input.append(el('option', { value: String(choice) }, String(choice)))
    if (schema.default !== undefined) input.value = String(schema.default)
  } else if (param.type === 'boolean') {
    input = el('select', { name: param.name })
    for (const [value, label] of [['', '(any)'], ['true', 'true'], ['false', 'false']]) input.append(el('option', { value }, label))
    if (schema.default !== undefined) input.value = String(schema.default)
  } else {
    const type = { integer: 'number', number: 'number', date: 'date', timestamp: 'datetime-local' }[param.type] ?? 'text'
    input = el('input', { name: param.name, type, step: param.type === 'number' ? 'any' : param.type === 'integer' ? '1' : undefined })
    if (schema.minimum !== undefined) input.min = schema.minimum
    if (schema.maximum !== undefined) input.max = schema.maximum
    if (schema.default !== undefined) input.value = String(schema.default)
    if (param.required) input.required = true
  }
  const label = el('label', { title: schema.description ?? '' })
  label.append(el('span', {}, `${param.name}${param.required ? ' *' : ''}`), input)
  return label
}

function selectReport(report) {
  current = report
  for (const b of document.querySelectorAll('#report-list button')) b.classList.toggle('active', b.dataset.report === report.name)
  $('report').hidden = false
  $('report-title').textContent = report.title
  $('report-description').textContent = report.description ?? ''
  $('params').replaceChildren(...report.params.map(inputFor))
  $('result').querySelector('thead').replaceChildren()
  $('result').querySelector('tbody').replaceChildren()
  $('chart').replaceChildren()
  $('status').textContent = ''
  $('error').textContent = ''
  updateCsvLink()
}

function queryString(extra = {}) {
  const query = new URLSearchParams()
  for (const field of $('params-form').querySelectorAll('input, select')) {
    if (field.value === '') continue
    let value = field.value
    if (field.type === 'datetime-local') value = new Date(value).toISOString()
    query.set(field.name, value)
  }
  for (const [k, v] of Object.entries(extra)) query.set(k, v)
  return query.toString()
}

function updateCsvLink() {
  if (!current) return
  $('csv-link').href = `/reports/${current.name}?${queryString({ format: 'csv' })}`
}

async function run(event) {
  event?.preventDefault()
  if (!current) return
  $('error').textContent = ''
  $('status').textContent = 'Running…'
  try {
    const body = await getJson(`/reports/${current.name}?${queryString()}`)
    renderTable(body)
    renderChart(current.chart, body)
    const asOf = body.dataAsOf ? `, data as of ${body.dataAsOf}` : ''
    $('status').textContent = `${body.rows.length} rows${body.page.hasMore ? ' (more available)' : ''} · snapshot ${body.snapshot.id}${asOf}`
    $('snapshot').textContent = `snapshot ${body.snapshot.id} published ${body.snapshot.publishedAt}`
  } catch (error) {
    $('status').textContent = ''
    $('error').textContent = String(error.message ?? error)
  }
}

const numericType = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/

function renderTable(body) {
  const head = el('tr')
  for (const column of body.columns) head.append(el('th', { title: column.type }, column.name))
  $('result').querySelector('thead').replaceChildren(head)
  const rows = body.rows.map((row) => {
    const tr = el('tr')
    for (const column of body.columns) {
      const value = row[column.name]
      const text = value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)
      tr.append(el('td', { class: numericType.test(column.type) ? 'num' : undefined }, text))
    }
    return tr
  })
  $('result').querySelector('tbody').replaceChildren(...rows)
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(svgNs, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

function renderChart(chart, body) {
  const box = $('chart')
  box.replaceChildren()
  if (!chart || body.rows.length === 0) return
  const points = body.rows.map((row) => ({ x: String(row[chart.x] ?? ''), y: Number(row[chart.y] ?? 0) })).filter((p) => Number.isFinite(p.y))
  const width = 720, height = 260, left = 56, bottom = 48, top = 12, right = 12
  const max = Math.max(0, ...points.map((p) => p.y)) || 1
  const min = Math.min(0, ...points.map((p) => p.y))
  const plotW = width - left - right, plotH = height - top - bottom
  const yOf = (v) => top + plotH - ((v - min) / (max - min)) * plotH
  const step = plotW / Math.max(points.length, 1)
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `${chart.y} by ${chart.x}`, class: `chart chart-${chart.type}` })
  root.append(svg('line', { class: 'axis', x1: left, y1: yOf(0), x2: width - right, y2: yOf(0) }))
  root.append(svg('line', { class: 'axis', x1: left, y1: top, x2: left, y2: top + plotH }))
  for (const tick of [min, (min + max) / 2, max]) {
    root.append(svg('text', { x: left - 6, y: yOf(tick) + 3, 'text-anchor': 'end' }, Number(tick.toFixed(2)).toLocaleString()))
  }
  if (chart.type === 'line') {
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${(left + step * (i + 0.5)).toFixed(1)},${yOf(p.y).toFixed(1)}`).join(' ')
    root.append(svg('path', { class: 'line', d }))
  } else {
    points.forEach((p, i) => {
      const y = yOf(Math.max(p.y, 0)), h = Math.abs(yOf(p.y) - yOf(0))
      const bar = svg('rect', { class: 'bar', x: (left + step * i + step * 0.1).toFixed(1), y: y.toFixed(1), width: (step * 0.8).toFixed(1), height: h.toFixed(1) })
      bar.append(svg('title', {}, `${p.x}: ${p.y}`))
      root.append(bar)
    })
  }
  const every = Math.ceil(points.length / 12)
  points.forEach((p, i) => {
    if (i % every !== 0) return
    const x = left + step * (i + 0.5)
    root.append(svg('text', { x, y: height - bottom + 14, 'text-anchor': 'end', transform: `rotate(-30 ${x} ${height - bottom + 14})` }, p.x.length > 18 ? `${p.x.slice(0, 17)}…` : p.x))
  })
  box.append(root)
}

// A plain link cannot send X-Api-Key; with a key, the CSV is fetched with it and saved from a blob.
$('csv-link').addEventListener('click', async (event) => {
  if (!$('api-key').value.trim()) return
  event.preventDefault()
  const res = await fetch($('csv-link').href, { headers: headers() })
  if (!res.ok) {
    $('error').textContent = `CSV download failed: HTTP ${res.status}`
    return
  }
  const url = URL.createObjectURL(await res.blob())
  const a = el('a', { href: url, download: `${current.name}.csv` })
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
})
$('params-form').addEventListener('submit', run)
$('params-form').addEventListener('input', updateCsvLink)
$('params-form').addEventListener('change', updateCsvLink)
$('api-key').addEventListener('change', loadList)
loadList()
