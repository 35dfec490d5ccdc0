/**
 * Checks for one value each: they return the value (a time normalized to the form queuectl
 * writes) or throw a FieldError saying what was expected. `object` names the field that failed,
 * so that a message reaches the user as file, job and field.
 */
import { runCount } from '../config.ts';
import { parseDuration } from '../duration.ts';

export type Check<T> = (value: unknown) => T;

export class FieldError extends Error {}

export const fail = (message: string): never => {
  throw new FieldError(message);
};

export const str: Check<string> = (v) => (typeof v === 'string' ? v : fail(`expected a string, got ${JSON.stringify(v)}`));
export const nonEmpty: Check<string> = (v) => (str(v).trim() !== '' ? (v as string) : fail('must not be empty'));
export const bool: Check<boolean> = (v) => (typeof v === 'boolean' ? v : fail(`expected true or false, got ${JSON.stringify(v)}`));
export const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check<number> => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(`expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `from ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(v)}`);
export const fraction: Check<number> = (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : fail(`expected a number from 0 to 1, got ${JSON.stringify(v)}`));

/** The form queuectl writes; anything else that parses is normalized to it. */
const CANONICAL_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
// Every job carries about seven times and this runs on every validated read: the common case is a regex.
export const time: Check<string> = (v) => {
  if (typeof v === 'string' && CANONICAL_TIME.test(v)) return v;
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : fail(`expected an ISO 8601 time, got ${JSON.stringify(v)}`);
};
export const nullable = <T>(check: Check<T>): Check<T | null> => (v) => (v === null ? null : check(v));
export const oneOf = <T extends string>(values: readonly T[]): Check<T> => (v) =>
  values.includes(v as T) ? (v as T) : fail(`unknown value ${JSON.stringify(v)}; expected one of ${values.join(', ')}`);

export const duration: Check<string> = (v) => {
  try {
    parseDuration(str(v));
    return v as string;
  } catch {
    return fail(`expected a duration such as 30s or 5m, got ${JSON.stringify(v)}`);
  }
};

export const runs: Check<number> = (v) => {
  if (typeof v !== 'number') return fail(`expected a whole number of runs, got ${JSON.stringify(v)}`);
  try {
    return runCount(v);
  } catch (error) {
    return fail((error as Error).message);
  }
};

/** An object with exactly these fields (those in `defaults` may be missing), in this order. */
export function object<T>(fields: { [K in keyof T]: Check<T[K]> }, defaults: Partial<T>, where: string): Check<T> {
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`${where}: expected an object`);
    const input = value as Record<string, unknown>;
    for (const key of Object.keys(input)) {
      if (!(key in fields)) fail(`${where}: unknown field "${key}"`);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(fields) as (keyof T & string)[]) {
      if (!(key in input)) {
        if (key in defaults) {
          out[key] = defaults[key];
          continue;
        }
        fail(`${where}: missing field "${key}"`);
      }
      try {
        out[key] = fields[key](input[key]);
      } catch (error) {
        if (!(error instanceof FieldError) || error.message.startsWith(where)) throw error;
        fail(`${where}: field "${key}": ${error.message}`);
      }
    }
    return out as T;
  };
}

/** Runs `check`, turning a FieldError into the user's error that `problem` makes of its message. */
export function located<T>(check: () => T, problem: (message: string) => Error): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    throw problem(error.message);
  }
}
