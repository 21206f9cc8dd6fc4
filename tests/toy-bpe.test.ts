import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  bpeModelFromTokenizerJson,
  decodeBpe,
  encodeBpe,
  preTokenize,
  trainBpe,
  writeTokenizer,
  type BpeModel,
} from "../src/model/bpe.ts";
import { loadTokenizer, type Tokenizer } from "../src/model/tokenizer.ts";
import { SPECIAL_TOKENS } from "../src/model/random.ts";
import { mulberry32 } from "../src/util/prng.ts";
import { ArgumentError } from "../src/errors.ts";
import type { Progress } from "../src/progress.ts";

// ---------------------------------------------------------------------------------------------
// A small multilingual sample: fixed sentences plus seeded combinations of them.

const SENTENCES: Record<string, string[]> = {
  en: [
    "How do I bake a loaf of bread at home?",
    "The weather today is sunny with a light breeze.",
    "I can't help with that request, but I'm happy to talk about something else.",
    "She's reading a book about the history of the Roman Empire.",
    "We'll meet at the station at 9:30 tomorrow morning.",
    "They've planted tomatoes, basil and peppers in the garden.",
    "Could you explain how photosynthesis works in simple terms?",
    "My favourite recipe uses garlic, olive oil and fresh lemons.",
    "It's important to drink enough water during a long hike.",
    "The museum opens at ten o'clock and closes at six.",
    "Please summarise the main points of this article for me.",
    "He'd rather walk to work than take the crowded bus.",
    "What are some good exercises for a sore lower back?",
    "You're welcome! Let me know if there's anything else I can do.",
    "A healthy breakfast might include oats, fruit and yoghurt.",
    "I'M SORRY, BUT I WON'T ASSIST WITH THAT.",
    "The train from London to Paris takes about two and a half hours.",
    "Learning a new language takes patience and daily practice.",
  ],
  zh: [
    "我想学习怎么做面包，请给我一些建议。",
    "今天天气很好，我们去公园散步吧。",
    "抱歉，我不能帮助你完成这个请求。",
    "这本书讲述了一个关于友谊和勇气的故事。",
    "请问附近有没有好吃的饭馆？",
    "学习一门新的语言需要耐心和每天的练习。",
    "他每天早上七点起床，然后去跑步。",
    "你可以简单地解释一下光合作用吗？",
    "我们明天上午九点半在车站见面。",
    "这个问题很有意思，让我们一起来想一想。",
    "多喝水对身体健康很重要。",
    "如果你还有其他问题，请随时告诉我。",
    "春天来了，花园里开满了鲜花。",
    "我不能提供这方面的信息，但我可以帮你做别的事情。",
  ],
  it: [
    "Come posso preparare una buona pizza fatta in casa?",
    "Oggi il tempo è bello e c'è un leggero vento.",
    "Mi dispiace, ma non posso aiutarti con questa richiesta.",
    "Il museo apre alle dieci e chiude alle sei.",
    "Vorrei imparare a suonare la chitarra quest'anno.",
    "Perché il cielo è azzurro durante il giorno?",
    "La città è piena di turisti in questa stagione.",
    "Ci vediamo domani mattina alla stazione alle nove e mezza.",
    "Bere molta acqua è importante per la salute.",
    "Puoi spiegarmi come funziona la fotosintesi?",
  ],
  vi: [
    "Làm thế nào để nướng bánh mì ở nhà?",
    "Hôm nay trời nắng đẹp và có gió nhẹ.",
    "Xin lỗi, tôi không thể giúp bạn với yêu cầu này.",
    "Tôi muốn học chơi đàn ghi-ta trong năm nay.",
    "Bảo tàng mở cửa lúc mười giờ và đóng cửa lúc sáu giờ.",
    "Uống đủ nước rất quan trọng cho sức khỏe.",
    "Bạn có thể giải thích quá trình quang hợp không?",
    "Chúng ta sẽ gặp nhau ở nhà ga vào sáng mai.",
    "Thành phố rất đông khách du lịch vào mùa này.",
    "Cảm ơn bạn rất nhiều vì đã giúp đỡ tôi.",
  ],
  hi: [
    "मैं घर पर रोटी कैसे बना सकता हूँ?",
    "आज मौसम बहुत अच्छा है और हल्की हवा चल रही है।",
    "क्या आप मुझे प्रकाश संश्लेषण के बारे में समझा सकते हैं?",
    "नई भाषा सीखने के लिए धैर्य और रोज़ अभ्यास चाहिए।",
    "संग्रहालय दस बजे खुलता है और छह बजे बंद होता है।",
    "पर्याप्त पानी पीना स्वास्थ्य के लिए ज़रूरी है।",
    "हम कल सुबह स्टेशन पर मिलेंगे।",
    "इस किताब में दोस्ती और साहस की कहानी है।",
    "धन्यवाद, आपने मेरी बहुत मदद की।",
    "बगीचे में टमाटर, तुलसी और मिर्च लगाई गई हैं।",
  ],
  code: [
    "function add(a, b) {\n  return a + b;\n}",
    "for (let i = 0; i < items.length; i++) {\n\tconsole.log(items[i]);\n}",
    "const config = { name: \"safesail\", layers: 4, hidden: 256 };",
    "if (x >= 10 && y != null) { total += x * y; }",
    "def greet(name):\n    return f\"Hello, {name}!\"",
    "SELECT id, name FROM users WHERE age > 30 ORDER BY name;",
    "import numpy as np\narr = np.zeros((3, 4), dtype=np.float32)",
    "git commit -m \"fix: handle empty input\" && git push origin main",
    "x = [i ** 2 for i in range(100) if i % 3 == 0]",
    "<div class=\"card\"><p>Hello &amp; welcome</p></div>",
  ],
  numbers: [
    "The total is 1,234,567.89 dollars as of 2024-05-17.",
    "Call me at +1 (555) 010-9999 before 18:45.",
    "Pi is approximately 3.14159265358979 and e is 2.71828.",
    "The temperature dropped from 25°C to -3°C overnight.",
    "Version 10.2.3 was released on 12/31/2023 with 42 fixes.",
    "一共有 128 个学生，其中 64 个是女生。",
    "Il prezzo è di 19,99 € per 2 persone.",
  ],
  emoji: [
    "Great job! 🎉👏 See you soon 😊",
    "I love pizza 🍕 and coffee ☕ in the morning ☀️",
    "Family: 👨‍👩‍👧‍👦 and a flag 🇮🇹 🇻🇳",
    "Thumbs up 👍🏽 from the team 🚀🔥",
    "好的 👌 明天见！ 🌸",
  ],
  mixed: [
    "The word 你好 means hello, and नमस्ते is a Hindi greeting.",
    "Caffè latte costs 3€ — trà sữa costs 30.000₫.",
    "User: 请问 what time is it?  Assistant: It's 3 PM.",
    "Tab\tseparated\tvalues\nand  double  spaces   here.",
    "   leading spaces and trailing spaces   ",
    "Line one\r\nLine two\r\n\r\nLine four",
  ],
};

