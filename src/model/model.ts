// The hookable model runtime on onnxruntime, without any file or network access: the Model class (forward with
// hooks and caches, generation). `runtime.ts` loads a model folder into it (Node); the published pages build one
// from bundled weights (widgets/src/inpage). `../engine/ort.ts` is the one platform seam: the in-page bundle swaps it
// for `../engine/ort-web.ts` (onnxruntime-web), so Node and the browser run the same graphs through the same code.
import { createSession, ort, type SessionConfig } from "../engine/ort.ts";
import { ArgumentError, NonFiniteError } from "../errors.ts";
import { buildSegment, SegmentIO, type StoredWeights } from "./graph.ts";
import { allHookNamesWithAttention, anyHookName, isAttnPoint, parseAnyHookName, walkIndex, type AnyHookPoint } from "./hooks.ts";
import type { ChatMessage, Tokenizer } from "./tokenizer.ts";
import { type F32Tensor, type ModelConfig, type WeightSource } from "./types.ts";
import { mulberry32 } from "../util/prng.ts";

/** `[batch, seq]` token ids; a flat array is one row. */
export type TokenIds = number[] | number[][];

/**
 * An arbitrary edit: gets the hook value (`[batch, seq, hidden]` at residual-stream points, the TransformerLens
 * layout at attention points, see hooks.ts), returns the replacement (or edits in place).
 */
export type HookFn = (value: F32Tensor, ctx: { hook: string; step: number }) => F32Tensor | Float32Array | void;
/**
 * Additive steering: `add` (length hidden, or `[1, hidden]`) is added at every position; cheap, no graph split.
 * Residual-stream hook points only; edit attention hook points with a function.
 */
export type HookEdit = HookFn | { add: Float32Array | number[] };

export interface ForwardOptions {
  /** 1 for tokens, 0 for padding; `[batch, past + seq]`. Default: all ones. */
  attentionMask?: number[][];
  /** Default: continue from the past length, or cumulative mask count minus one when a mask is given. */
  positionIds?: number[][];
  /** Hook names whose values to return. */
  cache?: string[];
  hooks?: Record<string, HookEdit>;
  /** Key/value cache from a previous call (generation). */
  past?: KvCache;
  /** "all": logits for every position; "last": only the last position of each row; "none": hooks only. Default "all". */
  logits?: "all" | "last" | "none";
  /** Return the key/value cache for the next step. */
  returnPast?: boolean;
  /** Generation step passed to hook functions. */
  step?: number;
}

export interface ForwardOutput {
  /** `[batch, seq, vocab]` for logits "all", `[batch, vocab]` for "last", `[0, vocab]` for "none". */
  logits: F32Tensor;
  cache: Record<string, F32Tensor>;
  past?: KvCache;
}

/** Per-layer keys and values, `[batch, kvHeads, length, headDim]` each. */
export interface KvCache {
  length: number;
  keys: ort.Tensor[];
  values: ort.Tensor[];
}

export interface GenerateOptions {
  prompt?: string;
  /** Chat messages; `prompt` with `chat: true` becomes one user message. */
  messages?: { role: string; content: string }[];
  chat?: boolean;
  /** Pre-tokenised prompt instead of text. */
  ids?: number[];
  maxNewTokens?: number;
  /** 0 or undefined: greedy. */
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Extra stop token ids; the model's eos ids always stop. */
  stopTokenIds?: number[];
  hooks?: Record<string, HookEdit>;
  /** Hook names to record at every step (values for the new tokens of each step). */
  cache?: string[];
  /** Called per token with the text it completes (possibly empty while a multi-byte character is pending). */
  onToken?: (id: number, text: string) => void;
  /**
   * Called per generated (non-stop) token with the logits it was sampled from (valid during the call only);
   * returning "stop" ends the answer there with finish reason "stop" (e.g. a stop string was completed).
   */
  onStep?: (step: { step: number; id: number; ids: readonly number[]; logits: Float32Array }) => "stop" | void;
  /** Checked before every step: an aborted signal ends the generation with its reason (thrown). */
  signal?: AbortSignal;
}

