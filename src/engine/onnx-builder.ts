// A small ONNX graph builder. The model runtime describes its forward pass with these calls and gets a
// serialised ModelProto back; weights stay outside the protobuf as external data (so models past the 2 GB
// protobuf limit work and no weight bytes are copied into the graph).
import { ProtoWriter } from "./protobuf.ts";

/** ONNX TensorProto.DataType codes used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type Dim = number | string;
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number } | Uint8Array;

interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain: string;
  name: string;
}

interface ValueSpec {
  name: string;
  type: DataTypeCode;
  shape: Dim[];
}

type InitializerSpec =
  | { kind: "inline"; name: string; type: DataTypeCode; dims: number[]; raw: Uint8Array }
  | { kind: "external"; name: string; type: DataTypeCode; dims: number[]; location: string; offset: number; length: number };

export interface ExternalBlob {
  /** The name the graph uses in `external_data.location`. */
  path: string;
  data: Uint8Array;
}

/** Builds one ONNX graph: inputs, initializers, nodes and outputs, with fresh value names on demand. */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly initializers: InitializerSpec[] = [];
  private readonly blobs: ExternalBlob[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  fresh(hint: string): string {
    return `${hint}__${this.counter++}`;
  }

  input(name: string, type: DataTypeCode, shape: Dim[]): string {
    this.inputs.push({ name, type, shape });
    return name;
  }

  output(name: string, type: DataTypeCode, shape: Dim[]): void {
    this.outputs.push({ name, type, shape });
  }

  /** Small constant stored inside the graph. Equal constants are shared. */
  constF(values: number[], dims: number[] = [values.length]): string {
    return this.inlineConst(DataType.FLOAT, dims, new Uint8Array(new Float32Array(values).buffer));
  }

  constI64(values: number[], dims: number[] = [values.length]): string {
    return this.inlineConst(DataType.INT64, dims, new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer));
  }

  private inlineConst(type: DataTypeCode, dims: number[], raw: Uint8Array): string {
    // Plain JavaScript (no Node Buffer): the graph builder also runs in published pages.
    const key = `${type}|${dims.join(",")}|${raw.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh("const");
    this.initializers.push({ kind: "inline", name, type, dims, raw });
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 initializer whose bytes live outside the protobuf, handed to the session as external data. */
  weight(name: string, dims: number[], data: Float32Array): string {
    const path = `w${this.blobs.length}.bin`;
    this.blobs.push({ path, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.initializers.push({ kind: "external", name, type: DataType.FLOAT, dims, location: path, offset: 0, length: data.byteLength });
    return name;
  }

  /**
   * A float32 initializer stored in a file the session maps from disk (`location` relative to the session's
   * external-data folder, see SessionConfig.externalFolder): no bytes pass through JavaScript.
   */
  storedWeight(name: string, dims: number[], location: string, offset: number, length: number, type: DataTypeCode = DataType.FLOAT): string {
    this.initializers.push({ kind: "external", name, type, dims, location, offset, length });
    return name;
  }

  /** Adds a node; returns its single output name (or all of them when `outputs` > 1). */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: string[]; domain?: string } = {}): string {
    const outputs = opts.outputs ?? [this.fresh(opType.toLowerCase())];
    this.nodes.push({ opType, inputs, outputs, attrs, domain: opts.domain ?? "", name: this.fresh(`n_${opType}`) });
    return outputs[0]!;
  }

  opMulti(opType: string, inputs: string[], nOutputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const outputs = Array.from({ length: nOutputs }, () => this.fresh(opType.toLowerCase()));
    this.op(opType, inputs, attrs, { outputs });
    return outputs;
  }

  /** Serialises the graph to an ONNX ModelProto; `blobs` are the external data the session needs. */
  build(opts: { opset?: number; irVersion?: number } = {}): { model: Uint8Array; blobs: ExternalBlob[] } {
    const w = new ProtoWriter(1 << 16);
    w.int(1, opts.irVersion ?? 8); // ir_version
    w.string(2, "safesail"); // producer_name
    w.message(7, (g) => this.writeGraph(g)); // graph
    w.message(8, (o) => o.string(1, "").int(2, opts.opset ?? 17)); // opset_import (default domain)
    w.message(8, (o) => o.string(1, "com.microsoft").int(2, 1));
    return { model: w.finish(), blobs: this.blobs.slice() };
  }

  private writeGraph(g: ProtoWriter): void {
    for (const n of this.nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, this.name);
    for (const init of this.initializers) g.message(5, (t) => writeInitializer(t, init));
    for (const v of this.inputs) g.message(11, (m) => writeValueInfo(m, v));
    for (const v of this.outputs) g.message(12, (m) => writeValueInfo(m, v));
  }
}

function writeNode(m: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name);
  m.string(4, n.opType);
  for (const [name, value] of Object.entries(n.attrs)) m.message(5, (a) => writeAttr(a, name, value));
  if (n.domain) m.string(7, n.domain);
}

// AttributeProto: name=1, f=2, i=3, s=4, floats=7, ints=8, type=20.
function writeAttr(a: ProtoWriter, name: string, value: AttrValue): void {
  a.string(1, name);
  if (typeof value === "number") {
    a.int(3, value).int(20, 2); // INT
  } else if (typeof value === "string") {
    a.string(4, value).int(20, 3); // STRING
  } else if (value instanceof Uint8Array) {
    a.bytes(4, value).int(20, 3);
  } else if (Array.isArray(value)) {
    a.packedInts(8, value).int(20, 7); // INTS
  } else if ("floats" in value) {
    a.packedFloats(7, value.floats).int(20, 6); // FLOATS
  } else {
    a.float(2, value.float).int(20, 1); // FLOAT
  }
}

// TensorProto: dims=1, data_type=2, name=8, raw_data=9, external_data=13, data_location=14.
function writeInitializer(t: ProtoWriter, init: InitializerSpec): void {
  t.packedInts(1, init.dims);
  t.int(2, init.type);
  t.string(8, init.name);
  if (init.kind === "inline") {
    t.bytes(9, init.raw);
  } else {
    const entry = (key: string, value: string) => t.message(13, (e) => e.string(1, key).string(2, value));
    entry("location", init.location);
    entry("offset", String(init.offset));
    entry("length", String(init.length));
    t.int(14, 1); // EXTERNAL
  }
}

// ValueInfoProto{name=1, type=2}; TypeProto{tensor_type=1}; Tensor{elem_type=1, shape=2}; Shape{dim=1};
// Dimension{dim_value=1, dim_param=2}.
function writeValueInfo(m: ProtoWriter, v: ValueSpec): void {
  m.string(1, v.name);
  m.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.int(1, v.type);
      tt.message(2, (sh) => {
        for (const d of v.shape) sh.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}
