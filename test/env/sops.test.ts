import { execFileSync } from "node:child_process";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { GantryError } from "../../src/core/errors.js";
import { decryptParsed, decryptSopsFile, formatFloat, toEnv } from "../../src/env/sops.js";
import { parseSopsFile } from "../../src/env/sops-tree.js";
import { SOPS_FIXTURES, requireService } from "../support/services.js";

const FIXTURES = `${SOPS_FIXTURES}/`;
const FINGERPRINT = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
const noSops = await requireService("sops", "the real-file sops tests");

/** A throw-away GnuPG home with the sops functional-test key imported. */
async function gnupgHome(withKey: boolean): Promise<{ home: string; env: Record<string, string | undefined>; dispose(): Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), "gantry-gnupg-"));
  const env = { ...process.env, GNUPGHOME: home };
  if (withKey)
    execFileSync("gpg", ["--batch", "--quiet", "--import", join(FIXTURES, "sops_functional_tests_key.asc")], { env, stdio: "ignore" });
  return {
    home,
    env,
    async dispose() {
      try {
        execFileSync("gpgconf", ["--kill", "gpg-agent"], { env, stdio: "ignore" });
      } catch {
        // no agent was started
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** Encrypt one value the way sops does (used to forge values that pass AES-GCM but not the MAC). */
function sopsEncrypt(plain: string, key: Buffer, aad: string, type = "str"): string {
  const iv = randomBytes(32);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${cipher.getAuthTag().toString("base64")},type:${type}]`;
}

describe.skipIf(noSops)("sops files written by the sops tool", () => {
  let gpg: Awaited<ReturnType<typeof gnupgHome>>;
  let work: string;
  beforeAll(async () => {
    gpg = await gnupgHome(true);
    work = await mkdtemp(join(tmpdir(), "gantry-sops-"));
  });
  afterAll(async () => {
    await gpg?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const dataKeyOf = (pgpMessage: string): Buffer =>
    execFileSync("gpg", ["--batch", "--quiet", "--decrypt"], { input: pgpMessage, env: gpg.env });

  it.each(["format.enc.env", "format.enc.json", "format.enc.yaml"])("decrypts %s to foo=bar", async (file) => {
    const doc = await decryptSopsFile(join(FIXTURES, file), { env: gpg.env, sopsFallback: false });
    expect(doc.env).toEqual({ foo: "bar" });
  });

  it("decrypts encrypted comments; the values equal comments.yaml", async () => {
    const doc = await decryptSopsFile(join(FIXTURES, "comments.enc.yaml"), { env: gpg.env, sopsFallback: false });
    const plainText = await readFile(join(FIXTURES, "comments.yaml"), "utf8");
    expect(doc.data).toEqual(parseYaml(plainText));
    const plainComments = plainText
      .split("\n")
      .filter((l) => l.startsWith("#"))
      .map((l) => l.slice(1));
    expect(doc.comments).toEqual(plainComments);
    expect(doc.env).toEqual({ lorem: "ipsum", dolor: "sit" });
  });

  it("rejects a YAML value replaced by another validly encrypted value (MAC mismatch)", async () => {
    const text = await readFile(join(FIXTURES, "format.enc.yaml"), "utf8");
    const key = dataKeyOf((parseYaml(text) as { sops: { pgp: Array<{ enc: string }> } }).sops.pgp[0]!.enc);
    const forged = text.replace(/^foo: ENC\[[^\]]+\]$/m, `foo: ${sopsEncrypt("evil", key, "foo:")}`);
    expect(forged).not.toBe(text);
    const path = join(work, "forged.enc.yaml");
    await writeFile(path, forged);
    await expect(decryptSopsFile(path, { env: gpg.env, sopsFallback: false })).rejects.toThrow(/MAC mismatch/);
  });

  it("rejects a dotenv value replaced by another validly encrypted value (MAC mismatch)", async () => {
    const text = await readFile(join(FIXTURES, "format.enc.env"), "utf8");
    const enc = /^sops_pgp__list_0__map_enc=(.*)$/m.exec(text)![1]!.replace(/\\n/g, "\n");
    const forged = text.replace(/^foo =ENC\[[^\]]+\]$/m, `foo =${sopsEncrypt(" baz", dataKeyOf(enc), "foo :")}`);
    expect(forged).not.toBe(text);
    const path = join(work, "forged.enc.env");
    await writeFile(path, forged);
    await expect(decryptSopsFile(path, { env: gpg.env, sopsFallback: false })).rejects.toThrow(/MAC mismatch/);
  });

  it("rejects removed, reordered and added values (MAC mismatch)", async () => {
    const text = await readFile(join(FIXTURES, "comments.enc.yaml"), "utf8");
    const lines = text.split("\n");
    const lorem = lines.findIndex((l) => l.startsWith("lorem:"));
    const dolor = lines.findIndex((l) => l.startsWith("dolor:"));
    const removed = lines.filter((_, i) => i !== dolor).join("\n");
    const reordered = lines.map((l, i) => (i === lorem ? lines[dolor] : i === dolor ? lines[lorem] : l)).join("\n");
    const added = `extra_unencrypted: hello\n${text}`;
    for (const [name, content] of [
      ["removed", removed],
      ["reordered", reordered],
      ["added", added],
    ] as const) {
      const path = join(work, `${name}.enc.yaml`);
      await writeFile(path, content);
      await expect(decryptSopsFile(path, { env: gpg.env, sopsFallback: false }), name).rejects.toThrow(/MAC mismatch/);
    }
  });

  it("rejects a changed lastmodified and a value whose ciphertext was changed", async () => {
    const text = await readFile(join(FIXTURES, "format.enc.json"), "utf8");
    const stamp = join(work, "stamp.enc.json");
    await writeFile(stamp, text.replace(/"lastmodified": "[^"]+"/, `"lastmodified": "2030-01-01T00:00:00Z"`));
    await expect(decryptSopsFile(stamp, { env: gpg.env, sopsFallback: false })).rejects.toThrow(/MAC mismatch/);
    const bits = join(work, "bits.enc.json");
    await writeFile(bits, text.replace("data:fvD/", "data:fvD+"));
    const error = await decryptSopsFile(bits, { env: gpg.env, sopsFallback: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GantryError);
    expect((error as GantryError).code).toBe("ENV_INVALID");
    expect((error as Error).message).toMatch(/bits\.enc\.json: cannot decrypt the value at foo/);
  });

  it("names the file and the key fingerprint when no key in the keyring can decrypt", async () => {
    const empty = await gnupgHome(false);
    try {
      const error = await decryptSopsFile(join(FIXTURES, "format.enc.yaml"), {
        env: empty.env,
        sopsFallback: false,
        displayName: "secrets.enc.yaml",
      }).catch((e: unknown) => e);
      expect((error as GantryError).code).toBe("ENV_INVALID");
      expect((error as Error).message).toContain("secrets.enc.yaml: no PGP key in your keyring");
      expect((error as Error).message).toContain(FINGERPRINT);
    } finally {
      await empty.dispose();
    }
  });

  it("says so when gpg is not installed", async () => {
    const env = { ...gpg.env, PATH: join(work, "no-such-bin") };
    await expect(decryptSopsFile(join(FIXTURES, "format.enc.yaml"), { env, sopsFallback: false })).rejects.toThrow(
      /gpg is not installed.*install GnuPG or sops/,
    );
  });
});

describe("sops file handling without keys", () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "gantry-sops-"));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reports age-only files clearly", async () => {
    const path = join(work, "age.enc.yaml");
    await writeFile(
      path,
      [
        "foo: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
        "sops:",
        "    age:",
        "        - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        "          enc: |",
        "            -----BEGIN AGE ENCRYPTED FILE-----",
        "            -----END AGE ENCRYPTED FILE-----",
        '    lastmodified: "2024-01-01T00:00:00Z"',
        "    mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
        "    version: 3.9.0",
      ].join("\n"),
    );
    await expect(decryptSopsFile(path, { sopsFallback: false })).rejects.toThrow(/age keys are not supported yet; install sops/);
  });

  it("reports files that are not sops files or have an unknown extension", async () => {
    const plain = join(work, "plain.yaml");
    await writeFile(plain, "foo: bar\n");
    await expect(decryptSopsFile(plain, { displayName: "plain.yaml" })).rejects.toThrow(
      "plain.yaml: not a sops yaml file: it has no sops metadata",
    );
    const broken = join(work, "broken.json");
    await writeFile(broken, '{"foo": ');
    await expect(decryptSopsFile(broken)).rejects.toThrow(/not a sops json file: not valid JSON/);
    await expect(decryptSopsFile(join(work, "secrets.txt"))).rejects.toThrow(/use a \.yaml, \.yml, \.json or \.env extension/);
    await expect(decryptSopsFile(join(work, "missing.enc.yaml"))).rejects.toThrow(
      /missing\.enc\.yaml: cannot read the sops file \(ENOENT\)/,
    );
  });

  it("follows sops' rules for nested keys, lists, types and unencrypted keys", () => {
    const key = randomBytes(32);
    const mac = createHash("sha512");
    // values in tree-walk order, as sops hashes them
    for (const v of ["alice", "5432", "True", "a", "b", "plain", "1.5"]) mac.update(v);
    const text = [
      "db:",
      `    user: ${sopsEncrypt("alice", key, "db:user:")}`,
      `    port: ${sopsEncrypt("5432", key, "db:port:", "int")}`,
      `    ssl: ${sopsEncrypt("true", key, "db:ssl:", "bool")}`,
      "hosts:",
      `    - ${sopsEncrypt("a", key, "hosts:")}`,
      `    - ${sopsEncrypt("b", key, "hosts:")}`,
      "note_unencrypted: plain",
      `ratio: ${sopsEncrypt("1.50", key, "ratio:", "float")}`,
      "empty: null",
      "sops:",
      '    lastmodified: "2024-01-01T00:00:00Z"',
      `    mac: ${sopsEncrypt(mac.digest("hex").toUpperCase(), key, "2024-01-01T00:00:00Z")}`,
      "    unencrypted_suffix: _unencrypted",
    ].join("\n");
    const doc = decryptParsed(parseSopsFile(text, "yaml"), key, "nested.enc.yaml");
    expect(doc.data).toEqual({
      db: { user: "alice", port: 5432, ssl: true },
      hosts: ["a", "b"],
      note_unencrypted: "plain",
      ratio: 1.5,
      empty: null,
    });
    expect(doc.env).toEqual({
      db_user: "alice",
      db_port: "5432",
      db_ssl: "true",
      hosts_0: "a",
      hosts_1: "b",
      note_unencrypted: "plain",
      ratio: "1.5",
      empty: "",
    });
    // the same file with one unencrypted value changed fails the MAC
    expect(() =>
      decryptParsed(parseSopsFile(text.replace("note_unencrypted: plain", "note_unencrypted: other"), "yaml"), key, "nested.enc.yaml"),
    ).toThrow("nested.enc.yaml: MAC mismatch");
  });

  it("formats numbers as Go's FormatFloat(n, 'f', -1) and flattens to env", () => {
    expect([1, 1.5, -2.25, 1e21, 1.5e-7, 123456789012].map(formatFloat)).toEqual([
      "1",
      "1.5",
      "-2.25",
      "1000000000000000000000",
      "0.00000015",
      "123456789012",
    ]);
    expect(toEnv({ "KEY ": ' "quoted value" ' }, "dotenv")).toEqual({ KEY: "quoted value" });
    expect(toEnv({ a: { b: [{ c: "x" }] } }, "yaml")).toEqual({ a_b_0_c: "x" });
  });
});
