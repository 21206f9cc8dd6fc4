// The part of sanitize-html 2.17's API that widgets/src/sanitize.ts uses (see sanitize-html-lib.js for why this
// is declared here instead of read from @types/sanitize-html).
declare namespace sanitize {
  type Attributes = Record<string, string>;
  interface Tag {
    tagName: string;
    attribs: Attributes;
    text?: string;
  }
  type Transformer = (tagName: string, attribs: Attributes) => Tag;
  interface IOptions {
    allowedTags?: string[] | false;
    allowedAttributes?: Record<string, string[]> | false;
    allowedSchemes?: string[];
    allowedSchemesByTag?: Record<string, string[]>;
    allowedSchemesAppliedToAttributes?: string[];
    allowProtocolRelative?: boolean;
    disallowedTagsMode?: "discard" | "escape" | "recursiveEscape" | "completelyDiscard";
    nonTextTags?: string[];
    transformTags?: Record<string, string | Transformer>;
  }
}
declare function sanitize(dirty: string, options?: sanitize.IOptions): string;
export default sanitize;