export interface GenerateOutput {
  promptIds: number[];
  ids: number[];
  text: string;
  /** "stop" when a stop token ended it, "length" at maxNewTokens. */
  finishReason: "stop" | "length";
  /** Per recorded hook: one `[1, stepTokens, hidden]` tensor per step. */
  cache: Record<string, F32Tensor[]>;
}

type SegmentKey = string;
const FULL_SEGMENT: SegmentKey = "ids>logits>true";

interface Segment {
  session: ort.InferenceSession;
  layers: number[];
  /** Hook names in the order of the rows of the segment's `steer` input. */
  hookOrder: string[];
  /** Residual-stream hooks of the segment (steer rows). */
  hooks: Set<string>;
  /** Every hook output of the segment, residual-stream and attention. */
  outputs: Set<string>;
  carry: [string, string][];
  endValue: string | null;
  steerable: boolean;
  /** Shared all-zero `steer` feed for runs that steer nothing in this segment. */
  zeroSteer: ort.Tensor;
}

function steerTensor(seg: Segment, steer: Map<string, Float32Array>, D: number): ort.Tensor {
  const rows = seg.hookOrder;
  if (![...steer.keys()].some((name) => seg.hooks.has(name))) return seg.zeroSteer;
  const data = new Float32Array(rows.length * D);
  rows.forEach((name, i) => {
    const v = steer.get(name);
    if (v) data.set(v, i * D);
  });
  return new ort.Tensor("float32", data, [rows.length, D]);
}

