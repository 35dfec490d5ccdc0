/**
 * Change notifications, debounced per queue. A NOTIFY serializes the commits that send one (the
 * server's notification queue has one lock), so a busy supervisor that commits every few
 * milliseconds sends at most one per queue per window: the first change of a queue is told in
 * its own commit, later ones within the window by one notification when the window ends. The
 * others' slow poll stays behind it.
 */

/** How long a queue's notifications are held back after one was sent. */
export const NOTIFY_WINDOW_MS = 50;

export class Notifier {
  private readonly sentAt = new Map<string, number>();
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  /** `send` delivers payloads outside any transaction; `payload` names this process and the queue. */
  constructor(
    private readonly send: (payloads: string[]) => Promise<void>,
    private readonly payload: (queue: string) => string,
  ) {}

  /** The payloads to send in the commit under way; the queues told too recently are held for the window's end. */
  now(queues: Iterable<string>): string[] {
    const at = Date.now();
    const due: string[] = [];
    for (const queue of new Set(queues)) {
      if (at - (this.sentAt.get(queue) ?? -Infinity) >= NOTIFY_WINDOW_MS) {
        this.sentAt.set(queue, at);
        due.push(this.payload(queue));
      } else this.held.add(queue);
    }
    if (this.held.size > 0) this.timer ??= setTimeout(() => this.flush(), NOTIFY_WINDOW_MS);
    return due;
  }

  private flush(): void {
    this.timer = null;
    const queues = [...this.held];
    this.held.clear();
    const at = Date.now();
    for (const queue of queues) this.sentAt.set(queue, at);
    void this.send(queues.map(this.payload)).catch(() => undefined);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
