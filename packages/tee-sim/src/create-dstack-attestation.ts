import { sha256, sha384 } from "@noble/hashes/sha2.js";
import {
  type CreateCollateralParameters,
  createCollateral,
  type DcapCollateral,
} from "./create-collateral.js";
import { type CreateTdxQuoteParameters, createTdxQuote } from "./create-tdx-quote.js";
import type { TestPki } from "./create-test-pki.js";
import { createNrasToken, type NrasKey } from "./nras.js";
import { type ReportDataBinding, reportDataFor } from "./report-data.js";
import { bytesToHex, concatBytes, hexToBytes, toBase64, u32le, utf8ToBytes } from "./util.js";

/** dstack's event type for runtime (RTMR3) events. */
export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;

/** One entry of a dstack event log (the JSON array served as `event_log`). */
export interface DstackEvent {
  imr: number;
  event_type: number;
  /** hex SHA-384 digest extended into the RTMR. */
  digest: string;
  event: string;
  /** hex */
  event_payload: string;
}

/** dstack rule: digest = sha384(u32le(event_type) ‖ ":" ‖ event ‖ ":" ‖ payload). */
export function dstackEventDigest(eventType: number, event: string, payload: Uint8Array): Uint8Array {
  return sha384(
    concatBytes(u32le(eventType), utf8ToBytes(":"), utf8ToBytes(event), utf8ToBytes(":"), payload),
  );
}

export function runtimeEvent(event: string, payload: Uint8Array): DstackEvent {
  return {
    imr: 3,
    event_type: DSTACK_RUNTIME_EVENT_TYPE,
    digest: bytesToHex(dstackEventDigest(DSTACK_RUNTIME_EVENT_TYPE, event, payload)),
    event,
    event_payload: bytesToHex(payload),
  };
}

/** Replays the events of one IMR: mr = sha384(mr ‖ digest), from 48 zero bytes. */
export function replayImr(events: DstackEvent[], imr: number): Uint8Array {
  let mr = new Uint8Array(48);
  for (const e of events) {
    if (e.imr !== imr) continue;
    const d = hexToBytes(e.digest);
    const padded = new Uint8Array(48);
    padded.set(d.subarray(0, 48));
    mr = sha384(concatBytes(mr, padded));
  }
  return mr;
}

export interface CreateDstackAttestationParameters {
  pki: TestPki;
  /** The enclave signing address (0x…). */
  signingAddress: string;
  binding: ReportDataBinding;
  /** X25519 public key (32 bytes) for "enc-pub-v1". */
  encPubkey?: Uint8Array | undefined;
  /** dstack app compose (JSON text); its sha256 is the compose hash. */
  appCompose: string;
  now: number;
  gpu?: { nrasKey: NrasKey; overallResult?: boolean; nonce?: string; arch?: string } | undefined;
  /** Override quote fields (e.g. a wrong rtmr3, version 5). `reportData` overrides the binding. */
  quote?: Partial<Omit<CreateTdxQuoteParameters, "pki">> | undefined;
  /** Options for the collateral (centred on `now`). */
  collateral?: Partial<Omit<CreateCollateralParameters, "pki" | "now">> | undefined;
  /** Replace the event log (e.g. to tamper with a payload) after the quote is built from the honest log. */
  mutateEventLog?: ((events: DstackEvent[]) => DstackEvent[]) | undefined;
  /**
   * Edit the event log *before* the quote is built, so the quote's RTMRs are the replay of the edited log
   * (what a workload that extends RTMR3 itself produces, e.g. a second `compose-hash` after `system-ready`).
   */
  editEvents?: ((events: DstackEvent[]) => DstackEvent[]) | undefined;
}

export interface DstackQuoteBody {
  /** hex quote */
  quote: string;
  /** JSON text of a DstackEvent[] */
  event_log: string;
  /** base64 of the 64-byte REPORTDATA */
  report_data: string;
  tcb_info: {
    app_compose: string;
    compose_hash: string;
    mrtd: string;
    rtmr0: string;
    rtmr1: string;
    rtmr2: string;
    rtmr3: string;
    event_log: DstackEvent[];
  };
  vm_config?: string;
  nvidia_payload?: {
    nonce: string;
    evidence_list: Array<{ certificate: string; evidence: string; arch: string }>;
    arch: string;
  };
  nras_token?: string;
}

export interface CreateDstackAttestationReturnType {
  /** JSON body a 0G/dstack provider serves at GET /v1/quote. */
  body: DstackQuoteBody;
  quote: Uint8Array;
  reportData: Uint8Array;
  /** hex sha256(appCompose) */
  composeHash: string;
  /** "sha256:" + composeHash (the proof's docker_digest). */
  dockerDigest: string;
  /** hex */
  mrtd: string;
  /** hex RTMR0..3 as in the quote */
  rtmrs: [string, string, string, string];
  eventLog: DstackEvent[];
  collateral: DcapCollateral;
  /** hex(sha256(reportData)) when GPU evidence is included. */
  gpuNonce?: string;
}

