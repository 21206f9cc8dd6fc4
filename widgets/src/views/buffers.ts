// Binary buffers from the kernel arrive as DataView (JupyterLab's widget manager) or ArrayBuffer / base64-decoded
// bytes (saved widget state in published pages). Views want Float32Array; this is the one conversion.
export function toFloat32(value: unknown, field: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value instanceof DataView) {
    return new Float32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  }
  if (value instanceof ArrayBuffer) return new Float32Array(value.slice(0));
  if (ArrayBuffer.isView(value)) {
    const v = value as ArrayBufferView;
    return new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  }
  if (Array.isArray(value)) return Float32Array.from(value as number[]);
  if (value === null || value === undefined) return new Float32Array(0);
  throw new TypeError(`${field}: expected a Float32Array buffer, got ${typeof value}`);
}

/** Deserialisers that turn each of `columns` into a Float32Array (models whose numeric columns travel as buffers). */
export function float32Columns(columns: readonly string[]): Record<string, { deserialize: (v: unknown) => Float32Array }> {
  return Object.fromEntries(columns.map((k) => [k, { deserialize: (v: unknown) => toFloat32(v, k) }]));
}
