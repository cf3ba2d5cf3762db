// Sums a V8 CPU profile (`node --cpu-prof`, e.g. the bridge's with BENCH_PROFILE_DIR) by function and by
// module: self time (where the samples landed) and total time (the function on the stack), as ms and as a
// share of the busy time (all samples but "(idle)").
// Run: node bench/profile-summary.js <file.cpuprofile> [top=25] [--jobs=N: also ms per job]
//   [--from=S --to=S: only the samples between S and S seconds after the profile started (startup and
//   warm-up left out); --timeline: busy ms in each second, to choose them]
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a));
const top = Number(args.find((a) => /^\d+$/.test(a)) ?? 25);
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const jobs = Number(option("jobs") ?? Number.NaN);
const from = Number(option("from") ?? 0) * 1e6;
const to = Number(option("to") ?? Number.POSITIVE_INFINITY) * 1e6;
const timeline = args.includes("--timeline");
if (!file) {
  console.error("usage: node bench/profile-summary.js <file.cpuprofile> [top] [--jobs=N]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));

/** `pkg` for a node_modules file (the last node_modules in the path), `ours:<pkg>/…` for ours, else the URL kind. */
function moduleOf(url, name) {
  if (!url) return name.startsWith("(") ? name : "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return "node:internal";
  const ours = /\/(apps|packages)\/([^/]+)\/(?:dist|src)\/(.*)$/.exec(url);
  if (ours) return `ours:${ours[2]}`;
  return url;
}

const nodes = new Map();
for (const n of profile.nodes) nodes.set(n.id, n);
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (n) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^.*\/node_modules\//, "").replace(/^.*\/(apps|packages)\//, "");
  return `${functionName || "(anonymous)"} ${short}:${lineNumber + 1}`;
};

const selfByFn = new Map();
const selfByModule = new Map();
const totalByFn = new Map();
let busy = 0;
let idle = 0;
const perSecond = [];
const { samples, timeDeltas } = profile;
let at = 0;
for (let i = 0; i < samples.length; i++) {
  at += timeDeltas[i];
  const dt = (timeDeltas[i + 1] ?? 0) / 1000; // the delta after a sample is the time it stands for
  const node = nodes.get(samples[i]);
  const idleSample = node.callFrame.functionName === "(idle)";
  if (!idleSample) perSecond[Math.floor(at / 1e6)] = (perSecond[Math.floor(at / 1e6)] ?? 0) + dt;
  if (at < from || at >= to) continue;
  if (idleSample) {
    idle += dt;
    continue;
  }
  busy += dt;
  const fn = keyOf(node);
  selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + dt);
  const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
  selfByModule.set(mod, (selfByModule.get(mod) ?? 0) + dt);
  const seen = new Set();
  for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
    const k = keyOf(nodes.get(id));
    if (seen.has(k)) continue;
    seen.add(k);
    totalByFn.set(k, (totalByFn.get(k) ?? 0) + dt);
  }
}

const perJob = (ms) => (Number.isNaN(jobs) ? "" : ` ${(ms / jobs).toFixed(3).padStart(7)} ms/job`);
const table = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [k, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(
      `${ms.toFixed(0).padStart(8)} ms ${((ms / busy) * 100).toFixed(1).padStart(5)}%${perJob(ms)}  ${k}`,
    );
  }
};
if (timeline) console.log(Array.from(perSecond, (ms, s) => `${s}s:${(ms ?? 0).toFixed(0)}`).join(" "));
console.log(`busy ${busy.toFixed(0)} ms, idle ${idle.toFixed(0)} ms${perJob(busy)}`);
table("self time by module", selfByModule, top);
table("self time by function", selfByFn, top);
table("total time by function (on the stack)", totalByFn, top);