/**
 * Builds what a dstack-based 0G provider serves at GET /v1/quote: a TDX quote whose REPORTDATA binds
 * `signingAddress`, whose RTMR0..3 are the replay of the event log (RTMR3 includes the `compose-hash`
 * event), plus matching collateral and optional NVIDIA evidence with an NRAS token.
 */
export function createDstackAttestation(
  p: CreateDstackAttestationParameters,
): CreateDstackAttestationReturnType {
  const { pki } = p;
  const reportData = p.quote?.reportData ?? reportDataFor(p.signingAddress, p.binding, p.encPubkey);
  const composeHashBytes = sha256(utf8ToBytes(p.appCompose));
  const composeHash = bytesToHex(composeHashBytes);

  let events: DstackEvent[] = [];
  for (let imr = 0; imr < 3; imr++) {
    for (let i = 0; i < 3; i++) {
      const payload = pki.derive(`boot-event-${imr}-${i}`, 16);
      events.push({
        imr,
        event_type: 0x80000001 + i,
        digest: bytesToHex(sha384(payload)),
        event: "",
        event_payload: bytesToHex(payload),
      });
    }
  }
  const appId = pki.derive("app-id", 20);
  events.push(
    runtimeEvent("system-preparing", new Uint8Array(0)),
    runtimeEvent("app-id", appId),
    runtimeEvent("compose-hash", composeHashBytes),
    runtimeEvent("instance-id", pki.derive("instance-id", 20)),
    runtimeEvent("boot-mr-done", new Uint8Array(0)),
    runtimeEvent("key-provider", utf8ToBytes(JSON.stringify({ name: "test-kms", id: bytesToHex(appId) }))),
    runtimeEvent("system-ready", new Uint8Array(0)),
  );
  if (p.editEvents) events = p.editEvents(structuredClone(events));
  const hex = (b: Uint8Array) => bytesToHex(b);
  const rtmrs = [0, 1, 2, 3].map((i) => hex(replayImr(events, i))) as [string, string, string, string];
  const mrtd = hex(pki.derive("mrtd", 48));
  const quote = createTdxQuote({
    pki,
    mrtd,
    rtmr0: rtmrs[0],
    rtmr1: rtmrs[1],
    rtmr2: rtmrs[2],
    rtmr3: rtmrs[3],
    ...p.quote,
    reportData,
  });
  const finalEvents = p.mutateEventLog ? p.mutateEventLog(structuredClone(events)) : events;
  const q = (name: "mrtd" | "rtmr0" | "rtmr1" | "rtmr2" | "rtmr3", dflt: string) => {
    const v = p.quote?.[name];
    return v === undefined ? dflt : typeof v === "string" ? v.replace(/^0x/i, "") : hex(v);
  };
  const quoted = {
    mrtd: q("mrtd", mrtd),
    rtmr0: q("rtmr0", rtmrs[0]),
    rtmr1: q("rtmr1", rtmrs[1]),
    rtmr2: q("rtmr2", rtmrs[2]),
    rtmr3: q("rtmr3", rtmrs[3]),
  };
  const body: DstackQuoteBody = {
    quote: hex(quote),
    event_log: JSON.stringify(finalEvents),
    report_data: toBase64(reportData),
    tcb_info: { app_compose: p.appCompose, compose_hash: composeHash, ...quoted, event_log: finalEvents },
    vm_config: JSON.stringify({
      spec_version: 1,
      os_image_hash: hex(pki.derive("os-image", 32)),
      cpu_count: 8,
    }),
  };
  const result: CreateDstackAttestationReturnType = {
    body,
    quote,
    reportData,
    composeHash,
    dockerDigest: `sha256:${composeHash}`,
    mrtd: quoted.mrtd,
    rtmrs: [quoted.rtmr0, quoted.rtmr1, quoted.rtmr2, quoted.rtmr3],
    eventLog: finalEvents,
    collateral: createCollateral({ ...p.collateral, pki, now: p.now }),
  };
  if (p.gpu) {
    const nonce = p.gpu.nonce ?? hex(sha256(reportData));
    const arch = p.gpu.arch ?? "HOPPER";
    body.nvidia_payload = {
      nonce,
      evidence_list: [
        {
          certificate: toBase64(pki.derive("gpu-cert", 96)),
          evidence: toBase64(pki.derive("gpu-evidence", 128)),
          arch,
        },
      ],
      arch,
    };
    body.nras_token = createNrasToken({
      key: p.gpu.nrasKey,
      nonce,
      now: p.now,
      overallResult: p.gpu.overallResult ?? true,
    });
    result.gpuNonce = nonce;
  }
  return result;
}
