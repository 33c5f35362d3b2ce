import type { DenseLayer } from '#libs/policy';
import { Mlp } from '#libs/policy';
import type { ProtoField } from './wire.js';
import { asBytes, asNumber, asString, asVarints, ProtoFormatError, ProtoWriter, readFields } from './wire.js';

/** Tensor names and shapes of the policy model, as the seed exported it (SB3 -> torch.onnx). */
export const POLICY_INPUT = 'obs';
export const POLICY_OUTPUT = 'action_logits';
export const BATCH_DIM = 'batch_size';
export const OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;

// Field numbers from onnx/onnx.proto.
const MODEL = { irVersion: 1, producerName: 2, producerVersion: 3, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14 };
const OPSET_ID = { domain: 1, version: 2 };
const ENTRY = { key: 1, value: 2 };
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12 };
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 };
const ATTRIBUTE = { name: 1, f: 2, i: 3, type: 20 };
const ATTRIBUTE_INT = 2;
const TENSOR = { dims: 1, dataType: 2, floatData: 4, name: 8, rawData: 9 };
const FLOAT = 1;
const VALUE_INFO = { name: 1, type: 2 };
const TYPE = { tensorType: 1 };
const TENSOR_TYPE = { elemType: 1, shape: 2 };
const SHAPE = { dim: 1 };
const DIM = { value: 1, param: 2 };

/**
 * Writes a dense policy network as an ONNX ModelProto: Gemm (transB=1, so the
 * row-major [outputs x inputs] weights are stored as they are) followed by
 * Tanh/Relu per hidden layer, input "obs" [batch_size, in], output
 * "action_logits" [batch_size, out], float32 little-endian raw_data.
 */
export function encodePolicyModel(network: Mlp, metadata: Record<string, string> = {}): Uint8Array {
  const model = new ProtoWriter()
    .varint(MODEL.irVersion, IR_VERSION)
    .string(MODEL.producerName, 'batchgate')
    .string(MODEL.producerVersion, '1')
    .string(
      MODEL.docString,
      `Flush policy actor: WAIT/FLUSH logits from the ${network.inputSize}-feature slot observation (argmax to act).`,
    );
  model.message(MODEL.graph, (graph) => writeGraph(graph, network));
  model.message(MODEL.opsetImport, (o) => o.string(OPSET_ID.domain, '').varint(OPSET_ID.version, OPSET));
  for (const [key, value] of Object.entries({ version: network.version, ...metadata })) {
    model.message(MODEL.metadataProps, (e) => e.string(ENTRY.key, key).string(ENTRY.value, value));
  }
  return model.finish();
}

function writeGraph(graph: ProtoWriter, network: Mlp): void {
  graph.string(GRAPH.name, 'batchgate_policy');
  let current = POLICY_INPUT;
  network.layers.forEach((layer, i) => {
    const last = i === network.layers.length - 1;
    const weight = `layer${i}.weight`;
    const bias = `layer${i}.bias`;
    const linear = last && layer.activation === 'linear' ? POLICY_OUTPUT : `layer${i}.linear`;
    graph.message(GRAPH.node, (n) =>
      n
        .string(NODE.input, current)
        .string(NODE.input, weight)
        .string(NODE.input, bias)
        .string(NODE.output, linear)
        .string(NODE.name, `gemm${i}`)
        .string(NODE.opType, 'Gemm')
        .message(NODE.attribute, (a) => a.string(ATTRIBUTE.name, 'transB').varint(ATTRIBUTE.i, 1).varint(ATTRIBUTE.type, ATTRIBUTE_INT)),
    );
    current = linear;
    if (layer.activation !== 'linear') {
      const activated = last ? POLICY_OUTPUT : `layer${i}.${layer.activation}`;
      const op = layer.activation === 'tanh' ? 'Tanh' : 'Relu';
      graph.message(GRAPH.node, (n) =>
        n.string(NODE.input, current).string(NODE.output, activated).string(NODE.name, `${layer.activation}${i}`).string(NODE.opType, op),
      );
      current = activated;
    }
    graph.message(GRAPH.initializer, (t) => writeTensor(t, weight, [layer.outputs, layer.inputs], layer.weights));
    graph.message(GRAPH.initializer, (t) => writeTensor(t, bias, [layer.outputs], layer.bias));
  });
  graph.message(GRAPH.input, (v) => writeValueInfo(v, POLICY_INPUT, network.inputSize));
  graph.message(GRAPH.output, (v) => writeValueInfo(v, POLICY_OUTPUT, network.layers.at(-1)!.outputs));
}

