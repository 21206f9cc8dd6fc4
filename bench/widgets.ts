// The widget stack measured in a real browser (Debian's Chromium via playwright-core) against the safesail lab:
//
//   npx tsx bench/widgets.ts [--n 20] [--points 2000]
//
// 1. Lab start: spawn to first API answer of serve.py (JupyterLab 4.5.10 from npm on Debian's jupyter-server),
//    against a plain `python3 -m jupyter_server` start on the same machine (reference); then the page load in
//    Chromium until the lab shell has restored (no reference: there is no other JupyterLab here).
// 2. Kernel round trip for a control change: MetricPlot's layer <select> changed in the page until the kernel's
//    recomputed traces are drawn (data-revision), against the stock ipywidgets path: a Dropdown change whose
//    kernel callback sets a Label, until the Label shows it (reference). Both computes are trivial, so this is
//    the protocol + rendering cost.
// 3. Front-end render of a widget update: Plotly.react time inside MetricPlotView for `--points` points per
//    trace (data-render-ms), against Plotly.react of the same arrays called directly in the page (reference).
// Medians with the 10th-90th percentile range. Not a CI test.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../widgets/tests/chromium.ts";
import { buildLab, freePort, installLabExtension, LAB_PREFIX, startLab } from "../widgets/lab/launch.ts";
import { installKernelspec } from "../kernel/src/install.ts";

