// The little of jsdom's API the Mermaid test uses (jsdom ships no types; @types/jsdom is not installed).
declare module "jsdom" {
  export class JSDOM {
    constructor(html?: string);
    readonly window: { readonly document: unknown } & Record<string, unknown>;
  }
}