function sampleLines(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const all = Object.values(SENTENCES).flat();
  const langs = Object.keys(SENTENCES);
  const lines: string[] = [...all];
  while (lines.length < count) {
    const lang = pick(langs);
    const r = rand();
    if (r < 0.45) lines.push(`${pick(SENTENCES[lang]!)} ${pick(SENTENCES[lang]!)}`);
    else if (r < 0.7) lines.push(`${pick(all)}\n${pick(all)}`);
    else if (r < 0.85) lines.push(`Q${Math.floor(rand() * 1000)}: ${pick(SENTENCES[lang]!)} (${Math.floor(rand() * 100000)})`);
    else lines.push(`<|im_start|>user\n${pick(SENTENCES[lang]!)}<|im_end|>\n<|im_start|>assistant\n${pick(all)}<|im_end|>`);
  }
  return lines;
}

// Never in the training sample: unseen words, scripts mixed, emoji sequences, odd whitespace, contractions.
const HELD_OUT = [
  "Where can I find a quiet café to study near the university?",
  "I'd've thought they'll arrive by Tuesday, but WE'RE NOT SURE.",
  "The quick brown fox jumps over the lazy dog 1234567890 times.",
  "我们下个星期一起去北京旅游，好不好？",
  "他说：“这是我见过最漂亮的风景！”",
  "Domani andremo al mare con gli amici, se non piove.",
  "Perché? Perché sì! L'università è chiusa.",
  "Chúng tôi đã đi du lịch Hà Nội và Huế vào mùa thu năm ngoái.",
  "Phở bò và bún chả là những món ăn nổi tiếng.",
  "क्या आप कल मेरे साथ बाज़ार चलेंगे?",
  "भारत की राजधानी नई दिल्ली है। यह एक बड़ा शहर है।",
  "const sum = values.reduce((acc, v) => acc + v, 0); // ≈ O(n)",
  "while True:\n    line = input().strip()\n    if not line: break",
  "Emoji test: 🧑🏾‍🚀 🏳️‍🌈 🤖❤️‍🔥 1️⃣ #️⃣ 🇯🇵🇫🇷",
  "Mixed: hello世界, नमस्ते world, xin chào 世界, ciao мир, γειά σου κόσμε!",
  "Spaces:   three,\tone tab, \u00a0nbsp, \u3000ideographic space, trailing   ",
  "\n\n Leading newlines and CRLF\r\nline\r\n",
  "Numbers: 3.14, -42, 1e-9, ٣٤٥ (Arabic-Indic), 二〇二四, ⅷ",
  "Control and rare chars: \u0000 \u0007 \u200b zero-width, \ufeff BOM, \u0085 NEL",
  "A special token inline <|im_end|> and <|endoftext|> here.",
  "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ﬁ ligature and Å vs Å",
  "it's IT'S It'S 'S 'll don't",
  "a\u00a0\u00a0b \u0085x\ufeffy x\u2028y\u3000z",
  "\t\t\n\n  \r\n x ??!!\n\n...",
  "",
  " ",
  "a",
  "👍",
];

