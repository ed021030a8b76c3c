// The SQL view, for keys with SQL rights: a CodeMirror editor (bundled in /web/vendor/editor.js), a schema
// browser from GET /sql/schema, Ctrl-Enter to run, Cancel (aborting the request makes the server stop the query),
// and the result in the same table and chart components as reports.
import { ApiError, describeError, download, getJson, postJson } from './api.js'
import { $, el, formatCount, isNumericType, isTimeType } from './dom.js'
import { snapshotText } from './freshness-view.js'
import { renderChart } from './result-chart.js'
import { renderTable, sortRows } from './result-table.js'

export class SqlPanel {
  constructor({ onSqlChange }) {
    this.onSqlChange = onSqlChange
    this.editor = null
    this.result = null
    this.sort = undefined
    this.running = null
    $('sql-run').addEventListener('click', () => this.run())
    $('sql-cancel').addEventListener('click', () => this.cancel())
    $('sql-download').addEventListener('click', (event) => {
      event.preventDefault()
      this.downloadCsv()
    })
    for (const id of ['sql-chart-type', 'sql-chart-x', 'sql-chart-y', 'sql-chart-series']) $(id).addEventListener('change', () => this.drawChart())
  }

  /** Creates the editor on first use (the bundle is loaded only for keys that may run SQL). */
  async open(text) {
    if (!this.editor) {
      const host = $('sql-editor')
      try {
        const { createSqlEditor } = await import('/web/vendor/editor.js')
        this.editor = createSqlEditor(host, { doc: text ?? '', onRun: () => this.run(), label: 'SQL statement' })
      } catch {
        // Without the bundle (not built) a plain text area still runs queries.
        const area = el('textarea', { 'aria-label': 'SQL statement', rows: '8', spellcheck: 'false' })
        area.value = text ?? ''
        area.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault()
            this.run()
          }
        })
        host.replaceChildren(area)
        this.editor = { get value() { return area.value }, set value(v) { area.value = v }, setSchema() {}, insert(t) { area.setRangeText(t, area.selectionStart, area.selectionEnd, 'end'); area.focus() }, focus() { area.focus() } }
      }
      this.loadSchema()
    } else if (text !== undefined && text !== this.editor.value) this.editor.value = text
  }

  async loadSchema() {
    const box = $('schema-browser')
    try {
      const body = await getJson('/sql/schema')
      const completion = {}
      const tree = el('ul', { class: 'schema-tree' })
      for (const schema of body.schemas) {
        const item = el('li')
        // The pipeline's own schemas (coldpipe, _cp_*) start folded: analysts mostly want the data.
        const details = el('details', { open: !(schema.name === 'coldpipe' || schema.name.startsWith('_')) })
        details.append(el('summary', {}, `${schema.name} (${schema.tables.length})`))
        const tables = el('ul')
        for (const table of schema.tables) {
          completion[`${schema.name}.${table.name}`] = table.columns.map((c) => c.name)
          const tableItem = el('li')
          const tableDetails = el('details')
          const summary = el('summary')
          const insert = el('button', { type: 'button', class: 'insert', title: `Insert ${schema.name}.${table.name} into the editor`, 'data-table': `${schema.name}.${table.name}` }, table.name)
          insert.addEventListener('click', () => this.editor.insert(`${schema.name}.${table.name}`))
          summary.append(insert, el('small', { class: 'muted' }, table.kind === 'VIEW' ? ' view' : ''))
          tableDetails.append(summary)
          const columns = el('ul', { class: 'columns' })
          for (const column of table.columns) {
            const li = el('li')
            li.append(el('span', {}, column.name), el('small', { class: 'type' }, column.type))
            columns.append(li)
          }
          tableDetails.append(columns)
          tableItem.append(tableDetails)
          tables.append(tableItem)
        }
        details.append(tables)
        item.append(details)
        tree.append(item)
      }
      box.replaceChildren(el('p', { class: 'muted' }, `snapshot ${body.snapshot.id}`), tree)
      this.editor.setSchema(completion)
    } catch (error) {
      box.replaceChildren(el('p', { class: 'error' }, describeError(error)))
    }
  }

  async run() {
    const sql = this.editor?.value.trim()
    if (!sql) {
      $('sql-error').textContent = 'Write a SELECT statement first.'
      return
    }
    this.cancel()
    this.onSqlChange(sql)
    const controller = new AbortController()
    this.running = controller
    $('sql-error').textContent = ''
    $('sql-status').textContent = 'Running…'
    $('sql-cancel').disabled = false
    const started = performance.now()
    try {
      const body = await postJson('/sql', { sql }, { signal: controller.signal })
      if (this.running !== controller) return
      this.result = body
      this.sort = undefined
      const ms = Math.round(performance.now() - started)
      $('snapshot').textContent = snapshotText(body.snapshot)
      const cut = body.truncated ? ` — cut at ${body.truncatedBy === 'bytes' ? `${formatCount(body.maxResultBytes)} bytes` : `${formatCount(body.maxRows)} rows`}; download for all rows` : ''
      $('sql-status').textContent = `${formatCount(body.rows.length)} rows in ${ms} ms · snapshot ${body.snapshot.id}${cut}`
      this.drawTable()
      this.chartControls(body.columns)
      await this.drawChart()
    } catch (error) {
      // Cancelled (the status says so) or overtaken by a newer run: nothing to show.
      if (this.running !== controller || controller.signal.aborted) return
      $('sql-status').textContent = ''
      $('sql-error').textContent = describeError(error)
    } finally {
      if (this.running === controller) {
        this.running = null
        $('sql-cancel').disabled = true
      }
    }
  }

  cancel() {
    if (!this.running) return
    this.running.abort()
    this.running = null
    $('sql-cancel').disabled = true
    $('sql-status').textContent = 'Cancelled.'
  }

  drawTable() {
    const { columns, rows } = this.result
    renderTable($('sql-table'), {
      columns,
      rows: sortRows(rows, columns, this.sort),
      sort: this.sort,
      caption: 'SQL result',
      onSort: (sort) => {
        this.sort = sort
        this.drawTable()
      },
    })
  }

  /**
   * Guesses a chart the reader can change: x is the first time column, else the first text column; when x repeats
   * and another text column exists, that column is the series (first number as y), else the numbers are the ys.
   */
  chartControls(columns) {
    const fill = (select, names, blank) => select.replaceChildren(...(blank ? [el('option', { value: '' }, blank)] : []), ...names.map((n) => el('option', { value: n }, n)))
    const rows = this.result.rows
    const names = columns.map((c) => c.name)
    const numeric = columns.filter((c) => isNumericType(c.type)).map((c) => c.name)
    const x = columns.find((c) => isTimeType(c.type))?.name ?? columns.find((c) => !isNumericType(c.type))?.name ?? names[0]
    const repeats = new Set(rows.map((row) => String(row[x]))).size < rows.length
    const series = repeats ? columns.find((c) => c.name !== x && !isNumericType(c.type))?.name : undefined
    const ys = numeric.filter((n) => n !== x).slice(0, series ? 1 : 3)
    fill($('sql-chart-x'), names)
    fill($('sql-chart-y'), numeric)
    fill($('sql-chart-series'), names, '(none)')
    $('sql-chart-x').value = x ?? ''
    $('sql-chart-series').value = series ?? ''
    for (const option of $('sql-chart-y').options) option.selected = ys.includes(option.value)
    $('sql-chart-type').value = ys.length > 0 && rows.length > 1 ? (columns.some((c) => c.name === x && isTimeType(c.type)) ? 'line' : 'bar') : ''
    $('sql-chart-controls').hidden = numeric.length === 0
  }

  async drawChart() {
    if (!this.result) return
    const type = $('sql-chart-type').value
    const y = [...$('sql-chart-y').selectedOptions].map((o) => o.value)
    const series = $('sql-chart-series').value || undefined
    const spec = type && y.length ? { type, x: $('sql-chart-x').value, y: series ? y[0] : y, series } : null
    await renderChart($('sql-chart'), spec, this.result.columns, this.result.rows)
  }

  async downloadCsv() {
    const sql = this.editor?.value.trim()
    if (!sql) return
    try {
      await download('/sql', 'query.csv', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv' }, body: JSON.stringify({ sql, stream: true, format: 'csv' }) })
    } catch (error) {
      $('sql-error').textContent = error instanceof ApiError ? `Download failed: ${describeError(error)}` : describeError(error)
    }
  }
}
