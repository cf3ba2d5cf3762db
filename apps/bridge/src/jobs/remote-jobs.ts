import type { Logger } from "pino";
import type { JobEvents } from "./job-events.js";
import type { JobStore } from "./job-store.js";
import { StorageError } from "./storage-error.js";

export interface RemoteJobsOptions {
  store: JobStore;
  events: JobEvents;
  logger: Logger;
  /** Whether this bridge runs the job (its changes are published as they are made). */
  runsHere: (jobId: string) => boolean;
  /** Another bridge queued jobs, or notifications were missed: look for work. */
  onQueued: () => void;
  /** The fallback poll of watched jobs, ms (in case a notification is lost). Default 1000. */
  pollMs?: number | undefined;
}

/** Jobs read per statement when polling. */
const chunk = 1000;

/**
 * Publishes to this bridge's waiting GetResult and WatchJob calls (and its worker) the changes other
 * bridges sharing the store make to the jobs they wait on: at once on the store's notification, and,
 * in case one is lost, by reading every watched job again each `pollMs` and after a reconnection.
 * Stale or repeated versions are dropped by {@link JobEvents}. Does nothing for an unshared store.
 */
export function publishRemoteChanges(options: RemoteJobsOptions): { stop(): void } {
  const { store, events, logger } = options;
  if (!store.watchRemote) return { stop() {} };
  let reading = false;
  const refresh = async (ids: string[]) => {
    for (let i = 0; i < ids.length; i += chunk) {
      const records = await store.getMany(ids.slice(i, i + chunk));
      for (const record of records) events.publish({ job: record.job, version: record.version });
    }
  };
  const refreshQuietly = (ids: string[]) =>
    refresh(ids).catch((err: unknown) => {
      if (!(err instanceof StorageError))
        logger.error({ err }, "reading jobs changed by another bridge failed");
    });
  const poll = async () => {
    if (reading) return;
    reading = true;
    try {
      await refreshQuietly(events.watched().filter((id) => !options.runsHere(id)));
    } finally {
      reading = false;
    }
  };
  const unwatch = store.watchRemote({
    onJob(jobId, version) {
      if (events.has(jobId) && version > events.version(jobId)) void refreshQuietly([jobId]);
    },
    onQueued: options.onQueued,
    onGap() {
      void refreshQuietly(events.watched());
      options.onQueued();
    },
  });
  const timer = setInterval(() => void poll(), options.pollMs ?? 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      unwatch();
    },
  };
}
