// `safesail lab [--port N] [--ip ADDR] [--dir DIR] [--no-browser-open]` and `safesail lab install [...]`: the
// JupyterLab front end built from npm @jupyterlab/* (widgets/lab/), with the safesail kernel and widgets, served by
// Debian's jupyter-server + jupyterlab-server. The lab code loads only when this command runs.
import { spawn } from "node:child_process";
import { ArgumentError } from "../errors.ts";
import { intArg, parseCliArgs } from "./args.ts";

const USAGE = "safesail lab [--port N] [--ip ADDR] [--dir DIR] [--token T] [--open]  |  safesail lab install [--user | --prefix DIR | --sys-prefix]";

const HELP = `usage: safesail lab [--port N] [--ip ADDR] [--dir DIR] [--token T] [--open]

Starts JupyterLab (4.5.10, assembled from npm @jupyterlab/* packages; no Python JupyterLab needed) on Debian's
jupyter-server + jupyterlab-server, with the "TypeScript (safesail)" kernel and the safesail-widgets extension
(MetricPlot and the other safesail views, and an offline Plotly renderer). Builds what is missing on first use and
installs the Debian packages it needs when run as root (else names them). Prints the URL with its token.

  --port N      port (default 8888; 0 picks a free one)
  --ip ADDR     address to bind (default 127.0.0.1: this machine only)
  --dir DIR     the folder the lab opens (default notebooks/)
  --token T     login token (default: a random one, printed; or $JUPYTER_TOKEN)
  --open        open the URL in the system browser (xdg-open)

usage: safesail lab install [--user | --prefix DIR | --sys-prefix]

Installs the safesail-widgets extension into a real JupyterLab's data directory, as a prebuilt extension:
  --user          $JUPYTER_DATA_DIR or ~/.local/share/jupyter/labextensions/safesail-widgets (the default)
  --prefix DIR    DIR/share/jupyter/labextensions/safesail-widgets (e.g. a virtualenv's sys.prefix)
  --sys-prefix    /usr/local/share/jupyter/labextensions/safesail-widgets
Pair it with \`safesail kernel install\` (same flags) for the kernel.`;

export async function labCommand(args: string[]): Promise<number> {
  const lab = await import("../../widgets/lab/launch.ts");
  if (args[0] === "install") {
    const { values } = parseCliArgs({
      args: args.slice(1),
      maxPositionals: 0,
      usage: "safesail lab install [--user | --prefix DIR | --sys-prefix]",
      help: HELP,
      options: { user: { type: "boolean" }, prefix: { type: "string" }, "sys-prefix": { type: "boolean" } },
    });
    const opts = { user: values.user, prefix: values.prefix, sysPrefix: values["sys-prefix"] };
    // Check the flags before a build that takes a while.
    try {
      lab.labextensionsDir(opts);
    } catch (err) {
      throw new ArgumentError((err as Error).message);
    }
    lab.buildLab({ extensionOnly: true });
    const dest = await lab.installLabExtension(opts);
    process.stdout.write(`installed the safesail-widgets extension in ${dest}\n`);
    return 0;
  }
  const { values } = parseCliArgs({
    args,
    maxPositionals: 0,
    usage: USAGE,
    help: HELP,
    options: {
      port: { type: "string" },
      ip: { type: "string" },
      dir: { type: "string" },
      token: { type: "string" },
      open: { type: "boolean" },
    },
  });
  const port = intArg(values, "port", { min: 0, max: 65535, default: 8888 });
  const running = await lab.startLab({
    port: port === 0 ? undefined : port,
    ip: values.ip,
    root: values.dir,
    token: values.token ?? process.env.JUPYTER_TOKEN,
    onLog: (line) => {
      if (/\[(W|E|C) /.test(line)) process.stderr.write(`${line}\n`);
    },
    timeoutMs: 120_000,
  });
  process.stdout.write(`safesail lab: ${running.urlWithToken}\n  serving ${running.root} (started in ${(running.startMs / 1000).toFixed(1)} s; Ctrl-C stops it)\n`);
  if (values.open) spawn("xdg-open", [running.urlWithToken], { stdio: "ignore", detached: true }).on("error", () => {}).unref();
  const stop = () => void running.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  await new Promise<void>((resolve) => running.process.once("exit", () => resolve()));
  return 0;
}
