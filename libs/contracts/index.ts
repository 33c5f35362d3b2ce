// The wire: TypeScript generated from proto/batchgate/v1 by `npm run proto`
// (buf + protoc-gen-es). Never edit gen/ by hand; change the .proto and regenerate.
export * from './gen/batchgate/v1/http_pb.js';
export * from './gen/batchgate/v1/coordinator_pb.js';
export * from './gen/batchgate/v1/policy_pb.js';
export * from './gen/batchgate/v1/worker_pb.js';
export * from './gen/batchgate/v1/events_pb.js';
export * from './gen/batchgate/v1/inference_pb.js';
export { create, toBinary, fromBinary } from '@bufbuild/protobuf';
export type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
