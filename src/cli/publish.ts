// `safesail publish NOTEBOOK... --out DIR [--overwrite] [--title TEXT] [--in-page MODEL [--in-page-saes DIR]]`: executed notebooks as self-contained
// offline HTML pages plus an index, thin over widgets/src/publish (docs/publish.md).
import { ArgumentError } from "../errors.ts";
import { parseCliArgs } from "./args.ts";

const SYNOPSIS = "safesail publish NOTEBOOK... --out DIR [--overwrite] [--title TEXT] [--in-page MODEL [--in-page-saes DIR]]";
const USAGE = `usage: ${SYNOPSIS}

  --out DIR            folder for the pages: DIR/<notebook>.html per notebook and DIR/index.html
  --overwrite          replace existing files (without it an existing file is an error naming it)
  --title TEXT         title of the index page (default "Notebooks")
  --in-page MODEL      run this model folder in the reader's browser: its weights, tokenizer, SAEs and feature
                       database go to DIR/inpage/ (with onnxruntime-web), and the token views and steering panels
                       made on it answer Generate with no kernel
  --in-page-saes DIR   the folder of SAE folders for --in-page (default MODEL/saes; its features.db.json too)

Each page is one self-contained HTML file that makes no network request: Markdown rendered and sanitised, code
with its outputs, images as data: URIs; widgets (from the notebook's saved widget state) and Plotly figures
drawn by one inlined script (widgets/dist/embed.js, built first when missing or stale), with a text fallback
that shows without JavaScript. HTML outputs go in as written only when Jupyter trusts the notebook's signature
(\`jupyter trust\`, honouring JUPYTER_DATA_DIR); otherwise they are sanitised. Publish executed notebooks:
safesail notebooks run NOTEBOOK... --out DIR first. See docs/publish.md.`;

export async function publishCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    allowPositionals: true,
    usage: SYNOPSIS,
    help: USAGE,
    options: {
      out: { type: "string" },
      overwrite: { type: "boolean" },
      title: { type: "string" },
      "in-page": { type: "string" },
      "in-page-saes": { type: "string" },
    },
  });
  if (positionals.length === 0) throw new ArgumentError(`no notebooks given\n\n${USAGE}`);
  if (values.out === undefined || values.out === "") throw new ArgumentError(`--out DIR is required\n\n${USAGE}`);
  const inPageModel = values["in-page"];
  if (values["in-page-saes"] !== undefined && inPageModel === undefined) throw new ArgumentError(`--in-page-saes needs --in-page MODEL\n\n${USAGE}`);
  // Loaded here, not at start-up: marked, sanitize-html and the page renderer are only needed by this command.
  const { publishNotebooks } = await import("../../widgets/src/publish/index.ts");
  const r = await publishNotebooks(positionals, {
    out: values.out,
    overwrite: values.overwrite === true,
    ...(values.title !== undefined ? { title: values.title } : {}),
    ...(inPageModel !== undefined ? { inPage: { model: inPageModel, ...(values["in-page-saes"] !== undefined ? { saes: values["in-page-saes"] } : {}) } } : {}),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  for (const p of r.pages) process.stdout.write(`${p.path}\n`);
  process.stdout.write(`${r.index}\n`);
  return 0;
}