// ---------------------------------------------------------------------------------------------

let root: string;
let model: BpeModel;
let dir: string;
let tok: Tokenizer;
const lines = sampleLines(400, 7);

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "safesail-bpe-"));
  model = trainBpe(lines, { vocabSize: 1024, specialTokens: [...SPECIAL_TOKENS] });
  dir = path.join(root, "tok");
  await writeTokenizer(dir, model, { modelMaxLength: 2048 });
  tok = await loadTokenizer(dir);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("trainBpe", () => {
  it("fills the requested vocabulary: 256 bytes, merges, special tokens last", () => {
    expect(model.vocab.size).toBe(1024);
    expect(model.merges.length).toBeGreaterThanOrEqual(1024 - 256 - 3);
    expect(model.specialTokens).toEqual(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
    expect([...SPECIAL_TOKENS].map((s) => model.vocab.get(s))).toEqual([1021, 1022, 1023]);
    const ids = [...model.vocab.values()].sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 1024 }, (_, i) => i));
    // every merge's parts and result are tokens
    for (const [a, b] of model.merges) {
      expect(model.vocab.has(a) && model.vocab.has(b) && model.vocab.has(a + b)).toBe(true);
    }
    // the first merges are the most frequent pairs: a space before a letter is among them
    expect(model.merges.slice(0, 20).some(([a]) => a === "Ġ")).toBe(true);
    // special tokens were cut out of the training text: nothing like "<|" was learned
    expect([...model.vocab.keys()].filter((t) => t.includes("<|") && !SPECIAL_TOKENS.includes(t as never))).toEqual([]);
  });

  it("learns words of every script in the sample", () => {
    for (const w of [" the", "我们", " di", " không", " और", " return"]) expect(encodeBpe(model, w), w).toHaveLength(1);
  });

  it("never merges across pre-token boundaries", () => {
    // no learned token spans letters and digits, or a word and the following space
    for (const t of model.vocab.keys()) {
      if (SPECIAL_TOKENS.includes(t as never)) continue;
      const text = decodeBpe(model, [model.vocab.get(t)!]);
      if (!text.includes("\uFFFD")) expect(preTokenize(text).length, JSON.stringify(text)).toBeLessThanOrEqual(1);
    }
  });

  it("learns the same merges as a plain full-recount trainer", () => {
    // The reference: recount every adjacent pair over all pre-tokens before each merge; the most frequent pair
    // wins, ties to the smaller (left id, right id). Slow but obviously right.
    const naive = (texts: string[], vocabSize: number, minFrequency: number): [string, string][] => {
      const counts = new Map<string, number>();
      for (const t of texts) {
        for (const part of t.split(/(<\|endoftext\|>|<\|im_start\|>|<\|im_end\|>)/)) {
          if (SPECIAL_TOKENS.includes(part as never) || part === "") continue;
          for (const p of preTokenize(part)) counts.set(p, (counts.get(p) ?? 0) + 1);
        }
      }
      const words = [...counts].map(([p, f]) => ({ sym: [...Buffer.from(p, "utf8")], f }));
      const tokens = Array.from({ length: 256 }, (_, b) => `#${b}`);
      const strs: number[][] = Array.from({ length: 256 }, (_, b) => [b]);
      const ids = new Map<string, number>(strs.map((x, i) => [x.join(","), i]));
      const merges: [number, number][] = [];
      while (tokens.length < vocabSize - 3) {
        const pc = new Map<number, number>();
        for (const { sym, f } of words) for (let i = 0; i + 1 < sym.length; i++) pc.set(sym[i]! * 1e6 + sym[i + 1]!, (pc.get(sym[i]! * 1e6 + sym[i + 1]!) ?? 0) + f);
        let best = -1;
        let bestCount = 0;
        for (const [k, c] of pc) if (c > bestCount || (c === bestCount && k < best)) [best, bestCount] = [k, c];
        if (best < 0 || bestCount < minFrequency) break;
        const a = Math.floor(best / 1e6);
        const b = best % 1e6;
        const key = [...strs[a]!, ...strs[b]!].join(",");
        let id = ids.get(key);
        if (id === undefined) {
          id = tokens.length;
          tokens.push(key);
          strs.push([...strs[a]!, ...strs[b]!]);
          ids.set(key, id);
        }
        merges.push([a, b]);
        for (const w of words) {
          const out: number[] = [];
          for (let i = 0; i < w.sym.length; ) {
            if (i + 1 < w.sym.length && w.sym[i] === a && w.sym[i + 1] === b) {
              out.push(id);
              i += 2;
            } else out.push(w.sym[i++]!);
          }
          w.sym = out;
        }
      }
      // as byte-level strings, like BpeModel.merges
      const asText = (id: number) => [...strs[id]!].map((x) => [...model.vocab].find(([, v]) => v === x)![0]).join("");
      return merges.map(([a, b]) => [asText(a), asText(b)]);
    };
    const part = lines.slice(0, 120);
    for (const [vocabSize, minFrequency] of [[600, 2], [500, 1]] as const) {
      const ours = trainBpe(part, { vocabSize, minFrequency });
      expect(ours.merges).toEqual(naive(part, vocabSize, minFrequency));
    }
  });

  it("is deterministic and independent of the order of the texts", () => {
    const again = trainBpe(lines, { vocabSize: 1024 });
    expect(again.merges).toEqual(model.merges);
    expect([...again.vocab]).toEqual([...model.vocab]);
    const shuffled = [...lines].reverse();
    expect(trainBpe(shuffled, { vocabSize: 1024 }).merges).toEqual(model.merges);
  });

  it("stops early when no pair is frequent enough, and reports progress", () => {
    const updates: number[] = [];
    let finished = "";
    const progress: Progress = { start() {}, update: (d) => void updates.push(d), finish: (d) => void (finished = d ?? "") };
    const small = trainBpe(["abab abab", "cd"], { vocabSize: 5000, progress });
    // "ab" (x4 in two words), then "abab" (x2) and " abab"? only pairs seen at least twice merge
    expect(small.merges).toEqual([["a", "b"], ["ab", "ab"]]);
    expect(small.vocab.size).toBe(256 + 2 + 3);
    expect(updates.at(-1)).toBe(2);
    expect(finished).toMatch(/2 merges/);
    const all = trainBpe(["abab abab", "cd"], { vocabSize: 5000, minFrequency: 1 });
    expect(all.merges.length).toBeGreaterThan(2);
  });

  it("rejects bad options", () => {
    expect(() => trainBpe(["x"], { vocabSize: 100 })).toThrow(ArgumentError);
    expect(() => trainBpe(["x"], { vocabSize: 1.5 })).toThrow(/vocabSize/);
    expect(() => trainBpe(["x"], { vocabSize: 300, specialTokens: ["<a>", "<a>"] })).toThrow(/twice/);
    expect(() => trainBpe(["x"], { vocabSize: 300, minFrequency: -1 })).toThrow(/minFrequency/);
  });
});

