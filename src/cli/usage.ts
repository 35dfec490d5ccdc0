/**
 * What the command line says when it cannot make sense of the words: in our voice, in one short
 * message that names the problem and the way out, instead of clipanion's numbered list of every
 * command with `#0` for each value.
 */
import type { Definition } from 'clipanion';
import { closeWord } from '../lifecycle/spelling.ts';

/** A command as the user may type it: every path (aliases included) and what it does. */
export interface CommandName {
  paths: string[][];
  description: string;
}

interface Candidate {
  usage: string;
  reason: string | null;
}

const BINARY = 'queuectl';

/** The message for an error thrown by clipanion's `process`, without the `queuectl: ` prefix. */
export function explainParseError(error: Error, argv: readonly string[], commands: readonly CommandName[], definitions: readonly Definition[]): string {
  const candidates = (error as Error & { candidates?: Candidate[] }).candidates;
  if (!candidates) return error.message;
  const named = namedCommand(argv, commands);
  if (!named) return unknownCommand(argv, commands);
  const name = named.typed.join(' ');
  const definition = definitions.find((entry) => entry.path === `${BINARY} ${named.command.paths[0]!.join(' ')}`);
  const reason = candidates.find((candidate) => candidate.reason !== null)?.reason?.replace(/\.$/, '') ?? '';
  const quoted = (pattern: RegExp) => pattern.exec(reason)?.[1];
  const option = quoted(/^Not enough arguments to option (\S+)$/);
  if (option !== undefined) return missingValue(option, name, definition);
  const unsupported = quoted(/^Unsupported option name \("(.*)"\)$/);
  if (unsupported !== undefined) return unknownOption(unsupported, name, definition);
  const usage = definition ? `usage: ${shortUsage(definition)}` : `see ${BINARY} ${name} --help`;
  if (reason === 'Not enough positional arguments') return `${name} is missing an argument; ${usage}`;
  const extra = quoted(/^Extraneous positional argument \("(.*)"\)$/);
  if (extra !== undefined) return `${name} does not take "${extra}"; ${usage}`;
  return `${reason || 'cannot read these words'}; see ${BINARY} ${name} --help`;
}

/** The commands under a group word, such as `worker start` and `worker stop` under `worker`. */
function subcommands(group: string, commands: readonly CommandName[]): CommandName[] {
  return commands.filter((command) => command.paths[0]!.length > 1 && command.paths[0]![0] === group);
}

/** The lines that list a group's subcommands, as `queuectl worker` alone or `--help` shows them. */
export function groupListing(group: string, commands: readonly CommandName[]): string {
  const members = subcommands(group, commands);
  const names = members.map((command) => `${BINARY} ${command.paths[0]!.join(' ')}`);
  const width = Math.max(...names.map((name) => name.length));
  return members.map((command, index) => `  ${names[index]!.padEnd(width)}  ${command.description}\n`).join('');
}

/** A word that names subcommands only: `worker`, `dlq`, `config`. */
export function isGroup(word: string | undefined, commands: readonly CommandName[]): boolean {
  const isCommand = commands.some((command) => command.paths.some((path) => path.length === 1 && path[0] === word));
  return word !== undefined && !isCommand && subcommands(word, commands).length > 0;
}

/** The command whose path (or alias) the first words of argv spell out exactly, the longest one. */
function namedCommand(argv: readonly string[], commands: readonly CommandName[]): { command: CommandName; typed: string[] } | null {
  const named = commands.flatMap((command) => command.paths.map((typed) => ({ command, typed })));
  const matching = named.filter(({ typed }) => typed.length > 0 && typed.every((word, index) => argv[index] === word));
  return matching.sort((a, b) => b.typed.length - a.typed.length)[0] ?? null;
}

function unknownCommand(argv: readonly string[], commands: readonly CommandName[]): string {
  const words = argv.filter((word) => word !== '\0');
  const firstOption = words.findIndex((word) => word.startsWith('-'));
  const typed = firstOption === -1 ? words : words.slice(0, firstOption);
  const group = isGroup(typed[0], commands) ? typed[0]! : null;
  if (group && typed.length === 1) return `${group} needs a subcommand:\n${groupListing(group, commands).trimEnd()}`;
  if (typed.length === 0) return `unknown option ${words[0] ?? ''}; ${BINARY} help lists every command`;
  const shown = group ? typed.slice(0, 2).join(' ') : typed[0]!;
  const close = suggestions(typed.slice(0, 2), commands);
  if (close.length > 0) return `unknown command "${shown}"; did you mean ${close.join(', ')}?`;
  if (group) return `unknown command "${shown}"; ${group} has ${subcommands(group, commands).map((command) => command.paths[0]!.join(' ')).join(', ')}`;
  return `unknown command "${shown}"; ${BINARY} help lists every command`;
}

/** At most three commands close to what was typed, closest first. */
function suggestions(typed: readonly string[], commands: readonly CommandName[]): string[] {
  const scored = commands.flatMap((command) => {
    const matches = command.paths.map((path) => ({ path, score: closeness(typed, path) })).filter((match) => match.score !== null);
    const best = matches.sort((a, b) => a.score! - b.score!)[0];
    return best ? [{ name: best.path.join(' '), score: best.score! }] : [];
  });
  return scored.sort((a, b) => a.score - b.score).slice(0, 3).map((match) => match.name);
}

