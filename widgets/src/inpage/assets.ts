// The in-page pack of a model: what a published page needs to run the model, its SAEs and its feature database in
// the reader's browser (no file access, no network). Node writes it (widgets/src/publish/inpage.ts, from the same
// loaders the kernel uses: loadModel's weights, loadSae, readFeatureDb); the page reads it back here.
//
// On disk, next to the pages (`inpage/`), as classic scripts, because a page opened from file:// can load a
// <script src> but can fetch nothing:
//   model-<name>.js   window.safesailInPagePacks["<name>"] = { manifest: {...}, blob: "<base64 of gzip>" }
//   ort-wasm.js       window.safesailOrtWasm = "<base64 of gzip of ort-wasm-simd-threaded.wasm>"
//   runtime.js        the in-page runtime (widgets/src/inpage/index.ts, built by widgets/scripts/build-inpage.mjs)
// The blob is every tensor as little-endian float32, one after another; the manifest gives each one's offset and
// length in floats. float32 everywhere (the SAEs are stored as float16 and widened on load, as in Node), so the page
// computes what the kernel computes.
import type { FeatureDb } from "../../../src/db/records.ts";
import { Model } from "../../../src/model/model.ts";
import { tokenizerFromJson } from "../../../src/model/tokenizer-json.ts";
import type { F32Tensor, ModelConfig, TensorRef, WeightSource } from "../../../src/model/types.ts";
import type { Sae, SaeConfig } from "../../../src/sae/sae.ts";

export const IN_PAGE_FORMAT = "safesail-inpage-pack";
export const IN_PAGE_VERSION = 1;

/** A tensor of the blob: offset and length in floats. */
export interface PackedTensor {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface PackedSae {
  /** The hook it reads (`blocks.2.hook_resid_post`). */
  hook: string;
  config: SaeConfig;
  tensors: { W_encT: PackedTensor; b_enc: PackedTensor; W_dec: PackedTensor; b_dec: PackedTensor };
}

export interface InPageManifest {
  format: typeof IN_PAGE_FORMAT;
  version: typeof IN_PAGE_VERSION;
  /** The model's name (Model.name): a widget's `in_page.model` must equal it. */
  name: string;
  config: ModelConfig;
  tokenizer: { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown>; generationConfig: Record<string, unknown> };
  weights: PackedTensor[];
  saes: PackedSae[];
  db: FeatureDb | null;
  /** Length of the blob in floats. */
  floats: number;
}

export interface InPageModel {
  model: Model;
  /** By hook name. */
  saes: Map<string, Sae>;
  db: FeatureDb | null;
}

/** Base64 of gzip -> bytes (DecompressionStream: browsers and Node 18+). */
export async function gunzipBase64(text: string): Promise<Uint8Array> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function checkManifest(m: InPageManifest, floats: number): void {
  if (m?.format !== IN_PAGE_FORMAT) throw new Error(`not a safesail in-page pack (format ${JSON.stringify(m?.format)})`);
  if (m.version !== IN_PAGE_VERSION) throw new Error(`in-page pack "${m.name}": version ${m.version}, this page reads version ${IN_PAGE_VERSION}`);
  if (m.floats !== floats) throw new Error(`in-page pack "${m.name}": the blob holds ${floats} floats, the manifest says ${m.floats} (a truncated file?)`);
  const all = [...m.weights, ...m.saes.flatMap((s) => Object.values(s.tensors))];
  for (const t of all) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.length || t.offset < 0 || t.offset + t.length > floats) throw new Error(`in-page pack "${m.name}": tensor ${t.name} [${t.shape.join(", ")}] does not fit the blob`);
  }
}

/** The model, SAEs and database of a pack (`blob`: the decompressed float32 bytes). */
export function unpackInPage(manifest: InPageManifest, blob: Uint8Array): InPageModel {
  if (blob.byteLength % 4 !== 0) throw new Error(`in-page pack "${manifest?.name}": the blob is ${blob.byteLength} bytes, not whole float32s`);
  // Aligned copy when the bytes do not start on a float boundary.
  const floats = blob.byteOffset % 4 === 0 ? new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4) : new Float32Array(blob.slice().buffer);
  checkManifest(manifest, floats.length);
  const view = (t: PackedTensor) => floats.subarray(t.offset, t.offset + t.length);
  const byName = new Map(manifest.weights.map((t) => [t.name, t]));
  const packed = (name: string): PackedTensor => {
    const t = byName.get(name);
    if (!t) throw new Error(`in-page pack "${manifest.name}": no weight "${name}"`);
    return t;
  };
  const weights: WeightSource = {
    names: () => [...byName.keys()],
    has: (name) => byName.has(name),
    ref: (name): TensorRef => {
      throw new Error(`in-page pack "${manifest.name}": weight "${name}" has no file (it is in the page's pack)`);
    },
    get: (name): F32Tensor => {
      const t = packed(name);
      return { shape: [...t.shape], data: view(t) };
    },
  };
  const tokenizer = tokenizerFromJson({ dir: manifest.name, ...manifest.tokenizer });
  const model = new Model(manifest.name, manifest.config, weights, tokenizer, {});
  const saes = new Map<string, Sae>();
  for (const s of manifest.saes) {
    saes.set(s.hook, {
      config: s.config,
      params: { dIn: s.config.dIn, dSae: s.config.dSae, W_encT: view(s.tensors.W_encT), b_enc: view(s.tensors.b_enc), W_dec: view(s.tensors.W_dec), b_dec: view(s.tensors.b_dec) },
    });
  }
  return { model, saes, db: manifest.db };
}
