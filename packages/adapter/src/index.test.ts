import { expect, it } from "vitest";
import * as browser from "./browser.js";
import * as exports from "./index.js";

it("exports exactly the public API (a change here is a change to the package's contract)", () => {
  expect(Object.keys(exports).sort()).toMatchSnapshot();
});

it("the browser entry exports the same API as the Node entry", () => {
  expect(Object.keys(browser).sort()).toEqual(Object.keys(exports).sort());
});