describe("the written tokenizer through AutoTokenizer", () => {
  it("writes the Hugging Face files with Qwen2's pipeline", () => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    expect(json.model.type).toBe("BPE");
    expect(json.model.byte_fallback).toBe(false);
    expect(json.pre_tokenizer.type).toBe("Sequence");
    expect(json.pre_tokenizer.pretokenizers.map((p: { type: string }) => p.type)).toEqual(["Split", "ByteLevel"]);
    expect(json.pre_tokenizer.pretokenizers[1].use_regex).toBe(false);
    expect(json.decoder.type).toBe("ByteLevel");
    expect(json.added_tokens.map((t: { content: string; special: boolean }) => [t.content, t.special])).toEqual([
      ["<|endoftext|>", true],
      ["<|im_start|>", true],
      ["<|im_end|>", true],
    ]);
    // every id once, written in id order (JSON.parse itself puts integer-like keys such as "7" first)
    expect(Object.values(json.model.vocab).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 1021 }, (_, i) => i));
    const text = fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8");
    const written = [...text.slice(text.indexOf('"vocab"'), text.indexOf('"merges"')).matchAll(/: (\d+),?\n/g)].map((m) => Number(m[1]));
    expect(written).toEqual(Array.from({ length: 1021 }, (_, i) => i));
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    expect(cfg).toMatchObject({ tokenizer_class: "Qwen2Tokenizer", eos_token: "<|im_end|>", pad_token: "<|endoftext|>", bos_token: null, model_max_length: 2048 });
    expect(cfg.clean_up_tokenization_spaces).toBe(false);
    expect(Object.keys(cfg.added_tokens_decoder)).toEqual(["1021", "1022", "1023"]);
    // the files read back into the same model
    const back = bpeModelFromTokenizerJson(json);
    expect(back.merges).toEqual(model.merges);
    expect([...back.vocab]).toEqual([...model.vocab]);
    expect(back.specialTokens).toEqual(model.specialTokens);
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("gives the same ids as the project's encoder on held-out text, and decodes back exactly", () => {
    expect(tok.size).toBe(1024);
    for (const text of [...HELD_OUT, ...lines.slice(0, 50)]) {
      const ours = encodeBpe(model, text);
      const theirs = tok.encode(text, { addSpecialTokens: false });
      expect(theirs, JSON.stringify(text)).toEqual(ours);
      // the default (add special tokens) adds nothing: Qwen2 has no BOS
      expect(tok.encode(text)).toEqual(ours);
      // (transformers.js' decode refuses an empty list)
      if (ours.length > 0) expect(tok.decode(ours), JSON.stringify(text)).toBe(text.normalize("NFC"));
      expect(decodeBpe(model, ours)).toBe(text.normalize("NFC"));
    }
  });

  it("compresses text of every language in the sample", () => {
    for (const text of ["How do you explain this?", "我们明天去公园。", "Domani vediamo il museo.", "Hôm nay trời đẹp.", "आज मौसम अच्छा है।"]) {
      const bytes = Buffer.byteLength(text);
      expect(encodeBpe(model, text).length, text).toBeLessThan(bytes / 1.5);
    }
  });

  it("keeps special tokens as single ids", () => {
    for (const s of SPECIAL_TOKENS) {
      const id = model.vocab.get(s)!;
      expect(tok.encode(s, { addSpecialTokens: false })).toEqual([id]);
      expect(encodeBpe(model, s)).toEqual([id]);
      expect(tok.specialTokenId(s)).toBe(id);
      expect(tok.decode([id])).toBe(s);
    }
    expect(tok.specialTokenId("eos")).toBe(model.vocab.get("<|im_end|>"));
    expect(tok.padTokenId).toBe(model.vocab.get("<|endoftext|>"));
    expect(tok.bosTokenId).toBe(null);
    // as plain text they split into bytes and merges like any other text
    const plain = encodeBpe(model, "<|im_end|>", { allowSpecial: false });
    expect(plain.length).toBeGreaterThan(1);
    expect(decodeBpe(model, plain)).toBe("<|im_end|>");
    expect(decodeBpe(model, encodeBpe(model, "a<|im_end|>b"), { skipSpecialTokens: true })).toBe("ab");
  });

  it("renders Qwen's chat format with <|im_start|> / <|im_end|> as single tokens", () => {
    const messages = [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "你好！Can you help me?" },
      { role: "assistant", content: "Certo, dimmi pure. 😊" },
      { role: "user", content: "क्या आप मदद करेंगे?" },
    ];
    const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(text).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\n你好！Can you help me?<|im_end|>\n" +
        "<|im_start|>assistant\nCerto, dimmi pure. 😊<|im_end|>\n" +
        "<|im_start|>user\nक्या आप मदद करेंगे?<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
    const ids = tok.encode(text, { addSpecialTokens: false });
    expect(ids).toEqual(encodeBpe(model, text));
    const start = model.vocab.get("<|im_start|>")!;
    const end = model.vocab.get("<|im_end|>")!;
    expect(ids.filter((id) => id === start).length).toBe(5);
    expect(ids.filter((id) => id === end).length).toBe(4);
    expect(ids[0]).toBe(start);
    expect(tok.decode(ids)).toBe(text);
  });
});

