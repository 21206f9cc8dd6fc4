// Worker thread of the data-parallel trainer (see train-engine.ts): its own tfjs instance, the
// shared parameters in, the gradient of its share of each batch out.

import { parentPort, workerData } from "node:worker_threads";
import { getTf } from "../engine/tfjs.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./train-engine.ts";
import { paramLayout } from "./train-params.ts";
import { lossAndGrads } from "./train-step.ts";

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

try {
  const { tf, backend } = await getTf();
  const layout = paramLayout(init.config);
  const params = new Float32Array(init.params);
  const slots = init.grads.map((g) => new Float32Array(g));
  const sync = new Int32Array(init.sync);
  port.on("message", (m: ToWorker) => {
    if (m.type === "stop") {
      port.close();
      return;
    }
    try {
      const version = Atomics.load(sync, 0);
      if (version !== m.version) throw new Error(`parameter version ${version}, step asks for ${m.version}`);
      const parts = m.jobs.map(({ slot, batch }) => ({ slot, ...lossAndGrads(tf, init.config, layout, params, batch, slots[slot]!) }));
      Atomics.store(sync, 1 + init.index, m.version);
      post({ type: "done", version: m.version, parts });
    } catch (err) {
      post({ type: "error", message: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack });
    }
  });
  post({ type: "ready", backend });
} catch (err) {
  post({ type: "error", message: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack });
}
