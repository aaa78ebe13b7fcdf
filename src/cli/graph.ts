/**
 * `gantry graph`: the job graph of one workflow as text (ascii), Mermaid or DOT.
 */
import { renderAscii } from "./graph/ascii.js";
import { renderDot } from "./graph/dot.js";
import { renderMermaid } from "./graph/mermaid.js";
import type { CliIo } from "./io.js";
import { selectWorkflow, type TargetOptions } from "./workflows.js";

export const GRAPH_FORMATS = ["ascii", "mermaid", "dot"] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export async function graphCommand(options: TargetOptions & { workflow?: string; format: GraphFormat }, io: CliIo): Promise<number> {
  const { plan } = await selectWorkflow(options);
  const render = { ascii: renderAscii, mermaid: renderMermaid, dot: renderDot }[options.format];
  io.out(render(plan).replace(/\n$/, ""));
  return 0;
}
