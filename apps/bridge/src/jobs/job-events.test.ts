import { create } from "@bufbuild/protobuf";
import { JobSchema, JobState } from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { type JobEvent, JobEvents } from "./job-events.js";

const job = (state: JobState) => create(JobSchema, { jobId: "job_1", state });

describe("JobEvents", () => {
  it("drops an event of a version already seen: a stale read published after a newer change", () => {
    const events = new JobEvents();
    const seen: Array<[JobState, number | undefined]> = [];
    // The worker claimed version 1 before anyone listened; it listens from there.
    events.subscribe("job_1", (e) => seen.push([e.job.state, e.version]), 1);
    events.publish({ job: job(JobState.QUEUED), version: 0 }); // read before the claim, published after
    events.publish({ job: job(JobState.RUNNING), version: 1 });
    events.publish({ job: job(JobState.RUNNING), version: 2 });
    events.publish({ job: job(JobState.RUNNING), version: 2 }); // the same change, from a poll
    events.publish({ job: job(JobState.RUNNING), outputDelta: "tok" }); // streamed output: never dropped
    events.publish({ job: job(JobState.SUCCEEDED), version: 3 });
    expect(seen).toEqual([
      [JobState.RUNNING, 2],
      [JobState.RUNNING, undefined],
      [JobState.SUCCEEDED, 3],
    ]);
  });

  it("watch() yields the job as read, then only newer changes, until it ends", async () => {
    const events = new JobEvents();
    const watched: JobEvent[] = [];
    const watching = (async () => {
      for await (const e of events.watch(
        { job: job(JobState.RUNNING), version: 4 },
        new AbortController().signal,
      ))
        watched.push(e);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    events.publish({ job: job(JobState.QUEUED), version: 3 });
    events.publish({ job: job(JobState.SUCCEEDED), version: 5 });
    await watching;
    expect(watched.map((e) => [e.job.state, e.version])).toEqual([
      [JobState.RUNNING, 4],
      [JobState.SUCCEEDED, 5],
    ]);
    expect(events.watched()).toEqual([]);
  });
});
