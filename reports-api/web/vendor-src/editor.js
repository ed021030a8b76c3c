// Bundled by scripts/build-web.mjs into web/vendor/editor.js: a CodeMirror 6 SQL editor, loaded only for keys
// that may run SQL.
import { basicSetup, EditorView } from 'codemirror'
import { Compartment, Prec } from '@codemirror/state'
import { keymap } from '@codemirror/view'
import { PostgreSQL, sql } from '@codemirror/lang-sql'

const theme = EditorView.theme({
  '&': { minHeight: '8rem', maxHeight: '40vh', backgroundColor: '#fff', fontSize: '0.9rem' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', minHeight: '8rem' },
  '&.cm-focused': { outline: '2px solid #3f6fd8' },
})

/**
 * An editor in `parent`: SQL highlighting, completion from `schema` ({ "schema.table": ["col", …] }), and
 * Ctrl/Cmd-Enter calling `onRun`. Returns what the page needs and nothing of CodeMirror's API.
 */
export function createSqlEditor(parent, { doc = '', onRun, label = 'SQL' } = {}) {
  const language = new Compartment()
  // In a shadow root CodeMirror styles itself with constructed style sheets; in the document it would add a
  // <style> element, which the page's CSP (style-src 'self', no inline styles) blocks.
  const root = parent.shadowRoot ?? parent.attachShadow({ mode: 'open' })
  const view = new EditorView({
    parent: root,
    root,
    doc,
    extensions: [
      theme,
      basicSetup,
      language.of(sql({ dialect: PostgreSQL, upperCaseKeywords: true })),
      Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => (onRun?.(), true) }])),
      EditorView.contentAttributes.of({ 'aria-label': label }),
      EditorView.lineWrapping,
    ],
  })
  return {
    get value() {
      return view.state.doc.toString()
    },
    set value(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } })
    },
    setSchema(schema) {
      view.dispatch({ effects: language.reconfigure(sql({ dialect: PostgreSQL, upperCaseKeywords: true, schema })) })
    },
    insert(text) {
      const { from, to } = view.state.selection.main
      view.dispatch({ changes: { from, to, insert: text }, selection: { anchor: from + text.length } })
      view.focus()
    },
    focus() {
      view.focus()
    },
    destroy() {
      view.destroy()
    },
  }
}
