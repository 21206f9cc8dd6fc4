// One job at a time (the runtime runs one forward at a time anyway), in arrival order, with a bound on how many may
// wait. Over the bound, `submit` throws QueueFullError at once (the server answers 429 with Retry-After). A waiting
// job whose signal aborts (its client went away) leaves the queue without running; a running job gets the same
// signal and is expected to stop at its next step. A job that throws never stalls the queue.

export class QueueFullError extends Error {
  constructor(
    readonly waiting: number,
    /** Seconds until a slot is likely free (at least 1). */
    readonly retryAfterS: number,
  ) {
    super(`the server is busy: ${waiting} requests are waiting; retry after ${retryAfterS} s`);
    this.name = "QueueFullError";
  }
}

/** The reason a job that never ran is rejected with when its signal aborts. */
export class JobAbortedError extends Error {
  constructor() {
    super("the request was cancelled before it ran");
    this.name = "JobAbortedError";
  }
}

interface Waiting {
  run: () => void;
  drop: () => void;
}

export interface QueueStats {
  running: boolean;
  waiting: number;
  maxWaiting: number;
  done: number;
  rejected: number;
}

export class JobQueue {
  private readonly waiting: Waiting[] = [];
  private running = false;
  private done = 0;
  private rejected = 0;
  /** Exponential moving average of job durations (ms), for Retry-After. */
  private avgMs = 0;
  private idle: (() => void)[] = [];

  constructor(readonly maxWaiting: number) {
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`JobQueue: maxWaiting must be a non-negative integer, got ${maxWaiting}`);
  }

  stats(): QueueStats {
    return { running: this.running, waiting: this.waiting.length, maxWaiting: this.maxWaiting, done: this.done, rejected: this.rejected };
  }

  /**
   * Runs `job` when its turn comes. Throws QueueFullError synchronously-soon (before waiting) when the bound is
   * reached, JobAbortedError when `signal` aborts while it waits.
   */
  submit<T>(job: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.running && this.waiting.length >= this.maxWaiting) {
      this.rejected++;
      const retry = Math.max(1, Math.ceil(((this.waiting.length + 1) * Math.max(this.avgMs, 100)) / 1000));
      return Promise.reject(new QueueFullError(this.waiting.length, retry));
    }
    if (signal.aborted) return Promise.reject(new JobAbortedError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          reject(new JobAbortedError());
        }
      };
      const entry: Waiting = {
        run: () => {
          signal.removeEventListener("abort", onAbort);
          const t0 = performance.now();
          let p: Promise<T>;
          try {
            p = job(signal);
          } catch (err) {
            p = Promise.reject(err);
          }
          p.then(resolve, reject).finally(() => {
            const ms = performance.now() - t0;
            this.avgMs = this.done === 0 ? ms : 0.8 * this.avgMs + 0.2 * ms;
            this.done++;
            this.next();
          });
        },
        drop: () => {
          signal.removeEventListener("abort", onAbort);
          reject(new JobAbortedError());
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
      if (!this.running) this.next();
    });
  }

  private next(): void {
    const entry = this.waiting.shift();
    if (!entry) {
      this.running = false;
      for (const f of this.idle.splice(0)) f();
      return;
    }
    this.running = true;
    entry.run();
  }

  /** Rejects every waiting job (JobAbortedError) and resolves when the running one, if any, has finished. */
  drain(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.drop();
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
