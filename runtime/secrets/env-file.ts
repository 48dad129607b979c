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
const simpleEscapes: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  $: '$',
  '`': '`',
};
const expected =
  'expected KEY="value" or export KEY="value" (a name of letters, digits, _ . - not starting with a digit)';

/** A cursor over the file: each method reads one part of a line and moves past it. */
class Scanner {
  pos = 0;
  line = 1;

  constructor(
    readonly src: string,
    private readonly file: string,
  ) {}

  fail(reason: string, at = this.line): never {
    throw new SecretFileError(this.file, at, reason);
  }

  skipBlanks(): void {
    while (this.src[this.pos] === ' ' || this.src[this.pos] === '\t') this.pos++;
  }

  skipComment(): void {
    if (this.src[this.pos] === '#') while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
  }

  /** `[export ]KEY=`, with blanks around the `=`; returns the key. */
  key(): string {
    if (/^export[ \t]/.test(this.src.slice(this.pos, this.pos + 7))) {
      this.pos += 6;
      this.skipBlanks();
    }
    keyPattern.lastIndex = this.pos;
    const key = keyPattern.exec(this.src)?.[0];
    if (!key) this.fail(expected);
    this.pos += key.length;
    this.skipBlanks();
    if (this.src[this.pos] !== '=') this.fail(expected);
    this.pos++;
    this.skipBlanks();
    return key;
  }

  /** A backslash in a double-quoted value, at `pos`: what it stands for ('' for a line continuation). */
  private escape(): string {
    const next = this.src[this.pos + 1];
    if (next === '\n') {
      // Shell line continuation: both characters disappear.
      this.pos += 2;
      this.line++;
      return '';
    }
    if (next === 'u') {
      const hex = this.src.slice(this.pos + 2, this.pos + 6);
      if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail('a \\u escape needs four hex digits');
      this.pos += 6;
      return String.fromCharCode(parseInt(hex, 16));
    }
    const replacement = next === undefined ? undefined : simpleEscapes[next];
    if (replacement === undefined)
      this.fail('unsupported escape sequence in a double-quoted value (use \\\\ for a backslash)');
    this.pos += 2;
    return replacement;
  }

  /** A value in `"` or `'` quotes (the opening quote at `pos`), then only blanks or a comment to the line's end. */
  quoted(startLine: number): string {
    const quote = this.src[this.pos] as '"' | "'";
    const run = quote === '"' ? doubleQuotedRun : singleQuotedRun;
    let value = '';
    this.pos++;
    for (;;) {
      // Whole runs of ordinary characters at once: one slice per run, not one concatenation per character.
      run.lastIndex = this.pos;
      const plain = run.exec(this.src)?.[0];
      if (plain) {
        value += plain;
        this.pos += plain.length;
      }
      if (this.pos >= this.src.length)
        this.fail(`unterminated ${quote === '"' ? 'double' : 'single'}-quoted value`, startLine);
      const ch = this.src[this.pos] as string;
      if (ch === quote) break;
      if (ch === '\\' && quote === '"') {
        value += this.escape();
        continue;
      }
      if (ch === '\n') this.line++;
      value += ch;
      this.pos++;
    }
    this.pos++;
    this.skipBlanks();
    this.skipComment();
    if (this.pos < this.src.length && this.src[this.pos] !== '\n') this.fail('unexpected text after the closing quote');
    return value;
  }

  /** An unquoted value: to the end of the line or a comment, with no blanks inside. */
  unquoted(): string {
    let end = this.src.indexOf('\n', this.pos);
    if (end === -1) end = this.src.length;
    // A comment starts at the first " #" or "\t#". Found with indexOf-like scanning, not /[ \t]+#.*$/:
    // that regex retries from every blank of a long run of blanks and took 18 s on a 150 KB line.
    const comment = commentStart.exec(this.src.slice(this.pos, end))?.index;
    const raw = this.src.slice(this.pos, comment === undefined ? end : this.pos + comment).trim();
    if (/[ \t]/.test(raw)) this.fail('an unquoted value cannot contain spaces: quote it');
    this.pos = end;
    return raw;
  }

  /** The value after `KEY=`. */
  value(startLine: number): string {
    const quote = this.src[this.pos];
    if (quote === '"' || quote === "'") return this.quoted(startLine);
    if (quote === '#') {
      // `KEY= # comment`: an empty value, as in shell.
      this.skipComment();
      return '';
    }
    return this.unquoted();
  }
}

export function parseSecretFile(text: string, file: string): Map<string, string> {
  const values = new Map<string, string>();
  const scan = new Scanner(text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n'), file);
  while (scan.pos < scan.src.length) {
    scan.skipBlanks();
    scan.skipComment();
    if (scan.pos >= scan.src.length) break;
    if (scan.src[scan.pos] === '\n') {
      scan.pos++;
      scan.line++;
      continue;
    }
    const startLine = scan.line;
    const key = scan.key();
    values.set(key, scan.value(startLine));
  }
  return values;
}
