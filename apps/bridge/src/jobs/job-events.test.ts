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

  it("watch() joins the streamed output a slow reader has not taken yet: one event, not one per piece", async () => {
    const events = new JobEvents();
    const stream = events.watch({ job: job(JobState.RUNNING), version: 1 }, new AbortController().signal);
    expect((await stream.next()).value?.version).toBe(1);
    // The reader now takes nothing while a provider streams 100,000 pieces.
    const pieces = Array.from({ length: 100_000 }, (_, i) => `t${i % 10}`);
    for (const piece of pieces) events.publish({ job: job(JobState.RUNNING), outputDelta: piece });
    events.publish({ job: job(JobState.RUNNING), version: 2 });
    events.publish({ job: job(JobState.RUNNING), outputDelta: "end" });
    events.publish({ job: job(JobState.SUCCEEDED), version: 3 });
    const rest: JobEvent[] = [];
    for await (const e of { [Symbol.asyncIterator]: () => stream }) rest.push(e);
    expect(rest.map((e) => [e.job.state, e.version])).toEqual([
      [JobState.RUNNING, undefined],
      [JobState.RUNNING, 2],
      [JobState.RUNNING, undefined],
      [JobState.SUCCEEDED, 3],
    ]);
    expect(rest.map((e) => e.outputDelta ?? "").join("")).toBe(`${pieces.join("")}end`);
  });
});
