import type { RegisterCommand } from '../command-context.ts'
import { registerDemoCommand } from './demo-command.ts'
import { registerDevBrokerCommand } from './dev-broker-command.ts'
import { registerExportCommand } from './export-command.ts'
import { registerIngestCommand } from './ingest-command.ts'
import { registerJobsCommand } from './jobs-command.ts'
import { registerLakeCommand } from './lake-command.ts'
import { registerPublishCommand } from './publish-command.ts'
import { registerServeCommand } from './serve-command.ts'
import { registerSqlCommand } from './sql-command.ts'
import { registerStartCommand } from './start-command.ts'
import { registerStatusCommand } from './status-command.ts'

/** Every subcommand, in the order `--help` lists them. Each lives in its own file beside this one. */
export const commands: RegisterCommand[] = [
  registerDemoCommand,
  registerStartCommand,
  registerExportCommand,
  registerIngestCommand,
  registerPublishCommand,
  registerServeCommand,
  registerSqlCommand,
  registerJobsCommand,
  registerStatusCommand,
  registerLakeCommand,
  registerDevBrokerCommand,
]
