// The phrase tables of the toy chat corpus, by language.
import type { Language } from "../../safety.ts";
import { en } from "./en.ts";
import { hi } from "./hi.ts";
import { it } from "./it.ts";
import type { LangTable } from "./types.ts";
import { vi } from "./vi.ts";
import { zh } from "./zh.ts";

export const CORPUS_TABLES: Readonly<Record<Language, LangTable>> = { en, zh, it, vi, hi };
