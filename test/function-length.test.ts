// Functions short enough to read at once: no function in shipped code (runtime/, local/, build/) runs over 60
// lines; a longer one is broken into named steps. Measured with the TypeScript compiler's parser, from the
// first line of a function to its last (nested functions count in their parent too). Run this file alone to
// see the longest: `node --import tsx --test test/function-length.test.ts` prints them as diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const maxLines = 60;

/**
 * Over the limit for now, each in files other work owns at the time of writing (none left: every one has been
 * broken into named steps); the test fails when one of them gets short enough (remove it here) or a function
 * not listed grows past the limit.
 */
const waiting = new Set<string>([]);

export interface FunctionLength {
  /** `<file> <name>`, the file relative to the repository root. */
  readonly id: string;
  readonly line: number;
  readonly lines: number;
}

function nameOf(node: ts.FunctionLikeDeclaration, file: ts.SourceFile): string {
  if (node.name) return node.name.getText(file);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(file);
  if (ts.isCallExpression(parent) && ts.isPropertyAccessExpression(parent.expression))
    return `<callback of ${parent.expression.name.getText(file)}>`;
  return '<anonymous>';
}

/** Every function with a body in a source text, with its length in lines. */
export function functionLengths(path: string, text: string): FunctionLength[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ id: `${path} ${nameOf(node, file)}`, line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function shippedFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'node_modules' || entry.name === 'testdata' ? [] : shippedFiles(path);
    return /\.(ts|mjs)$/.test(entry.name) && !/\.test\.ts$|\.d\.m?ts$/.test(entry.name) ? [path] : [];
  });
}

test('the measure counts a function from its first line to its last, by name', () => {
  const text = [
    'export function a() {',
    '  const b = () => {',
    '    return 1;',
    '  };',
    '  return b();',
    '}',
    'const c = async function () {};',
  ].join('\n');
  assert.deepEqual(
    functionLengths('x.ts', text).map(({ id, lines }) => [id, lines]),
    [
      ['x.ts a', 6],
      ['x.ts b', 3],
      ['x.ts c', 1],
    ],
  );
});

test(`no function in runtime/, local/ or build/ is over ${maxLines} lines`, (t) => {
  const files = ['runtime', 'local', 'build'].flatMap((dir) => shippedFiles(join(root, dir)));
  const all = files.flatMap((file) =>
    functionLengths(relative(root, file).split(sep).join('/'), readFileSync(file, 'utf8')),
  );
  assert.ok(all.length > 500, `expected the shipped functions, found ${all.length}`);
  const long = all.filter((f) => f.lines > maxLines).sort((a, b) => b.lines - a.lines);
  for (const f of long)
    t.diagnostic(`${f.lines} lines: ${f.id} (line ${f.line})${waiting.has(f.id) ? ' [waiting]' : ''}`);
  assert.deepEqual(
    long.filter((f) => !waiting.has(f.id)).map((f) => `${f.id} (line ${f.line}): ${f.lines} lines`),
    [],
    `break these into named steps of at most ${maxLines} lines`,
  );
  const stillListed = [...waiting].filter((id) => !long.some((f) => f.id === id));
  assert.deepEqual(stillListed, [], 'now short enough (or gone): remove them from the waiting list');
});