/** How far `typed` is from `path`, word by word, or null if some word is not close at all. */
function closeness(typed: readonly string[], path: readonly string[]): number | null {
  // `wrker start` is compared with `worker start`; `stauts --json` only with one-word commands.
  const compared = path.slice(0, Math.min(path.length, typed.length));
  if (compared.length === 0) return null;
  let total = 0;
  for (const [index, word] of compared.entries()) {
    const distance = closeWord(typed[index]!, word);
    if (distance === null) return null;
    total += distance;
  }
  return total;
}

interface OptionName {
  names: string[];
  takesValue: boolean;
  description: string;
}

function optionsOf(definition: Definition | undefined): OptionName[] {
  return (definition?.options ?? []).map((option) => {
    const [names = '', value] = option.definition.split(' ');
    return { names: names.split(','), takesValue: value !== undefined, description: option.description ?? '' };
  });
}

function missingValue(option: string, name: string, definition: Definition | undefined): string {
  const found = optionsOf(definition).find((entry) => entry.names.includes(option));
  const names = found?.names ?? [option];
  const pattern = new RegExp(`(?:^|\\s)(?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})[ =](\\S+)`);
  const fromExample = definition?.examples?.map(([, line]) => pattern.exec(line)?.[1]).find((value) => value !== undefined);
  const fromDescription = found && /such as ([^\s,;)]+(?:,[^\s;)]+)*)/.exec(found.description)?.[1];
  const sample = fromExample ?? fromDescription;
  if (sample) return `${option} needs a value, such as ${option} ${sample}; see ${BINARY} ${name} --help`;
  return `${option} needs a value${found?.description ? `: ${found.description}` : ''}; see ${BINARY} ${name} --help`;
}

function unknownOption(option: string, name: string, definition: Definition | undefined): string {
  const names = optionsOf(definition).map((entry) => entry.names[0]!);
  const bare = option.replace(/^-+/, '').split('=')[0]!;
  const close = names.filter((known) => {
    const word = known.replace(/^-+/, '');
    return bare.length >= 3 && (closeWord(bare, word) !== null || word.includes(bare));
  });
  if (close.length > 0) return `${name} has no option ${option}; did you mean ${close.slice(0, 3).join(', ')}?`;
  return `${name} has no option ${option}; ${names.length > 0 ? `its options are ${names.join(', ')}` : 'it takes no options'}`;
}

/** `queuectl show [options] <id>`: the options by name only, as `--help` lists them with their meaning. */
function shortUsage(definition: Definition): string {
  return `${definition.path}${definition.options.length > 0 ? ' [options]' : ''}${definition.usage.slice(definition.path.length)}`;
}

/**
 * What each option's value is, as help shows it. clipanion writes `#0` for every value; the
 * kind comes from here instead, one table for every command, so one name reads the same
 * everywhere; `clean --state` is one command's own. An option missing here shows VALUE (and the
 * help test fails on it).
 */
const VALUE_KINDS: Record<string, string> = {
  '--id': 'ID',
  '--max-retries': 'N',
  '--priority': 'N',
  '--run-at': 'TIME',
  '--delay': 'DURATION',
  '--timeout': 'DURATION',
  '--older-than': 'DURATION',
  '--no-retry-on': 'CODE[,CODE]',
  '--after': 'ID[,ID]',
  '--queue': 'NAME',
  '--env': 'KEY=VALUE',
  '--file': 'FILE',
  '--state': 'STATE[,STATE]',
  'clean --state': 'STATE',
  '--limit': 'N',
  '--count': 'N',
  '--parallel': 'N',
  '--attempt': 'N',
  '--port': 'PORT',
  '--host': 'ADDRESS',
  '--cron': 'EXPR',
  '--tz': 'ZONE',
  '--command': 'COMMAND',
  '--backoff-max': 'DURATION',
  '--backoff-jitter': 'FRACTION',
  '--output': 'FILE',
};

/** What the words after the options are, where clipanion writes only `...`. */
const REST_WORDS: Record<string, string> = {
  enqueue: '[SPEC | -- COMMAND [ARG...]]',
  wait: '[ID...]',
  'dlq retry': '[ID...]',
  'queue pause': '[NAME...]',
  'queue resume': '[NAME...]',
  'schedule add': '-- COMMAND [ARG...]',
};

/**
 * `--delay #0` → `--delay DURATION`, in a usage line or option name of `command` (`clean`,
 * `dlq list`); and a usage line's closing `...` says what the words are.
 */
export function withValueKinds(text: string, command: string): string {
  const kinds = text.replace(/(--[\w-]+)((?:,-[\w-]+)*) #0/g, (_, name: string, aliases: string) => {
    const kind = VALUE_KINDS[`${command} ${name}`] ?? VALUE_KINDS[name] ?? 'VALUE';
    return `${name}${aliases} ${kind}`;
  });
  const rest = REST_WORDS[command];
  return rest && kinds.startsWith(`${BINARY} ${command}`) ? kinds.replace(/ \.\.\.$/, ` ${rest}`) : kinds;
}
