// esbuild plugin: the dead-letter console's static files (runtime/dlq/console/static/) as strings in the
// bundle. runtime/dlq/console/assets.ts reads them from disk when run from source; in the bundle that module
// is replaced by one holding them, evaluated only when the console page is first asked for (admin.ts imports
// it on demand), so no other request or role pays for them.
import { readFileSync } from 'node:fs';

export const dlqConsoleFiles = ['index.html', 'console.js', 'console.css'];

export const embedDlqConsole = {
  name: 'embed-dlq-console',
  setup(b) {
    b.onLoad({ filter: /[\\/]runtime[\\/]dlq[\\/]console[\\/]assets\.ts$/ }, async (args) => {
      const source = readFileSync(args.path, 'utf8');
      const start = source.indexOf('const cache = new Map');
      if (start < 0)
        throw new Error(`${args.path}: no "const cache = new Map" to replace; review build/dlq-console-plugin.mjs`);
      const dir = new URL('./static/', `file://${args.path}`);
      const files = Object.fromEntries(dlqConsoleFiles.map((name) => [name, readFileSync(new URL(name, dir), 'utf8')]));
      const embedded = `const embedded: Record<string, string> = ${JSON.stringify(files)};
export function consoleAsset(name: string): ConsoleAsset | undefined {
  const type = consoleFiles[name];
  const body = embedded[name];
  return type === undefined || body === undefined ? undefined : { type, body };
}
`;
      const head = source.slice(0, start).replace(/^import \{ readFileSync \} from 'node:fs';$/m, '');
      return {
        contents: head + embedded,
        loader: 'ts',
        watchFiles: dlqConsoleFiles.map((name) => new URL(name, dir).pathname),
      };
    });
  },
};
