/**
 * `gantry doctor [--engine E] [--prune [--all]] [--json]`: which container
 * engine Gantry would use, its version, and why the other candidates were
 * skipped; with `--prune`, remove the containers and volumes that crashed
 * gantry processes left behind (found by label; `--all`: every
 * gantry-labelled one, also of live runs).
 *
 * `--prune` also cleans up after local runs whose gantry process died
 * (SIGKILL, a crash): it kills their leftover step processes and removes
 * their `$TMPDIR/gantry-<uid>/<run>.*` scratch directories (`gantry run`
 * does the same when it starts). That part needs no container engine.
 *
 * Exit codes: 0 an engine answers (and the prune worked), 1 no engine or a
 * prune error.
 */
import { tmpdir } from "node:os";
import { pruneDeadRuns } from "../executors/local/run-root.js";
import type { PrunedRun } from "../executors/local/run-root.js";
import { connectEngine, describeEngine, noEngineMessage, probeEngines } from "../executors/container/engine.js";
import type { EngineProbe } from "../executors/container/engine.js";
import { pruneContainers } from "../executors/container/prune.js";
import type { PruneResult } from "../executors/container/prune.js";
import type { CliIo } from "./io.js";

export interface DoctorOptions {
  /** Like the executor's `engine` option: docker, podman, a socket path or URL. */
  readonly engine?: string;
  readonly prune?: boolean;
  /** With `prune`: also what live runs own. */
  readonly all?: boolean;
  readonly json?: boolean;
  /** Environment for discovery (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where local runs keep their scratch directories (default `os.tmpdir()`). */
  readonly tmpDir?: string;
}

export interface DoctorReport {
  readonly engine?: { readonly kind: string; readonly version: string; readonly address: string; readonly source: string };
  readonly candidates: readonly EngineProbe[];
  readonly prune?: PruneResult;
  /** Local runs of dead gantry processes that `--prune` cleaned up. */
  readonly local?: readonly PrunedRun[];
}

export async function doctorCommand(opts: DoctorOptions, io: CliIo): Promise<number> {
  const env = opts.env ?? process.env;
  const candidates = await probeEngines(opts.engine, env);
  const chosen = candidates.find((c) => c.ok);
  const report: { -readonly [K in keyof DoctorReport]: DoctorReport[K] } = {
    candidates,
    ...(chosen
      ? { engine: { kind: chosen.kind ?? "docker", version: chosen.version ?? "unknown", address: chosen.address, source: chosen.source } }
      : {}),
  };
  let code = chosen ? 0 : 1;
  if (opts.prune) report.local = await pruneDeadRuns(opts.tmpDir ?? tmpdir());
  if (opts.prune && chosen) {
    const engine = await connectEngine(chosen.address, env);
    report.prune = await pruneContainers(engine, { all: opts.all === true });
    if (report.prune.errors.length > 0) code = 1;
  }
  if (opts.json) {
    io.out(JSON.stringify(report, null, 2));
    return code;
  }
  const c = io.color;
  if (chosen) {
    io.out(
      `${c.green("✓")} container engine: ${describeEngine({ kind: chosen.kind ?? "docker", version: chosen.version ?? "unknown", address: chosen.address })} (from ${chosen.source}${chosen.apiVersion ? `, API ${chosen.apiVersion}` : ""})`,
    );
  } else {
    io.err(c.red(noEngineMessage(candidates, opts.engine)));
  }
  for (const p of chosen ? candidates : []) {
    if (p === chosen) continue;
    const where = `${p.address} (${p.source})`;
    if (p.ok) io.out(`  also reachable: ${where}: ${p.kind} ${p.version}`);
    else io.out(`  skipped ${where}: ${p.reason ?? "no answer"}`);
  }
  for (const run of report.local ?? []) {
    io.out(
      `  cleaned up local run ${run.runId} of dead process ${run.pid}: ${run.dir}${run.killed > 0 ? `, ${run.killed} process(es) killed` : ""}`,
    );
  }
  if (opts.prune) io.out(`pruned ${report.local?.length ?? 0} local run(s) of dead gantry processes`);
  if (opts.prune && !chosen) io.err("no containers pruned: no engine to prune on");
  if (report.prune) {
    const r = report.prune;
    for (const name of r.containers) io.out(`  removed container ${name}`);
    for (const name of r.volumes) io.out(`  removed volume ${name}`);
    for (const e of r.errors) io.err(c.red(`  could not remove ${e}`));
    io.out(
      `pruned ${r.containers.length} container(s) and ${r.volumes.length} volume(s)` +
        (r.kept > 0 ? `; kept ${r.kept} of running gantry processes or other hosts (--all removes them too)` : ""),
    );
  }
  return code;
}
