import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { clearErasure, eraseSubject, maskingFor } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { readErasureList } from '../../lake/erasure/index.ts'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/**
 * `coldpipe erase <subject> <value>`: erases one person (a configured `pii.subjects` entry) from the lake,
 * the retained snapshots and cached results, keeps them out of later landings, and prints the receipt
 * (JSON, no personal data). `--list` shows the erasure list, `--clear <id>` takes one off it.
 */
export const registerEraseCommand: RegisterCommand = (program, context) => {
  program
    .command('erase')
    .argument('[subject]', 'the subject kind, as named under pii.subjects (e.g. user)')
    .argument('[value]', "the subject's identifier (omit with --stdin, which keeps it out of shell history)")
    .option('--stdin', 'read the identifier from standard input')
    .option('--no-warehouse', 'leave snapshots alone (publish and purge later)')
    .option('--list', 'list erasures on the lake: pending, done, failed, cleared, with deadlines')
    .option('--clear <id>', 'take an erasure off the list once the source has deleted the subject (landings stop filtering its rows)')
    .action(async (subject: string | undefined, value: string | undefined, options: { stdin?: boolean; warehouse: boolean; list?: boolean; clear?: string }) => {
      const config = await context.config()
      if (options.list) {
        const log = await CommitLog.open(config.lake, { inspect: true })
        const doc = await readErasureList(log.layout)
        for (const e of doc.entries) {
          process.stdout.write(`${e.id}\t${e.subject}\t${e.status}\trequested ${e.requestedAt}\tdeadline ${e.deadline}${e.doneAt ? `\tdone ${e.doneAt}` : ''}${e.error ? `\t${e.error.code}: ${e.error.message}` : ''}\n`)
        }
        return
      }
      if (options.clear) {
        const entry = await clearErasure(config.lake, options.clear)
        process.stdout.write(`${entry.id} cleared: later exports and change events of subject ${entry.subject} land again\n`)
        return
      }
      if (!subject) throw new ColdpipeError('REQUEST_INVALID', 'name the subject to erase: coldpipe erase <subject> <value> (or --list, --clear <id>)', { context: { field: 'subject' } })
      const identifier = options.stdin ? await readStdin() : value
      if (identifier === undefined || identifier === '') {
        throw new ColdpipeError('REQUEST_INVALID', `give the ${subject}'s identifier as the second argument, or on standard input with --stdin`, { context: { field: 'value' } })
      }
      const receipt = await eraseSubject({
        lakeRoot: config.lake,
        rules: maskingFor(config.lake),
        subject,
        value: identifier,
        logger: context.logger,
        ...(options.warehouse ? { warehouse: config.warehouse, ...(config.models ? { models: config.models } : {}) } : {}),
      })
      process.stdout.write(JSON.stringify(receipt, null, 2) + '\n')
    })
}
