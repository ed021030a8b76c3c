// The parameter form, built from the JSON schemas the API publishes for each report (GET /reports), and checked
// against the same schemas before a request goes out: type, required, enum, ranges, and from ≤ to pairs.
import { el } from './dom.js'

const inputTypes = { integer: 'number', number: 'number', date: 'date', timestamp: 'datetime-local' }

/** `2024-01-02T03:04:05Z` → `2024-01-02T04:04` in the viewer's zone, as a datetime-local field wants it. */
function toLocalInput(iso) {
  const time = Date.parse(iso)
  if (Number.isNaN(time)) return iso
  const date = new Date(time)
  const pad = (n) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

function fieldFor(param, value) {
  const schema = param.schema
  const id = `param-${param.name}`
  let input
  if (schema.enum || param.type === 'boolean') {
    input = el('select', { name: param.name, id })
    const choices = schema.enum ?? [true, false]
    const blank = param.required && schema.default === undefined ? '(choose)' : schema.default !== undefined ? `(default: ${schema.default})` : '(any)'
    input.append(el('option', { value: '' }, blank))
    for (const choice of choices) input.append(el('option', { value: String(choice) }, String(choice)))
  } else {
    input = el('input', { name: param.name, id, type: inputTypes[param.type] ?? 'text', autocomplete: 'off' })
    if (param.type === 'integer') input.step = '1'
    if (param.type === 'number') input.step = 'any'
    const min = schema.minimum ?? schema.formatMinimum
    const max = schema.maximum ?? schema.formatMaximum
    if (min !== undefined) input.min = param.type === 'timestamp' ? toLocalInput(min) : String(min)
    if (max !== undefined) input.max = param.type === 'timestamp' ? toLocalInput(max) : String(max)
    if (schema.default !== undefined) input.placeholder = String(schema.default)
  }
  const initial = value ?? (schema.default !== undefined ? String(schema.default) : '')
  input.value = param.type === 'timestamp' && initial ? toLocalInput(initial) : initial
  const error = el('span', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' })
  input.setAttribute('aria-describedby', `${id}-error`)
  const label = el('label', { for: id }, `${param.name}${param.required ? ' *' : ''}`)
  const wrap = el('div', { class: 'field', 'data-param': param.name })
  wrap.append(label, input)
  if (schema.description) wrap.append(el('small', { class: 'muted' }, schema.description))
  wrap.append(error)
  return wrap
}

function checkValue(param, raw) {
  const schema = param.schema
  if (raw === '') return param.required && schema.default === undefined ? 'required' : undefined
  switch (param.type) {
    case 'integer':
    case 'number': {
      if (param.type === 'integer' ? !/^[-+]?\d+$/.test(raw) : !Number.isFinite(Number(raw))) return `must be ${param.type === 'integer' ? 'a whole number' : 'a number'}`
      const value = Number(raw)
      if (schema.minimum !== undefined && value < schema.minimum) return `must be at least ${schema.minimum}`
      if (schema.maximum !== undefined && value > schema.maximum) return `must be at most ${schema.maximum}`
      break
    }
    case 'date':
    case 'timestamp': {
      const time = param.type === 'date' ? (/^\d{4}-\d{2}-\d{2}$/.test(raw) ? Date.parse(`${raw}T00:00:00Z`) : NaN) : Date.parse(raw)
      if (Number.isNaN(time)) return param.type === 'date' ? 'must be a date YYYY-MM-DD' : 'must be a date and time'
      if (schema.formatMinimum !== undefined && time < Date.parse(schema.formatMinimum)) return `must be on or after ${schema.formatMinimum}`
      if (schema.formatMaximum !== undefined && time > Date.parse(schema.formatMaximum)) return `must be on or before ${schema.formatMaximum}`
      break
    }
  }
  if (schema.enum && !schema.enum.some((choice) => String(choice) === raw)) return `must be one of ${schema.enum.join(', ')}`
  return undefined
}

export class ParamsForm {
  constructor(container) {
    this.container = container
    this.report = null
  }

  build(report, values = {}) {
    this.report = report
    this.container.replaceChildren(...report.params.map((param) => fieldFor(param, values[param.name])))
  }

  input(name) {
    return this.container.querySelector(`[name="${CSS.escape(name)}"]`)
  }

  /** The values as the API takes them (timestamps in ISO UTC), and a message per field that fails its schema. */
  read() {
    const values = {}
    const errors = {}
    if (!this.report) return { values, errors }
    for (const param of this.report.params) {
      const input = this.input(param.name)
      let raw = input.value.trim()
      if (param.type === 'timestamp' && raw) {
        const time = Date.parse(raw)
        raw = Number.isNaN(time) ? raw : new Date(time).toISOString()
      }
      const problem = checkValue(param, raw)
      if (problem) errors[param.name] = problem
      if (raw !== '') values[param.name] = raw
    }
    for (const range of this.report.ranges ?? []) {
      const low = values[range.from] ?? this.defaultOf(range.from)
      const high = values[range.to] ?? this.defaultOf(range.to)
      if (low === undefined || high === undefined || errors[range.from] || errors[range.to]) continue
      const numeric = ['integer', 'number'].includes(this.report.params.find((p) => p.name === range.to)?.type)
      if (numeric ? Number(low) > Number(high) : String(low) > String(high)) errors[range.to] = `must not be before ${range.from} (${low})`
    }
    return { values, errors }
  }

  defaultOf(name) {
    const value = this.report.params.find((p) => p.name === name)?.schema.default
    return value === undefined ? undefined : String(value)
  }

  showErrors(errors) {
    for (const field of this.container.querySelectorAll('.field')) {
      const name = field.dataset.param
      const message = errors[name]
      field.querySelector('.field-error').textContent = message ?? ''
      field.classList.toggle('invalid', Boolean(message))
      this.input(name).setAttribute('aria-invalid', message ? 'true' : 'false')
    }
    const first = Object.keys(errors)[0]
    return first
  }

  /** The API refused a parameter: its message goes next to that field. True when a field took it. */
  showServerError(error) {
    const name = error.details?.param
    if (!name || !this.report?.params.some((p) => p.name === name)) return false
    this.showErrors({ [name]: `${error.code}: ${error.message}` })
    this.input(name).focus()
    return true
  }
}
