import { describe, expect, test } from "vitest";
import { evaluateStatusCondition, type JobStatus, type StatusConditionName } from "gantry";

type Row = [StatusConditionName, JobStatus[], boolean, boolean];

describe("evaluateStatusCondition (jobs)", () => {
  test.each<Row>([
    ["success", [], false, true],
    ["success", ["success", "cached"], false, true],
    ["success", ["success", "failure"], false, false],
    ["success", ["timed_out"], false, false],
    ["success", ["cancelled"], false, false],
    ["success", ["skipped"], false, false],
    ["success", ["success"], true, false],
    ["failure", [], false, false],
    ["failure", ["success", "failure"], false, true],
    ["failure", ["timed_out"], false, true],
    ["failure", ["skipped", "cancelled"], false, false],
    ["failure", ["failure"], true, false],
    ["always", [], false, true],
    ["always", ["failure"], true, true],
    ["cancelled", ["success"], false, false],
    ["cancelled", ["success"], true, true],
    ["cancelled", [], true, true],
  ])("%s needs=%j runCancelled=%s -> %s", (status, needs, runCancelled, expected) => {
    expect(evaluateStatusCondition(status, { needs, runCancelled })).toBe(expected);
  });
});

describe("evaluateStatusCondition (steps)", () => {
  test.each<Row>([
    ["success", ["success", "skipped"], false, true],
    ["success", ["skipped", "failure"], false, false],
    ["failure", ["skipped", "failure"], false, true],
    ["success", ["success"], true, false],
  ])("%s earlier=%j runCancelled=%s -> %s", (status, needs, runCancelled, expected) => {
    expect(evaluateStatusCondition(status, { needs, runCancelled, level: "step" })).toBe(expected);
  });
});
