// Input/output history for `history_request` (tail, range, search), as IPython's HistoryManager answers it:
// entries are (session, line, input[, output]) with the line the cell's execution count; search takes a glob
// (`*`, `?`, `[abc]`, `[^abc]`, matched against the whole input, case-sensitive, like SQLite's GLOB), `n` keeps
// the latest n matches and `unique` keeps one entry per distinct input (its latest).
//
// History lives in memory for the session. With a file (SAFESAIL_KERNEL_HISTORY or the `file` option) it is
// also appended there as JSON lines and read back at start, each kernel start being a new session number.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { log } from "./log.ts";

export interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  output: string | null;
}

export type HistoryItem = [number, number, string] | [number, number, [string, string | null]];

export interface HistoryOptions {
  /** JSON-lines file to load from and append to; none keeps history in memory only. */
  file?: string;
}

/** A glob (`*`, `?`, `[...]`, `[^...]` / `[!...]`) as an anchored regular expression. */
export function globToRegExp(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith("^") || body.startsWith("!")) {
        negate = true;
        body = body.slice(1);
      }
      const escaped = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
      re += `[${negate ? "^" : ""}${escaped}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
  }
  return new RegExp(re + "$");
}

export class History {
  readonly session: number;
  private readonly entries: HistoryEntry[] = [];
  private readonly file: string | undefined;

  constructor(opts: HistoryOptions = {}) {
    this.file = opts.file;
    let maxSession = 0;
    if (this.file) {
      let text = "";
      try {
        text = readFileSync(this.file, "utf8");
      } catch {
        // no history yet
      }
      const byKey = new Map<string, HistoryEntry>();
      for (const lineText of text.split("\n")) {
        if (!lineText.trim()) continue;
        try {
          const r = JSON.parse(lineText) as { s?: unknown; l?: unknown; i?: unknown; o?: unknown };
          if (typeof r.s !== "number" || typeof r.l !== "number") continue;
          maxSession = Math.max(maxSession, r.s);
          const key = `${r.s}:${r.l}`;
          if (typeof r.i === "string") {
            const e: HistoryEntry = { session: r.s, line: r.l, input: r.i, output: null };
            byKey.set(key, e);
            this.entries.push(e);
          }
          const known = byKey.get(key);
          if (known && typeof r.o === "string") known.output = r.o;
        } catch {
          // a torn line from a crash: skip it
        }
      }
    }
    this.session = maxSession + 1;
  }

  private persist(record: object): void {
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      appendFileSync(this.file, JSON.stringify(record) + "\n");
    } catch (err) {
      log(`history: cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Stores the input of execution `line` of this session. */
  add(line: number, input: string): void {
    this.entries.push({ session: this.session, line, input, output: null });
    this.persist({ s: this.session, l: line, i: input });
  }

  /** Stores the text/plain result of execution `line` of this session. */
  setOutput(line: number, output: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.session === this.session && e.line === line) {
        e.output = output;
        this.persist({ s: this.session, l: line, o: output });
        return;
      }
    }
  }

  all(): readonly HistoryEntry[] {
    return this.entries;
  }

  private format(entries: readonly HistoryEntry[], output: boolean): HistoryItem[] {
    return entries.map((e) => (output ? [e.session, e.line, [e.input, e.output]] : [e.session, e.line, e.input]));
  }

  /** The last `n` entries (all sessions), oldest first. */
  tail(n: number, output = false): HistoryItem[] {
    return this.format(n > 0 ? this.entries.slice(-n) : [], output);
  }

  /**
   * Lines `start` <= line < `stop` (stop omitted or <= 0: to the end) of `session`; session 0 (or omitted) is
   * the current one, negative numbers count back from it.
   */
  range(session = 0, start = 0, stop?: number, output = false): HistoryItem[] {
    const s = session <= 0 ? this.session + session : session;
    const picked = this.entries.filter((e) => e.session === s && e.line >= start && (stop === undefined || stop <= 0 || e.line < stop));
    return this.format(picked, output);
  }

  /** Entries whose input matches the glob `pattern`, oldest first; `n` keeps the latest n, `unique` one per input. */
  search(pattern = "*", n?: number, unique = false, output = false): HistoryItem[] {
    const re = globToRegExp(pattern);
    let picked = this.entries.filter((e) => re.test(e.input));
    if (unique) {
      const latest = new Map<string, HistoryEntry>();
      for (const e of picked) latest.set(e.input, e);
      const keep = new Set(latest.values());
      picked = picked.filter((e) => keep.has(e));
    }
    if (n !== undefined && n !== null && n > 0) picked = picked.slice(-n);
    return this.format(picked, output);
  }
}
