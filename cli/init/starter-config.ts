import { Document, isMap, isSeq } from 'yaml'
import type { SourceKind } from '../catalog/index.ts'
import type { TableSuggestion } from './suggest-table.ts'

export interface StarterConfigInput {
  sourceName: string
  kind: SourceKind
  /** The URL as it goes into the file (a password already replaced by `${VAR}`). */
  url: string
  schema?: string
  tables: TableSuggestion[]
  /** The command that wrote it, for the header comment. */
  writtenBy: string
}

/**
 * A starter config as YAML: one source, its tables with suggested modes (each with the reason above it),
 * a nightly export and a morning publish, lake and warehouse beside the file.
 */
export function starterConfigYaml(input: StarterConfigInput): string {
  const config = {
    lake: './lake',
    warehouse: './warehouse',
    reports: './reports',
    sources: { [input.sourceName]: { kind: input.kind, url: input.url, ...(input.schema ? { schema: input.schema } : {}) } },
    exports: [
      {
        source: input.sourceName,
        schedule: '0 2 * * *',
        timezone: 'UTC',
        tables: input.tables.map((t) => ({ name: t.name, mode: t.mode, ...(t.cursor ? { cursor: t.cursor } : {}), ...(t.key ? { key: t.key } : {}), ...(t.columns ? { columns: t.columns } : {}) })),
      },
    ],
    jobs: { publish: { schedule: '30 6 * * *', timezone: 'UTC' } },
  }
  const doc = new Document(config)
  doc.commentBefore = [
    ` Starter config written by ${input.writtenBy}.`,
    ' Review the modes below, then run `coldpipe check` to test it against the real systems.',
  ].join('\n')
  const tables = doc.getIn(['exports', 0, 'tables'], true)
  if (isSeq(tables)) {
    tables.items.forEach((item, i) => {
      if (isMap(item)) item.commentBefore = ` ${input.tables[i]!.mode}: ${input.tables[i]!.reason}`
    })
  }
  return doc.toString({ lineWidth: 0 })
}