const { values } = parseArgs({ options: { n: { type: "string", default: "20" }, points: { type: "string", default: "2000" } } });
const N = Number(values.n);
const POINTS = Number(values.points);

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return `median ${q(0.5).toFixed(1)} ms (p10-p90 ${q(0.1).toFixed(1)}-${q(0.9).toFixed(1)}, n=${s.length})`;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function plainServerStart(): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-js-"));
  const started = Date.now();
  const child = spawn("/usr/bin/python3", ["-m", "jupyter_server", `--ServerApp.port=${port}`, "--ServerApp.token=t", "--ServerApp.open_browser=False", `--ServerApp.root_dir=${dir}`, ...(process.getuid?.() === 0 ? ["--ServerApp.allow_root=True"] : [])], { stdio: "ignore", env: { ...process.env, JUPYTER_NO_CONFIG: "1" } });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/status?token=t`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const ms = Date.now() - started;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source, i) => ({ cell_type: "code", execution_count: null, id: `c${i}`, metadata: {}, outputs: [], source })),
    metadata: { kernelspec: { display_name: "TypeScript (safesail)", language: "typescript", name: "safesail" } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

async function openAndRun(page: Page, url: string, token: string, name: string): Promise<void> {
  await page.goto(`${url}/workspaces/${name.replace(/\W/g, "-")}/tree/${name}?reset&token=${token}`);
  await page.waitForSelector("body[data-safesail-lab=ready]", { state: "attached", timeout: 60_000 });
  const idle = () => page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === "idle" && ![...document.querySelectorAll(".jp-InputArea-prompt")].some((e) => (e.textContent ?? "").includes("*")), undefined, { timeout: 120_000, polling: 100 });
  await idle();
  await page.evaluate(() => (window as any).jupyterapp.commands.execute("notebook:run-all-cells"));
  await idle();
}

async function main(): Promise<void> {
  buildLab();
  await installKernelspec({ prefix: LAB_PREFIX });
  await installLabExtension({ prefix: LAB_PREFIX });

  // 1. start times
  const labStarts: number[] = [];
  const plainStarts: number[] = [];
  for (let i = 0; i < Number(process.env.BENCH_STARTS ?? 5); i++) {
    const lab = await startLab({ prepared: true, root: tmpdir() });
    labStarts.push(lab.startMs);
    await lab.close();
    plainStarts.push(await plainServerStart());
  }
  console.log(`lab start:            ${summary(labStarts)}`);
  console.log(`  reference (jupyter_server alone): ${summary(plainStarts)}; ratio ${(median(labStarts) / median(plainStarts)).toFixed(2)}x`);

  const root = mkdtempSync(join(tmpdir(), "bench-widgets-"));
  const xs = `Float32Array.from({ length: ${POINTS} }, (_, i) => i / ${POINTS})`;
  writeFileSync(join(root, "metric.ipynb"), notebook([
    [
      `import { display, metricPlot, widgets } from "safesail/kernel";`,
      `const mp = metricPlot({ title: "bench", layers: [0, 1, 2, 3], sites: ["mlp_out"], ks: [8], layer: 0, site: "mlp_out", k: 8,`,
      `  compute: async ({ layer }) => ({ traces: [0, 1, 2].map((j) => ({ name: "t" + j, x: ${xs}, y: ${xs}.map((v) => Math.sin(v * (layer + j + 1) * 6)), mode: "lines" })), layout: {} }) });`,
      `const choice = widgets.Dropdown({ options: ["a", "b", "c", "d"], value: "a" });`,
      `const label = widgets.Label("a");`,
      `choice.on("change:index", () => { label.value = String(choice.value); });`,
      `display(mp);`,
      `widgets.VBox([choice, label])`,
    ].join("\n"),
  ]));
  const lab = await startLab({ prepared: true, root });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error") process.stderr.write(`page: ${m.text().slice(0, 300)}\n`);
    });
    // 1b. the page: navigation until the lab shell has restored (a warm browser cache after the first load)
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await page.goto(`${lab.url}/workspaces/load${i}?reset&token=${lab.token}`);
      await page.waitForSelector("body[data-safesail-lab=ready]", { state: "attached", timeout: 60_000 });
      loads.push(Date.now() - t0);
    }
    console.log(`lab page load to restored shell: first ${loads[0]} ms (cold cache); then ${summary(loads.slice(1))}`);
    await openAndRun(page, lab.url, lab.token, "metric.ipynb");
    process.stderr.write("bench: notebook ran\n");
    await page.waitForSelector('[data-safesail-view="MetricPlot"][data-revision]', { state: "attached", timeout: 60_000 }).catch(async (err) => {
      throw new Error(`no MetricPlot drawn; the cell printed:\n${(await page.locator(".jp-OutputArea-output").allTextContents()).join("\n")}\n${err}`);
    });

    // 2. round trips
    const metric: number[] = [];
    const stock: number[] = [];
    const renders: number[] = [];
    // Each change picks another option than the current one, so the kernel always has something to do; a change
    // that is not answered within 10 s is an error, not a hang.
    for (let i = 0; i < N; i++) {
      metric.push(await page.evaluate(async () => {
        const root = document.querySelector('[data-safesail-view="MetricPlot"]') as HTMLElement;
        const select = root.querySelector("select.safesail-control-layer") as HTMLSelectElement;
        const before = Number(root.dataset.revision);
        const t0 = performance.now();
        select.value = String((Number(select.value) + 1) % select.options.length);
        select.dispatchEvent(new Event("change"));
        let computingAt = 0;
        const obs = new MutationObserver(() => {
          if (!computingAt && root.querySelector(".safesail-status-computing")) computingAt = performance.now() - t0;
        });
        obs.observe(root, { subtree: true, attributes: true, childList: true });
        while (Number(root.dataset.revision) <= before) {
          if (performance.now() - t0 > 10_000) throw new Error("MetricPlot: no new revision within 10 s");
          await new Promise((r) => setTimeout(r, 1));
        }
        obs.disconnect();
        (window as any).__computing = [...((window as any).__computing ?? []), computingAt];
        return performance.now() - t0;
      }));
      renders.push(Number(await page.locator('[data-safesail-view="MetricPlot"]').getAttribute("data-render-ms")));
      stock.push(await page.evaluate(async () => {
        const select = document.querySelector(".widget-dropdown select") as HTMLSelectElement;
        const label = [...document.querySelectorAll(".widget-label")].at(-1) as HTMLElement;
        const next = select.options[(select.selectedIndex + 1) % select.options.length]!;
        const t0 = performance.now();
        select.value = next.value;
        // bubbles: the stock view listens through Backbone's delegated events on its root.
        select.dispatchEvent(new Event("change", { bubbles: true }));
        while (label.textContent !== next.textContent) {
          if (performance.now() - t0 > 10_000) throw new Error(`Dropdown: the label did not change within 10 s (label ${JSON.stringify(label.textContent)}, wanted ${JSON.stringify(next.textContent)}, labels ${JSON.stringify([...document.querySelectorAll(".widget-label")].map((e) => e.textContent))})`);
          await new Promise((r) => setTimeout(r, 1));
        }
        return performance.now() - t0;
      }));
    }
    const computing = await page.evaluate(() => (window as any).__computing as number[]);
    console.log(`  of which: until the kernel's "computing" status arrived: ${summary(computing)}`);
    console.log(`control change -> kernel -> drawn (MetricPlot, 3 x ${POINTS} points): ${summary(metric)}`);
    console.log(`  reference (Dropdown -> kernel callback -> Label): ${summary(stock)}; ratio ${(median(metric) / median(stock)).toFixed(2)}x`);

    // 3. front-end render (the reference gets the same plotly.js build as a plain script: window.Plotly)
    await page.addScriptTag({ path: join(import.meta.dirname, "..", "node_modules", "plotly.js-dist-min", "plotly.min.js") });
    const direct = await page.evaluate(async (points) => {
      const Plotly = (window as any).Plotly;
      const div = document.createElement("div");
      document.body.appendChild(div);
      const times: number[] = [];
      for (let r = 0; r < 10; r++) {
        const data = [0, 1, 2].map((j) => {
          const x = Array.from({ length: points }, (_, i) => i / points);
          return { x, y: x.map((v) => Math.sin(v * (r + j + 1) * 6)), mode: "lines", name: "t" + j };
        });
        const t0 = performance.now();
        await Plotly.react(div, data, { height: 360 });
        times.push(performance.now() - t0);
      }
      div.remove();
      return times;
    }, POINTS);
    console.log(`widget update render (Plotly.react in MetricPlotView): ${summary(renders)}`);
    console.log(`  reference (Plotly.react called directly): ${summary(direct)}; ratio ${(median(renders) / median(direct)).toFixed(2)}x`);
  } finally {
    await browser.close();
    await lab.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
