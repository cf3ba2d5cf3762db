import { expect, it } from "vitest";
import * as exports from "./index.js";

it("exports exactly the public API (a change here is a change to the package's contract)", () => {
  expect(Object.keys(exports).sort()).toMatchSnapshot();
});
