// `safesail notebooks run` keeps the widget state and signs what it writes: real notebooks executed by the real CLI
// against the real safesail kernel (nbclient under /usr/bin/python3), with JUPYTER_DATA_DIR in a temp folder, then
// the written files read back: metadata.widgets["application/vnd.jupyter.widget-state+json"] holds the final state
// of the models still open (closed ones gone, binary buffers base64 at their paths), and nbformat's NotebookNotary
// says the file is trusted with that data dir only (not with another one, not after an edit, not with --no-sign).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_PYTHON } from "../../src/cli/notebooks.ts";
import { exec, ROOT } from "./widgets-helpers.ts";

const BIN = join(ROOT, "bin/safesail.js");
const STATE_MIME = "application/vnd.jupyter.widget-state+json";
const VIEW_MIME = "application/vnd.jupyter.widget-view+json";

interface Output { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown> }
interface Cell { cell_type: string; source: string | string[]; outputs?: Output[]; execution_count?: number | null }
interface ModelEntry {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: Record<string, unknown>;
  buffers?: { path: Array<string | number>; encoding: string; data: string }[];
}
interface WidgetState { version_major: number; version_minor: number; state: Record<string, ModelEntry> }
interface Notebook { cells: Cell[]; metadata: { widgets?: Record<string, WidgetState> } & Record<string, unknown> }

let tmp: string;
let env: NodeJS.ProcessEnv;
let dataDir: string;

const notebook = (cells: string[], metadata: Record<string, unknown> = {}) =>
  JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "safesail", display_name: "TypeScript (safesail)", language: "typescript" }, ...metadata },
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", source, metadata: {}, outputs: [], execution_count: null })),
  });

const read = (p: string) => JSON.parse(readFileSync(p, "utf8")) as Notebook;
const text = (o: Output) => (Array.isArray(o.text) ? o.text.join("") : String(o.text ?? ""));
/** The JSON object a cell printed with console.log(JSON.stringify(...)). */
const printed = (c: Cell) => JSON.parse(c.outputs!.filter((o) => o.output_type === "stream").map(text).join("")) as Record<string, string>;
const viewId = (c: Cell) => (c.outputs!.find((o) => o.data?.[VIEW_MIME])!.data![VIEW_MIME] as { model_id: string }).model_id;

