// tslab's converter rewrites a reference to a variable of an earlier cell `x` into `exports.x`, but it
// misses shorthand properties: `{ x }` in a later cell keeps a bare `x`, which no longer exists at run
// time (ReferenceError). Writing every shorthand property out as `x: x` before conversion gives the
// converter an ordinary identifier to rewrite; the meaning is the same in object literals and in
// assignment patterns alike. `{ x = 1 }` (a default in an assignment pattern) is left as it is.
import ts from "typescript";

export function expandShorthandProperties(src: string): string {
  if (!src.includes("{")) return src;
  const file = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const inserts: { at: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isShorthandPropertyAssignment(node) && node.objectAssignmentInitializer === undefined) {
      inserts.push({ at: node.name.getEnd(), text: `: ${node.name.text}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  if (inserts.length === 0) return src;
  let out = src;
  for (const ins of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, ins.at) + ins.text + out.slice(ins.at);
  return out;
}
