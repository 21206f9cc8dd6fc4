// Jupyter's trust model for published pages: a notebook's HTML (and SVG) outputs go into the page as they are only
// when the notebook's signature is trusted, i.e. Jupyter itself would run them: the notebook was executed or
// explicitly trusted (`jupyter trust`) by this user, whose signature database holds its signature. Anything else
// is untrusted and its HTML is sanitised, as JupyterLab does when it opens an untrusted notebook.
//
// The check is nbformat's own: Debian's /usr/bin/python3 runs `NotebookNotary().check_signature(nb)` once per
// notebook in a tiny snippet, with this process's environment, so JUPYTER_DATA_DIR (where the secret and the
// signature database live) is honoured as Jupyter honours it. Without python3-nbformat (or python3) every
// notebook is untrusted and a warning says so. The snippet never creates a secret or a database: a data dir
// (jupyter_data_dir()) without both has signed nothing, and is answered untrusted before nbformat's notary, which
// would create them, is built.
import { spawn } from "node:child_process";

export const SYSTEM_PYTHON = "/usr/bin/python3";

const SNIPPET = String.raw`
import json, os, sys
try:
    import nbformat
    from nbformat.sign import NotebookNotary
except ImportError as e:
    print(json.dumps({"missing": str(e)}))
    sys.exit(0)
from jupyter_core.paths import jupyter_data_dir
# Constructing a NotebookNotary creates its database, and reading its secret creates one: check first that this
# data dir has both (without them nothing was ever signed here).
data_dir = jupyter_data_dir()
if not all(os.path.exists(os.path.join(data_dir, f)) for f in ("notebook_secret", "nbsignatures.db")):
    print(json.dumps({"trusted": False, "why": "no notebook secret or signature database in " + data_dir}))
    sys.exit(0)
notary = NotebookNotary()
with open(sys.argv[1], encoding="utf-8") as f:
    nb = nbformat.read(f, as_version=nbformat.NO_CONVERT)
print(json.dumps({"trusted": bool(notary.check_signature(nb))}))
`;

export interface TrustResult {
  trusted: boolean;
  /** Set when the check could not be made (the notebook is then treated as untrusted). */
  warning?: string;
}

export interface TrustOptions {
  python?: string;
  env?: NodeJS.ProcessEnv;
}

/** Whether Jupyter trusts the notebook at `file` (see the file comment). Never throws. */
export function checkTrust(file: string, opts: TrustOptions = {}): Promise<TrustResult> {
  const python = opts.python ?? SYSTEM_PYTHON;
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    let child;
    try {
      child = spawn(python, ["-c", SNIPPET, file], { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      resolve({ trusted: false, warning: `${file}: cannot check the notebook's signature (${python}: ${(e as Error).message}); treated as untrusted` });
      return;
    }
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("error", (e) => resolve({ trusted: false, warning: `${file}: cannot check the notebook's signature (${python}: ${e.message}); treated as untrusted` }));
    child.on("close", (code) => {
      let r: { trusted?: boolean; missing?: string } | undefined;
      try {
        r = JSON.parse(out.trim().split("\n").pop() ?? "");
      } catch {
        r = undefined;
      }
      if (r?.missing !== undefined) {
        resolve({ trusted: false, warning: `${file}: python3-nbformat is not installed (${r.missing}), so no signature can be checked; treated as untrusted (HTML outputs sanitised)` });
      } else if (code === 0 && typeof r?.trusted === "boolean") {
        resolve({ trusted: r.trusted });
      } else {
        const last = err.trim().split("\n").pop() ?? `exit ${code}`;
        resolve({ trusted: false, warning: `${file}: the signature check failed (${last}); treated as untrusted` });
      }
    });
  });
}