function writeTensor(t: ProtoWriter, name: string, dims: number[], values: Float32Array): void {
  for (const d of dims) t.varint(TENSOR.dims, d);
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  t.varint(TENSOR.dataType, FLOAT).string(TENSOR.name, name).bytes(TENSOR.rawData, raw);
}

function writeValueInfo(v: ProtoWriter, name: string, width: number): void {
  v.string(VALUE_INFO.name, name).message(VALUE_INFO.type, (type) =>
    type.message(TYPE.tensorType, (tensor) =>
      tensor
        .varint(TENSOR_TYPE.elemType, FLOAT)
        .message(TENSOR_TYPE.shape, (shape) =>
          shape.message(SHAPE.dim, (d) => d.string(DIM.param, BATCH_DIM)).message(SHAPE.dim, (d) => d.varint(DIM.value, width)),
        ),
    ),
  );
}

export interface DecodedPolicyModel {
  network: Mlp;
  metadata: Record<string, string>;
  opset: number;
}

interface NodeInfo {
  opType: string;
  inputs: string[];
  outputs: string[];
  ints: Map<string, number>;
  floats: Map<string, number>;
}

/**
 * Reads a policy network back from an ONNX model: a chain of Gemm nodes
 * (optionally followed by Tanh or Relu) from the graph input to the graph
 * output, weights from initializers in raw_data or float_data. Anything else
 * is rejected with the reason, so a model the service cannot run in-process
 * fails at load, not at the first decision.
 */
export function decodePolicyModel(bytes: Uint8Array): DecodedPolicyModel {
  const top = readFields(bytes);
  const metadata: Record<string, string> = {};
  let opset = 0;
  let graphBytes: Uint8Array | undefined;
  for (const f of top) {
    if (f.field === MODEL.graph) graphBytes = asBytes(f);
    else if (f.field === MODEL.metadataProps) {
      const entry = readFields(asBytes(f));
      metadata[stringField(entry, ENTRY.key)] = stringField(entry, ENTRY.value);
    } else if (f.field === MODEL.opsetImport) {
      const id = readFields(asBytes(f));
      if (stringField(id, OPSET_ID.domain) === '') opset = numberField(id, OPSET_ID.version);
    }
  }
  if (!graphBytes) throw new ProtoFormatError('model has no graph');
  const graph = readFields(graphBytes);
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  const nodes: NodeInfo[] = [];
  const inputs: string[] = [];
  const outputs: string[] = [];
  for (const f of graph) {
    if (f.field === GRAPH.initializer) {
      const tensor = readTensor(asBytes(f));
      tensors.set(tensor.name, tensor);
    } else if (f.field === GRAPH.node) nodes.push(readNode(asBytes(f)));
    else if (f.field === GRAPH.input) inputs.push(stringField(readFields(asBytes(f)), VALUE_INFO.name));
    else if (f.field === GRAPH.output) outputs.push(stringField(readFields(asBytes(f)), VALUE_INFO.name));
  }
  const input = inputs.find((name) => !tensors.has(name));
  if (!input || outputs.length !== 1) throw new ProtoFormatError('expected one data input and one output');
  const network = new Mlp(chainLayers(input, outputs[0]!, nodes, tensors), metadata.version ?? 'onnx');
  return { network, metadata, opset };
}

