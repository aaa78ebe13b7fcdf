import { dagVsMake } from "./engine.mjs";
const r = await dagVsMake(Number(process.argv[2] ?? 500));
console.log(r.gantryMs, r.rawMs, r.gantryMs / r.rawMs);
process.exit(0);
