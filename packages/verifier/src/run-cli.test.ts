import { readFileSync } from "node:fs";
import { type PccsSimulatorHandle, startPccsSimulator } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hex, makeFixture, NOW, pki, toProtoJson } from "../test/fixtures.js";
import { type CliIo, runCli } from "./run-cli.js";

const dir = new URL("../test/vectors/dcap/", import.meta.url);
const enc = (s: string) => new TextEncoder().encode(s);

function io(files: Record<string, Uint8Array | string>) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error("ENOENT: no such file");
      return typeof f === "string" ? enc(f) : f;
    },
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    now: () => NOW,
  };
  return { cli, out: () => out.join(""), err: () => err.join("") };
}

const tdx = new Uint8Array(readFileSync(new URL("tdx_quote", dir)));
const files = {
  "tdx.bin": tdx,
  "tdx.hex": `0x${Buffer.from(tdx).toString("hex")}\n`,
  "tdx.json": readFileSync(new URL("tdx_quote_collateral.json", dir), "utf8"),
  "sgx.bin": new Uint8Array(readFileSync(new URL("sgx_quote", dir))),
  "sgx.json": readFileSync(new URL("sgx_quote_collateral.json", dir), "utf8"),
  "bad.json": "{nope",
};

describe("zerog-verify quote", () => {
  it.each(["tdx.bin", "tdx.hex"])("%s is valid (exit 0)", async (file) => {
    const t = io(files);
    expect(await runCli(["quote", file, "--collateral", "tdx.json", "--now", "1751624191"], t.cli)).toBe(0);
    expect(t.out()).toMatch(/^VALID quote\n {2}TCB status: UpToDate\n/);
  });
  it("--json prints the report with TCB status and advisories", async () => {
    const t = io(files);
    const policy = JSON.stringify({
      tee: { allowedTeeTypes: ["sgx"], allowedTcbStatuses: ["ConfigurationAndSWHardeningNeeded"] },
    });
    const code = await runCli(
      ["quote", "sgx.bin", "--collateral", "sgx.json", "--now", "1751624924", "--json", "--policy", "p.json"],
      io({ ...files, "p.json": policy }).cli,
    );
    expect(code).toBe(0);
    const sgxOnly = JSON.stringify({ tee: { allowedTeeTypes: ["sgx"] } });
    const args = [
      "quote",
      "sgx.bin",
      "--collateral",
      "sgx.json",
      "--now",
      "1751624924",
      "--json",
      "--policy",
      "s.json",
    ];
    const t2 = io({ ...files, "s.json": sgxOnly });
    expect(await runCli(args, t2.cli)).toBe(1);
    Object.assign(t, t2);
    const report = JSON.parse(t.out());
    expect(report).toMatchObject({
      ok: false,
      reason: "tcb_status_not_allowed",
      tcbStatus: "ConfigurationAndSWHardeningNeeded",
      advisoryIds: ["INTEL-SA-00289", "INTEL-SA-00615"],
    });
  });
  it("invalid quote: exit 1 with the reason", async () => {
    const t = io(files);
    expect(await runCli(["quote", "tdx.bin", "--collateral", "tdx.json", "--now", "1752920164"], t.cli)).toBe(
      1,
    );
    expect(t.out()).toMatch(/^INVALID quote: collateral_expired: /);
  });
  it.each([
    [[], /missing command/],
    [["frobnicate", "x"], /unknown command/],
    [["quote", "tdx.bin", "--now", "1"], /--collateral or --pccs-url is required/],
    [["quote", "tdx.bin", "--collateral", "tdx.json"], /--now is required/],
    [["quote", "tdx.bin", "--collateral", "tdx.json", "--now", "yesterday"], /unix seconds/],
    [["quote", "tdx.bin", "--bogus"], /unknown option/],
    [["quote", "missing.bin", "--collateral", "tdx.json", "--now", "1"], /cannot read quote missing.bin/],
    [["quote", "tdx.bin", "--collateral", "bad.json", "--now", "1"], /not valid JSON/],
    [["quote", "tdx.bin", "--collateral", "sgx.bin", "--now", "1"], /not valid JSON/],
  ] as const)("usage/input error %j: exit 2", async (argv, msg) => {
    const t = io(files);
    expect(await runCli([...argv], t.cli)).toBe(2);
    expect(t.err()).toMatch(msg);
  });
  it("--help: exit 0", async () => {
    const t = io(files);
    expect(await runCli(["--help"], t.cli)).toBe(0);
    expect(t.out()).toContain("Exit codes: 0 valid, 1 invalid");
  });
});

