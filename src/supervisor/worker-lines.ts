/**
 * The supervisor's log lines about each worker, in the order things happened there. A run's end
 * is known as a line only once its result is recorded (the turn says "completed", "failed, retry
 * in 4s"…), so the worker's next start waits behind it: the log never says a job started on a
 * worker before the job that worker ran before it ended.
 */
export class WorkerLines {
  private readonly queues = new Map<number, { id: string; line: string | null }[]>();

  constructor(private readonly log: (line: string) => void) {}

  started(worker: number, id: string, line: string): void {
    this.push(worker, id, line);
  }

  /** A run on this worker ended; its line comes with `recorded`. */
  ended(worker: number, id: string): void {
    this.push(worker, id, null);
  }

  /** What a committed turn recorded of a job ('' for nothing to say): in its worker's order if it ended there, else now. */
  recorded(id: string, line: string): void {
    for (const queue of this.queues.values()) {
      const end = queue.find((entry) => entry.id === id && entry.line === null);
      if (!end) continue;
      end.line = line;
      return this.drain(queue);
    }
    if (line) this.log(line);
  }

  private push(worker: number, id: string, line: string | null): void {
    const queue = this.queues.get(worker) ?? [];
    this.queues.set(worker, queue);
    queue.push({ id, line });
    this.drain(queue);
  }

  private drain(queue: { id: string; line: string | null }[]): void {
    while (queue.length > 0 && queue[0]!.line !== null) {
      const { line } = queue.shift()!;
      if (line) this.log(line);
    }
  }
}
