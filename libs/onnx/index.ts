// ONNX for the flush policy: writes the PPO actor as an ONNX ModelProto (hand-encoded
// protobuf, field numbers from onnx.proto), reads such models back into the
// in-process Mlp, and checks an export against onnxruntime-node.
export { BATCH_DIM, decodePolicyModel, encodePolicyModel, IR_VERSION, OPSET, POLICY_INPUT, POLICY_OUTPUT } from './model.js';
export type { DecodedPolicyModel } from './model.js';
export { compareWithOnnxRuntime, loadPolicyModel } from './runtime.js';
export type { RuntimeComparison } from './runtime.js';
export { ProtoFormatError } from './wire.js';
export { publishPolicyModel } from './publish.js';
export type { PublishedModel } from './publish.js';
