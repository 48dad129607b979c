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
 * Self cost (instructions spent in the function itself, not in what it called) per function name, highest first.
 * Callgrind's format: `fn=(id) name` starts a function's lines (later `fn=(id)` alone); a cost line is a position
 * and its Ir; the cost line after `calls=` is the callee's inclusive cost, not the caller's own.
 * @param {string} dump the callgrind output file's text
 * @param {string} perfMap the perf map's text ('' when there is none)
 */
export function selfCostByFunction(dump, perfMap) {
  const lookup = perfMapLookup(perfMap);
  /** @type {Map<string, string>} */
  const names = new Map();
  /** @type {Map<string, number>} */
  const self = new Map();
  let current = '';
  let skipNext = false;
  const nameOf = (/** @type {string} */ spec) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return spec;
    if (match[2] !== undefined) names.set(match[1], match[2]);
    return names.get(match[1]) ?? spec;
  };
  for (const line of dump.split('\n')) {
    if (line.startsWith('fn=')) current = nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) nameOf(line.slice(4));
    else if (line.startsWith('calls=')) skipNext = true;
    else if (/^[0-9+\-*]/.test(line)) {
      if (skipNext) skipNext = false;
      else self.set(current, (self.get(current) ?? 0) + Number(line.split(' ')[1] ?? 0));
    }
  }
  /** @type {Map<string, number>} */
  const named = new Map();
  for (const [name, cost] of self) {
    const jit = /^0x([0-9a-f]+)$/.exec(name);
    const key = jit ? (lookup(parseInt(jit[1], 16)) ?? 'JIT code (not in the perf map)') : name;
    named.set(key, (named.get(key) ?? 0) + cost);
  }
  return [...named].map(([name, cost]) => ({ name, cost })).sort((a, b) => b.cost - a.cost);
}
