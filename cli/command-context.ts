import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { ColdpipeConfig } from './config/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'

/** What every command gets: the global options, a logger, and lazy access to the validated config. */
export interface CommandContext {
  logger: Logger
  /** Loads and validates `--config` (default ./coldpipe.yaml); throws a coded error naming the field. */
  config(): Promise<ColdpipeConfig>
  /** The config file path, resolved. */
  configPath(): string
  /** Resources closed on shutdown, in reverse order of registration. */
  onShutdown(close: () => Promise<void> | void): void
  /** Called by commands that serve until a signal (serve, start, demo, dev-broker); others exit when their action ends. */
  keepRunning(): void
  readonly longRunning: boolean
  /**
   * Called first by commands that serve requests (serve, start): their log lines are gathered per event-loop
   * turn and written together (a line per request; core/turn-batched-writer.ts). One-shot commands write each
   * line at once.
   */
  logAsServer(): void
}

/** A subcommand module: adds itself to the program. */
export type RegisterCommand = (program: Command, context: CommandContext) => void

export function createCommandContext(program: Command, onShutdown: CommandContext['onShutdown'], onStderrLost: () => void = () => undefined): CommandContext {
  let cached: ColdpipeConfig | undefined
  let logger: Logger | undefined
  let longRunning = false
  let batchPerTurn = false
  const configPath = (): string => resolve(program.opts<{ config?: string }>().config ?? 'coldpipe.yaml')
  return {
    get logger() {
      logger ??= createLogger({ level: program.opts<{ logLevel?: string }>().logLevel, batchPerTurn, onStderrLost })
      return logger
    },
    configPath,
    async config() {
      if (cached) return cached
      const file = configPath()
      if (!existsSync(file)) {
        throw new ColdpipeError('CONFIG_NOT_FOUND', `config file ${file} not found (pass --config FILE, or run \`coldpipe demo\` for the embedded demo)`, {
          context: { file },
        })
      }
      // Loaded on first use: the schemas of every stage are not worth loading for `--help`.
      const { loadConfig } = await import('./config/index.ts')
      cached = loadConfig(file)
      return cached
    },
    onShutdown,
    logAsServer() {
      batchPerTurn = true
    },
    keepRunning() {
      longRunning = true
    },
    get longRunning() {
      return longRunning
    },
  }
}
