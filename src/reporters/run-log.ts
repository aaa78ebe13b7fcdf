/**
 * The run's log files, in the directory the caller gives
 * (`.gantry/state/runs/<runId>/` from the CLI):
 *
 * - `events.jsonl`: every event, one JSON line each, exactly as the JSON
 *   reporter writes them (docs/events.md);
 * - `<job-slug>.log`: per job, the plain lines of that job's events and
 *   output (the plain reporter's format, run-level lines left out). The slug
 *   is the job id made file-name safe (`test (node=20)` -> `test-node-20.log`);
 *   two ids with the same slug get `-2`, `-3`... in order of appearance.
 *
 * The directory is created when the reporter is created. Writes are buffered
 * and asynchronous; a job's file is closed when the job finishes (and
 * reopened for appending if more of its events come). `close()` flushes and
 * closes everything and resolves when all of it is written (no fsync); it
 * rejects with the first write error, if any, naming the file.
 */
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, type Writable } from "node:stream";
import type { FlowGate, GantryEvent } from "../core/events.js";
import { GantryError, coerceError } from "../core/errors.js";
import { BufferedWriter } from "./buffered-writer.js";
import { slugify } from "./format.js";
import { toJsonLine } from "./json.js";
import { PlainFormatter } from "./plain-format.js";
import type { Reporter } from "./reporter.js";
import { RunTracker } from "./summary.js";

interface OpenFile {
  readonly path: string;
  readonly stream: Writable;
  readonly writer: BufferedWriter;
  readonly closed: Promise<void>;
}

export interface RunLog extends Reporter {
  /** The directory written to. */
  readonly dir: string;
  /** File name (inside `dir`) of each job's log seen so far, by job id. */
  readonly jobFiles: ReadonlyMap<string, string>;
}

export interface RunLogOptions {
  /** Back-pressure on the producers of output when the disk is slow (the bus's `flow`). */
  readonly flow?: FlowGate;
}

export function createRunLog(dir: string, options: RunLogOptions = {}): RunLog {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new GantryError("INTERNAL", `cannot create the run log directory ${dir}: ${coerceError(error).message}`, { cause: error });
  }
  const tracker = new RunTracker();
  const formatter = new PlainFormatter(tracker);
  const jobFiles = new Map<string, string>();
  const usedNames = new Set<string>(["events.jsonl"]);
  const open = new Map<string, OpenFile>();
  const closing: Array<Promise<void>> = [];
  /** The close of each job's last finished file (see `openFile`). */
  const finishing = new Map<string, Promise<void>>();
  const errors: Error[] = [];

  /**
   * A job's file reopened while its previous stream is still being written
   * and closed opens only once that one closed: two streams on one file
   * would overwrite each other's lines.
   */
  const openFile = (name: string, append: boolean, after?: Promise<void>): OpenFile => {
    const path = join(dir, name);
    const stream: Writable = after ? new PassThrough() : createWriteStream(path, { flags: append ? "a" : "w" });
    const closed = new Promise<void>((resolve) => {
      const watch = (file: Writable): void => {
        file.once("close", resolve);
        file.on("error", (error) => {
          errors.push(new GantryError("INTERNAL", `cannot write the run log ${path}: ${error.message}`, { cause: error }));
          resolve();
        });
      };
      if (!after) return watch(stream);
      void after.then(() => {
        const file = createWriteStream(path, { flags: "a" });
        watch(file);
        stream.pipe(file);
      });
    });
    return { path, stream, writer: new BufferedWriter(stream, options.flow ? { flow: options.flow } : {}), closed };
  };

  const finish = async (file: OpenFile): Promise<void> => {
    await file.writer.drain();
    file.stream.end();
    await file.closed;
  };

  const fileNameFor = (jobId: string): string => {
    let name = jobFiles.get(jobId);
    if (name === undefined) {
      const base = slugify(jobId);
      name = `${base}.log`;
      for (let n = 2; usedNames.has(name.toLowerCase()); n++) name = `${base}-${n}.log`;
      usedNames.add(name.toLowerCase());
      jobFiles.set(jobId, name);
    }
    return name;
  };

  const jobFile = (jobId: string): OpenFile => {
    let file = open.get(jobId);
    if (!file) {
      const known = jobFiles.has(jobId);
      file = openFile(fileNameFor(jobId), known, finishing.get(jobId));
      open.set(jobId, file);
    }
    return file;
  };

  const events = openFile("events.jsonl", false);
  let closed = false;

  return {
    dir,
    jobFiles,
    onEvent(e: GantryEvent): void {
      if (closed) return;
      events.writer.write(toJsonLine(e));
      tracker.apply(e);
      if (!("jobId" in e)) return;
      const text = formatter.format(e);
      if (text === "") return;
      const file = jobFile(e.jobId);
      file.writer.write(text);
      if (e.type === "job.finished") {
        open.delete(e.jobId);
        const done = finish(file);
        finishing.set(e.jobId, done);
        closing.push(done);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const file of open.values()) closing.push(finish(file));
      open.clear();
      closing.push(finish(events));
      await Promise.all(closing);
      const error = errors[0];
      if (error) throw error;
    },
  };
}
