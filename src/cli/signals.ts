// Ctrl-C and SIGTERM for long CLI jobs: the first signal asks the job to stop at its next safe point (it
// checkpoints and exits 3, so the same command resumes); a second signal exits at once with 130.

export interface StopSignals {
  /** Aborted by the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** Removes the handlers; call it in a `finally`. */
  release(): void;
}

export function stopOnSignals(notice?: string): StopSignals {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    if (notice) process.stderr.write(`\n${notice} (Ctrl-C again to exit now)\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
