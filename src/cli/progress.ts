/**
 * A progress bar on stderr for long waits (catch-up to the chain tip, rescans), drawn only when stderr is a terminal:
 * scripts and pipes see nothing of it.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, total: number, label: string): void;
  stop(): void;
}

const NONE: Progress = { update: () => undefined, stop: () => undefined };

export function progressBar(stream: NodeJS.WritableStream & { isTTY?: boolean }, enabled: boolean): Progress {
  if (!enabled || stream.isTTY !== true) return NONE;
  const bar = new cliProgress.SingleBar(
    { stream, format: '{label} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total, label) {
      if (!started) {
        bar.start(total, value, { label });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(value, { label });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
