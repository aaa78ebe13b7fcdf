/**
 * Compiling a job's keyed `caches` (validated by `cacheSchema`): key parts
 * become literals or `hashFiles` globs (resolved at run time, on the runner),
 * paths are checked to stay inside the job directory.
 */
import type { CacheDef, CacheKeyPart } from "./definition.js";
import { joinPath, type Issues } from "./issues.js";
import { checkRelativePath } from "./paths.js";
import type { PlanCache, PlanCacheKeyPart } from "./plan-types.js";

function keyPart(part: CacheKeyPart): PlanCacheKeyPart {
  return typeof part === "string" ? { text: part } : { hashFiles: [...part.patterns] };
}

export function compileCaches(caches: readonly CacheDef[] | undefined, path: string, issues: Issues): PlanCache[] {
  const out: PlanCache[] = [];
  (caches ?? []).forEach((cache, i) => {
    const at = joinPath(path, i);
    const paths: string[] = [];
    cache.paths.forEach((p, j) => {
      const checked = checkRelativePath(p);
      if (checked.ok) paths.push(checked.path);
      else issues.add(joinPath(joinPath(at, "paths"), j), checked.error);
    });
    const parts = typeof cache.key === "string" || !Array.isArray(cache.key) ? [cache.key as CacheKeyPart] : cache.key;
    out.push({ key: parts.map(keyPart), paths, restoreKeys: [...(cache.restoreKeys ?? [])] });
  });
  return out;
}
