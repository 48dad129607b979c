// `npm run typecheck` and `npm run lint` in one process, for `npm test` (test/run-all.mjs): the same checks, with the
// TypeScript program of tsconfig.json built and type-checked once.
//
// Apart, tsc built and checked that program, then eslint's type-aware rules on runtime/ and local/ built it again
// (its project service reads the same tsconfig.json) and worked out the same types a second time: about a third of
// the two checks' CPU. Here tsc's program is handed to eslint (parserOptions.programs) for the files that
// eslint.config.mjs lints with types, so the rules read the types tsc has already worked out. Everything else is as
// the npm scripts run it: tsc's diagnostics of tsconfig.json and tsconfig.scripts.json (the build and bench scripts'
// JSDoc), then eslint over the repository with eslint.config.mjs, printed the way each prints them; the exit code is 1
// when either finds an error.
import { ESLint } from 'eslint';
import ts from 'typescript';
import { fileURLToPath } from 'node:url';
import { typeChecked } from '../eslint.config.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The declaration files (lib, node_modules) the two programs share are parsed once: a parsed file depends on its
 * text and language version only, and the two tsconfigs differ in checking options, not in those.
 */
const declarations = new Map();
function sharedHost(options) {
  const host = ts.createCompilerHost(options);
  const parse = host.getSourceFile.bind(host);
  host.getSourceFile = (file, version, ...rest) => {
    if (!file.endsWith('.d.ts')) return parse(file, version, ...rest);
    const key = `${file}\0${JSON.stringify(version)}`;
    if (!declarations.has(key)) declarations.set(key, parse(file, version, ...rest));
    return declarations.get(key);
  };
  return host;
}

/** The program of one tsconfig, as `tsc -p <config> --noEmit` builds it. */
function programOf(config) {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    `${root}${config}`,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`${config} could not be read`);
  return ts.createProgram({
    rootNames: parsed.fileNames,
    options: parsed.options,
    host: sharedHost(parsed.options),
    projectReferences: parsed.projectReferences,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
  });
}

/** The `include` globs of a tsconfig (files outside them are not in its program, and eslint parses those itself). */
function includedPatterns(config) {
  const { config: raw, error } = ts.readConfigFile(`${root}${config}`, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return /** @type {string[]} */ (raw.include);
}

/** tsc's diagnostics of one program, printed as tsc prints them; whether there were errors. */
function typecheck(program) {
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    process.stdout.write(ts.formatDiagnostics(diagnostics, host));
  }
  return diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error);
}

const main = programOf('tsconfig.json');
let failed = typecheck(main);
failed = typecheck(programOf('tsconfig.scripts.json')) || failed;

const eslint = new ESLint({
  cwd: root,
  overrideConfig: [
    { ...typeChecked, languageOptions: { parserOptions: { projectService: false, programs: [main] } } },
    // The other TypeScript files of tsconfig.json (tests, functions) are linted without types, but eslint's parser
    // takes a file's syntax tree from a given program instead of parsing the file again (≈ 2-3 s of CPU). Which
    // rules run, and so what is found, is unchanged: the type-aware rules stay on `typeChecked`'s files.
    { files: includedPatterns('tsconfig.json'), languageOptions: { parserOptions: { programs: [main] } } },
  ],
});
const results = await eslint.lintFiles(['.']);
const text = await (await eslint.loadFormatter('stylish')).format(results);
if (text) process.stdout.write(text);
failed = results.some((r) => r.errorCount > 0 || r.fatalErrorCount > 0) || failed;
process.exit(failed ? 1 : 0);
