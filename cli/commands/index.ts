import type { RegisterCommand } from '../command-context.ts'

/** Every subcommand, in the order `--help` lists them. Each lives in its own file beside this one. */
export const commands: RegisterCommand[] = []
