import { describe, expect, it } from "vitest";
import { BaseError } from "./base.js";
import { InvalidInputError } from "./input.js";

describe("errors", () => {
  it("InvalidInputError names the field and carries code, metaMessages, docs and cause", () => {
    const cause = new SyntaxError("Unexpected token");
    const e = new InvalidInputError("collateral", "not valid JSON", {
      cause,
      metaMessages: ["Pass the dcap-qvl JSON shape."],
    });
    expect(e).toBeInstanceOf(BaseError);
    expect(e).toMatchObject({
      name: "InvalidInputError",
      field: "collateral",
      code: "invalid_input",
      shortMessage: "Invalid collateral: not valid JSON",
    });
    expect(e.message).toContain("Pass the dcap-qvl JSON shape.");
    expect(e.message).toContain("Details: Unexpected token");
    expect(e.message).toContain("#errors");
    expect(e.walk()).toBe(cause);
    expect(e.walk((x) => x instanceof SyntaxError)).toBe(cause);
  });
});
