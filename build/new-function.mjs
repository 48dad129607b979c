// `npm run new -- <name>`: scaffolds functions/<name>/ (a typed example, its unit test and example data), regenerates the
// function registry functions/index.ts (tracked: commit it with the function), and prints the values snippet
// — a service running the function and a trigger delivering to it — that puts it in the local pipeline.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const usage = 'usage: npm run new -- <name>   (lowercase letters, digits and dashes, e.g. price-order)';

/** camelCase identifier for the function's const: price-order → priceOrder. */
const identifier = (name) => name.replace(/-([a-z0-9])/g, (_m, c) => c.toUpperCase());

export const exampleData = { name: 'Ada' };

/** The event type the scaffold's trigger filters on and its example sends. */
export const eventTypeOf = (name) => `com.example.${name}`;

export function functionSource(name) {
  const id = identifier(name);
  return `// ${name}: greets whoever the event names, with a reply event. Replace it with your own logic; keep the shape:
// a default export taking (event, context), typed by the data it expects. See README.md, "Writing a function".
import { PermanentError, reply, type EventFunction } from '../../runtime/function-api.js';

/** The data this function expects in its events. */
export interface Greeting {
  name: string;
}

const ${id}: EventFunction<Greeting> = async (event, context) => {
  const name = event.data?.name;
  // A 4xx PermanentError is not retried: the event goes straight to the dead-letter sink.
  if (typeof name !== 'string' || name.trim() === '') throw new PermanentError('expected data.name, a non-empty string', { status: 422 });
  context.log.info({ name }, 'greeting');
  // A reply is published back into the broker (a trigger on its type could take it further).
  return reply({ type: '${eventTypeOf(name)}.greeted', data: { greeting: \`Hello, \${name}!\` } });
};

export default ${id};
`;
}

export function testSource(name) {
  const id = identifier(name);
  return `// Unit test of functions/${name}: the function is called directly, no server (\`node test/run-tests.mjs functions/${name}\`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { CloudEvent, PermanentError, isReply, noSpan, type FunctionContext } from '../../runtime/function-api.js';
import ${id} from './index.js';

const context: FunctionContext = { log: pino({ level: 'silent' }), config: {}, secrets: { get: () => undefined }, signal: new AbortController().signal, span: noSpan };
const event = (data: { name: string }) => new CloudEvent({ id: '1', type: '${eventTypeOf(name)}', source: '/test', data });

test('${name} replies with a greeting for the name in the event', async () => {
  const result = await ${id}(event({ name: 'Ada' }), context);
  assert.ok(isReply(result), 'a reply event');
  assert.equal(result.type, '${eventTypeOf(name)}.greeted');
  assert.deepEqual(result.data, { greeting: 'Hello, Ada!' });
});

test('${name} refuses an event without a name with 422, so it is dead-lettered, not retried', async () => {
  await assert.rejects(async () => ${id}(event({ name: ' ' }), context), (err: unknown) => err instanceof PermanentError && err.status === 422);
});
`;
}

/** What to add to a values file: the service that runs the function and the trigger that feeds it. */
export function valuesSnippet(name) {
  return `services:
  ${name}:
    enabled: true
    role: subscriber              # runs functions/${name} on every event its triggers deliver
    function: ${name}
triggers:
  ${name}:
    enabled: true
    filter:
      attributes:
        type: ${eventTypeOf(name)}
    subscriber:
      service: ${name}
`;
}

export function scaffold(name, { dir = join(root, 'functions'), regenerate = true } = {}) {
  if (!/^[a-z][a-z0-9-]*$/.test(name ?? '') || name.endsWith('-'))
    throw new Error(`${name ? `"${name}" is not a function name` : 'no name given'}\n${usage}`);
  const folder = join(dir, name);
  if (existsSync(folder)) throw new Error(`functions/${name} already exists: pick another name or edit it`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'index.ts'), functionSource(name));
  writeFileSync(join(folder, 'index.test.ts'), testSource(name));
  // The data of an event the function accepts: `npm start` puts it in the table's "send a first event".
  writeFileSync(join(folder, 'example.json'), `${JSON.stringify(exampleData)}\n`);
  if (regenerate) {
    const r = spawnSync(process.execPath, [join(root, 'build', 'gen-functions.mjs')], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`functions/index.ts could not be regenerated: ${r.stderr || r.stdout}`);
  }
  return folder;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  const [name, ...rest] = process.argv.slice(2);
  if (name === '--help' || name === '-h') {
    console.log(usage);
    process.exit(0);
  }
  try {
    if (rest.length > 0) throw new Error(`one name only\n${usage}`);
    scaffold(name);
  } catch (err) {
    console.error(`npm run new: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  const file = `values/${name}.yaml`;
  console.log(`created functions/${name}/index.ts (the function), index.test.ts (its unit test), example.json (example data)
updated functions/index.ts (the generated function registry: commit it with the function)

Test it:
  node test/run-tests.mjs functions/${name}

Run it in the pipeline: save these lines as ${file} (or merge them into your values file)
--- ${file}
${valuesSnippet(name)}---
  npm start -- values/local.yaml ${file}

Send it an event (in another terminal):
  npm run send -- --type ${eventTypeOf(name)} --source /me --data '${JSON.stringify(exampleData)}'
  # → 202 from the handler; ${name}'s log shows "greeting", then the broker publishes its reply`);
}