describe("zerog-verify proof", () => {
  const fx = makeFixture();
  const proofFiles = {
    "result.json": JSON.stringify(toProtoJson(fx.result, "snake")),
    "proof.json": JSON.stringify(toProtoJson(fx.result, "camel")),
    "policy.json": JSON.stringify({
      ...fx.policy,
      tee: {
        ...fx.policy.tee,
        rootCaDer: Buffer.from(fx.policy.tee?.rootCaDer as Uint8Array).toString("hex"),
      },
    }),
    "collateral.json": JSON.stringify(fx.collateral),
  };
  it("a ComputeResult in proto JSON is valid (clock injected)", async () => {
    const t = io(proofFiles);
    expect(
      await runCli(
        ["proof", "result.json", "--policy", "policy.json", "--collateral", "collateral.json"],
        t.cli,
      ),
    ).toBe(0);
    expect(t.out()).toContain("ok   response.signature");
  });
  it("a tampered output is invalid (exit 1)", async () => {
    const r = JSON.parse(proofFiles["result.json"]);
    r.output = `${r.output}!`;
    const t = io({ ...proofFiles, "result.json": JSON.stringify(r) });
    expect(
      await runCli(
        [
          "proof",
          "result.json",
          "--policy",
          "policy.json",
          "--collateral",
          "collateral.json",
          "--now",
          String(NOW),
        ],
        t.cli,
      ),
    ).toBe(1);
    expect(t.out()).toMatch(/^INVALID proof: output_mismatch/);
  });
  it("attacker text cannot move the terminal's cursor: control characters are printed escaped", async () => {
    // a terminal would show "VALID proof" over the INVALID verdict: carriage return, erase line, cursor up
    const spoof = "\r\u001b[2KVALID proof\n  ok   tee.type\u001b[1A\u009b2K";
    const r = JSON.parse(proofFiles["result.json"]);
    r.proof.tee.tee_type = spoof;
    r.proof.method = spoof;
    const t = io({ ...proofFiles, "result.json": JSON.stringify(r) });
    const args = ["proof", "result.json", "--policy", "policy.json", "--collateral", "collateral.json"];
    expect(await runCli(args, t.cli)).toBe(1);
    expect(t.out()).toMatch(/^INVALID proof: method_unsupported: method "\\r\\u001b\[2KVALID proof\\n/);
    const controls = [...t.out()].filter((c) => c !== "\n" && (c < " " || (c >= "\u007f" && c <= "\u009f")));
    expect(controls).toEqual([]);
    expect(
      t
        .out()
        .split("\n")
        .filter((l) => l.startsWith("VALID")),
    ).toEqual([]);
  });
  it("without collateral the proof is invalid, not an error", async () => {
    const t = io(proofFiles);
    expect(await runCli(["proof", "proof.json", "--policy", "policy.json", "--json"], t.cli)).toBe(1);
    expect(JSON.parse(t.out()).reason).toBe("collateral_missing");
  });
  it("malformed proof field (attacker input): exit 1 naming the field", async () => {
    const r = JSON.parse(proofFiles["result.json"]);
    r.proof.request_body = 12;
    const t = io({ ...proofFiles, "result.json": JSON.stringify(r) });
    expect(await runCli(["proof", "result.json", "--collateral", "collateral.json"], t.cli)).toBe(1);
    expect(t.out()).toMatch(/^INVALID proof: proof_malformed: Invalid proof.request_body/);
  });
  it("a proof file that is not JSON is an invalid proof (exit 1)", async () => {
    const t = io({ ...proofFiles, "result.json": "{nope" });
    expect(await runCli(["proof", "result.json"], t.cli)).toBe(1);
    expect(t.out()).toMatch(/^INVALID proof: proof_malformed: the proof file is not JSON/);
  });
  it.each(["null", "[]", '"proof"', "42"])(
    "a proof file of JSON %s is an invalid proof (exit 1)",
    async (json) => {
      const t = io({ ...proofFiles, "result.json": json });
      expect(await runCli(["proof", "result.json"], t.cli)).toBe(1);
      expect(t.out()).toMatch(/^INVALID proof: proof_malformed: the proof file is not a JSON object/);
    },
  );
  it("ambiguous input (a flattened result) is caller misuse: exit 2", async () => {
    const r = JSON.parse(proofFiles["result.json"]);
    const t = io({ ...proofFiles, "result.json": JSON.stringify({ ...r.proof, output: r.output }) });
    expect(await runCli(["proof", "result.json", "--policy", "policy.json"], t.cli)).toBe(2);
    expect(t.err()).toContain("Invalid result: ambiguous");
  });
  it("an invalid policy is caller misuse: exit 2 naming the field", async () => {
    const t = io({ ...proofFiles, "policy.json": JSON.stringify({ tee: { mrTD: [] } }) });
    expect(await runCli(["proof", "result.json", "--policy", "policy.json"], t.cli)).toBe(2);
    expect(t.err()).toContain("policy.tee.mrTD");
  });
  it("VALID lists what was not checked; --strict and --require turn skips into failures", async () => {
    const loose = JSON.stringify({
      tee: { rootCaDer: JSON.parse(proofFiles["policy.json"]).tee.rootCaDer },
      gpu: { jwks: fx.policy.gpu?.jwks },
    });
    const files = { ...proofFiles, "loose.json": loose };
    const base = ["proof", "result.json", "--policy", "loose.json", "--collateral", "collateral.json"];
    const t = io(files);
    expect(await runCli(base, t.cli)).toBe(0);
    expect(t.out()).toMatch(
      /^VALID proof\n {2}TCB status: UpToDate\n {2}not checked \(2\): tee.measurements \(not_pinned\), tee.workload \(not_pinned\)\n/,
    );
    expect(t.out()).toContain("  skip tee.measurements [not_pinned]: ");
    const strict = io(files);
    expect(await runCli([...base, "--strict"], strict.cli)).toBe(1);
    expect(strict.out()).toMatch(/^INVALID proof: check_skipped: skipped \(not_pinned/);
    const required = io(files);
    expect(await runCli([...base, "--require", "tee.workload"], required.cli)).toBe(1);
    expect(required.out()).toContain("FAIL tee.workload [check_skipped]");
    const unknown = io(files);
    expect(await runCli([...base, "--require", "tee.all"], unknown.cli)).toBe(2);
  });
});

describe("zerog-verify --pccs-url", () => {
  const fx = makeFixture();
  let pccs: PccsSimulatorHandle;
  beforeAll(async () => {
    pccs = await startPccsSimulator({ pki, now: NOW });
  });
  afterAll(() => pccs.close());
  const files = {
    "quote.bin": fx.result.proof.attestation as Uint8Array,
    "result.json": JSON.stringify(toProtoJson(fx.result)),
    "policy.json": JSON.stringify({ ...fx.policy, tee: { ...fx.policy.tee, rootCaDer: hex(pki.rootCaDer) } }),
  };

  it("fetches the collateral of a quote or a proof from a PCCS (no --now: the clock)", async () => {
    const quote = io(files);
    expect(
      await runCli(["quote", "quote.bin", "--pccs-url", pccs.url, "--policy", "policy.json"], quote.cli),
    ).toBe(0);
    expect(quote.out()).toMatch(/^VALID quote\n/);
    const proof = io(files);
    expect(
      await runCli(["proof", "result.json", "--pccs-url", pccs.url, "--policy", "policy.json"], proof.cli),
    ).toBe(0);
  });

  it("an unavailable collateral is exit 2 naming the URL, the status and what to do", async () => {
    pccs.setFaults({ status: 503, endpoints: ["tcb"] });
    const t = io(files);
    try {
      expect(await runCli(["quote", "quote.bin", "--pccs-url", pccs.url], t.cli)).toBe(2);
    } finally {
      pccs.setFaults({});
    }
    expect(t.err()).toContain(
      `zerog-verify: Collateral unavailable: GET ${pccs.url}/tdx/certification/v4/tcb?fmspc=`,
    );
    expect(t.err()).toContain("answered 503 Service Unavailable");
    expect(t.err()).toContain("worth retrying later");
  });

  it("--collateral and --pccs-url together are a usage error", async () => {
    const t = io(files);
    expect(
      await runCli(["quote", "quote.bin", "--pccs-url", pccs.url, "--collateral", "c.json"], t.cli),
    ).toBe(2);
    expect(t.err()).toContain("give one of --collateral and --pccs-url");
  });
});
