// Per-test setup shared by the widget unit tests: a FakeKernel with the widgets attached and console.error
// captured (callback errors are logged, never thrown), then every widget closed and the kernel slot cleared.
import { vi } from "vitest";
import { allWidgets, attachWidgets } from "../src/widgets/index.ts";
import { setKernel } from "../src/widgets/kernel.ts";
import { FakeKernel } from "./widgets-fake.ts";

/** For beforeEach: a fresh fake front end, and the list console.error messages go to. */
export function startFakeWidgetKernel(): { kernel: FakeKernel; errors: string[] } {
  const kernel = new FakeKernel();
  attachWidgets(kernel);
  const errors: string[] = [];
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    errors.push(args.map(String).join(" "));
  });
  return { kernel, errors };
}

/** For afterEach: closes every widget, detaches the kernel, restores console.error. */
export function stopFakeWidgetKernel(): void {
  for (const w of [...allWidgets().values()]) w.close();
  setKernel(undefined);
  vi.restoreAllMocks();
}
