// A scripted stand-in for an LLM judge, for the loopback OpenAI server (./openai-server.ts): it reads safesail's
// stage-2 prompts (src/interpret/prompts.ts) and answers each in the requested shape, deterministically, from the
// prompt alone. The explanation names the first marked token; the simulations predict from that token's word.
// It is not a model of anything: it lets the LLM path (transport, cache, parsing, records) run end to end.
import type { Behaviour } from "./openai-server.ts";

const count = (user: string): number => Number(/\((\d+)\)/.exec(user)?.[1] ?? 0);

/** The explanation's quoted target word ('...' inside the explanation), or "". */
function target(user: string): string {
  const explained = /^A feature of a language model is explained as: (.*)$/m.exec(user)?.[1];
  return (explained ? /'([^']+)'/.exec(JSON.parse(explained) as string)?.[1] : undefined) ?? "";
}

export function stage2Judge(body: { messages: { role: string; content: string }[] }): Behaviour {
  const system = body.messages[0]!.content;
  const user = body.messages[1]!.content;
  const n = count(user);
  const word = target(user);
  const lines = user.split("\n").slice(2);
  const usage = { prompt_tokens: Math.ceil((system.length + user.length) / 4), completion_tokens: 0 };
  const reply = (value: unknown): Behaviour => {
    const text = JSON.stringify(value);
    return { reply: text, usage: { ...usage, completion_tokens: Math.ceil(text.length / 4) } };
  };
  if (system.startsWith("You are studying")) return reply({ explanation: `the token '${/<<([^>]+)>>/.exec(user)?.[1]?.trim() ?? "?"}'` });
  if (system.startsWith("You predict how strongly")) {
    const tokens = lines.map((l) => JSON.parse(l.slice(l.indexOf("\t") + 1)) as string);
    return reply({ activations: tokens.slice(0, n).map((t) => (word && t.trim() === word ? 10 : 0)) });
  }
  if (system.startsWith("You predict whether")) {
    const segs = lines.map((l) => JSON.parse(l.replace(/^Segment \d+: /, "")) as string);
    return reply({ active: segs.slice(0, n).map((s) => word !== "" && s.includes(word)) });
  }
  const excerpts = lines.map((l) => JSON.parse(l.replace(/^Excerpt \d+: /, "")) as string);
  return reply({ answers: excerpts.slice(0, n).map((s) => (word !== "" && s.includes(word) ? 1 : 0)) });
}
