// The benchmark's devnet, in a process of its own: prints its coordinates as one JSON line, then
// applies each JSON line read on stdin as provider faults ({"latencyMs": 250}) and answers "ok".
import { createInterface } from "node:readline";
import { startDevnet } from "@chaoschain/zerog-devnet";

console.log = () => {}; // the SDK's progress lines; stdout carries our protocol only
const devnet = await startDevnet({ providers: [{ model: "llama-3-8b" }] });
const [provider] = devnet.providers;
process.stdout.write(
  `${JSON.stringify({
    rpcUrl: devnet.rpcUrl,
    contracts: devnet.contracts,
    userPrivateKey: devnet.userPrivateKey,
    deployerPrivateKey: devnet.chain.accounts.deployer.privateKey,
    provider: provider.address,
    policy: devnet.policy,
    pccsUrl: devnet.pccs?.url,
  })}\n`,
);
for await (const line of createInterface({ input: process.stdin })) {
  await provider.setFaults(JSON.parse(line));
  process.stdout.write("ok\n");
}
await devnet.close();
process.exit(0);
