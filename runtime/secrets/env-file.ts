// Parses the files the Vault agent renders: `KEY="value"` or `export KEY="value"` lines (the seed `source`d
// them from bash; our image has no shell). Nothing is evaluated: no `$VAR` expansion, no command
// substitution. Double-quoted values take JSON escapes (the chart's template renders values with `toJSON`)
// plus `\$` and `` \` `` from shell; single-quoted values are literal; unquoted values run to the end of the
// line. Errors name the file and line and never quote the line: it may hold a secret.

export class SecretFileError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'SecretFileError';
    this.file = file;
    this.line = line;
  }
}

const keyPattern = /[A-Za-z_][A-Za-z0-9_.-]*/y;
// Each of these matches in time linear in what it scans (one character class, no nested repetition).
const doubleQuotedRun = /[^"\\\n]+/y;
const singleQuotedRun = /[^'\n]+/y;
const commentStart = /[ \t]#/;
const simpleEscapes: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', $: '$', '`': '`' };
const expected = 'expected KEY="value" or export KEY="value" (a name of letters, digits, _ . - not starting with a digit)';

export function parseSecretFile(text: string, file: string): Map<string, string> {
  const values = new Map<string, string>();
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  let pos = 0;
  let line = 1;
  const fail = (reason: string, at = line): never => {
    throw new SecretFileError(file, at, reason);
  };
  const skipBlanks = () => {
    while (src[pos] === ' ' || src[pos] === '\t') pos++;
  };
  const skipComment = () => {
    if (src[pos] === '#') while (pos < src.length && src[pos] !== '\n') pos++;
  };

  while (pos < src.length) {
    skipBlanks();
    skipComment();
    if (pos >= src.length) break;
    if (src[pos] === '\n') {
      pos++;
      line++;
      continue;
    }
    const startLine = line;
    if (/^export[ \t]/.test(src.slice(pos, pos + 7))) {
      pos += 6;
      skipBlanks();
    }
    keyPattern.lastIndex = pos;
    const key = keyPattern.exec(src)?.[0];
    if (!key) fail(expected);
    pos += (key as string).length;
    skipBlanks();
    if (src[pos] !== '=') fail(expected);
    pos++;
    skipBlanks();

    let value = '';
    const quote = src[pos];
    if (quote === '"' || quote === "'") {
      pos++;
      const run = quote === '"' ? doubleQuotedRun : singleQuotedRun;
      for (;;) {
        // Whole runs of ordinary characters at once: one slice per run, not one concatenation per character.
        run.lastIndex = pos;
        const plain = run.exec(src)?.[0];
        if (plain) {
          value += plain;
          pos += plain.length;
        }
        if (pos >= src.length) fail(`unterminated ${quote === '"' ? 'double' : 'single'}-quoted value`, startLine);
        const ch = src[pos] as string;
        if (ch === quote) {
          pos++;
          break;
        }
        if (ch === '\n') line++;
        if (ch === '\\' && quote === '"') {
          const next = src[pos + 1];
          if (next === '\n') {
            // Shell line continuation: both characters disappear.
            pos += 2;
            line++;
            continue;
          }
          if (next === 'u') {
            const hex = src.slice(pos + 2, pos + 6);
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail('a \\u escape needs four hex digits');
            value += String.fromCharCode(parseInt(hex, 16));
            pos += 6;
            continue;
          }
          const replacement = next === undefined ? undefined : simpleEscapes[next];
          if (replacement === undefined) fail('unsupported escape sequence in a double-quoted value (use \\\\ for a backslash)');
          value += replacement;
          pos += 2;
          continue;
        }
        value += ch;
        pos++;
      }
      skipBlanks();
      skipComment();
      if (pos < src.length && src[pos] !== '\n') fail('unexpected text after the closing quote');
    } else if (src[pos] === '#') {
      // `KEY= # comment`: an empty value, as in shell.
      skipComment();
    } else {
      let end = src.indexOf('\n', pos);
      if (end === -1) end = src.length;
      // A comment starts at the first " #" or "\t#". Found with indexOf-like scanning, not /[ \t]+#.*$/:
      // that regex retries from every blank of a long run of blanks and took 18 s on a 150 KB line.
      const comment = commentStart.exec(src.slice(pos, end))?.index;
      const raw = src.slice(pos, comment === undefined ? end : pos + comment).trim();
      if (/[ \t]/.test(raw)) fail('an unquoted value cannot contain spaces: quote it');
      value = raw;
      pos = end;
    }
    values.set(key as string, value);
  }
  return values;
}
