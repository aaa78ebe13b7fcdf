import { compileWorkflow, PlanError, type CompileOptions, type Plan } from "gantry";

export const OPTIONS: CompileOptions = { file: ".gantry/ci.ts", bundle: "bundle-hash" };

/** The issues of a workflow that must not compile, as `path: message` lines. */
export function issuesOf(value: unknown, options: Partial<CompileOptions> = {}): string[] {
  try {
    compileWorkflow(value, { ...OPTIONS, ...options });
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    for (const issue of error.issues)
      if (issue.file !== (options.file ?? OPTIONS.file)) throw new Error(`wrong file in ${JSON.stringify(issue)}`);
    return error.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  }
  throw new Error("expected a PlanError, the workflow compiled");
}

export function compile(value: unknown, options: Partial<CompileOptions> = {}): Plan {
  return compileWorkflow(value, { ...OPTIONS, ...options });
}
