// Queries over a feature database as arquero tables: small composable filters, plain data out.
import { from, type ColumnTable } from "arquero";
import type { FeatureRecord } from "./records.ts";

export interface FeatureQuery {
  /** Features tagged with this domain. */
  domain?: string;
  layer?: number;
  /** correlation_score (SLS) at least this. */
  minScore?: number;
  maxScore?: number;
  /** Case-insensitive substring of the explanation. */
  search?: string;
}

export function selectFeatures(records: readonly FeatureRecord[], q: FeatureQuery = {}): FeatureRecord[] {
  const needle = q.search?.toLowerCase();
  return records.filter(
    (r) =>
      (q.domain === undefined || r.tag_list.includes(q.domain)) &&
      (q.layer === undefined || r.layer === q.layer) &&
      (q.minScore === undefined || (r.correlation_score !== null && r.correlation_score >= q.minScore)) &&
      (q.maxScore === undefined || (r.correlation_score !== null && r.correlation_score <= q.maxScore)) &&
      (needle === undefined || (r.explanation ?? "").toLowerCase().includes(needle)),
  );
}

/** The matching features as a table: id, layer, index, correlation_score, tags (comma-joined), explanation. */
export function queryFeatures(records: readonly FeatureRecord[], q: FeatureQuery = {}): ColumnTable {
  const hits = selectFeatures(records, q);
  return from(
    hits.map((r) => ({ id: r.id, layer: r.layer, index: r.index, correlation_score: r.correlation_score, tags: r.tag_list.join(","), explanation: r.explanation })),
  );
}
