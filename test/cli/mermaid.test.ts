/**
 * `gantry graph --format mermaid` output is parsed by Mermaid itself (v11,
 * with a jsdom window for its sanitizer), and the parsed graph must have
 * exactly the plan's jobs (labels) and needs (edges).
 */
import { JSDOM } from "jsdom";
import type { Mermaid } from "mermaid";
import { beforeAll, describe, expect, it } from "vitest";
import { compileWorkflow, job, sh, workflow } from "gantry";
import type { Plan } from "../../src/core/plan-types.js";
import { jobLabel } from "../../src/cli/graph/layers.js";
import { renderMermaid } from "../../src/cli/graph/mermaid.js";
import { gantry } from "./helpers.js";

interface Parsed {
  nodes: Map<string, string>;
  edges: Array<{ from: string; to: string; label: string }>;
}

let mermaid: Mermaid;

beforeAll(async () => {
  const dom = new JSDOM("<!doctype html><html><body></body></html>");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = (await import("mermaid")).default;
  mermaid.initialize({ startOnLoad: false });
});

/** Mermaid keeps `#quot;`/`#35;` as placeholders until rendering; decode them as its renderer would. */
function decode(text: string): string {
  const named: Record<string, string> = { quot: '"', amp: "&", lt: "<", gt: ">" };
  return text
    .replace(/ﬂ°°(\d+)¶ß/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/ﬂ°(\w+)¶ß/g, (m, name: string) => named[name] ?? m);
}

async function parse(text: string): Promise<Parsed> {
  const result = await mermaid.parse(text);
  expect(result).toMatchObject({ diagramType: "flowchart-v2" });
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db as unknown as {
    getVertices(): Map<string, { id: string; text: string }>;
    getEdges(): Array<{ start: string; end: string; text: string }>;
  };
  const nodes = new Map([...db.getVertices().values()].map((v) => [v.id, decode(v.text)]));
  const edges = db.getEdges().map((e) => ({ from: e.start, to: e.end, label: decode(e.text) }));
  return { nodes, edges };
}

/** The graph as `label -> label` lines, to compare with the plan's needs. */
function edgeSet(parsed: Parsed): string[] {
  return parsed.edges.map((e) => `${parsed.nodes.get(e.from)} -> ${parsed.nodes.get(e.to)}`).sort();
}
function planEdges(plan: Plan): string[] {
  const label = (id: string): string => {
    const j = plan.jobs.find((x) => x.id === id)!;
    return j.if.kind === "status" && j.if.status === "success"
      ? jobLabel(j)
      : `${jobLabel(j)} [if ${j.if.kind === "status" ? `${j.if.status}()` : "predicate"}]`;
  };
  return plan.jobs.flatMap((j) => j.needs.map((n) => `${label(n)} -> ${label(j.id)}`)).sort();
}

describe("mermaid output", () => {
  it("the diamond parses to four nodes and four edges labelled with artifacts", async () => {
    const r = await gantry(["graph", "-f", "examples/diamond.ts", "--format", "mermaid"]);
    expect(r.code).toBe(0);
    const parsed = await parse(r.stdout);
    expect([...parsed.nodes.values()].sort()).toEqual(["a", "b", "c", "d"]);
    expect(edgeSet(parsed)).toEqual(["a -> b", "a -> c", "b -> d", "c -> d"]);
    expect(parsed.edges.map((e) => e.label).sort()).toEqual(["b-report", "c-report", "dist", "dist"]);
  });

  it("the matrix parses with its parenthesised ids and '=' intact", async () => {
    const r = await gantry(["graph", "-f", "examples/matrix.ts", "--format", "mermaid"]);
    expect(r.code).toBe(0);
    const parsed = await parse(r.stdout);
    expect(parsed.nodes.size).toBe(6);
    expect([...parsed.nodes.values()]).toContain("test (node=20, os=alpine)");
    expect([...parsed.nodes.values()]).not.toContain("test (node=18, os=alpine)");
    expect(parsed.edges).toHaveLength(5);
    expect(new Set(parsed.edges.map((e) => parsed.nodes.get(e.to)))).toEqual(new Set(["report [if always()]"]));
  });

  it("names that are Mermaid syntax or keywords survive: end, quotes, #, brackets, arrows, unicode", async () => {
    const wf = workflow({
      name: 'tricky "graph" #1',
      jobs: {
        end: job({ steps: [sh`echo end`] }),
        graph: job({ name: 'say "hi" #2 [x] {y} --> z;', needs: ["end"], steps: [sh`true`] }),
        subgraph: job({ needs: ["graph", "end"], matrix: { v: ["(1)", 'x "y" #z', "é ✓ --> end;"] }, steps: [sh`true`] }),
      },
    });
    const plan = compileWorkflow(wf, { file: "tricky.ts", bundle: "0".repeat(64) });
    const text = renderMermaid(plan);
    const parsed = await parse(text);
    expect(plan.jobs).toHaveLength(5);
    expect([...parsed.nodes.values()].sort()).toEqual(plan.jobs.map(jobLabel).sort());
    expect(edgeSet(parsed)).toEqual(planEdges(plan));
  });

  it("a broken diagram is rejected by the same parser (the check can fail)", async () => {
    await expect(mermaid.parse('flowchart TD\n  test (node=18) --> "x')).rejects.toThrow(/Parse error/);
  });
});
