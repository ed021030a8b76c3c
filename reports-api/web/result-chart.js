// Charts with Chart.js (bundled into /web/vendor/charts.js by scripts/build-web.mjs, served by this server):
// bar, line and stacked bar; several y columns or one series column; a time axis when x is a DATE or TIMESTAMP.
import { el, formatCount, isTimeType } from './dom.js'

const palette = ['#3f6fd8', '#e07b39', '#2e9e6b', '#c2417a', '#8a63d2', '#c9a227', '#2a9bb7', '#7d8597', '#d64545', '#5aa02c']
const maxSeries = 24
const labelChars = 16
let chartModule

async function loadCharts() {
  chartModule ??= import('/web/vendor/charts.js').catch((error) => {
    chartModule = undefined
    throw new Error(`the chart library did not load (${error.message}); run \`npm run build\` to bundle it`)
  })
  return chartModule
}

/** DATE values as local midnight (a calendar day has no zone); timestamps are UTC text unless they carry a zone. */
export function timeValue(value, type) {
  if (value === null || value === undefined) return NaN
  const text = String(value)
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (day && /^DATE$/i.test(type)) return new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime()
  const iso = text.replace(' ', 'T')
  return Date.parse(/[zZ]|[+-]\d{2}(:?\d{2})?$/.test(iso) ? iso : `${iso}Z`)
}

function numberValue(value) {
  if (value === null || value === undefined || value === '') return null
  const n = Number(value)
  return Number.isFinite(n) ? n : null
}

function labelOf(value) {
  return value === null || value === undefined ? '(null)' : String(value)
}

/** Datasets from the rows: one per y column, or one per value of the series column (first y column). */
export function chartData(spec, columns, rows) {
  const ys = [spec.y].flat()
  const xType = columns.find((c) => c.name === spec.x)?.type
  const time = isTimeType(xType)
  const xOf = (row) => (time ? timeValue(row[spec.x], xType) : labelOf(row[spec.x]))
  // Without a series column every row is a bar or point of its own, even when x values repeat (two items may
  // share a name); with one, rows are laid out by x and repeated (x, series) pairs add up.
  const labels = time ? undefined : spec.series ? [...new Set(rows.map(xOf))] : rows.map(xOf)
  const index = labels && spec.series ? new Map(labels.map((label, i) => [label, i])) : undefined
  const groups = new Map()
  if (spec.series) {
    for (const row of rows) {
      const key = labelOf(row[spec.series])
      if (!groups.has(key)) groups.set(key, [])
      groups.get(key).push(row)
    }
  }
  const sets = spec.series ? [...groups.entries()].slice(0, maxSeries).map(([name, group]) => ({ name, rows: group, y: ys[0] })) : ys.map((y) => ({ name: y, rows, y }))
  const datasets = sets.map((set, i) => {
    let data
    if (time) data = set.rows.map((row) => ({ x: xOf(row), y: numberValue(row[set.y]) })).filter((p) => Number.isFinite(p.x))
    else if (!index) data = set.rows.map((row) => numberValue(row[set.y]))
    else {
      data = new Array(labels.length).fill(null)
      for (const row of set.rows) {
        const value = numberValue(row[set.y])
        const at = index.get(xOf(row))
        if (value !== null) data[at] = (data[at] ?? 0) + value
      }
    }
    return { label: set.name, data, backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length], borderWidth: spec.type === 'line' ? 2 : 0, pointRadius: spec.type === 'line' ? 2 : 0, spanGaps: true }
  })
  const values = datasets.flatMap((d) => d.data.map((p) => (p && typeof p === 'object' ? p.y : p))).filter((v) => v !== null)
  return { time, day: /^DATE$/i.test(xType ?? ''), labels, datasets, values, ys, droppedSeries: spec.series ? Math.max(0, groups.size - maxSeries) : 0 }
}

function note(container, text) {
  container.replaceChildren(el('p', { class: 'chart-note' }, text))
}

/** Draws `spec` ({ type, x, y, series? }) for the rows into `container`; returns the Chart (or undefined). */
export async function renderChart(container, spec, columns, rows) {
  container.__chart?.destroy()
  container.__chart = undefined
  if (!spec) {
    container.replaceChildren()
    return undefined
  }
  if (rows.length === 0) return note(container, 'No rows: nothing to chart.')
  const missing = [spec.x, ...[spec.y].flat(), spec.series].filter((name) => name && !columns.some((c) => c.name === name))
  if (missing.length > 0) return note(container, `The chart names column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which the result does not have.`)
  const data = chartData(spec, columns, rows)
  if (data.values.length === 0) return note(container, `No numbers to chart in ${data.ys.join(', ')}.`)
  if (data.values.every((v) => v === 0)) return note(container, `Every value of ${data.ys.join(', ')} is 0 in these ${formatCount(rows.length)} rows: no chart drawn.`)
  let Chart
  try {
    ;({ Chart } = await loadCharts())
  } catch (error) {
    return note(container, String(error.message))
  }
  const stacked = spec.type === 'stacked-bar'
  const what = `${[spec.y].flat().join(', ')} by ${spec.x}${spec.series ? `, one series per ${spec.series}` : ''}`
  const canvas = el('canvas', {
    role: 'img',
    'aria-label': `${stacked ? 'Stacked bar' : spec.type === 'line' ? 'Line' : 'Bar'} chart of ${what}`,
    'data-chart-type': spec.type,
    'data-series': String(data.datasets.length),
    'data-x-scale': data.time ? 'time' : 'category',
  })
  canvas.textContent = `Chart of ${what}; the same numbers are in the table below.`
  const box = el('div', { class: 'chart-box' })
  box.append(canvas)
  const parts = [box]
  if (data.droppedSeries > 0) parts.push(el('p', { class: 'chart-note' }, `Showing the first ${maxSeries} values of ${spec.series}; ${data.droppedSeries} more are in the table.`))
  container.replaceChildren(...parts)
  const narrow = container.clientWidth < 560
  const chart = new Chart(canvas, {
    type: spec.type === 'line' ? 'line' : 'bar',
    data: { labels: data.labels, datasets: data.datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: {
        legend: { display: data.datasets.length > 1, position: narrow ? 'bottom' : 'top', labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            // The axis may show a shortened label; the tooltip names the whole value.
            title: (items) => (items.length ? (data.time ? (data.day ? new Date(items[0].parsed.x).toLocaleDateString() : new Date(items[0].parsed.x).toLocaleString()) : data.labels[items[0].dataIndex]) : ''),
            label: (item) => `${item.dataset.label}: ${item.parsed.y === null ? '—' : item.parsed.y.toLocaleString()}`,
          },
        },
      },
      scales: {
        x: data.time
          ? { type: 'time', stacked, offset: spec.type !== 'line', ticks: { maxRotation: 0, autoSkipPadding: 12 } }
          : {
              type: 'category',
              stacked,
              ticks: {
                autoSkip: true,
                maxRotation: narrow ? 90 : 50,
                minRotation: 0,
                callback(value) {
                  const label = String(this.getLabelForValue(value))
                  return label.length > labelChars ? `${label.slice(0, labelChars - 1)}…` : label
                },
              },
            },
        y: { stacked, beginAtZero: true, ticks: { callback: (value) => Number(value).toLocaleString(undefined, { notation: 'compact' }) } },
      },
    },
  })
  container.__chart = chart
  return chart
}