export class Model {
  private readonly segments = new Map<SegmentKey, Promise<Segment>>();
  /** Settles when the forward in flight (if any) is done; evicted sessions are released after it. */
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly weights: WeightSource,
    readonly tokenizer: Tokenizer | null,
    private readonly sessionConfig: SessionConfig = {},
    /** The weights as a mapped float32 file (Node's weight cache); without it they are handed over in memory. */
    readonly stored: StoredWeights | null = null,
  ) {}

  /** The model's name: the last component of its folder (`models/toy-safety-qwen2` -> `toy-safety-qwen2`). */
  get name(): string {
    return this.dir.split(/[\\/]/).filter(Boolean).pop() ?? this.dir;
  }

  /**
   * All hook names, in forward order: per block hook_resid_pre, the attention points
   * (`attn.hook_q|k|v|rot_q|rot_k|attn_scores|pattern|z`), hook_attn_out, hook_resid_mid, hook_mlp_out,
   * hook_resid_post. Only the residual-stream ones (`parseHookName`) are `[batch, seq, d_model]`.
   */
  hookNames(): string[] {
    return allHookNamesWithAttention(this.config.numLayers);
  }

  encode(text: string): number[] {
    return this.requireTokenizer().encode(text);
  }

  decode(ids: number[]): string {
    return this.requireTokenizer().decode(ids);
  }

  private requireTokenizer(): Tokenizer {
    if (!this.tokenizer) throw new ArgumentError(`${this.dir}: the model folder has no tokenizer files; pass token ids instead of text`);
    return this.tokenizer;
  }

  /**
   * Session for one segment of the walk. Sessions are cached; onnxruntime keeps its own copy of the weights,
   * so the float32 arrays read for a build are dropped right after it (re-read from disk for a later
   * segment). Split segments (arbitrary edits) are capped: the least recently used are released.
   */
  private segment(start: AnyHookPoint | null, end: AnyHookPoint | null, spinning: boolean, attentionHooks = false): Promise<Segment> {
    const key = `${start ? anyHookName(start) : "ids"}>${end ? anyHookName(end) : "logits"}>${spinning}${attentionHooks ? ">attn" : ""}`;
    let seg = this.segments.get(key);
    if (seg) {
      // Map order is recency order.
      this.segments.delete(key);
      this.segments.set(key, seg);
      return seg;
    }
    seg = (async () => {
      const weights = new Map<string, { shape: number[]; data: Float32Array }>();
      const built = buildSegment(this.config, (name) => {
        let t = weights.get(name);
        if (!t) weights.set(name, (t = this.weights.get(name)));
        return t;
      }, { start, end, attentionHooks }, this.stored ?? undefined);
      // Mapped float32 weights stay unpacked unless asked (the load stays at mapping cost); 8-bit weights are always
      // repacked: MatMulNBits without its packed layout falls back to a path ~1000x slower (measured: 5.5 s per
      // decode step at 0.5B), and the 8-bit matrices are a quarter of the float32 size.
      const mapped = this.stored ? { externalFolder: this.stored.folder, prepack: this.stored.precision === "int8" ? true : (this.sessionConfig.prepack ?? false) } : {};
      const session = await createSession(built.model, built.blobs, { ...this.sessionConfig, ...mapped, spinning });
      const D = this.config.hiddenSize;
      return {
        session,
        layers: built.layers,
        hookOrder: built.hooks,
        hooks: new Set(built.hooks),
        outputs: new Set([...built.hooks, ...built.attnHooks]),
        carry: built.carry,
        endValue: built.endValue,
        steerable: session.inputNames.includes(SegmentIO.steer),
        zeroSteer: new ort.Tensor("float32", new Float32Array(built.hooks.length * D), [built.hooks.length, D]),
      };
    })();
    this.segments.set(key, seg);
    seg.catch(() => this.segments.delete(key));
    this.evictSegments(key);
    return seg;
  }

  private evictSegments(keep: string): void {
    const MAX_SESSIONS = 8;
    for (const [key, seg] of this.segments) {
      if (this.segments.size <= MAX_SESSIONS) break;
      if (key === keep || key === FULL_SEGMENT) continue;
      this.segments.delete(key);
      void seg.then((s) => this.pending.then(() => s.session.release())).catch(() => {});
    }
  }

  /** Runs the model and returns logits plus the requested hook values (`[batch, seq, hidden]`). */
  async runWithCache(ids: TokenIds, hooks: string[], opts: Omit<ForwardOptions, "cache"> = {}): Promise<ForwardOutput> {
    return this.forward(ids, { ...opts, cache: hooks });
  }

  /** Runs the model with edits at hook points; `cache` records (edited) hook values too. */
  async runWithHooks(ids: TokenIds, hooks: Record<string, HookEdit>, opts: Omit<ForwardOptions, "hooks"> = {}): Promise<ForwardOutput> {
    return this.forward(ids, { ...opts, hooks });
  }

  /** One forward pass over `ids` (continuing `past` if given). */
  forward(idsIn: TokenIds, opts: ForwardOptions = {}): Promise<ForwardOutput> {
    const run = this.pending.then(() => this.forwardNow(idsIn, opts));
    this.pending = run.catch(() => {});
    return run;
  }

  private async forwardNow(idsIn: TokenIds, opts: ForwardOptions): Promise<ForwardOutput> {
    const cfg = this.config;
    const ids = normaliseIds(idsIn, cfg.vocabSize);
    const B = ids.length;
    const T = ids[0]!.length;
    const pastLen = opts.past?.length ?? 0;
    const D = cfg.hiddenSize;

    const mask = opts.attentionMask ?? ids.map(() => new Array(pastLen + T).fill(1));
    if (mask.length !== B || mask.some((r) => r.length !== pastLen + T)) {
      throw new ArgumentError(`attentionMask must be [${B}, ${pastLen + T}] (batch, past + seq)`);
    }
    const positions = opts.positionIds ?? mask.map((row) => positionsFromMask(row).slice(pastLen));
    if (positions.length !== B || positions.some((r) => r.length !== T)) throw new ArgumentError(`positionIds must be [${B}, ${T}]`);

    // Validate hook names and sort edits into in-graph additions and graph splits.
    const cacheNames = opts.cache ?? [];
    // Attention hook points need the step-by-step attention graphs; runs without them keep the fused ones.
    let attentionHooks = false;
    for (const n of cacheNames) if (isAttnPoint(this.point(n, "cache"))) attentionHooks = true;
    const steer = new Map<string, Float32Array>();
    const splits: { point: AnyHookPoint; fn: HookFn }[] = [];
    for (const [name, edit] of Object.entries(opts.hooks ?? {})) {
      const point = this.point(name, "hooks");
      if (isAttnPoint(point)) attentionHooks = true;
      if (typeof edit === "function") splits.push({ point, fn: edit });
      else if (isAttnPoint(point) && edit && typeof edit === "object" && "add" in edit) {
        throw new ArgumentError(`hooks["${name}"]: additive edits ({ add }) apply only at residual-stream hook points (blocks.{i}.hook_{resid_pre|attn_out|resid_mid|mlp_out|resid_post}); edit an attention hook point with a function`, { field: "hooks" });
      } else if (edit && "add" in edit) {
        const v = Float32Array.from(edit.add);
        if (v.length !== D) throw new ArgumentError(`hooks["${name}"].add must have length ${D} (hidden size), got ${v.length}`);
        steer.set(name, v);
      } else throw new ArgumentError(`hooks["${name}"] must be a function or { add: vector }`);
    }
    splits.sort((a, b) => walkIndex(a.point) - walkIndex(b.point));

    const i64 = (rows: number[][]) => new ort.Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0]!.length]);
    const common: Record<string, ort.Tensor> = {
      [SegmentIO.positionIds]: i64(positions),
      [SegmentIO.attentionMask]: i64(mask),
    };
    const emptyKv = new ort.Tensor("float32", new Float32Array(0), [B, cfg.numKvHeads, 0, cfg.headDim]);

    const logitsMode = opts.logits ?? "all";
    const logitRows: number[] =
      logitsMode === "all" ? Array.from({ length: B * T }, (_, i) => i) : logitsMode === "last" ? ids.map((_, b) => b * T + T - 1) : [];

    const cache: Record<string, F32Tensor> = {};
    const presentKeys: ort.Tensor[] = [];
    const presentValues: ort.Tensor[] = [];
    let logits: F32Tensor | null = null;
    let carry: Record<string, ort.Tensor> = { [SegmentIO.inputIds]: i64(ids) };
    const bounds: (AnyHookPoint | null)[] = [null, ...splits.map((s) => s.point), null];
    const spinning = splits.length === 0;

    for (let s = 0; s + 1 < bounds.length; s++) {
      const seg = await this.segment(bounds[s]!, bounds[s + 1]!, spinning, attentionHooks);
      const feeds: Record<string, ort.Tensor> = { ...common, ...carry };
      for (const l of seg.layers) {
        feeds[SegmentIO.pastKey(l)] = opts.past?.keys[l] ?? emptyKv;
        feeds[SegmentIO.pastValue(l)] = opts.past?.values[l] ?? emptyKv;
      }
      if (seg.steerable) feeds[SegmentIO.steer] = steerTensor(seg, steer, D);
      const fetches: string[] = [];
      for (const n of cacheNames) if (seg.outputs.has(n)) fetches.push(n);
      if (opts.returnPast) for (const l of seg.layers) fetches.push(SegmentIO.presentKey(l), SegmentIO.presentValue(l));
      const end = bounds[s + 1];
      if (end) fetches.push(...seg.carry.map(([o]) => o));
      else {
        feeds[SegmentIO.logitRows] = new ort.Tensor("int64", BigInt64Array.from(logitRows, BigInt), [logitRows.length]);
        fetches.push(SegmentIO.logits);
      }

      const out = await seg.session.run(feeds, fetches);
      for (const n of cacheNames) if (out[n]) cache[n] = toF32(out[n]!, seg.hooks.has(n) ? [B, T, D] : [...out[n]!.dims]);
      if (opts.returnPast) {
        for (const l of seg.layers) {
          presentKeys[l] = out[SegmentIO.presentKey(l)]!;
          presentValues[l] = out[SegmentIO.presentValue(l)]!;
        }
      }
      if (!end) {
        const shape = logitsMode === "all" ? [B, T, cfg.vocabSize] : logitsMode === "last" ? [B, cfg.vocabSize] : [0, cfg.vocabSize];
        logits = toF32(out[SegmentIO.logits]!, shape);
        break;
      }
      // Hand the hook value to the user's function, then carry the (edited) state into the next segment.
      const split = splits[s]!;
      const name = anyHookName(end);
      const valueTensor = out[seg.endValue!]!;
      const shape = isAttnPoint(end) ? [...valueTensor.dims] : [B, T, D];
      const size = shape.reduce((a, b) => a * b, 1);
      const value = toF32(valueTensor, shape, true);
      const replaced = split.fn(value, { hook: name, step: opts.step ?? 0 });
      const edited = replaced === undefined ? value.data : replaced instanceof Float32Array ? replaced : replaced.data;
      if (edited.length !== size) throw new ArgumentError(`hook function for "${name}" returned ${edited.length} values, expected ${size} ([${shape.join(", ")}])`);
      if (cacheNames.includes(name)) cache[name] = { shape, data: edited.slice() };
      const editedTensor = new ort.Tensor("float32", edited, [...valueTensor.dims]);
      carry = {};
      for (const [o, i] of seg.carry) carry[i] = o === seg.endValue ? editedTensor : out[o]!;
    }
    this.checkFinite(logits!, cacheNames, cache);

    const result: ForwardOutput = { logits: logits!, cache };
    if (opts.returnPast) result.past = { length: pastLen + T, keys: presentKeys, values: presentValues };
    return result;
  }

  private point(name: string, arg: string): AnyHookPoint {
    return parseAnyHookName(name, { numLayers: this.config.numLayers, arg });
  }

  /**
   * Non-finite logits are an error naming the model folder and the first cached hook (forward order) that went
   * non-finite. A run without logits (`logits: "none"`, e.g. harvesting) is checked on its cached hooks instead,
   * except hook_attn_scores, where -Infinity is a legitimate edit (TransformerLens-style masking).
   */
  private checkFinite(logits: F32Tensor, cacheNames: string[], cache: Record<string, F32Tensor>): void {
    const ordered = cacheNames.filter((n) => cache[n]).sort((a, b) => walkIndex(this.point(a, "cache")) - walkIndex(this.point(b, "cache")));
    const firstBad = (names: string[]) => names.find((n) => !allFinite(cache[n]!.data));
    if (logits.data.length === 0) {
      const bad = firstBad(ordered.filter((n) => !n.endsWith(".attn.hook_attn_scores")));
      if (bad) throw new NonFiniteError(`${this.dir}: the forward pass produced non-finite values (NaN or infinity) at ${bad}, the first cached hook to have them. Check the weights (a NaN or infinity in the model files) and any hook edits`, { file: this.dir, field: bad });
      return;
    }
    if (allFinite(logits.data)) return;
    const first = firstBad(ordered);
    const where = first ? `; the first cached hook with non-finite values is ${first}` : cacheNames.length ? "; every cached hook is finite" : "";
    throw new NonFiniteError(`${this.dir}: the forward pass produced non-finite logits (NaN or infinity)${where}. Check the weights (a NaN or infinity in the model files) and any hook edits`, { file: this.dir, field: first ?? "logits" });
  }

  /**
   * THE tokeniser of text for this model (every stage tokenises through it: generation, harvesting, metrics,
   * evaluation). As TransformerLens's `to_tokens`, text is encoded as written (with the tokenizer's usual special
   * tokens) unless `chat`: then it becomes one user turn of the chat template followed by the assistant header,
   * the way the model sees a request. `messages` always go through the template; the assistant header is
   * appended unless the conversation ends with an assistant turn.
   */
  toTokens(input: string | { messages: readonly ChatMessage[] }, opts: { chat?: boolean } = {}): number[] {
    const tok = this.requireTokenizer();
    const template = (messages: readonly ChatMessage[], generationPrompt: boolean): number[] => {
      if (!tok.hasChatTemplate) throw new ArgumentError(`${this.dir}: the tokenizer has no chat template; tokenise the text as written (chat: false)`, { field: "chat" });
      return tok.encode(tok.applyChatTemplate([...messages], { addGenerationPrompt: generationPrompt }), { addSpecialTokens: false });
    };
    if (typeof input === "string") return opts.chat ? template([{ role: "user", content: input }], true) : tok.encode(input);
    const ms = input.messages;
    if (ms.length === 0) throw new ArgumentError("toTokens: messages is empty", { field: "messages" });
    return template(ms, ms[ms.length - 1]!.role !== "assistant");
  }

  /** The tokens of `toTokens` as strings (TransformerLens's `to_str_tokens`): one decoded piece per id. */
  toStrTokens(input: string | { messages: readonly ChatMessage[] } | readonly number[], opts: { chat?: boolean } = {}): string[] {
    const ids = Array.isArray(input) ? (input as readonly number[]) : this.toTokens(input as string | { messages: readonly ChatMessage[] }, opts);
    const tok = this.requireTokenizer();
    return ids.map((id) => tok.decode([id]));
  }

  /** Token ids of a generation prompt (through `toTokens`): chat template applied when `chat` or `messages` is given. */
  promptIds(opts: Pick<GenerateOptions, "prompt" | "messages" | "chat" | "ids">): number[] {
    if (opts.ids) return opts.ids;
    if (opts.messages) return this.toTokens({ messages: opts.messages });
    if (opts.prompt === undefined) {
      if (opts.chat) return this.toTokens("", { chat: true });
      throw new ArgumentError("generate: give prompt, messages or ids");
    }
    return this.toTokens(opts.prompt, { chat: opts.chat });
  }


  /** Autoregressive generation with a key/value cache; hooks and edits apply at every step. */
  async generate(opts: GenerateOptions): Promise<GenerateOutput> {
    const promptIds = this.promptIds(opts);
    if (promptIds.length === 0) throw new ArgumentError("generate: the prompt has no tokens");
    const maxNew = opts.maxNewTokens ?? 64;
    const stops = new Set([...this.config.eosTokenIds, ...(this.tokenizer?.eosTokenIds ?? []), ...(opts.stopTokenIds ?? [])]);
    const rng = mulberry32(opts.seed ?? 0);
    const cacheNames = opts.cache ?? [];
    const cache: Record<string, F32Tensor[]> = Object.fromEntries(cacheNames.map((n) => [n, []]));
    const out: number[] = [];
    let finish: "stop" | "length" = "length";
    let past: KvCache | undefined;
    let input = promptIds;
    let streamed = 0;
    for (let step = 0; step < maxNew; step++) {
      opts.signal?.throwIfAborted();
      const r = await this.forward([input], { past, returnPast: true, logits: "last", hooks: opts.hooks, cache: cacheNames, step });
      past = r.past;
      for (const n of cacheNames) cache[n]!.push(r.cache[n]!);
      const next = sampleNext(r.logits.data, opts.temperature ?? 0, opts.topP ?? 1, rng);
      if (stops.has(next)) {
        finish = "stop";
        break;
      }
      out.push(next);
      if (opts.onToken) {
        // Decode the whole output and hand on what is new: a byte-level token can be half a character.
        const complete = this.tokenizer ? settledText(this.tokenizer, out) : out.join(" ");
        if (complete.length > streamed) opts.onToken(next, complete.slice(streamed));
        streamed = Math.max(streamed, complete.length);
      }
      if (opts.onStep?.({ step, id: next, ids: out, logits: r.logits.data }) === "stop") {
        finish = "stop";
        break;
      }
      input = [next];
    }
    return { promptIds, ids: out, text: this.tokenizer ? this.tokenizer.decode(out) : "", finishReason: finish, cache };
  }

  /** Frees the onnxruntime sessions. */
  async dispose(): Promise<void> {
    const segs = [...this.segments.values()];
    this.segments.clear();
    for (const s of segs) await (await s).session.release();
  }
}