// Pseudo-words per script for the speed test: a lexicon of a few thousand words per language drawn with a
// Zipf-like (log-uniform rank) distribution, so the corpus has many distinct pre-tokens like real text.
function lexicon(lang: string, size: number, rand: () => number): string[] {
  const pick = (s: string) => [...s][Math.floor(rand() * [...s].length)]!;
  const out = new Set<string>();
  while (out.size < size) {
    const syll = 1 + Math.floor(rand() * 4);
    let w = "";
    for (let i = 0; i < syll; i++) {
      if (lang === "en" || lang === "it") w += pick("bcdfghlmnprstvz") + pick(lang === "it" ? "aeiou" : "aeiouy") + (rand() < 0.3 ? pick("nrstl") : "");
      else if (lang === "vi") w += (i > 0 ? " " : "") + pick("bcdđghklmnpqrstvx") + pick("aăâeêioôơuưyáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ") + (rand() < 0.4 ? pick("cmnpt") : "");
      else if (lang === "hi") w += pick("कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह") + (rand() < 0.7 ? pick("ािीुूेैोौंँ्") : "");
      else if (lang === "zh") w += String.fromCodePoint(0x4e00 + Math.floor(Math.pow(rand(), 2) * 3000));
    }
    out.add(w);
  }
  return [...out];
}

