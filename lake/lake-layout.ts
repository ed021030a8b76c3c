import { join, relative, sep } from 'node:path'

/** Keeps names safe as single path segments (topics may contain dots, never slashes). */
function segment(value: string): string {
  return value.replace(/[\/\\\0]/g, '_')
}

function pad(n: number | bigint, width = 20): string {
  return String(n).padStart(width, '0')
}

/**
 * Where everything lives in the lake (docs/lake-contract.md); only this module builds lake paths, so a
 * layout change is one edit here and every stage follows.
 */
export class LakeLayout {
  constructor(readonly root: string) {}

  /** `_lake.json`: the lake's format version, written at creation and checked at every open. */
  get formatFile(): string {
    return join(this.root, '_lake.json')
  }

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

  /** `_log/<version>.checkpoint.json`: the lake's state at `version`, so opening need not replay older commits. */
  checkpointFile(version: number): string {
    return join(this.logDir, `${pad(version)}.checkpoint.json`)
  }

  /**
   * `_log/_last_checkpoint.json`: the newest checkpoint's version (Delta Lake's `_last_checkpoint`), so
   * opening reads from it without listing a log that holds days of commits.
   */
  get lastCheckpointFile(): string {
    return join(this.logDir, '_last_checkpoint.json')
  }

  /** `_log/_expired.json`: the first version expireLog kept, written before it deletes anything older. */
  get expiredMarkerFile(): string {
    return join(this.logDir, '_expired.json')
  }

  /** Run records of scheduled jobs: `_state/jobs/<job>/<runId>.json`. */
  get jobRunsDir(): string {
    return join(this.stateDir, 'jobs')
  }

  /** Job leases: `_state/locks/<job>.json`. */
  get locksDir(): string {
    return join(this.stateDir, 'locks')
  }

  /** Source breaker states for `coldpipe status`: `_state/health/<source>.json`. */
  get healthDir(): string {
    return join(this.stateDir, 'health')
  }

  healthFile(source: string): string {
    return join(this.healthDir, `${segment(source)}.json`)
  }

  /** Inferred column types of a schema-less change table: `_state/changes-types/<service>.<table>.json`. */
  changesTypesFile(service: string, table: string): string {
    return join(this.stateDir, 'changes-types', `${segment(`${service}.${table}`)}.json`)
  }

  /** Last result of a maintenance job (compaction, retention): `_state/maintenance/<kind>.json`. */
  maintenanceFile(kind: string): string {
    return join(this.stateDir, 'maintenance', `${segment(kind)}.json`)
  }

  /** Where unreadable data files are moved for inspection (see quarantineFile). */
  get quarantineDir(): string {
    return join(this.root, '_quarantine')
  }

  get exportRunsDir(): string {
    return join(this.stateDir, 'export-runs')
  }

  /** One table's record of one export run: `_state/export-runs/<runId>/<service>.<table>.json` (`_all` for the whole run). */
  exportRunFile(runId: string, service: string, table: string): string {
    return join(this.exportRunsDir, segment(runId), `${segment(`${service}.${table}`)}.json`)
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

  /** _quarantine/<original path>, relative to the root: where an unreadable data file's bytes are kept for inspection. */
  quarantineFile(relativePath: string): string {
    return ['_quarantine', ...relativePath.split('/').map(segment)].join('/')
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
