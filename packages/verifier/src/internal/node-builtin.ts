/**
 * A Node built-in module (`node:crypto`, …) where the verifier runs in Node, else undefined (browsers):
 * the verifier imports nothing of Node, so bundlers for the browser see no Node import.
 */
export function nodeBuiltin<T>(id: string): T | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return process?.getBuiltinModule?.(id) as T | undefined;
}