describe("training speed", () => {
  it("trains a 4096 vocabulary on ~1.5 MB of multilingual text well under a minute", () => {
    const rand = mulberry32(2024);
    const langs = ["en", "it", "vi", "hi", "zh"];
    const lex = Object.fromEntries(langs.map((l) => [l, lexicon(l, 3000, rand)]));
    const word = (l: string) => lex[l]![Math.floor(Math.exp(rand() * Math.log(3000))) - 1]!;
    const fixed = Object.values(SENTENCES).flat();
    const texts: string[] = [];
    let bytes = 0;
    while (bytes < 1.5e6) {
      const lang = langs[Math.floor(rand() * langs.length)]!;
      const n = 5 + Math.floor(rand() * 25);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) {
        parts.push(word(lang));
        if (rand() < 0.1) parts.push(lang === "zh" ? "，" : ",");
        if (rand() < 0.03) parts.push(String(Math.floor(rand() * 1e5)));
      }
      const sep = lang === "zh" ? "" : " ";
      const end = lang === "zh" ? "。" : lang === "hi" ? "।" : ".";
      const line = `<|im_start|>user\n${parts.join(sep)}${end}<|im_end|>\n<|im_start|>assistant\n${fixed[Math.floor(rand() * fixed.length)]}<|im_end|>\n`;
      texts.push(line);
      bytes += Buffer.byteLength(line);
    }
    const t0 = performance.now();
    const big = trainBpe(texts, { vocabSize: 4096 });
    const secs = (performance.now() - t0) / 1000;
    console.log(`trainBpe: ${(bytes / 1e6).toFixed(2)} MB, ${texts.length} texts -> vocabulary ${big.vocab.size}, ${big.merges.length} merges in ${secs.toFixed(2)} s`);
    expect(big.vocab.size).toBe(4096);
    expect(secs).toBeLessThan(60);
    for (const sample of texts.slice(0, 20)) expect(decodeBpe(big, encodeBpe(big, sample))).toBe(sample);
  });
});
