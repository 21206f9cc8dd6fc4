// `safesail kernel run CONN | install [...]`: the Jupyter kernel (kernel/). Its modules load only when this
// command runs, so the rest of the CLI never loads zeromq or the TypeScript converter.
import { ArgumentError } from "../errors.ts";
import { choiceArg, parseCliArgs, requiredPositional } from "./args.ts";

const USAGE = `usage: safesail kernel <subcommand>

  run CONNECTION_FILE          run the kernel (what Jupyter starts; see the kernelspec's argv)
  install [--user | --prefix DIR | --sys-prefix] [--name NAME] [--display-name TEXT] [--interrupt-mode signal|message]
                               write the kernelspec (default --user: $JUPYTER_DATA_DIR or ~/.local/share/jupyter/kernels)`;

const RUN_HELP = `usage: safesail kernel run CONNECTION_FILE

Runs the Jupyter kernel on the ports and key of CONNECTION_FILE. Jupyter starts this itself, from the
kernelspec's argv ({connection_file}); there is no need to run it by hand.`;

const INSTALL_USAGE = "safesail kernel install [--user | --prefix DIR | --sys-prefix] [--name NAME] [--display-name TEXT] [--interrupt-mode signal|message]";

const INSTALL_HELP = `usage: ${INSTALL_USAGE}

Writes the "TypeScript (safesail)" kernelspec (kernel.json + logos) so Jupyter can start the kernel.

  --user                  into $JUPYTER_DATA_DIR or ~/.local/share/jupyter/kernels (the default)
  --prefix DIR            into DIR/share/jupyter/kernels (point JUPYTER_PATH at DIR/share/jupyter)
  --sys-prefix            into /usr/local/share/jupyter/kernels
  --name NAME             kernelspec name (default safesail)
  --display-name TEXT     the name Jupyter shows (default "TypeScript (safesail)")
  --interrupt-mode M      signal (default: Jupyter sends SIGINT) or message (interrupt_request on control)

Check with /usr/bin/python3 -m jupyter kernelspec list (Debian's jupyter-client package, which scripts/system-deps.sh
installs; without it: /usr/bin/python3 -m jupyter_client.kernelspecapp list).`;

export async function kernelCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "run") {
    const { positionals } = parseCliArgs({ args: rest, maxPositionals: 1, usage: "safesail kernel run CONNECTION_FILE", help: RUN_HELP, options: {} });
    const file = requiredPositional(positionals, 0, "CONNECTION_FILE", "safesail kernel run CONNECTION_FILE");
    const { runKernel } = await import("../../kernel/src/main.ts");
    const code = await runKernel(file);
    // Timers or handles left by cells must not keep a shut-down kernel alive.
    process.exit(code);
  }
  if (sub === "install") {
    const { values } = parseCliArgs({
      args: rest,
      maxPositionals: 0,
      usage: INSTALL_USAGE,
      help: INSTALL_HELP,
      options: {
        user: { type: "boolean" },
        prefix: { type: "string" },
        "sys-prefix": { type: "boolean" },
        name: { type: "string" },
        "display-name": { type: "string" },
        "interrupt-mode": { type: "string" },
      },
    });
    const mode = choiceArg(values, "interrupt-mode", ["signal", "message"] as const);
    const { installKernelspec } = await import("../../kernel/src/install.ts");
    let dest: string;
    try {
      dest = await installKernelspec({
        ...(values.user ? { user: true } : {}),
        ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
        ...(values["sys-prefix"] ? { sysPrefix: true } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values["display-name"] !== undefined ? { displayName: values["display-name"] } : {}),
        ...(mode !== undefined ? { interruptMode: mode } : {}),
      });
    } catch (err) {
      if ((err as { code?: string }).code === "EACCES") throw new ArgumentError(`${(err as Error).message} (use --user, or run as root)`);
      if (err instanceof Error && /choose one of|kernel name/.test(err.message)) throw new ArgumentError(err.message);
      throw err;
    }
    process.stdout.write(`installed kernelspec in ${dest}\n`);
    return 0;
  }
  if (!sub || sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  process.stderr.write(`safesail kernel: unknown subcommand "${sub}"\n\n${USAGE}\n`);
  return 2;
}
