import { describe, expect, it } from "vitest";
import { safeId, safeText } from "../../src/core/terminal.js";

const ESC = "\x1b";

describe("safeText", () => {
  it("keeps plain text (the same string) and SGR colours", () => {
    const plain = "hello\tworld ✓ ünïcode";
    expect(safeText(plain)).toBe(plain);
    const colours = `${ESC}[1mbold${ESC}[0m ${ESC}[38;5;196mred${ESC}[m ${ESC}[38:2:1:2:3mtrue${ESC}[0m`;
    expect(safeText(colours)).toBe(colours);
  });

  it.each([
    ["OSC 52 clipboard write (BEL)", `a${ESC}]52;c;ZXZpbA==\x07b`, "ab"],
    ["OSC 52 clipboard write (ST)", `a${ESC}]52;c;ZXZpbA==${ESC}\\b`, "ab"],
    ["OSC 0 window title", `${ESC}]0;pwned\x07text`, "text"],
    ["OSC 8 hyperlink", `${ESC}]8;;https://evil.example${ESC}\\click${ESC}]8;;${ESC}\\`, "click"],
    ["unterminated OSC", `ok${ESC}]2;title without end`, "ok"],
    ["cursor up and erase line", `${ESC}[1A${ESC}[2K[other-job] success`, "[other-job] success"],
    ["cursor position", `x${ESC}[10;20Hy`, "xy"],
    ["private modes (hide cursor, alt screen)", `${ESC}[?25l${ESC}[?1049hz`, "z"],
    ["8-bit CSI", "a\x9b2Jb", "ab"],
    ["8-bit OSC", "a\x9d0;title\x9cb", "ab"],
    ["DCS string", `a${ESC}Pq#0;2;0;0;0${ESC}\\b`, "ab"],
    ["two-byte escapes (RIS, charset)", `a${ESC}cb${ESC}(0c`, "abc"],
    ["lone ESC at the end", `a${ESC}`, "a"],
    ["backspaces and bells", "pass\b\b\b\bFAIL\x07", "passFAIL"],
    ["NUL and DEL", "a\x00b\x7fc", "abc"],
    ["bidi overrides", "file\u202egnp.exe and \u2066iso\u2069 \u200f", "filegnp.exe and iso "],
    ["carriage return: what a terminal shows last", "progress 10%\rprogress 100%", "progress 100%"],
    ["carriage return overwriting a prefix", "ok\r[deploy] success", "[deploy] success"],
  ])("%s", (_name, input, expected) => {
    expect(safeText(input)).toBe(expected);
  });

  it("keeps newlines of a block and handles each line's carriage returns", () => {
    expect(safeText(`a\rb\nc${ESC}[2Kd\n${ESC}[31me${ESC}[0m`)).toBe(`b\ncd\n${ESC}[31me${ESC}[0m`);
  });
});

describe("safeId", () => {
  it("returns an ordinary id unchanged", () => {
    expect(safeId("test (node=20, os=bookworm)")).toBe("test (node=20, os=bookworm)");
  });

  it("escapes newlines, escape characters and bidi overrides visibly", () => {
    expect(safeId("build\n12:00:00 [deploy] success")).toBe("build\\n12:00:00 [deploy] success");
    expect(safeId(`a${ESC}]0;x\x07`)).toBe("a\\e]0;x\\u0007");
    expect(safeId("evil\u202etxt.exe")).toBe("evil\\u202etxt.exe");
    expect(safeId("tab\there")).toBe("tab\\there");
  });
});
