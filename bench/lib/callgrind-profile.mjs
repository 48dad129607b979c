// Where a callgrind dump's instructions went, by function, for bench/instructions.mjs --profile. callgrind names
// code it has no symbols for by its address (`0x0000…`): that is V8's JIT code, which node's --perf-basic-prof
// lists in /tmp/perf-<pid>.map (start, size, name), so such addresses are named from the map.

/** Parses a perf map into a lookup from an address to the name of the code around it. */
function perfMapLookup(/** @type {string} */ text) {
  const entries = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (match)
      entries.push({
        start: parseInt(match[1], 16),
        end: parseInt(match[1], 16) + parseInt(match[2], 16),
        name: match[3],
      });
  }
  entries.sort((a, b) => a.start - b.start);
  return (/** @type {number} */ address) => {
    let low = 0;
    let high = entries.length - 1;
    let found;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (entries[mid].start <= address) {
        found = entries[mid];
        low = mid + 1;
      } else high = mid - 1;
    }
    return found !== undefined && address < found.end ? found.name : undefined;
  };
}

/**
 * Self cost (instructions spent in the function itself, not in what it called) and inclusive cost (with what it
 * called) per function name, highest self cost first. Callgrind's format: `fn=(id) name` starts a function's
 * lines (later `fn=(id)` alone), `cfn=` names the callee of the `calls=` line that follows; a cost line is a
 * position and its Ir; the cost line after `calls=` is the callee's inclusive cost, not the caller's own.
 * Inclusive = self + what the function's calls to *other* names cost: callgrind files JIT code with no symbol
 * as one "function" per address it entered, so calls between pieces that the perf map names alike are the
 * function's own work. A cycle (a calls b calls a) counts twice, as callgrind_annotate's does without --cycles.
 * @param {string} dump the callgrind output file's text
 * @param {string} perfMap the perf map's text ('' when there is none)
 * @returns {Array<{ name: string, cost: number, inclusive: number }>}
 */
export function selfCostByFunction(dump, perfMap) {
  const lookup = perfMapLookup(perfMap);
  /** @type {Map<string, string>} */
  const names = new Map();
  /** @type {Map<string, number>} */
  const self = new Map();
  /** @type {Map<string, Map<string, number>>} caller → callee → inclusive cost of the calls */
  const calls = new Map();
  let current = '';
  let callee = '';
  let inCall = false;
  const nameOf = (/** @type {string} */ spec) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return spec;
    if (match[2] !== undefined) names.set(match[1], match[2]);
    return names.get(match[1]) ?? spec;
  };
  const add = (/** @type {Map<string, number>} */ map, /** @type {string} */ key, /** @type {number} */ n) =>
    map.set(key, (map.get(key) ?? 0) + n);
  for (const line of dump.split('\n')) {
    if (line.startsWith('fn=')) current = nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) callee = nameOf(line.slice(4));
    else if (line.startsWith('calls=')) inCall = true;
    else if (/^[0-9+\-*]/.test(line)) {
      const cost = Number(line.split(' ')[1] ?? 0);
      if (!inCall) add(self, current, cost);
      else {
        inCall = false;
        if (!calls.has(current)) calls.set(current, new Map());
        add(/** @type {Map<string, number>} */ (calls.get(current)), callee, cost);
      }
    }
  }
  const named = (/** @type {string} */ name) => {
    const jit = /^0x([0-9a-f]+)$/.exec(name);
    return jit ? (lookup(parseInt(jit[1], 16)) ?? 'JIT code (not in the perf map)') : name;
  };
  /** @type {Map<string, number>} */
  const selfNamed = new Map();
  for (const [name, cost] of self) add(selfNamed, named(name), cost);
  /** @type {Map<string, number>} */
  const inclusive = new Map(selfNamed);
  for (const [caller, byCallee] of calls) {
    const from = named(caller);
    for (const [to, cost] of byCallee) if (named(to) !== from) add(inclusive, from, cost);
  }
  return [...inclusive.keys()]
    .map((name) => ({ name, cost: selfNamed.get(name) ?? 0, inclusive: inclusive.get(name) ?? 0 }))
    .sort((a, b) => b.cost - a.cost);
}