function normaliseIds(ids: TokenIds, vocab: number): number[][] {
  const rows = ids.length > 0 && Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]];
  if (rows.length === 0 || rows[0]!.length === 0) throw new ArgumentError("ids: empty input");
  const T = rows[0]!.length;
  rows.forEach((row, b) => {
    if (row.length !== T) throw new ArgumentError(`ids: row ${b} has ${row.length} tokens, row 0 has ${T}; pad and pass attentionMask`);
    row.forEach((v, t) => {
      if (!Number.isInteger(v) || v < 0 || v >= vocab) throw new ArgumentError(`ids[${b}][${t}] = ${v} is not a token id in [0, ${vocab})`);
    });
  });
  return rows;
}

/**
 * The text of `ids` that later tokens cannot change: the decoded text less a trailing run of U+FFFD (the bytes of a
 * character whose remaining bytes are still to come). Streaming (generate's onToken, the server's deltas) hands on
 * only this.
 */
export function settledText(tokenizer: Tokenizer, ids: readonly number[]): string {
  return tokenizer.decode(ids).replace(/\uFFFD+$/, "");
}

/** Hugging Face convention: position = number of real tokens before this one (padding gets 0). */
export function positionsFromMask(mask: number[]): number[] {
  let seen = 0;
  return mask.map((m) => (m ? seen++ : 0));
}

