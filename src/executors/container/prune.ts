/**
 * `gantry doctor --prune`: remove containers and volumes that gantry
 * processes left behind (found by the gantry.run label). By default only
 * what belongs to processes of this host that are no longer running
 * (gantry.owner `<host>:<pid>`), so a prune never breaks a live run; `all`
 * removes every gantry-labelled object.
 */
import { hostname } from "node:os";
import { LABEL_OWNER, LABEL_RUN, labelFilters } from "./convert.js";
import { removeContainer } from "./containers.js";
import type { Engine } from "./engine.js";
import { apiMessage, statusOf } from "./engine.js";

export interface PruneResult {
  readonly containers: string[];
  readonly volumes: string[];
  /** Objects kept because their owner is alive or on another host. */
  kept: number;
  readonly errors: string[];
}

function ownerGone(owner: string | undefined, host: string): boolean {
  if (owner === undefined) return true;
  const i = owner.lastIndexOf(":");
  const h = owner.slice(0, i);
  const pid = Number(owner.slice(i + 1));
  if (h !== host || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export async function pruneContainers(engine: Engine, options: { all?: boolean } = {}): Promise<PruneResult> {
  const host = hostname();
  const result: PruneResult = { containers: [], volumes: [], kept: 0, errors: [] };
  const containers = await engine.docker.listContainers({ all: true, filters: labelFilters({}) });
  for (const c of containers) {
    const labels = c.Labels ?? {};
    if (!options.all && !ownerGone(labels[LABEL_OWNER], host)) {
      result.kept++;
      continue;
    }
    try {
      await removeContainer(engine, c.Id);
      result.containers.push(`${(c.Names?.[0] ?? c.Id).replace(/^\//, "")} (run ${labels[LABEL_RUN] ?? "?"})`);
    } catch (error) {
      result.errors.push(`container ${c.Id.slice(0, 12)}: ${apiMessage(error)}`);
    }
  }
  const volumes = (await engine.docker.listVolumes({ filters: labelFilters({}) })).Volumes ?? [];
  for (const v of volumes) {
    const labels = (v.Labels ?? {}) as Record<string, string>;
    if (!options.all && !ownerGone(labels[LABEL_OWNER], host)) {
      result.kept++;
      continue;
    }
    try {
      await engine.docker.getVolume(v.Name).remove();
      result.volumes.push(v.Name);
    } catch (error) {
      if (statusOf(error) !== 404) result.errors.push(`volume ${v.Name}: ${apiMessage(error)}`);
    }
  }
  return result;
}
