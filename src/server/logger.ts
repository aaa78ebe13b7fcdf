/**
 * The server's structured log: pino, JSON lines on a pipe or file, short
 * readable lines (`12:00:01 INFO listening url=...`) on a TTY.
 */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

function readable(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line) continue;
        try {
          const { time, level, msg, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const clock = new Date(Number(time)).toISOString().slice(11, 19);
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          out.write(`${clock} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${String(msg ?? "")}${fields ? ` ${fields}` : ""}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

export function createLogger(options: { level?: string; stream?: NodeJS.WritableStream & { isTTY?: boolean } } = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const level = options.level ?? process.env.GANTRY_LOG_LEVEL ?? "info";
  return pino({ level, base: { pid: process.pid } }, stream.isTTY ? readable(stream) : stream);
}
