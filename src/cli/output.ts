/**
 * stdout and stderr for commands, written straight to the descriptor, synchronously, as Node
 * itself writes to files, pipes and terminals on Linux. Creating `process.stdout` loads the
 * net, stream and tty modules: about a tenth of a one-shot command's run time, for one write.
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';

class DirectOutput {
  /** The stream, once a write could not go straight through. */
  private stream: NodeJS.WriteStream | null = null;

  constructor(private readonly fd: 1 | 2) {}

  private real(): NodeJS.WriteStream {
    return this.fd === 1 ? process.stdout : process.stderr;
  }

  /** Only `status --watch` asks, to clear the screen between refreshes. */
  get isTTY(): boolean {
    return this.real().isTTY === true;
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.stream) return this.stream.write(chunk);
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let offset = 0;
    try {
      while (offset < bytes.length) offset += fs.writeSync(this.fd, bytes, offset);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // `queuectl list | head` closes the pipe early: that is the reader's choice, not an error.
      if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      // A descriptor that its opener left non-blocking and that is full: the stream knows how to wait.
      if (code !== 'EAGAIN') throw error;
      this.stream = this.real();
      this.stream.on('error', (failure: NodeJS.ErrnoException) => {
        if (failure.code !== 'EPIPE') throw failure;
        process.exit(process.exitCode ?? 0);
      });
      return this.stream.write(bytes.subarray(offset));
    }
  }
}

/** What commands see as `this.context.stdout` and `stderr`: they only ever call `write`. */
export const directStdout = new DirectOutput(1) as unknown as Writable;
export const directStderr = new DirectOutput(2) as unknown as Writable;