/** NotebookNotary().check_signature of the file, with this JUPYTER_DATA_DIR, as Debian's nbformat answers it. */
async function trusted(file: string, jupyterDataDir: string): Promise<boolean> {
  const code = "import sys, nbformat\nfrom nbformat.sign import NotebookNotary\n" +
    "print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], as_version=4)))";
  const r = await exec(SYSTEM_PYTHON, ["-c", code, file], { ...process.env, JUPYTER_DATA_DIR: jupyterDataDir });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toMatch(/^(True|False)$/);
  return r.stdout.trim() === "True";
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "safesail-nb-widget-state-"));
  const prefix = join(tmp, "prefix");
  const r = await exec(process.execPath, [BIN, "kernel", "install", "--prefix", prefix]);
  expect(r.code, r.stderr).toBe(0);
  dataDir = join(tmp, "jupyter-data");
  env = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter"), JUPYTER_DATA_DIR: dataDir };
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("safesail notebooks run: widget state and signing", () => {
  let out: string;
  let run: { code: number; stdout: string; stderr: string };
  const F32 = [1.5, -2, 3.25, 1e-3];

  beforeAll(async () => {
    const dir = join(tmp, "in");
    mkdirSync(dir);
    writeFileSync(join(dir, "controls.ipynb"), notebook([
      'import { widgets } from "safesail/kernel";\nconst s = widgets.IntSlider({ value: 3, min: 0, max: 10, description: "k" });\ns',
      'const a = widgets.Label("left");\nconst b = widgets.Button({ description: "right" });\nconst box = widgets.HBox([a, b]);\nbox',
      'const gone = widgets.Checkbox({ value: true, description: "closed later" });\ngone',
      "gone.close();\ns.value = 7;",
      "console.log(JSON.stringify({ slider: s.modelId, box: box.modelId, a: a.modelId, b: b.modelId, gone: gone.modelId }))",
    ]));
    writeFileSync(join(dir, "custom.ipynb"), notebook([
      'import { WidgetModel, baseState, type BaseState } from "safesail/kernel";\n' +
        "interface ArrayState extends BaseState { data: Float32Array; title: string }\n" +
        "class ArrayModel extends WidgetModel<ArrayState> {\n" +
        "  constructor(init: Partial<ArrayState> = {}) {\n" +
        '    super({ ...baseState(), _model_module: "safesail-test", _model_module_version: "0.3.1", _model_name: "ArrayModel",\n' +
        '      data: new Float32Array(0), title: "" }, init);\n' +
        "  }\n" +
        "}\n" +
        'const arr = new ArrayModel({ data: new Float32Array([9, 9]), title: "first" });',
      `arr.set({ data: new Float32Array(${JSON.stringify(F32)}), title: "second" });\nconsole.log(JSON.stringify({ arr: arr.modelId }))`,
    ]));
    // No widgets: no widget-state key, and a stale one from an earlier run is dropped.
    writeFileSync(join(dir, "plain.ipynb"), notebook(["6 * 7"], {
      widgets: { [STATE_MIME]: { version_major: 2, version_minor: 0, state: { stale: { model_name: "X", model_module: "x", model_module_version: "1", state: {} } } } },
    }));
    out = join(tmp, "out");
    run = await exec(process.execPath, [BIN, "notebooks", "run", join(dir, "controls.ipynb"), join(dir, "custom.ipynb"), join(dir, "plain.ipynb"), "--out", out], env);
  }, 110_000);

  it("runs them all", () => {
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("notebooks: 3 passed, 0 failed");
    expect(run.stdout).not.toContain("not signed");
  });

  it("stores the final state of the open controls, box children as references, no closed widget", () => {
    const nb = read(join(out, "controls.ipynb"));
    const ws = nb.metadata.widgets![STATE_MIME]!;
    expect(ws.version_major).toBe(2);
    expect(ws.version_minor).toBe(0);
    const ids = printed(nb.cells[4]!);
    // The views stay in the cells, and point at stored models.
    expect(viewId(nb.cells[0]!)).toBe(ids.slider);
    expect(viewId(nb.cells[1]!)).toBe(ids.box);
    expect(viewId(nb.cells[2]!)).toBe(ids.gone);

    const slider = ws.state[ids.slider!]!;
    expect(slider).toMatchObject({ model_name: "IntSliderModel", model_module: "@jupyter-widgets/controls", model_module_version: "2.0.0" });
    expect(slider.state).toMatchObject({ value: 7, min: 0, max: 10, description: "k", _model_name: "IntSliderModel", _view_name: "IntSliderView" });
    expect(slider).not.toHaveProperty("buffers");
    const layoutRef = slider.state.layout as string;
    expect(layoutRef).toMatch(/^IPY_MODEL_[0-9a-f]{32}$/);
    expect(ws.state[layoutRef.slice("IPY_MODEL_".length)]).toMatchObject({ model_name: "LayoutModel", model_module: "@jupyter-widgets/base", model_module_version: "2.0.0" });

    expect(ws.state[ids.box!]).toMatchObject({ model_name: "HBoxModel", model_module: "@jupyter-widgets/controls", model_module_version: "2.0.0" });
    expect(ws.state[ids.box!]!.state.children).toEqual([`IPY_MODEL_${ids.a}`, `IPY_MODEL_${ids.b}`]);
    expect(ws.state[ids.a!]).toMatchObject({ model_name: "LabelModel", state: { value: "left" } });
    expect(ws.state[ids.b!]).toMatchObject({ model_name: "ButtonModel", state: { description: "right" } });

    expect(ids.gone).toMatch(/^[0-9a-f]{32}$/);
    expect(ws.state).not.toHaveProperty(ids.gone!);
    for (const [id, entry] of Object.entries(ws.state)) {
      expect(entry.state._model_name, id).toBe(entry.model_name);
      expect(entry.state._model_module, id).toBe(entry.model_module);
      expect(entry.state._model_module_version, id).toBe(entry.model_module_version);
    }
  });

  it("keeps a custom model's Float32Array as a base64 buffer at its path, with the final bytes", () => {
    const nb = read(join(out, "custom.ipynb"));
    const { arr } = printed(nb.cells[1]!);
    const entry = nb.metadata.widgets![STATE_MIME]!.state[arr!]!;
    expect(entry).toMatchObject({ model_name: "ArrayModel", model_module: "safesail-test", model_module_version: "0.3.1" });
    expect(entry.state.title).toBe("second");
    expect(entry.state).not.toHaveProperty("data"); // the buffer fills it in, by path
    expect(entry.buffers).toHaveLength(1);
    const buf = entry.buffers![0]!;
    expect(buf.path).toEqual(["data"]);
    expect(buf.encoding).toBe("base64");
    const bytes = Buffer.from(buf.data, "base64");
    expect(bytes.equals(Buffer.from(new Float32Array(F32).buffer))).toBe(true);
  });

  it("adds no widget-state key to a notebook without widgets", () => {
    const nb = read(join(out, "plain.ipynb"));
    expect(nb.metadata.widgets?.[STATE_MIME]).toBeUndefined();
    expect(JSON.stringify(nb.cells[0]!.outputs)).toContain("42");
  });

  it("signs the written notebooks in JUPYTER_DATA_DIR only; an edit or --no-sign is untrusted", async () => {
    const file = join(out, "controls.ipynb");
    expect(await trusted(file, dataDir)).toBe(true);
    expect(await trusted(join(out, "custom.ipynb"), dataDir)).toBe(true);
    expect(await trusted(file, join(tmp, "other-data"))).toBe(false);

    // The signature is over the content, not the file's bytes: the same notebook re-serialized is still trusted,
    // one edited cell is not.
    const copy = join(tmp, "copy.ipynb");
    writeFileSync(copy, JSON.stringify(read(file), null, 1));
    expect(await trusted(copy, dataDir)).toBe(true);
    const edited = read(file);
    edited.cells[3]!.source = "gone.close();\ns.value = 8;";
    const editedFile = join(tmp, "edited.ipynb");
    writeFileSync(editedFile, JSON.stringify(edited, null, 1));
    expect(await trusted(editedFile, dataDir)).toBe(false);

    const dir = join(tmp, "nosign");
    mkdirSync(dir);
    writeFileSync(join(dir, "unsigned.ipynb"), notebook(['"not signed " + (1 + 1)']));
    const r = await exec(process.execPath, [BIN, "notebooks", "run", join(dir, "unsigned.ipynb"), "--no-sign"], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.stringify(read(join(dir, "unsigned.ipynb")).cells[0]!.outputs)).toContain("not signed 2");
    expect(await trusted(join(dir, "unsigned.ipynb"), dataDir)).toBe(false);
  }, 60_000);
});