/** A forward pass produced NaN or infinity (defined in errors.ts; re-exported here with the runtime). */
export { NonFiniteError };

function allFinite(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return false;
  return true;
}

function toF32(t: ort.Tensor, shape: number[], copy = false): F32Tensor {
  const data = t.data as Float32Array;
  return { shape, data: copy ? data.slice() : data };
}


/** Greedy when temperature is 0; otherwise temperature softmax, nucleus (top-p) cut, then a draw. */
export function sampleNext(logits: Float32Array, temperature: number, topP: number, rand: () => number): number {
  if (!(temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.exp((logits[i]! - max) / temperature);
  if (topP >= 1) {
    let r = rand() * sum;
    for (let i = 0; i < probs.length; i++) {
      r -= probs[i]!;
      if (r <= 0) return i;
    }
    return probs.length - 1;
  }
  // Nucleus: the most probable tokens until their mass reaches topP. Sorting a 150k vocabulary every step
  // is slow, so sort only tokens above a tiny probability first; fall back to all when those fall short.
  const nucleus = (candidates: number[]) => {
    candidates.sort((a, b) => probs[b]! - probs[a]! || a - b);
    const kept: number[] = [];
    let mass = 0;
    for (const i of candidates) {
      kept.push(i);
      mass += probs[i]! / sum;
      if (mass >= topP) return kept;
    }
    return null;
  };
  const likely: number[] = [];
  for (let i = 0; i < probs.length; i++) if (probs[i]! / sum > 1e-9) likely.push(i);
  const kept = nucleus(likely) ?? nucleus(Array.from(probs.keys()))!;
  let r = rand() * kept.reduce((acc, i) => acc + probs[i]!, 0);
  for (const i of kept) {
    r -= probs[i]!;
    if (r <= 0) return i;
  }
  return kept[kept.length - 1]!;
}
