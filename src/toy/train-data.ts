// Training data: token sequences -> seeded, reproducible batches of fixed shape [batch, seqLen].
//
// Each epoch shuffles the sequences with a generator seeded by (seed, epoch), so the data stream is
// a pure function of the seed and a resume only needs the cursor (epoch, batch within the epoch).
//
// Packing (the default) places several whole sequences in one row, first-fit over the open rows of
// a batch; every sequence keeps its own positions (restarting at 0, as at inference) and attends only
// to itself (block-diagonal causal mask), so packing changes nothing a sequence sees. The tail of a
// row is padding: its own segment, never counted in the loss. Without packing, each row holds one
// sequence. Sequences longer than seqLen are cut to their first seqLen tokens (counted in the stats).

import { ArgumentError } from "../errors.ts";
import { mulberry32 } from "../util/prng.ts";
import { hashString } from "./train-params.ts";

/** One batch, flattened row-major: element n = row * seqLen + t. */
export interface PackedBatch {
  batch: number;
  seqLen: number;
  ids: Int32Array;
  /** Position id of each token inside its own sequence. */
  positions: Int32Array;
  /** Segment of each token: the same id for the tokens of one sequence; padding has its own segment. */
  segments: Int32Array;
  /** Flat indices n whose output predicts the next token and is counted in the loss, ascending. */
  lossRows: Int32Array;
  /** The token each of `lossRows` must predict. */
  lossTargets: Int32Array;
  /** Non-padding tokens in the batch. */
  tokens: number;
  /** Non-padding tokens per row. */
  rowTokens: Int32Array;
}

export interface DataOptions {
  batchSize: number;
  seqLen: number;
  /** Pack several sequences per row (default true). */
  pack: boolean;
  padId: number;
  seed: number;
}

/** A row: the sequences it holds, in order. */
type Row = number[];

export interface EpochPlan {
  /** batches -> rows -> sequence indices */
  batches: Row[][];
}

/** Sequence order of one epoch: a Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rand = mulberry32(hashString(`${seed >>> 0}:epoch:${epoch}`));
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** The batches of one epoch. Deterministic in (lengths, options, epoch). */
export function planEpoch(lengths: readonly number[], opts: DataOptions, epoch: number): EpochPlan {
  const { batchSize: B, seqLen: T } = opts;
  const order = epochOrder(lengths.length, opts.seed, epoch);
  const rows: Row[] = [];
  if (!opts.pack) {
    for (const i of order) rows.push([i]);
  } else {
    // First-fit over up to B open rows; when a sequence fits none, the fullest open row is closed.
    const open: { seqs: Row; fill: number }[] = [];
    for (const i of order) {
      const len = Math.min(lengths[i]!, T);
      let row = open.find((r) => r.fill + len <= T);
      if (row === undefined) {
        if (open.length >= B) {
          let full = 0;
          for (let k = 1; k < open.length; k++) if (open[k]!.fill > open[full]!.fill) full = k;
          rows.push(open[full]!.seqs);
          open.splice(full, 1);
        }
        row = { seqs: [], fill: 0 };
        open.push(row);
      }
      row.seqs.push(i);
      row.fill += len;
    }
    for (const r of open) rows.push(r.seqs);
  }
  const batches: Row[][] = [];
  for (let i = 0; i < rows.length; i += B) batches.push(rows.slice(i, i + B));
  return { batches };
}

/**
 * Builds the tensors' host data for `rows`. `lossMask[i][j]` = 1 when token j of sequence i is
 * predicted and counted; null means every token after the first.
 */
export function buildBatch(rows: readonly Row[], sequences: readonly (readonly number[])[], lossMask: readonly (readonly number[])[] | null, seqLen: number, padId: number): PackedBatch {
  const B = rows.length;
  const T = seqLen;
  const ids = new Int32Array(B * T).fill(padId);
  const positions = new Int32Array(B * T);
  const segments = new Int32Array(B * T);
  const lossRows: number[] = [];
  const lossTargets: number[] = [];
  const rowTokens = new Int32Array(B);
  let tokens = 0;
  let segment = 0;
  for (let r = 0; r < B; r++) {
    let at = 0;
    for (const i of rows[r]!) {
      const seq = sequences[i]!;
      const mask = lossMask?.[i];
      const len = Math.min(seq.length, T - at);
      segment++;
      for (let j = 0; j < len; j++) {
        const n = r * T + at + j;
        ids[n] = seq[j]!;
        positions[n] = j;
        segments[n] = segment;
        if (j > 0 && (mask === undefined || mask[j] !== 0)) {
          lossRows.push(n - 1);
          lossTargets.push(seq[j]!);
        }
      }
      at += len;
      tokens += len;
    }
    rowTokens[r] = at;
    // Padding: one segment per row, positions counting on (never counted in the loss).
    segment++;
    for (let t = at; t < T; t++) {
      segments[r * T + t] = segment;
      positions[r * T + t] = t - at;
    }
  }
  return { batch: B, seqLen: T, ids, positions, segments, lossRows: Int32Array.from(lossRows), lossTargets: Int32Array.from(lossTargets), tokens, rowTokens };
}

/** Rows [from, to) of a batch, as a batch of its own (for data-parallel workers). */
export function sliceBatch(b: PackedBatch, from: number, to: number): PackedBatch {
  const T = b.seqLen;
  const lo = from * T;
  const hi = to * T;
  const rows: number[] = [];
  const targets: number[] = [];
  for (let k = 0; k < b.lossRows.length; k++) {
    const n = b.lossRows[k]!;
    if (n >= lo && n < hi) {
      rows.push(n - lo);
      targets.push(b.lossTargets[k]!);
    }
  }
  let tokens = 0;
  for (let r = from; r < to; r++) tokens += b.rowTokens[r]!;
  return {
    batch: to - from,
    seqLen: T,
    ids: b.ids.slice(lo, hi),
    positions: b.positions.slice(lo, hi),
    segments: b.segments.slice(lo, hi),
    lossRows: Int32Array.from(rows),
    lossTargets: Int32Array.from(targets),
    tokens,
    rowTokens: b.rowTokens.slice(from, to),
  };
}

/** Checks sequences and loss masks; returns the sequence lengths. */
export function checkSequences(sequences: readonly (readonly number[])[], lossMask: readonly (readonly number[])[] | null | undefined, vocabSize: number): number[] {
  if (!Array.isArray(sequences) || sequences.length === 0) throw new ArgumentError("trainToyModel: sequences must be a non-empty array of token id arrays", { field: "sequences" });
  if (lossMask !== undefined && lossMask !== null && lossMask.length !== sequences.length) {
    throw new ArgumentError(`trainToyModel: lossMask has ${lossMask.length} rows but there are ${sequences.length} sequences`, { field: "lossMask" });
  }
  return sequences.map((seq, i) => {
    if (!Array.isArray(seq) || seq.length < 2) throw new ArgumentError(`trainToyModel: sequence ${i} must hold at least 2 token ids`, { field: "sequences" });
    for (const id of seq) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ArgumentError(`trainToyModel: sequence ${i} holds token id ${id}, outside [0, ${vocabSize})`, { field: "sequences" });
      }
    }
    const m = lossMask?.[i];
    if (m !== undefined && m.length !== seq.length) {
      throw new ArgumentError(`trainToyModel: lossMask row ${i} has ${m.length} entries but sequence ${i} has ${seq.length} tokens`, { field: "lossMask" });
    }
    return seq.length;
  });
}
