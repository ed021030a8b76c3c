import type { Command } from 'commander'
import type { CommandContext } from './command-context.ts'
import { commandEntries, commandName } from './commands/index.ts'

/** Global options that take a value: the word after them is not the command's name. */
const valueOptions = new Set(['-c', '--config', '--log-level'])

/** The subcommand `argv` (without node and the script) asks for, if any; `help <command>` names it too. */
export function requestedCommand(argv: string[]): string | undefined {
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') break
    if (valueOptions.has(arg)) {
      i++
      continue
    }
    if (arg.startsWith('-')) continue
    words.push(arg)
    if (words[0] !== 'help' || words.length === 2) break
  }
  return words[0] === 'help' ? words[1] : words[0]
}

/**
 * Registers every subcommand for `--help`, and loads only the module of the one `argv` names (with its
 * options and action); the others stay one line of help each.
 */
export async function registerCommands(program: Command, context: CommandContext, argv: string[]): Promise<void> {
  const wanted = requestedCommand(argv)
  for (const entry of commandEntries) {
    const name = commandName(entry)
    if (name === wanted) {
      const register = await entry.load()
      register(program, context)
      program.commands.find((command) => command.name() === name)?.description(entry.description)
    } else {
      program.command(entry.usage).description(entry.description)
    }
  }
}
