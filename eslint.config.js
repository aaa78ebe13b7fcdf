// @ts-check
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { existsSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";

/**
 * Resolves the project's own relative imports (`./x.js` written for `./x.ts`)
 * for the layer and cycle rules; packages are outside those rules.
 */
const relativeResolver = {
  interfaceVersion: 3,
  name: "gantry-relative",
  resolve(source, file) {
    if (!source.startsWith(".")) return { found: true, path: null };
    const base = resolvePath(dirname(file), source);
    for (const candidate of [base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), base, `${base}.ts`, `${base}/index.ts`]) {
      if (existsSync(candidate)) return { found: true, path: candidate };
    }
    return { found: false };
  },
};

// The layer rules of docs/architecture.md: each zone lists what a folder may NOT import.
const src = (dir) => `./src/${dir}`;
const zones = [
  { target: src("core"), from: "./src", except: ["./core"], message: "core imports nothing else of src/ (docs/architecture.md)" },
  {
    target: src("engine"),
    from: [src("executors"), src("store"), src("server"), src("agent"), src("reporters"), src("cli"), src("loader"), src("env")],
    message: "engine imports only core",
  },
  {
    target: src("executors"),
    from: [src("engine"), src("store"), src("server"), src("agent"), src("reporters"), src("cli"), src("loader"), src("env")],
    message: "executors import only core",
  },
  {
    target: src("env"),
    from: [src("engine"), src("executors"), src("store"), src("server"), src("agent"), src("reporters"), src("cli"), src("loader")],
    message: "env imports only core",
  },
  {
    target: src("store"),
    from: [src("engine"), src("executors"), src("server"), src("agent"), src("reporters"), src("cli"), src("loader"), src("env")],
    message: "store imports only core",
  },
  {
    target: src("reporters"),
    from: [src("engine"), src("executors"), src("store"), src("server"), src("agent"), src("cli"), src("loader"), src("env")],
    message: "reporters import only core",
  },
  {
    target: src("queue"),
    from: [src("engine"), src("executors"), src("server"), src("agent"), src("reporters"), src("cli"), src("loader"), src("env")],
    message: "queue imports only core and store (the worker interface; running jobs is server/ and agent/)",
  },
  {
    target: src("loader"),
    from: [src("engine"), src("executors"), src("store"), src("server"), src("agent"), src("reporters"), src("cli"), src("env")],
    message: "loader imports only core",
  },
];

export default tseslint.config(
  {
    ignores: ["dist/", "node_modules/", "coverage/", "bench/.work/", ".gantry/state/", "examples/invalid/", "test/e2e/fixtures/**/broken*"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: "./tsconfig.test.json", tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [relativeResolver],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/extensions": [".ts", ".js", ".mjs"],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/restrict-template-expressions": "off",
      "@typescript-eslint/no-redundant-type-constituents": "off",
      "@typescript-eslint/only-throw-error": "off",
      "@typescript-eslint/no-base-to-string": "off",
      "@typescript-eslint/unbound-method": "off",
      "import-x/no-restricted-paths": ["error", { zones }],
      "import-x/no-cycle": ["error", { maxDepth: 10 }],
    },
  },
  // No I/O in the core; the engine spawns nothing itself (executors do).
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["node:fs", "node:fs/promises", "fs", "fs/promises", "node:child_process", "child_process"].map((name) => ({
            name,
            message: "core does no I/O (docs/architecture.md): take what you need as an argument",
          })),
        },
      ],
    },
  },
  {
    files: ["src/engine/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["node:child_process", "child_process"].map((name) => ({
            name,
            message: "the engine starts no processes itself: executors do (docs/architecture.md)",
          })),
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "no-control-regex": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-empty-function": "off",
    },
  },
);
