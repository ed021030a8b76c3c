import { join, relative, sep } from 'node:path'

/** Keeps names safe as single path segments (topics may contain dots, never slashes). */
function segment(value: string): string {
  return value.replace(/[\/\\\0]/g, '_')
}

function pad(n: number | bigint, width = 20): string {
  return String(n).padStart(width, '0')
}

/** Where everything lives in the lake (see ../shared/ARCHITECTURE.md); only this module builds lake paths. */
export class LakeLayout {
  constructor(readonly root: string) {}

  get logDir(): string {
    return join(this.root, '_log')
  }

  get tmpDir(): string {
    return join(this.root, '_tmp')
  }

  get deadDir(): string {
    return join(this.root, '_dead')
  }

  get stateDir(): string {
    return join(this.root, '_state')
  }

  commitFile(version: number): string {
    return join(this.logDir, `${pad(version)}.json`)
  }

  /** raw/changes/<service>/<table>/date=YYYY-MM-DD/<topic>~<partition>~<first>-<last>.parquet, relative to the root. */
  changeFile(p: { service: string; table: string; date: string; topic: string; partition: number; firstOffset: string | bigint; lastOffset: string | bigint }): string {
    return [
      'raw',
      'changes',
      segment(p.service),
      segment(p.table),
      `date=${p.date}`,
      `${segment(p.topic)}~${p.partition}~${pad(BigInt(p.firstOffset))}-${pad(BigInt(p.lastOffset))}.parquet`,
    ].join('/')
  }

  /** raw/exports/<service>/<table>/run=<runId>/part-<n>.parquet, relative to the root. */
  exportFile(p: { service: string; table: string; runId: string; part: number }): string {
    return ['raw', 'exports', segment(p.service), segment(p.table), `run=${segment(p.runId)}`, `part-${pad(p.part, 5)}.parquet`].join('/')
  }

  /** compacted/<service>/<table>/<id>.parquet, relative to the root. */
  compactedFile(p: { service: string; table: string; id: string }): string {
    return ['compacted', segment(p.service), segment(p.table), `${segment(p.id)}.parquet`].join('/')
  }

  deadLetterFile(p: { service: string; table: string; date: string; name: string }): string {
    return join(this.deadDir, segment(p.service), segment(p.table), `date=${p.date}`, `${segment(p.name)}.ndjson`)
  }

  absolute(relativePath: string): string {
    return join(this.root, ...relativePath.split('/'))
  }

  relative(absolutePath: string): string {
    return relative(this.root, absolutePath).split(sep).join('/')
  }
}
