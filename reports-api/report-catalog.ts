import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { parseReportDefinition, type ReportDefinition } from './report-definition.ts'
import { coerceParam } from './report-params.ts'

export interface CatalogProblem {
  file: string
  code: string
  message: string
}

interface FileEntry {
  stamp: string
  definition?: ReportDefinition
  problem?: ColdpipeError
}

/**
 * The report files of one folder. Every access re-checks the folder (readdir + stat, at most once per
 * `checkIntervalMs`), so an edited, added or removed file takes effect on the next request without a restart;
 * mtime checks are used instead of fs.watch because they are reliable on every file system.
 */
export class ReportCatalog {
  private files = new Map<string, FileEntry>()
  private byName = new Map<string, ReportDefinition>()
  private problemsByName = new Map<string, ColdpipeError>()
  private lastCheck = 0
  private checking: Promise<void> | undefined

  constructor(
    readonly dir: string,
    private readonly options: { checkIntervalMs: number; logger: Logger },
  ) {}

  async list(): Promise<{ reports: ReportDefinition[]; problems: CatalogProblem[] }> {
    await this.refresh()
    const problems = [...this.files.entries()]
      .filter(([, entry]) => entry.problem)
      .map(([file, entry]) => ({ file, code: entry.problem!.code, message: entry.problem!.message }))
    return { reports: [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name)), problems }
  }

  /** The report, or REPORT_NOT_FOUND; a report whose file is broken answers REPORT_DEFINITION_INVALID. */
  async get(name: string): Promise<ReportDefinition> {
    await this.refresh()
    const found = this.byName.get(name)
    if (found) return found
    const problem = this.problemsByName.get(name)
    if (problem) throw problem
    throw new ColdpipeError('REPORT_NOT_FOUND', `no report named "${name}"`, { context: { report: name } })
  }

  /**
   * The report as `get` would answer it, without waiting: undefined when a check of the folder is due (or the
   * name is unknown or broken), and the caller should use `get`. For a cache hit's path that awaits nothing.
   */
  peek(name: string): ReportDefinition | undefined {
    if (this.checkDue()) return undefined
    this.refreshAhead()
    return this.byName.get(name)
  }

  /** Whether the folder is due for a look (every checkIntervalMs). */
  private checkDue(): boolean {
    return Date.now() - this.lastCheck >= this.options.checkIntervalMs
  }

  /**
   * Starts the folder's check in the background once half the interval has passed, so under steady traffic it
   * is done before it is due and no request waits for it. A failed check is due again at once, so the next
   * request runs it itself and gets its error.
   */
  private refreshAhead(): void {
    if (this.checking || Date.now() - this.lastCheck < this.options.checkIntervalMs / 2) return
    this.refresh(true).catch(() => {
      this.lastCheck = 0
    })
  }

  async refresh(force = false): Promise<void> {
    if (!force && !this.checkDue()) {
      this.refreshAhead()
      return
    }
    this.checking ??= this.scan().finally(() => {
      this.lastCheck = Date.now()
      this.checking = undefined
    })
    await this.checking
  }

  private async scan(): Promise<void> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter((name) => name.endsWith('.sql')).sort()
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause
      names = []
    }
    const next = new Map<string, FileEntry>()
    let changed = names.length !== this.files.size
    for (const name of names) {
      const file = join(this.dir, name)
      let stamp: string
      try {
        const info = await stat(file)
        stamp = `${info.mtimeMs}:${info.size}:${info.ino}`
      } catch {
        continue // removed between readdir and stat
      }
      const previous = this.files.get(file)
      if (previous && previous.stamp === stamp) {
        next.set(file, previous)
        continue
      }
      changed = true
      next.set(file, await this.load(file, stamp))
    }
    if (!changed) return
    this.files = next
    this.rebuildIndex()
  }

  private async load(path: string, stamp: string): Promise<FileEntry> {
    // Messages name the file relative to the reports folder: they reach API callers, absolute paths should not.
    const file = basename(path)
    try {
      const text = await readFile(path, 'utf8')
      const definition = parseReportDefinition(text, file, stamp)
      for (const param of definition.params) {
        if (param.default === undefined) continue
        try {
          coerceParam(definition.name, param, String(param.default))
        } catch (error) {
          throw new ColdpipeError('REPORT_DEFINITION_INVALID', `${file}: params.${param.name}.default: ${messageOf(error)}`, {
            context: { file, field: `params.${param.name}.default` },
          })
        }
      }
      this.options.logger.info({ report: definition.name, file: path }, 'report loaded')
      return { stamp, definition }
    } catch (error) {
      const problem = isColdpipeError(error)
        ? error
        : new ColdpipeError('REPORT_DEFINITION_INVALID', `${file}: ${messageOf(error)}`, { cause: error, context: { file } })
      this.options.logger.error({ file: path, code: problem.code, err: problem.message }, 'report definition invalid')
      return { stamp, problem }
    }
  }

  private rebuildIndex(): void {
    const byName = new Map<string, ReportDefinition>()
    const problemsByName = new Map<string, ColdpipeError>()
    for (const [file, entry] of this.files) {
      if (entry.definition) {
        const other = byName.get(entry.definition.name)
        if (other) {
          problemsByName.set(
            entry.definition.name,
            new ColdpipeError('REPORT_DEFINITION_INVALID', `${file}: name: "${entry.definition.name}" is also the name of ${other.file}`, {
              context: { file, field: 'name' },
            }),
          )
          byName.delete(entry.definition.name)
          continue
        }
        if (!problemsByName.has(entry.definition.name)) byName.set(entry.definition.name, entry.definition)
      } else if (entry.problem) {
        // A broken file is still findable by its file name, so GET /reports/<name> explains what is wrong.
        const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.sql$/, '')
        problemsByName.set(base, entry.problem)
      }
    }
    this.byName = byName
    this.problemsByName = problemsByName
  }
}
