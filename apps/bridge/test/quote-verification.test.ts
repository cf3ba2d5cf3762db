import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { toBinary, toJsonString } from "@bufbuild/protobuf";
import { ProofVerificationError, ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import {
  type ComputeResult,
  ComputeResultSchema,
  ComputeService,
  FailureReason,
  JobState,
} from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { type ConnectError, createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runDemo } from "../src/demo.js";
import { launch, type RunningBridge } from "../src/launcher.js";
import { grpcTransport } from "./clients.js";
import { task, testConfig } from "./harness.js";
import { spawnBridge } from "./process.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));
const verifyBin = fileURLToPath(
  new URL("../node_modules/@chaoschain/zerog-verifier/bin/zerog-verify.js", import.meta.url),
);

const execFileAsync = promisify(execFile);

/** Runs a command to its end without blocking this process's event loop (it serves the devnet). */
async function run(cmd: string, args: string[], cwd = repo) {
  try {
    return { code: 0, ...(await execFileAsync(cmd, args, { cwd })) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let devnet: Devnet;
beforeAll(async () => {
  devnet = await startDevnet();
});
afterAll(() => devnet?.close());
afterEach(async () => {
  devnet.pccs?.setFaults({});
  for (const p of devnet.providers) await p.setFaults({});
});

const llama = () => devnet.providers.filter((p) => p.models[0] === "llama-3-8b");
const rootSha256 = () => createHash("sha256").update(devnet.trust!.rootCaDer).digest("hex");

describe("the devnet's bridge (npm start's)", () => {
  it("writes the devnet's policy next to the job database every time it starts (--db moves both)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zerog-devnet-policy-"));
    const config = testConfig({ dbPath: join(dir, "jobs.db") });
    const first = await launch(config, pino({ level: "silent" }), { devnet });
    expect(first.devnetPolicyPath).toBe(join(dir, "devnet-policy.json"));
    expect(JSON.parse(readFileSync(join(dir, "devnet-policy.json"), "utf8"))).toEqual(devnet.policy);
    await first.stop();
    writeFileSync(join(dir, "devnet-policy.json"), "{}");
    const second = await launch(config, pino({ level: "silent" }), { devnet });
    await second.stop();
    expect(JSON.parse(readFileSync(join(dir, "devnet-policy.json"), "utf8"))).toEqual(devnet.policy);
  });

  it("fetches each provider's collateral from the devnet's PCCS once, embeds it byte for byte, and says what it checked", async () => {
    const running = await launch(testConfig(), pino({ level: "silent" }), { devnet });
    const zerog = new ZeroGComputeAdapter({
      grpcUrl: `127.0.0.1:${running.address.port}`,
      verify: { policy: devnet.policy },
    });
    try {
      const pinned = task({ provider_address: llama()[0]!.address });
      const before = devnet.pccs!.stats.tcb;
      const first = await zerog.result(await zerog.submit(pinned));
      for (let i = 0; i < 3; i++) await zerog.result(await zerog.submit(pinned));
      expect(devnet.pccs!.stats.tcb - before).toBe(1);
      const embedded = first.proof.tee?.collateral;
      expect(embedded).toMatchObject({
        sourceUrl: devnet.pccs!.url,
        fmspc: devnet.pccs!.fmspc,
        pckCa: "platform",
        tcbInfo: devnet.pccs!.responses.tdx.tcbInfo.signed,
        qeIdentity: devnet.pccs!.responses.tdx.qeIdentity.signed,
        rootCaCrl: new Uint8Array(devnet.pccs!.responses.rootCaCrl),
      });
      expect(Number(embedded?.fetchTime?.seconds)).toBeGreaterThan(Date.now() / 1000 - 600);
      expect(first.raw.bridgeChecks).toMatchObject({
        signatureVerified: true,
        quoteVerified: true,
        skipped: [],
        rootCaSha256: rootSha256(),
      });
      expect(first.verification).toMatchObject({ ok: true, collateral: "embedded", skipped: [] });
    } finally {
      zerog.close();
      await running.stop();
    }
  });

  it("serves results read back from the job store, also after a restart, byte for byte as the runs produced them; they verify offline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zerog-stored-results-"));
    const config = testConfig({ dbPath: join(dir, "jobs.db") });
    const provider = llama()[0]!;
    const sessions: Http2SessionManager[] = [];
    const computeOn = (bridge: RunningBridge) =>
      createClient(ComputeService, grpcTransport(`http://127.0.0.1:${bridge.address.port}`, sessions));
    const wire = (result: ComputeResult) => Buffer.from(toBinary(ComputeResultSchema, result));
    let running = await launch(config, pino({ level: "silent" }), { devnet });
    try {
      let compute = computeOn(running);
      // Slow answers: the waiting GetResults get each result as its run produced it, never read from the store.
      await provider.setFaults({ latencyMs: 300 });
      const ids = await Promise.all(
        [0, 1, 2].map(
          async (i) =>
            (
              await compute.submit({
                task: task({ provider_address: provider.address, inputs: { prompt: `stored ${i}` } }),
              })
            ).jobId,
        ),
      );
      const produced = await Promise.all(
        ids.map((jobId) => compute.getResult({ jobId, wait: true, timeoutSeconds: 60 })),
      );
      await provider.setFaults({});
      for (const [i, jobId] of ids.entries()) {
        expect(wire(await compute.getResult({ jobId }))).toEqual(wire(produced[i]!));
      }
      await running.stop();
      running = await launch(config, pino({ level: "silent" }), { devnet });
      compute = computeOn(running);
      const reread = await Promise.all(ids.map((jobId) => compute.getResult({ jobId })));
      for (const [i, result] of reread.entries()) expect(wire(result)).toEqual(wire(produced[i]!));
      expect(reread[0]!.proof?.tee?.collateral?.sourceUrl).toBe(devnet.pccs!.url);

      const db = new Database(config.dbPath, { readonly: true });
      const stored = db
        .prepare(
          "SELECT COUNT(*) AS n, MAX(length(result)) AS largest FROM job_payloads WHERE result IS NOT NULL",
        )
        .get() as { n: number; largest: number };
      const attestations = db.prepare("SELECT COUNT(*) AS n FROM attestations").get() as { n: number };
      db.close();
      expect(stored.n).toBe(3);
      expect(attestations.n).toBe(1);
      expect(stored.largest).toBeLessThan(wire(reread[0]!).length / 4);

      const file = join(dir, "result.json");
      const policy = join(dir, "devnet-policy.json");
      writeFileSync(file, toJsonString(ComputeResultSchema, reread[2]!));
      writeFileSync(policy, JSON.stringify(devnet.policy));
      const valid = await run(process.execPath, [verifyBin, "proof", file, "--policy", policy]);
      expect(valid.code, valid.stdout).toBe(0);
      expect(valid.stdout).toMatch(/^VALID proof\n/);
    } finally {
      for (const session of sessions) session.abort();
      await running.stop();
    }
  });

  it("the demo says the root is the devnet's test root, writes the result, and prints the README's command, which re-verifies it as printed", async () => {
    // A working directory inside the repository (test-results/ is ignored), as npm start's: the job
    // database and what the demo writes go to its .zerog/.
    const cwd = join(here, "../test-results");
    mkdirSync(cwd, { recursive: true });
    const dir = mkdtempSync(join(cwd, "demo-"));
    const running = await launch(
      testConfig({ dbPath: join(dir, ".zerog/jobs.db") }),
      pino({ level: "silent" }),
      {
        devnet,
      },
    );
    let printed = "";
    const out = new Writable({
      write(chunk, _enc, done) {
        printed += chunk.toString();
        done();
      },
    });
    try {
      const ok = await runDemo({
        grpcUrl: `127.0.0.1:${running.address.port}`,
        apiKey: undefined,
        policy: running.verification.policy,
        policyPath: running.devnetPolicyPath,
        devnetRootSha256: running.verification.gate.checks.rootCaSha256,
        resultPath: join(dir, ".zerog/demo-result.json"),
        cwd: dir,
        out,
      });
      expect(ok).toBe(true);
    } finally {
      await running.stop();
    }
    expect(printed).toContain("task:     the request the enclave signed is the one this task maps to");
    expect(printed).toContain("verification: verified");
    expect(printed).toContain(`collateral: embedded in the proof, fetched from ${devnet.pccs!.url}`);
    expect(printed).toContain(
      `trust anchor: the devnet's synthetic TEST root CA (sha256 ${rootSha256().slice(0, 16)}…), NOT Intel's SGX Root CA`,
    );
    const command = /^ {2}(npx zerog-verify proof .*)$/m.exec(printed)?.[1] as string;
    for (const readme of ["../README.md", "../../../README.md"])
      expect(readFileSync(join(here, readme), "utf8")).toContain(`\n${command}\n`);
    const verified = await run("/bin/sh", ["-c", command], dir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^VALID proof\n/);
    const intel = await run("/bin/sh", ["-c", command.replace(/ --policy .*$/, "")], dir);
    expect(intel.code).toBe(1);
    expect(intel.stdout).toMatch(/^INVALID proof: untrusted_root: the quote chains to an untrusted root CA/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("a bridge configured as for 0G testnet (--network custom, --pccs-url, --policy)", () => {
  it("a result fetched with GetResult over Connect JSON (curl) verifies offline with only the devnet's policy file", async () => {
    const bridge = await spawnBridge(devnet);
    try {
      const { jobId } = await bridge.compute().submit({ task: task() });
      const dir = mkdtempSync(join(tmpdir(), "zerog-curl-"));
      const result = join(dir, "result.json");
      const policy = join(dir, "devnet-policy.json");
      writeFileSync(policy, JSON.stringify(devnet.policy));
      const curl = await run("curl", [
        "-sS",
        "--fail-with-body",
        "-o",
        result,
        "-H",
        "content-type: application/json",
        "-d",
        JSON.stringify({ jobId, wait: true, timeoutSeconds: 60 }),
        `${bridge.baseUrl}/chaoschain.zerog.v1.ComputeService/GetResult`,
      ]);
      expect(curl.code, curl.stdout + curl.stderr).toBe(0);
      const json = JSON.parse(readFileSync(result, "utf8"));
      expect(json.proof.tee.collateral.sourceUrl).toBe(devnet.pccs!.url);
      expect(json.bridgeChecks).toMatchObject({ signatureVerified: true, quoteVerified: true });

      const valid = await run(process.execPath, [verifyBin, "proof", result, "--policy", policy]);
      expect(valid.code, valid.stdout).toBe(0);
      expect(valid.stdout).toMatch(/^VALID proof\n {2}TCB status: UpToDate\n/);
      expect(valid.stdout).not.toContain("not checked");

      const intel = await run(process.execPath, [verifyBin, "proof", result]);
      expect(intel.code).toBe(1);
      expect(intel.stdout).toMatch(
        /^INVALID proof: untrusted_root: the quote chains to an untrusted root CA "ChaosChain TEST SGX Root CA" .*, not the policy's trust anchor "Intel SGX Root CA"/,
      );

      const tampered = join(dir, "tampered.json");
      writeFileSync(tampered, JSON.stringify({ ...json, output: `${json.output} (edited)` }));
      const edited = await run(process.execPath, [verifyBin, "proof", tampered, "--policy", policy]);
      expect(edited.code).toBe(1);
      expect(edited.stdout).toMatch(/^INVALID proof: output_mismatch: /);
    } finally {
      await bridge.dispose();
    }
  });

  it("refuses a provider whose quote does not verify before sending it anything, and fails over", async () => {
    const [forger, honest] = llama() as [Devnet["providers"][0], Devnet["providers"][0]];
    await forger.setFaults({ forgeQuote: true });
    const bridge = await spawnBridge(devnet);
    try {
      const client = bridge.compute();
      const chats = forger.stats.chatRequests;
      const pinned = await client.submit({ task: task({ provider_address: forger.address }) });
      const err = await client
        .getResult({ jobId: pinned.jobId, wait: true, timeoutSeconds: 60 })
        .catch((e: ConnectError) => e);
      const job = await client.getJob({ jobId: pinned.jobId });
      expect(job.state).toBe(JobState.FAILED);
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
      expect(job.error?.message).toContain(
        `the TEE attestation of provider ${forger.address} does not verify: quote.signature_chain: quote_signature_invalid`,
      );
      expect((err as ConnectError).rawMessage).toContain("proof_invalid");
      expect(forger.stats.chatRequests).toBe(chats); // no request, no payment, no user data

      const any = await client.submit({ task: task() });
      await client.getResult({ jobId: any.jobId, wait: true, timeoutSeconds: 60 });
      expect((await client.getJob({ jobId: any.jobId })).providerAddress.toLowerCase()).toBe(
        honest.address.toLowerCase(),
      );
      expect(forger.stats.chatRequests).toBe(chats);
    } finally {
      await bridge.dispose();
    }
  });

  it("fails jobs closed with collateral_unavailable when the PCCS cannot answer", async () => {
    devnet.pccs!.setFaults({ status: 503, endpoints: ["tcb"] });
    const bridge = await spawnBridge(devnet);
    try {
      const client = bridge.compute();
      const { jobId } = await client.submit({ task: task() });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      const job = await client.getJob({ jobId });
      expect(job.error?.reason).toBe(FailureReason.COLLATERAL_UNAVAILABLE);
      expect(job.error?.message).toContain(`${devnet.pccs!.url}/tdx/certification/v4/tcb?fmspc=`);
      expect(job.error?.message).toContain("answered 503");
    } finally {
      await bridge.dispose();
    }
  });

  it("without --policy it checks under Intel's root: the devnet's quotes are refused (untrusted_root)", async () => {
    const bridge = await spawnBridge(devnet, { args: ["--policy="] });
    try {
      const client = bridge.compute();
      const { jobId } = await client.submit({ task: task() });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      const job = await client.getJob({ jobId });
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
      expect(job.error?.message).toContain(
        "does not verify: quote.signature_chain: untrusted_root: the quote chains to an untrusted root CA",
      );
    } finally {
      await bridge.dispose();
    }
  });

  it("--unsafe-skip-quote-verification lets a forged quote through, and every result says the quote was skipped", async () => {
    const [forger] = llama() as [Devnet["providers"][0]];
    await forger.setFaults({ forgeQuote: true });
    const bridge = await spawnBridge(devnet, { args: ["--unsafe-skip-quote-verification"] });
    const zerog = new ZeroGComputeAdapter({
      grpcUrl: bridge.baseUrl,
      verify: { policy: devnet.policy },
    });
    try {
      const client = bridge.compute();
      const { jobId } = await client.submit({ task: task({ provider_address: forger.address }) });
      const result = await client.getResult({ jobId, wait: true, timeoutSeconds: 60 });
      expect(result.bridgeChecks).toMatchObject({
        signatureVerified: true,
        quoteVerified: false,
        skipped: ["quote"],
      });
      expect(result.proof?.tee?.collateral).toBeUndefined();
      expect(bridge.stderr()).toContain("UNSAFE: TEE quotes are not verified");
      // A client that verifies is not fooled: no collateral, no verified quote.
      const err = await zerog.result(jobId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProofVerificationError);
      expect((err as ProofVerificationError).report.reason).toBe("collateral_missing");
    } finally {
      zerog.close();
      await bridge.dispose();
    }
  });
});
