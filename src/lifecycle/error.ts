export const ERROR_CODES = ['invalid-input', 'not-found', 'conflict', 'busy', 'io-error'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const EXIT_STATUS: Record<ErrorCode, number> = {
  'invalid-input': 2,
  'not-found': 3,
  conflict: 4,
  busy: 75,
  // EX_IOERR: the disk is full or the store directory is not writable.
  'io-error': 74,
};

/** An expected failure: its message is for the user, its code decides the exit status. */
export class QueueError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'QueueError';
    this.code = code;
  }

  get exitStatus(): number {
    return EXIT_STATUS[this.code];
  }
}

export function invalid(message: string): QueueError {
  return new QueueError('invalid-input', message);
}
