// @chaoschain/zerog-adapter for Node: gRPC over HTTP/2. Browsers: "@chaoschain/zerog-adapter/browser".
export { ZeroGComputeAdapter } from "./adapter.js";
export * from "./exports.js";
