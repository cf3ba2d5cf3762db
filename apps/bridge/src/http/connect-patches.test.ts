// The bridge's patches of @connectrpc/connect (patches/, pnpm-workspace.yaml): what a handler sees
// must not change, only what a finished call costs.
import { Health, HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import { createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";

describe("a finished call's signal (patched @connectrpc/connect)", () => {
  it("is aborted with an AbortError, one shared reason rather than a new exception per call", async () => {
    const signals: AbortSignal[] = [];
    const transport = createRouterTransport((router) =>
      router.service(Health, {
        check(_request, ctx: HandlerContext) {
          signals.push(ctx.signal);
          expect(ctx.signal.aborted).toBe(false);
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        async *watch() {},
      }),
    );
    const health = createClient(Health, transport);
    await health.check({});
    await health.check({});

    expect(signals).toHaveLength(2);
    for (const signal of signals) {
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(DOMException);
      expect((signal.reason as DOMException).name).toBe("AbortError");
    }
    expect(signals[0]!.reason).toBe(signals[1]!.reason);
  });
});
