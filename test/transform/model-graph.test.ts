import { describe, expect, it } from 'vitest'
import { mergeStagedSql, modelReferences, orderModels, type ModelDefinition } from '../../transform/index.ts'

const model = (name: string, dependsOn: string[] = []): ModelDefinition => ({ name, sql: '', file: `${name}.sql`, dependsOn })

describe('model graph', () => {
  it('finds analytics.<model> references outside comments and strings', () => {
    const known = new Set(['a', 'b', 'c'])
    expect(modelReferences(`SELECT * FROM analytics.a JOIN analytics."b" USING (id) -- analytics.c\nWHERE x = 'analytics.c'`, known).sort()).toEqual(['a', 'b'])
    expect(modelReferences('SELECT * FROM analytics.unknown_table', known)).toEqual([])
  })

  it('orders dependencies first and names cycles', () => {
    expect(orderModels([model('top', ['mid']), model('mid', ['base']), model('base')]).map((m) => m.name)).toEqual(['base', 'mid', 'top'])
    expect(() => orderModels([model('x', ['y']), model('y', ['z']), model('z', ['x'])])).toThrow(/x -> y -> z -> x/)
  })
})

describe('merge SQL', () => {
  it('deletes changed keys and inserts their latest versions, guarding against older versions', () => {
    const sql = mergeStagedSql({ history: 'h', state: 's_t', key: ['tenant', 'id'], kind: 'changes' }).join(';\n')
    expect(sql).toContain('PARTITION BY "tenant", "id" ORDER BY _cp_source_pos DESC NULLS LAST, _cp_offset DESC NULLS LAST')
    expect(sql).toContain('DELETE FROM s_t s USING latest l')
    expect(sql).toContain('INSERT INTO s_t BY NAME SELECT * FROM latest')
  })
})
