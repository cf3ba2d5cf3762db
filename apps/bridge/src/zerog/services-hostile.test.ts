import { describe, expect, it } from "vitest";
import type { ZeroGBroker } from "./sdk.js";
import { ServiceDirectory } from "./services.js";

// Registry entries are written by providers: whatever a record holds, reading the registry stays cheap.

const record = (url: string) => ({
  provider: "0x00000000000000000000000000000000000000a1",
  serviceType: "chatbot",
  url,
  model: "m",
  verifiability: "TeeML",
  inputPrice: 1n,
  outputPrice: 1n,
  teeSignerAddress: "0x00000000000000000000000000000000000000b2",
  teeSignerAcknowledged: true,
  additionalInfo: "{}",
});

describe("a hostile registry record", () => {
  // A complexity check, not a speed target: trailing slashes were trimmed with /\/+$/, which backtracks over a
  // run of slashes not at the end (quadratic: 40 000 slashes blocked the event loop 0.5 s per registry read,
  // this input about a minute); trimmed from the end, it is linear.
  it("a URL of 400 000 slashes then a letter is read in one pass", async () => {
    const url = `http://p${"/".repeat(400_000)}x///`;
    const broker = {
      inference: { listService: async (offset: number) => (offset === 0 ? [record(url)] : []) },
    } as unknown as ZeroGBroker;
    const [read] = await new ServiceDirectory(broker, 60_000).records();
    expect(read?.url).toBe(url.slice(0, -3));
  }, 20_000);
});
