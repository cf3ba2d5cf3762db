import { chmod, mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";

/**
 * The directory of one job's files under the artifacts root: both created 0700 (only the bridge's user
 * reads the models), emptied of a previous attempt's leftovers. Job ids are the store's (`job_…`).
 */
export async function jobArtifactsDir(root: string, jobId: string): Promise<string> {
  if (!/^[\w-]{1,128}$/.test(jobId))
    throw new RangeError(`not a job id: ${JSON.stringify(jobId.slice(0, 64))}`);
  const base = resolve(root);
  const created = await mkdir(base, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(base, 0o700);
  const dir = join(base, jobId);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** The decrypted model's file name: `.zip` when it is one (the provider zips its LoRA output), else `.bin`. */
export function artifactFileName(taskId: string, head: Uint8Array): string {
  const zip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  return `fine-tuned-${taskId}.${zip ? "zip" : "bin"}`;
}
