import type { DescEnum } from "@bufbuild/protobuf";
import {
  JobStateSchema,
  jobStateFromName,
  jobStateName,
  TaskTypeSchema,
  taskTypeFromName,
  taskTypeName,
  VerificationMethodSchema,
  verificationFromName,
  verificationName,
} from "@chaoschain/zerog-core";

/**
 * The short names the contract documents beside the enum value names: the original Python adapter's
 * task dictionary is the snake_case JSON of ComputeTask (`"task_type": "inference"`,
 * `"verification": "zk-ml"`), and job states read as `"failed"` or `"FAILED"`.
 */
const aliases: Record<
  string,
  { fromName(name: string): number | undefined; name(value: number): string | undefined }
> = {
  [TaskTypeSchema.typeName]: { fromName: taskTypeFromName, name: taskTypeName },
  [VerificationMethodSchema.typeName]: { fromName: verificationFromName, name: verificationName },
  [JobStateSchema.typeName]: { fromName: jobStateFromName, name: jobStateName },
};

/** The value named `name`: its proto name (`VERIFICATION_METHOD_ZK_ML`) or a documented alias (`zk-ml`). */
export function enumValueFromName(desc: DescEnum, name: string): number | undefined {
  const exact = desc.values.find((v) => v.name === name);
  if (exact) return exact.number;
  const value = aliases[desc.typeName]?.fromName(name);
  return value !== undefined && desc.values.some((v) => v.number === value) ? value : undefined;
}

export function isEnumValue(desc: DescEnum, value: number): boolean {
  return desc.values.some((v) => v.number === value);
}

/**
 * The values a field accepts, for error messages: `"VERIFICATION_METHOD_TEE_ML" ("tee-ml", 1), …`;
 * the zero value (`*_UNSPECIFIED`) is left out, as it never names a choice.
 */
export function acceptedEnumValues(desc: DescEnum): string {
  const alias = aliases[desc.typeName];
  return desc.values
    .filter((v) => v.number !== 0)
    .map((v) => {
      const short = alias?.name(v.number);
      return `"${v.name}" (${short ? `"${short}", ` : ""}${v.number})`;
    })
    .join(", ");
}