function chainLayers(
  input: string,
  output: string,
  nodes: NodeInfo[],
  tensors: Map<string, { dims: number[]; data: Float32Array }>,
): DenseLayer[] {
  const layers: DenseLayer[] = [];
  let current = input;
  while (current !== output) {
    const gemm = nodes.find((n) => n.inputs[0] === current);
    if (!gemm || gemm.opType !== 'Gemm')
      throw new ProtoFormatError(`expected a Gemm reading "${current}", found ${gemm?.opType ?? 'nothing'}`);
    if ((gemm.ints.get('transA') ?? 0) !== 0 || (gemm.floats.get('alpha') ?? 1) !== 1 || (gemm.floats.get('beta') ?? 1) !== 1) {
      throw new ProtoFormatError('only Gemm with transA=0, alpha=1, beta=1 is supported');
    }
    const w = tensors.get(gemm.inputs[1] ?? '');
    if (!w || w.dims.length !== 2) throw new ProtoFormatError(`Gemm weight "${gemm.inputs[1]}" is not a 2-D initializer`);
    const transB = (gemm.ints.get('transB') ?? 0) === 1;
    const [outputsN, inputsN] = transB ? [w.dims[0]!, w.dims[1]!] : [w.dims[1]!, w.dims[0]!];
    const weights = transB ? w.data : transpose(w.data, inputsN, outputsN);
    const b = gemm.inputs[2] ? tensors.get(gemm.inputs[2]) : undefined;
    if (b && b.data.length !== outputsN)
      throw new ProtoFormatError(`Gemm bias "${gemm.inputs[2]}" has ${b.data.length} values, expected ${outputsN}`);
    current = gemm.outputs[0]!;
    const next = nodes.find((n) => n.inputs[0] === current && (n.opType === 'Tanh' || n.opType === 'Relu'));
    const activation = next ? (next.opType === 'Tanh' ? 'tanh' : 'relu') : 'linear';
    if (next) current = next.outputs[0]!;
    layers.push({ inputs: inputsN, outputs: outputsN, activation, weights, bias: b?.data ?? new Float32Array(outputsN) });
  }
  return layers;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

function readTensor(bytes: Uint8Array): { name: string; dims: number[]; data: Float32Array } {
  const fields = readFields(bytes);
  const dims = fields.filter((f) => f.field === TENSOR.dims).flatMap(asVarints);
  const type = fields.find((f) => f.field === TENSOR.dataType);
  if (!type || asNumber(type) !== FLOAT) throw new ProtoFormatError('only float32 initializers are supported');
  const raw = fields.find((f) => f.field === TENSOR.rawData);
  let data: Float32Array;
  if (raw) {
    const b = asBytes(raw);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    data = Float32Array.from({ length: b.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  } else {
    data = Float32Array.from(fields.filter((f) => f.field === TENSOR.floatData).flatMap(floats));
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new ProtoFormatError(`tensor holds ${data.length} values, dims say ${count}`);
  return { name: stringField(fields, TENSOR.name), dims, data };
}

/** float_data is packed (bytes) or one fixed32 per value. */
function floats(f: ProtoField): number[] {
  if (typeof f.value === 'number') return [f.value];
  const view = new DataView(f.value.buffer, f.value.byteOffset, f.value.byteLength);
  return Array.from({ length: f.value.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

function readNode(bytes: Uint8Array): NodeInfo {
  const fields = readFields(bytes);
  const node: NodeInfo = { opType: stringField(fields, NODE.opType), inputs: [], outputs: [], ints: new Map(), floats: new Map() };
  for (const f of fields) {
    if (f.field === NODE.input) node.inputs.push(asString(f));
    else if (f.field === NODE.output) node.outputs.push(asString(f));
    else if (f.field === NODE.attribute) {
      const attr = readFields(asBytes(f));
      const name = stringField(attr, ATTRIBUTE.name);
      const i = attr.find((a) => a.field === ATTRIBUTE.i);
      const fl = attr.find((a) => a.field === ATTRIBUTE.f);
      if (i) node.ints.set(name, asNumber(i));
      if (fl) node.floats.set(name, asNumber(fl));
    }
  }
  return node;
}

function stringField(fields: ProtoField[], field: number): string {
  const f = fields.find((x) => x.field === field);
  return f ? asString(f) : '';
}

function numberField(fields: ProtoField[], field: number): number {
  const f = fields.find((x) => x.field === field);
  return f ? asNumber(f) : 0;
}
